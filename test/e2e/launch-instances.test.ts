// launch-instances end to end: the built CLI in its own process, against the simulated cloud.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseDhStatus } from '../../src/pw-lib/core/dh-status.js';
import { poolFixture } from '../helpers/cli.js';
import type { PoolFixture } from '../helpers/cli.js';

const MUTATING = new Set([
  'RunInstances',
  'CreateTags',
  'DeleteTags',
  'TerminateInstances',
  'StopInstances',
  'AllocateHosts',
  'ReleaseHosts',
]);

async function dhStatus(f: PoolFixture): Promise<string> {
  return readFile(join(f.stateDir, 'dh_status.txt'), 'utf8');
}

function actions(f: PoolFixture): string[] {
  return f.sim.requestLog.list().map((r) => r.action);
}

describe('pw-pool launch-instances (e2e on the simulated cloud)', () => {
  it('fills an empty pool with --force: one instance per host, tagged, waited for, written', async (t) => {
    const f = await poolFixture(t, { hosts: 4 });
    const r = await f.run(['launch-instances', '--force']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^Operating on 4 dedicated hosts at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/m,
    );
    assert.match(r.stdout, /^Last instance launch on 1970-01-01T00:00:00\+00:00$/m);
    assert.match(r.stderr, /Forcing instance creation: Ignoring staggered creation limits\./);
    const text = await dhStatus(f);
    const lines = text.split('\n');
    assert.match(
      lines[0] ?? '',
      /^# LaunchInstances\.sh run \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/,
    );
    assert.equal(lines[1], '#');
    const entries = parseDhStatus(text).entries;
    assert.deepEqual(
      entries.map((e) => e.name),
      ['MacM1-1', 'MacM1-2', 'MacM1-3', 'MacM1-4'],
    );
    for (const e of entries) {
      const inst = f.sim.world.instance(e.instanceId);
      assert.ok(inst, e.instanceId);
      assert.equal(inst.state, 'running', 'waited for running');
      assert.equal(inst.hostId, f.sim.world.host(e.name)?.hostId);
      assert.equal(inst.tags.Name, e.name);
      assert.equal(inst.tags.purpose, 'prod');
      assert.equal(inst.tags.PWPoolReady, 'true');
      assert.equal(inst.tags.automation, 'true');
      assert.equal(e.launchTime, `${inst.launchTime.toISOString().slice(0, 19)}+00:00`);
    }
    // One DescribeHosts and one batch DescribeInstances, whatever the number of hosts; one template check.
    const acts = actions(f);
    assert.equal(acts.filter((a) => a === 'DescribeHosts').length, 1);
    assert.equal(acts.filter((a) => a === 'RunInstances').length, 4);
    assert.equal(acts.filter((a) => a === 'DescribeLaunchTemplateVersions').length, 1);
    // A second run keeps the previous file as dh_status.txt~ and describes the occupants.
    const again = await f.run(['launch-instances']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(await readFile(join(f.stateDir, 'dh_status.txt~'), 'utf8'), text);
    assert.deepEqual(
      parseDhStatus(await dhStatus(f)).entries.map((e) => e.instanceId),
      entries.map((e) => e.instanceId),
    );
  });

  it('without --force launches one instance per stagger window', async (t) => {
    const f = await poolFixture(t, { hosts: 3 });
    const first = await f.run(['launch-instances']);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /Found no running instances, this should not happen\./);
    let dh = await dhStatus(f);
    assert.equal(parseDhStatus(dh).entries.length, 1);
    const throttle =
      dh.match(/^# MacM1-\d HOST THROTTLE: Inst\. creation delayed until (\S+)$/gm) ?? [];
    assert.equal(throttle.length, 2, dh);

    await f.control('POST', '/_sim/advance', { seconds: 3600 });
    const second = await f.run(['launch-instances']);
    assert.equal(second.code, 0, second.stderr);
    dh = await dhStatus(f);
    assert.equal(parseDhStatus(dh).entries.length, 1, 'still inside the 2 h window');
    assert.match(second.stdout, /^Last instance launch on \S+$/m);

    await f.control('POST', '/_sim/advance', { seconds: 3700 });
    const third = await f.run(['launch-instances']);
    assert.equal(third.code, 0, third.stderr);
    dh = await dhStatus(f);
    assert.equal(parseDhStatus(dh).entries.length, 2, 'one more launch after the window');
    assert.equal((dh.match(/HOST THROTTLE/g) ?? []).length, 1);
    assert.equal(f.sim.requestLog.list().filter((r) => r.action === 'RunInstances').length, 2);
  });

  it('reports pending, under-assessment, released, permanent-failure and disabled hosts', async (t) => {
    const f = await poolFixture(t, { hosts: 6 });
    await f.control('POST', '/_sim/hosts/MacM1-1', { state: 'pending', hold: true });
    await f.control('POST', '/_sim/hosts/MacM1-2', { state: 'under-assessment', hold: true });
    await f.control('POST', '/_sim/hosts/MacM1-3', { state: 'released', hold: true });
    await f.control('POST', '/_sim/hosts/MacM1-4', { state: 'permanent-failure', hold: true });
    await f.control('POST', '/_sim/hosts/MacM1-5', { tags: { PWPoolReady: 'false' } });
    const r = await f.run(['launch-instances', '--force']);
    assert.equal(r.code, 4, 'a HOST ERROR makes the exit code 4');
    const dh = await dhStatus(f);
    const h4 = f.sim.world.host('MacM1-4')?.hostId;
    const expected = [
      '# MacM1-1 HOST BUSY: pending',
      '# MacM1-2 HOST BUSY: under-assessment',
      '# MacM1-3 HOST BUSY: released',
      "# MacM1-4 HOST ERROR: Unsupported dedicated host state 'permanent-failure'.",
      '#    aws CLI output: {',
      `#      "HostId": "${h4}",`,
      '#      "State": "permanent-failure",',
    ];
    for (const line of expected)
      assert.ok(dh.split('\n').includes(line), `missing: ${line}\n${dh}`);
    assert.match(dh, /^# MacM1-5 HOST DISABLED: PWPoolReady==false$/m);
    assert.match(dh, /^MacM1-6 i-[0-9a-f]{17} \S+$/m);
    assert.deepEqual(
      f.sim.requestLog
        .list()
        .filter((q) => q.action === 'RunInstances')
        .map((q) => q.params['Placement.HostId']),
      [f.sim.world.host('MacM1-6')?.hostId],
    );
  });

  it('a capacity error is an INST ERROR while the other hosts still launch', async (t) => {
    const f = await poolFixture(t, { hosts: 3 });
    await f.control('POST', '/_sim/faults', {
      action: 'RunInstances',
      kind: 'capacity',
      value: 'MacM1-2',
      count: 1,
    });
    const r = await f.run(['launch-instances', '--force']);
    assert.equal(r.code, 4);
    const dh = await dhStatus(f);
    const h2 = f.sim.world.host('MacM1-2')?.hostId;
    assert.match(dh, /^# MacM1-2 INST ERROR: Failed to create new instance on available host\.$/m);
    assert.ok(
      dh.includes(
        `#    aws CLI output: InsufficientCapacityOnHost: Insufficient capacity on host ${h2}.`,
      ),
      dh,
    );
    assert.deepEqual(
      parseDhStatus(dh).entries.map((e) => e.name),
      ['MacM1-1', 'MacM1-3'],
    );
  });

  it('throttling is absorbed by SDK retries', async (t) => {
    const f = await poolFixture(t, { hosts: 2 });
    await f.control('POST', '/_sim/faults', {
      action: 'DescribeHosts',
      kind: 'throttle',
      count: 2,
    });
    await f.control('POST', '/_sim/faults', { action: 'RunInstances', kind: 'throttle', count: 1 });
    const r = await f.run(['launch-instances', '--force']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(parseDhStatus(await dhStatus(f)).entries.length, 2);
    const log = f.sim.requestLog.list();
    assert.equal(log.filter((q) => q.action === 'DescribeHosts').length, 3);
    assert.equal(log.filter((q) => q.action === 'RunInstances').length, 3);
    assert.equal(f.sim.world.instances().length, 2, 'the retried launch did not launch twice');
  });

  it('--dry-run reads everything, prints the plan and changes nothing', async (t) => {
    const f = await poolFixture(t, { hosts: 3 });
    await f.control('POST', '/_sim/hosts/MacM1-3', { state: 'pending', hold: true });
    const r = await f.run(['launch-instances', '--force', '--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ {2}launch MacM1-1 on h-[0-9a-f]{17}$/m);
    assert.match(r.stdout, /^ {2}skip MacM1-3: HOST BUSY: pending$/m);
    assert.match(r.stdout, /^Would write dh_status\.txt:$/m);
    assert.match(
      r.stdout,
      /^# MacM1-2 WOULD LAUNCH: RunInstances on h-[0-9a-f]{17} from launch template 'CirrusMacM1PWinstance'\.$/m,
    );
    const acts = actions(f);
    assert.ok(acts.includes('DescribeHosts') && acts.includes('DescribeInstances'));
    assert.deepEqual(
      acts.filter((a) => MUTATING.has(a)),
      [],
    );
    assert.equal(existsSync(join(f.stateDir, 'dh_status.txt')), false);
    assert.equal(existsSync(join(f.stateDir, 'pw-pool.lock')), false);
    assert.equal(f.sim.world.instances().length, 0);
  });

  it('an empty pool writes a header-only file and exits 0', async (t) => {
    const f = await poolFixture(t, { hosts: 0 });
    const r = await f.run(['launch-instances']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'No dedicated hosts found\n');
    assert.match(await dhStatus(f), /^# LaunchInstances\.sh run \S+\n#\n$/);
  });

  it('discovery failure leaves dh_status.txt untouched and exits 4', async (t) => {
    const f = await poolFixture(t, { hosts: 2 });
    await f.run(['launch-instances', '--force']);
    const before = await dhStatus(f);
    await f.control('POST', '/_sim/faults', { action: 'DescribeHosts', kind: '5xx' });
    const r = await f.run(['launch-instances']);
    assert.equal(r.code, 4);
    assert.match(r.stderr, /dedicated host discovery failed/);
    assert.equal(await dhStatus(f), before);
  });

  it('keeps other pools and malformed names apart', async (t) => {
    const f = await poolFixture(t, { hosts: 1 });
    await f.control('POST', '/_sim/hosts', [
      { name: 'MacM1-x', tags: { purpose: 'prod', PWPoolReady: 'true' } },
      { name: 'MacM1-7', tags: { purpose: 'staging', PWPoolReady: 'true' } },
      { name: 'Other-1', tags: { purpose: 'prod', PWPoolReady: 'true' } },
    ]);
    const r = await f.run(['launch-instances', '--force']);
    assert.equal(r.code, 4);
    const dh = await dhStatus(f);
    assert.match(dh, /^# MacM1-x HOST ERROR: Host name does not match 'MacM1-<number>'\.$/m);
    assert.doesNotMatch(dh, /MacM1-7|Other-1/);
    assert.match(r.stdout, /^Operating on 2 dedicated hosts at /m);
  });
});
