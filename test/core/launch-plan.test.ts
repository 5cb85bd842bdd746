// One table-driven case per row of the §3.2 decision table, and per stagger edge.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDhBlock } from '../../src/pw-lib/core/dh-status.js';
import type { DhBlock } from '../../src/pw-lib/core/dh-status.js';
import {
  computeLatestLaunch,
  decideHost,
  describeOccupant,
  findDuplicateNames,
  recheckPoolHosts,
  shuffle,
} from '../../src/pw-lib/core/launch-plan.js';
import type { LaunchContext } from '../../src/pw-lib/core/launch-plan.js';
import { parseIsoStrict } from '../../src/pw-lib/core/time.js';
import type { HostView, InstanceView } from '../../src/pw-lib/ports.js';

const pool = { namePrefix: 'MacM1', purposeTagKey: 'purpose', purposeValue: 'prod' };
const T = (iso: string): number => {
  const s = parseIsoStrict(iso);
  assert.ok(s !== undefined, iso);
  return s;
};

function host(over: Partial<HostView> & { name?: string; ready?: string | null } = {}): HostView {
  const tags: Record<string, string> = { Name: over.name ?? 'MacM1-1', purpose: 'prod' };
  if (over.ready !== null) tags.PWPoolReady = over.ready ?? 'true';
  return {
    hostId: 'hostId' in over ? over.hostId : 'h-0123456789abcdef0',
    state: 'state' in over ? over.state : 'available',
    tags: over.tags ?? tags,
    instanceIds: over.instanceIds ?? [],
    macCapacity: 'macCapacity' in over ? over.macCapacity : 1,
  };
}

function inst(over: Partial<InstanceView> = {}): InstanceView {
  return {
    instanceId: 'instanceId' in over ? over.instanceId : 'i-0aaaaaaaaaaaaaaa1',
    state: over.state ?? 'running',
    launchTime: 'launchTime' in over ? over.launchTime : '2024-08-06T12:00:30.000Z',
    hostId: over.hostId ?? 'h-0123456789abcdef0',
    publicDnsName: undefined,
    tags: over.tags ?? { Name: 'MacM1-1', purpose: 'prod', PWPoolReady: 'true' },
  };
}

function ctx(over: Partial<LaunchContext> = {}): LaunchContext {
  return {
    pool,
    nowS: T('2024-08-06T15:00:00+00:00'),
    force: false,
    staggerS: 7200,
    latestS: T('2024-08-06T12:00:30+00:00'),
    batch: [],
    batchError: undefined,
    duplicateNames: new Set(),
    ...over,
  };
}

function firstLine(h: HostView, c: LaunchContext): string {
  const v = decideHost(h, c);
  if (v.kind === 'launch') return `LAUNCH ${v.name} ${v.hostId}`;
  return formatDhBlock(v.block)[0] ?? '';
}

