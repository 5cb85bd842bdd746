// Target parsing (R7) and resolution (§8.1) for set-ready and ssh; the set-ready change lines.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InstanceFacts } from '../../src/pw-lib/core/targets.js';
import {
  currentOccupant,
  isPoolInstance,
  parseReadyValue,
  parseTarget,
  planReadyChange,
  readyChangeLine,
  resolveByName,
} from '../../src/pw-lib/core/targets.js';

const pool = { namePrefix: 'MacM1', purposeTagKey: 'purpose', purposeValue: 'prod' };

function inst(
  id: string,
  name: string,
  state: string,
  over: Partial<InstanceFacts> = {},
): InstanceFacts {
  return {
    instanceId: id,
    state,
    hostId: 'h-0123456789abcdef0',
    publicDnsName: 'ec2-1.example',
    tags: { Name: name, purpose: 'prod', PWPoolReady: 'true' },
    ...over,
  };
}

describe('parseTarget', () => {
  const cases: [string, 'instance-or-host' | 'instance', string | null][] = [
    ['MacM1-3', 'instance-or-host', 'name'],
    ['MacM1-10', 'instance', 'name'],
    ['i-0123456789abcdef0', 'instance', 'instance'],
    ['i-01234567', 'instance-or-host', 'instance'],
    ['h-0123456789abcdef0', 'instance-or-host', 'host'],
    ['h-0123456789abcdef0', 'instance', null],
    ['i-0123', 'instance-or-host', null],
    ['i-0123456789ABCDEF0', 'instance-or-host', null],
    ['h-xyz', 'instance-or-host', null],
    ['MacM1-x', 'instance-or-host', null],
    ['MacM2-1', 'instance-or-host', null],
    ['MacM1-1; rm -rf /', 'instance-or-host', null],
    ['', 'instance', null],
  ];
  for (const [arg, allowed, kind] of cases) {
    it(`${JSON.stringify(arg)} (${allowed}) → ${kind ?? 'refused'}`, () => {
      const r = parseTarget(pool, arg, allowed);
      if (kind === null) {
        assert.equal(r.ok, false);
        if (!r.ok) assert.ok(r.problem.length > 0);
      } else {
        assert.equal(r.ok, true);
        if (r.ok) assert.equal(r.target.kind, kind);
      }
    });
  }
  it('names the expected forms in the problem', () => {
    const r = parseTarget(pool, 'bogus', 'instance-or-host');
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.problem, /'bogus' is not an instance name 'MacM1-<number>'.*host id/);
  });
});

describe('parseReadyValue', () => {
  it('accepts exactly true and false', () => {
    assert.equal(parseReadyValue('true'), 'true');
    assert.equal(parseReadyValue('false'), 'false');
    for (const bad of ['TRUE', 'False', '1', 'yes', ' true', ''])
      assert.equal(parseReadyValue(bad), undefined);
  });
});

describe('resolveByName', () => {
  it('matches the Name among pending and running only (no terminated twin)', () => {
    const list = [
      inst('i-00000000000000001', 'MacM1-1', 'terminated'),
      inst('i-00000000000000002', 'MacM1-1', 'running'),
      inst('i-00000000000000003', 'MacM1-2', 'running'),
      inst('i-00000000000000004', 'MacM1-1', 'stopped'),
    ];
    const r = resolveByName(list, 'MacM1-1');
    assert.equal(r.kind, 'found');
    if (r.kind === 'found') assert.equal(r.item.instanceId, 'i-00000000000000002');
  });
  it('reports several matches and no match', () => {
    const list = [
      inst('i-00000000000000001', 'MacM1-1', 'pending'),
      inst('i-00000000000000002', 'MacM1-1', 'running'),
    ];
    const r = resolveByName(list, 'MacM1-1');
    assert.equal(r.kind, 'several');
    if (r.kind === 'several') assert.equal(r.items.length, 2);
    assert.equal(resolveByName(list, 'MacM1-9').kind, 'none');
  });
});

describe('isPoolInstance and currentOccupant', () => {
  it('needs the purpose tag and a member name', () => {
    assert.equal(isPoolInstance(pool, inst('i-00000000000000001', 'MacM1-1', 'running')), true);
    assert.equal(
      isPoolInstance(
        pool,
        inst('i-00000000000000001', 'MacM1-1', 'running', {
          tags: { Name: 'MacM1-1', purpose: 'dev' },
        }),
      ),
      false,
    );
    assert.equal(isPoolInstance(pool, inst('i-00000000000000001', 'MacM1-x', 'running')), false);
  });
  it('prefers the host-listed id, else the placement; never a terminated one', () => {
    const a = inst('i-0000000000000000a', 'MacM1-1', 'terminated', {
      hostId: 'h-0000000000000000a',
    });
    const b = inst('i-0000000000000000b', 'MacM1-1', 'running', { hostId: 'h-0000000000000000a' });
    const c = inst('i-0000000000000000c', 'MacM1-1', 'stopped', { hostId: 'h-0000000000000000b' });
    assert.equal(currentOccupant('h-0000000000000000a', [], [a, b, c])?.instanceId, b.instanceId);
    assert.equal(
      currentOccupant('h-0000000000000000a', ['i-0000000000000000c'], [a, b, c])?.instanceId,
      c.instanceId,
    );
    assert.equal(currentOccupant('h-0000000000000000a', [], [a]), undefined);
  });
});

describe('planReadyChange and its lines', () => {
  const ids = { hostId: 'h-0000000000000000a', instanceId: 'i-0000000000000000b' };
  it('plans a tag change, or finds it unchanged', () => {
    const c = planReadyChange('instance', ids, { Name: 'MacM1-1', PWPoolReady: 'true' }, 'false');
    assert.equal(c.kind, 'tag');
    assert.equal(c.resourceId, ids.instanceId);
    assert.equal(c.from, 'true');
    assert.equal(
      readyChangeLine(c, 'done'),
      'set PWPoolReady=false on instance i-0000000000000000b (MacM1-1), was true',
    );
    assert.equal(
      readyChangeLine(c, 'planned'),
      'would set PWPoolReady=false on instance i-0000000000000000b (MacM1-1), now true',
    );
    assert.equal(
      readyChangeLine(c, 'failed', 'AuthFailure: no'),
      'could not set PWPoolReady=false on instance i-0000000000000000b (MacM1-1): AuthFailure: no',
    );
    const h = planReadyChange('host', ids, { Name: 'MacM1-1' }, 'true');
    assert.equal(h.resourceId, ids.hostId);
    assert.equal(h.from, 'absent');
    const same = planReadyChange('host', ids, { Name: 'MacM1-1', PWPoolReady: 'false' }, 'false');
    assert.equal(same.kind, 'unchanged');
    assert.equal(
      readyChangeLine(same, 'planned'),
      'PWPoolReady is already false on host h-0000000000000000a (MacM1-1)',
    );
  });
});
