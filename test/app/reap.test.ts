// reap with in-memory fakes: selection, the JSON lines, a failed termination.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { reap } from '../../src/pw-lib/app/reap.js';
import { FakeClock, FakeEc2, RecordingOutput, awsError, memoryLogger } from '../helpers/fakes.js';

const pool = { namePrefix: 'MacM1', purposeTagKey: 'purpose', purposeValue: 'prod' };
const NOW_S = Date.parse('2026-12-04T00:00:00Z') / 1000;

class Ec2 extends FakeEc2 {
  failTerminate = new Set<string>();
  override terminateInstance(id: string): Promise<void> {
    if (this.failTerminate.has(id))
      return Promise.reject(awsError('other', 'InternalError', 'boom'));
    return super.terminateInstance(id);
  }
}

function world() {
  const ec2 = new Ec2(new FakeClock(NOW_S * 1000));
  const at = (daysAgo: number) => new Date((NOW_S - daysAgo * 86400) * 1000).toISOString();
  ec2.instances = [
    {
      instanceId: 'i-0000000000000000a',
      state: 'running',
      launchTime: at(4),
      hostId: 'h-0000000000000000a',
      publicDnsName: undefined,
      tags: { Name: 'MacM1-1', purpose: 'prod' },
    },
    {
      instanceId: 'i-0000000000000000b',
      state: 'stopped',
      launchTime: at(3.5),
      hostId: 'h-0000000000000000b',
      publicDnsName: undefined,
      tags: { Name: 'MacM1-2', purpose: 'prod' },
    },
    {
      instanceId: 'i-0000000000000000c',
      state: 'running',
      launchTime: at(1),
      hostId: 'h-0000000000000000c',
      publicDnsName: undefined,
      tags: { Name: 'MacM1-3', purpose: 'prod' },
    },
    {
      instanceId: 'i-0000000000000000d',
      state: 'running',
      launchTime: at(9),
      hostId: 'h-0000000000000000d',
      publicDnsName: undefined,
      tags: { Name: 'MacM1-4', purpose: 'dev' },
    },
  ];
  const out = new RecordingOutput();
  return { ec2, out, deps: { ec2, out, log: memoryLogger().log } };
}

describe('reap', () => {
  it('terminates the old pool instances and prints one JSON line each', async () => {
    const w = world();
    const r = await reap(pool, w.deps, { nowS: NOW_S, maxAgeSeconds: 259200, dryRun: false });
    assert.equal(r.exitCode, 0);
    assert.deepEqual(
      w.ec2.calls.filter((c) => c.startsWith('Terminate')),
      ['TerminateInstances:i-0000000000000000a', 'TerminateInstances:i-0000000000000000b'],
    );
    const lines = w.out.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      lines.map((l) => [l.name, l.outcome, l.ageSeconds]),
      [
        ['MacM1-1', 'terminated', 4 * 86400],
        ['MacM1-2', 'terminated', 3.5 * 86400],
      ],
    );
  });
  it('dry run terminates nothing; a failed termination is exit 4 and the others continue', async () => {
    let w = world();
    let r = await reap(pool, w.deps, { nowS: NOW_S, maxAgeSeconds: 259200, dryRun: true });
    assert.equal(r.exitCode, 0);
    assert.equal(w.ec2.calls.filter((c) => c.startsWith('Terminate')).length, 0);
    assert.equal(w.out.lines.length, 2);
    w = world();
    w.ec2.failTerminate.add('i-0000000000000000a');
    r = await reap(pool, w.deps, { nowS: NOW_S, maxAgeSeconds: 259200, dryRun: false });
    assert.equal(r.exitCode, 4);
    assert.deepEqual(
      r.records.map((x) => [x.instance, x.outcome, x.error]),
      [
        ['i-0000000000000000a', 'failed', 'InternalError: boom'],
        ['i-0000000000000000b', 'terminated', undefined],
      ],
    );
  });
});