describe('§3.2 per-host decision table', () => {
  const occupied = host({ instanceIds: ['i-0aaaaaaaaaaaaaaa1'], macCapacity: 0 });
  const rows: [string, HostView, LaunchContext, string][] = [
    [
      'N1 malformed name',
      host({ name: 'MacM1-x' }),
      ctx(),
      "# MacM1-x HOST ERROR: Host name does not match 'MacM1-<number>'.",
    ],
    [
      'N1 name with a space',
      host({ name: 'MacM1-1 2' }),
      ctx(),
      "# MacM1-1?2 HOST ERROR: Host name does not match 'MacM1-<number>'.",
    ],
    [
      'N2 duplicate name',
      host(),
      ctx({ duplicateNames: new Set(['MacM1-1']) }),
      '# MacM1-1 HOST ERROR: Duplicate host name.',
    ],
    [
      'D1 incomplete record',
      host({ hostId: undefined }),
      ctx(),
      '# MacM1-1 HOST ERROR: Failed to look up dedicated host.',
    ],
    [
      'R1 ready tag absent',
      host({ ready: null }),
      ctx(),
      '# MacM1-1 HOST DISABLED: PWPoolReady==absent',
    ],
    [
      'R1 ready tag empty',
      host({ ready: '' }),
      ctx(),
      '# MacM1-1 HOST DISABLED: PWPoolReady==absent',
    ],
    [
      'R2 ready tag false',
      host({ ready: 'false' }),
      ctx(),
      '# MacM1-1 HOST DISABLED: PWPoolReady==false',
    ],
    [
      'R2 is case-sensitive',
      host({ ready: 'True' }),
      ctx(),
      '# MacM1-1 HOST DISABLED: PWPoolReady==True',
    ],
    [
      'S1 state missing',
      host({ state: undefined }),
      ctx(),
      '# MacM1-1 HOST ERROR: Empty/null/failed JSON query of dedicated host state.',
    ],
    ['S2 pending', host({ state: 'pending' }), ctx(), '# MacM1-1 HOST BUSY: pending'],
    [
      'S2 under-assessment',
      host({ state: 'under-assessment' }),
      ctx(),
      '# MacM1-1 HOST BUSY: under-assessment',
    ],
    ['S2 released', host({ state: 'released' }), ctx(), '# MacM1-1 HOST BUSY: released'],
    [
      'S3 permanent-failure',
      host({ state: 'permanent-failure' }),
      ctx(),
      "# MacM1-1 HOST ERROR: Unsupported dedicated host state 'permanent-failure'.",
    ],
    [
      'S3 released-permanent-failure',
      host({ state: 'released-permanent-failure' }),
      ctx(),
      "# MacM1-1 HOST ERROR: Unsupported dedicated host state 'released-permanent-failure'.",
    ],
    [
      'S3 unknown state',
      host({ state: 'melting' }),
      ctx(),
      "# MacM1-1 HOST ERROR: Unsupported dedicated host state 'melting'.",
    ],
    [
      'O1 shutting-down occupant',
      occupied,
      ctx({ batch: [inst({ state: 'shutting-down' })] }),
      '# MacM1-1 INST BUSY: i-0aaaaaaaaaaaaaaa1 shutting-down',
    ],
    [
      'O2 running occupant',
      occupied,
      ctx({ batch: [inst()] }),
      'MacM1-1 i-0aaaaaaaaaaaaaaa1 2024-08-06T12:00:30+00:00',
    ],
    [
      'O2 stopped occupant is still described',
      occupied,
      ctx({ batch: [inst({ state: 'stopped' })] }),
      'MacM1-1 i-0aaaaaaaaaaaaaaa1 2024-08-06T12:00:30+00:00',
    ],
    [
      'O2 occupant found by placement when Instances[] is empty',
      host({ macCapacity: 0 }),
      ctx({ batch: [inst()] }),
      'MacM1-1 i-0aaaaaaaaaaaaaaa1 2024-08-06T12:00:30+00:00',
    ],
    [
      'O2 batch failed',
      occupied,
      ctx({ batch: undefined, batchError: 'InternalError: boom', latestS: undefined }),
      '# MacM1-1 INST ERROR: Failed to describe host instance.',
    ],
    [
      'O2 listed but missing from the batch',
      occupied,
      ctx({ batch: [] }),
      '# MacM1-1 INST ERROR: Failed to describe host instance.',
    ],
    [
      'O2 no InstanceId',
      host({ macCapacity: 0 }),
      ctx({ batch: [inst({ instanceId: '' })] }),
      '# MacM1-1 INST ERROR: Empty/null/failed JSON query of InstanceId',
    ],
    [
      'O2 name mismatch',
      occupied,
      ctx({ batch: [inst({ tags: { Name: 'MacM1-9', purpose: 'prod' } })] }),
      "# MacM1-1 INST ERROR: Inst. name 'MacM1-9' != DH name 'MacM1-1'",
    ],
    [
      'O2 name absent',
      occupied,
      ctx({ batch: [inst({ tags: { purpose: 'prod' } })] }),
      "# MacM1-1 INST ERROR: Inst. name '' != DH name 'MacM1-1'",
    ],
    [
      'O2 no LaunchTime',
      occupied,
      ctx({ batch: [inst({ launchTime: undefined })] }),
      '# MacM1-1 INST ERROR: Empty/null/failed JSON query of LaunchTime',
    ],
    [
      'C1 no capacity, no occupant',
      host({ macCapacity: 0 }),
      ctx(),
      '# MacM1-1 HOST BUSY: no capacity',
    ],
    [
      'T1 throttled',
      host(),
      ctx({ nowS: T('2024-08-06T13:59:10+00:00') }),
      '# MacM1-1 HOST THROTTLE: Inst. creation delayed until 2024-08-06T14:00:30+00:00',
    ],
    [
      'T2 last-launch unknown',
      host(),
      ctx({ latestS: undefined, batch: undefined, batchError: 'x' }),
      '# MacM1-1 HOST THROTTLE: Last-launch query failed; creation deferred.',
    ],
    ['L empty and allowed', host(), ctx(), 'LAUNCH MacM1-1 h-0123456789abcdef0'],
    [
      'L capacity unknown does not block',
      host({ macCapacity: undefined }),
      ctx(),
      'LAUNCH MacM1-1 h-0123456789abcdef0',
    ],
    [
      'L forced past T1',
      host(),
      ctx({ force: true, nowS: T('2024-08-06T12:01:00+00:00') }),
      'LAUNCH MacM1-1 h-0123456789abcdef0',
    ],
    [
      'L forced past T2',
      host(),
      ctx({ force: true, latestS: undefined, batch: undefined, batchError: 'x' }),
      'LAUNCH MacM1-1 h-0123456789abcdef0',
    ],
    [
      'force does not lift R2',
      host({ ready: 'false' }),
      ctx({ force: true }),
      '# MacM1-1 HOST DISABLED: PWPoolReady==false',
    ],
    [
      'force does not lift S2',
      host({ state: 'pending' }),
      ctx({ force: true }),
      '# MacM1-1 HOST BUSY: pending',
    ],
    [
      'force does not lift C1',
      host({ macCapacity: 0 }),
      ctx({ force: true }),
      '# MacM1-1 HOST BUSY: no capacity',
    ],
  ];
  for (const [label, h, c, expected] of rows) {
    it(label, () => assert.equal(firstLine(h, c), expected));
  }

  it('rows are checked in order: a disabled, pending host with a bad name is N1', () => {
    assert.match(
      firstLine(host({ name: 'MacM1-', ready: 'false', state: 'pending' }), ctx()),
      /HOST ERROR: Host name/,
    );
  });

  it('every HOST ERROR and INST ERROR carries detail lines, the first labelled', () => {
    for (const [, h, c] of rows) {
      const v = decideHost(h, c);
      if (v.kind !== 'block' || v.block.kind !== 'comment') continue;
      const lines = formatDhBlock(v.block);
      if (/ (HOST|INST) ERROR: /.test(lines[0] ?? '')) {
        assert.ok(lines.length >= 2, lines.join('\n'));
        assert.match(lines[1] ?? '', /^# {4}aws CLI output: /);
        for (const l of lines.slice(2)) assert.match(l, /^# {4}/);
      } else {
        assert.equal(lines.length, 1, lines.join('\n'));
      }
    }
  });

  it('S3 details hold the host as 2-space-indented JSON', () => {
    const v = decideHost(host({ state: 'permanent-failure' }), ctx());
    assert.equal(v.kind, 'block');
    if (v.kind !== 'block') return;
    const lines = formatDhBlock(v.block);
    assert.equal(lines[1], '#    aws CLI output: {');
    assert.equal(lines[2], '#      "HostId": "h-0123456789abcdef0",');
    assert.equal(lines[3], '#      "State": "permanent-failure",');
    assert.equal(lines.at(-1), '#    }');
  });

  it('a failed batch puts its error in the detail line', () => {
    const v = decideHost(
      occupied,
      ctx({ batch: undefined, batchError: 'InternalError: boom', latestS: undefined }),
    );
    assert.equal(v.kind, 'block');
    if (v.kind === 'block')
      assert.equal(formatDhBlock(v.block)[1], '#    aws CLI output: InternalError: boom');
  });
});

describe('§3.2 stagger edges (latest 12:00:30, stagger 2 h)', () => {
  const cases: [string, string, boolean][] = [
    ['well before the window', '2024-08-06T13:00:00+00:00', false],
    ['just before: 13:59:10', '2024-08-06T13:59:10+00:00', false],
    ['last second of the minute before: 13:59:59', '2024-08-06T13:59:59+00:00', false],
    ['exactly at the minute: 14:00:00 (truncated to minutes)', '2024-08-06T14:00:00+00:00', true],
    ['after: 14:00:05', '2024-08-06T14:00:05+00:00', true],
    ['exactly latest+stagger: 14:00:30', '2024-08-06T14:00:30+00:00', true],
  ];
  for (const [label, now, launches] of cases) {
    it(label, () => {
      const v = decideHost(host(), ctx({ nowS: T(now) }));
      assert.equal(v.kind === 'launch', launches);
    });
  }
  it('no running instances: latest is the epoch, so the host launches', () => {
    const latest = computeLatestLaunch(pool, []);
    assert.deepEqual(latest, { latestS: 0, noneFound: true, ignoredEmpty: 0 });
    assert.equal(decideHost(host(), ctx({ latestS: latest.latestS })).kind, 'launch');
  });
  it('stagger 0 disables throttling even right after a launch', () => {
    const now = T('2024-08-06T12:00:31+00:00');
    assert.equal(decideHost(host(), ctx({ staggerS: 0, nowS: now, latestS: now })).kind, 'launch');
  });
  it('--force launches inside the window', () => {
    assert.equal(
      decideHost(host(), ctx({ force: true, nowS: T('2024-08-06T12:00:31+00:00') })).kind,
      'launch',
    );
  });
});

describe('§3.1 latest launch', () => {
  const base = { tags: { Name: 'MacM1-1', purpose: 'prod', PWPoolReady: 'true' } };
  it('takes the maximum over pending and running, ready, in-pool instances only', () => {
    const latest = computeLatestLaunch(pool, [
      inst({ ...base, launchTime: '2024-08-06T10:00:00.000Z' }),
      inst({ ...base, state: 'pending', launchTime: '2024-08-06T11:00:00.000Z' }),
      inst({ ...base, state: 'stopped', launchTime: '2024-08-06T13:00:00.000Z' }),
      inst({ ...base, state: 'shutting-down', launchTime: '2024-08-06T13:30:00.000Z' }),
      inst({
        tags: { Name: 'MacM1-2', purpose: 'prod', PWPoolReady: 'false' },
        launchTime: '2024-08-06T14:00:00.000Z',
      }),
      inst({
        tags: { Name: 'MacM1-3', purpose: 'test', PWPoolReady: 'true' },
        launchTime: '2024-08-06T14:30:00.000Z',
      }),
      inst({
        tags: { Name: 'Other-3', purpose: 'prod', PWPoolReady: 'true' },
        launchTime: '2024-08-06T14:45:00.000Z',
      }),
    ]);
    assert.equal(latest.latestS, T('2024-08-06T11:00:00+00:00'));
    assert.equal(latest.noneFound, false);
  });
  it('skips empty and unparseable launch times and counts them', () => {
    const latest = computeLatestLaunch(pool, [
      inst({ ...base, launchTime: undefined }),
      inst({ ...base, launchTime: 'yesterday' }),
      inst({ ...base, launchTime: '2024-08-06T09:00:00.000Z' }),
    ]);
    assert.deepEqual(latest, {
      latestS: T('2024-08-06T09:00:00+00:00'),
      noneFound: false,
      ignoredEmpty: 2,
    });
  });
});

describe('discovery helpers', () => {
  it('re-checks the filter with its own semantics: glob on Name, exact purpose', () => {
    const kept = recheckPoolHosts(pool, [
      host({ name: 'MacM1-1' }),
      host({ name: 'MacM1-x' }),
      host({ tags: { Name: 'MacM1-2', purpose: 'prod-2' } }),
      host({ tags: { Name: 'MacM10-2', purpose: 'prod' } }),
      host({ tags: { Name: 'macm1-3', purpose: 'prod' } }),
    ]);
    assert.deepEqual(
      kept.map((h) => h.tags.Name),
      ['MacM1-1', 'MacM1-x'],
    );
  });
  it('finds duplicate names', () => {
    assert.deepEqual(
      [...findDuplicateNames([host(), host({ name: 'MacM1-2' }), host()])],
      ['MacM1-1'],
    );
  });
  it('shuffles uniformly with an injected RNG', () => {
    const counts = new Map<string, number>();
    let seed = 42;
    const rng = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let i = 0; i < 6000; i += 1) {
      const first = shuffle(['a', 'b', 'c'], rng)[0] ?? '';
      counts.set(first, (counts.get(first) ?? 0) + 1);
    }
    for (const k of ['a', 'b', 'c']) {
      const n = counts.get(k) ?? 0;
      assert.ok(n > 1700 && n < 2300, `${k} first ${n} times of 6000`);
    }
    assert.deepEqual(shuffle([1, 2, 3], () => 0.999).sort(), [1, 2, 3]);
  });
});

describe('§3.3 d describing an occupant', () => {
  it('normalises the launch time to +00:00 and drops fractions', () => {
    const b: DhBlock = describeOccupant(
      'MacM1-1',
      'h-1',
      inst({ launchTime: '2024-08-05T16:02:11.000Z' }),
      'x',
    );
    assert.deepEqual(formatDhBlock(b), ['MacM1-1 i-0aaaaaaaaaaaaaaa1 2024-08-05T16:02:11+00:00']);
  });
});
