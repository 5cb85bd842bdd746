// The reap selection: pool tags, states, strictly older than the limit, from EC2 LaunchTime.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ReapInstance } from '../../src/pw-lib/core/reap-plan.js';
import {
  DEFAULT_REAP_MAX_AGE_SECONDS,
  planReap,
  reapRecord,
} from '../../src/pw-lib/core/reap-plan.js';
import { parseIsoStrict } from '../../src/pw-lib/core/time.js';

const pool = { namePrefix: 'MacM1', purposeTagKey: 'purpose', purposeValue: 'prod' };
const NOW = parseIsoStrict('2026-12-04T12:00:00Z') as number;
const MAX = DEFAULT_REAP_MAX_AGE_SECONDS;

function inst(
  id: string,
  name: string,
  ageS: number | null,
  over: Partial<ReapInstance> = {},
): ReapInstance {
  return {
    instanceId: id,
    state: 'running',
    launchTime: ageS === null ? undefined : new Date((NOW - ageS) * 1000).toISOString(),
    hostId: `h-${id.slice(2)}`,
    tags: { Name: name, purpose: 'prod' },
    ...over,
  };
}

describe('planReap', () => {
  it('terminates only pool instances strictly older than the limit, in name order', () => {
    const list = [
      inst('i-0000000000000000b', 'MacM1-2', MAX + 1),
      inst('i-0000000000000000a', 'MacM1-10', MAX + 3600),
      inst('i-0000000000000000c', 'MacM1-3', MAX),
      inst('i-0000000000000000d', 'MacM1-4', 10),
      inst('i-0000000000000000e', 'MacM1-5', MAX * 2, {
        tags: { Name: 'MacM1-5', purpose: 'dev' },
      }),
      inst('i-0000000000000000f', 'Other-1', MAX * 2, {
        tags: { Name: 'Other-1', purpose: 'prod' },
      }),
      inst('i-00000000000000010', 'MacM1-6', MAX * 2, { state: 'shutting-down' }),
      inst('i-00000000000000011', 'MacM1-7', MAX * 2, { state: 'stopped' }),
      inst('i-00000000000000012', 'MacM1-8', null),
    ];
    const d = planReap(pool, list, NOW, MAX);
    const terminate = d.filter((x) => x.kind === 'terminate').map((x) => x.name);
    assert.deepEqual(terminate, ['MacM1-10', 'MacM1-2', 'MacM1-7']);
    const keep: Record<string, string> = {};
    for (const x of d) if (x.kind === 'keep') keep[x.name ?? '?'] = x.reason;
    assert.deepEqual(keep, {
      'MacM1-3': 'young',
      'MacM1-4': 'young',
      'MacM1-5': 'not-in-pool',
      'Other-1': 'not-in-pool',
      'MacM1-6': 'state',
      'MacM1-8': 'no-launch-time',
    });
  });
  it('gives the record every field of the JSON line', () => {
    const [d] = planReap(pool, [inst('i-0000000000000000b', 'MacM1-2', MAX + 61)], NOW, MAX);
    assert.ok(d && d.kind === 'terminate');
    assert.deepEqual(reapRecord(d, NOW, MAX, 'terminated'), {
      time: '2026-12-04T12:00:00+00:00',
      action: 'terminate',
      outcome: 'terminated',
      instance: 'i-0000000000000000b',
      name: 'MacM1-2',
      host: 'h-0000000000000000b',
      launchTime: '2026-12-01T11:58:59+00:00',
      ageSeconds: MAX + 61,
      maxAgeSeconds: MAX,
      reason: 'max-age',
    });
    assert.equal(reapRecord(d, NOW, MAX, 'failed', 'X: y').error, 'X: y');
  });
});
