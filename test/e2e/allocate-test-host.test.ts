// allocate-test-host end to end (behavior.md §8.2): the built CLI against the simulated cloud.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseDhStatus } from '../../src/pw-lib/core/dh-status.js';
import { poolFixture, runCli } from '../helpers/cli.js';
import type { PoolFixture } from '../helpers/cli.js';

const ID = 'aliceTesting';
const AZ = { PW_POOL_TEST_HOST_AVAILABILITY_ZONE: 'us-east-1a' };

function requests(f: PoolFixture, action: string) {
  return f.sim.requestLog.list().filter((r) => r.action === action);
}

const testDir = (f: PoolFixture) => join(f.stateDir, 'test-pools', ID);

describe('pw-pool allocate-test-host (e2e on the simulated cloud)', () => {
  it('allocates a mac2.metal host with the §8.2 settings and tags, launches on it, reports', async (t) => {
    const f = await poolFixture(t, { hosts: 1 });
    const r = await f.run(['allocate-test-host', '--user', 'alice'], AZ);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);

    const lookup = requests(f, 'DescribeHosts')[0]?.params ?? {};
    assert.equal(lookup['Filter.1.Name'], 'tag:Name', 'DescribeHosts takes Filter (singular)');
    assert.equal(lookup['Filter.1.Value.1'], `${ID}-0`);
    const alloc = requests(f, 'AllocateHosts');
    assert.equal(alloc.length, 1);
    const p = alloc[0]?.params ?? {};
    assert.equal(p.AvailabilityZone, 'us-east-1a');
    assert.equal(p.InstanceType, 'mac2.metal');
    assert.equal(p.Quantity, '1');
    assert.equal(p.AutoPlacement, 'off');
    assert.equal(p.HostRecovery, 'off');
    assert.equal(p.HostMaintenance, 'off');
    assert.equal(p['TagSpecification.1.ResourceType'], 'dedicated-host');

    const host = f.sim.world.host(`${ID}-0`);
    assert.ok(host);
    assert.deepEqual(
      { ...host.tags },
      { Name: `${ID}-0`, purpose: ID, PWPoolReady: 'true', automation: 'false' },
    );
    assert.equal(host.instanceType, 'mac2.metal');
    assert.equal(host.availabilityZone, 'us-east-1a');
    assert.deepEqual(
      [host.autoPlacement, host.hostRecovery, host.hostMaintenance],
      ['off', 'off', 'off'],
    );
    assert.equal(f.sim.world.host('MacM1-1')?.instanceIds.length, 0, 'production untouched');

    // The launch went to the test pool's own state directory, with its overlay.
    const entries = parseDhStatus(
      await readFile(join(testDir(f), 'dh_status.txt'), 'utf8'),
    ).entries;
    assert.deepEqual(
      entries.map((e) => e.name),
      [`${ID}-0`],
    );
    const inst = f.sim.world.instance(entries[0]?.instanceId ?? '');
    assert.equal(inst?.hostId, host.hostId);
    assert.equal(inst?.tags.purpose, ID);
    assert.equal(existsSync(join(f.stateDir, 'dh_status.txt')), false, 'no production status file');

    const overlayPath = join(testDir(f), 'overlay.json');
    const overlay = JSON.parse(await readFile(overlayPath, 'utf8')) as Record<string, unknown>;
    assert.equal(overlay.namePrefix, ID);
    assert.equal(overlay.purposeValue, ID);
    assert.equal(overlay.launchTemplateName, 'CirrusMacM1PWinstance');
    assert.equal(overlay.stateDir, testDir(f));
    assert.equal(overlay.maxLifetimeSeconds, 259200);
    assert.equal(overlay.hardLifetimeSeconds, 518400);
    assert.equal(overlay.maxFinishedTasks, 9999);

    const audit = (await readFile(join(testDir(f), 'audit.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      audit.map((a) => [a.command, a.action, a.host]),
      [
        ['allocate-test-host', 'allocate-host', host.hostId],
        ['allocate-test-host', 'launch', host.hostId],
      ],
    );

    const earliest = `${new Date(host.allocationTime.getTime() + 86_400_000).toISOString().slice(0, 19)}+00:00`;
    assert.ok(r.stdout.includes(`Config overlay: ${overlayPath}`), r.stdout);
    assert.ok(r.stdout.includes(`pw-pool --overlay ${overlayPath} setup-instances`));
    assert.ok(r.stdout.includes(`not before ${earliest}`), r.stdout);
    assert.ok(r.stdout.includes(`release-hosts --host-ids ${host.hostId}`));
    assert.ok(r.stdout.includes(`terminate-instances --instance-ids ${inst?.instanceId}`));

    // The overlay is what a person uses next: launch-instances with it sees the test pool only.
    const again = await runCli(['--overlay', overlayPath, 'launch-instances'], { ...f.env });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^Operating on 1 dedicated hosts at /m);

    // A second run reuses the host: no second AllocateHosts, the same instance.
    const second = await f.run(['allocate-test-host', '--user', 'alice'], AZ);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(requests(f, 'AllocateHosts').length, 1);
    assert.ok(second.stdout.includes(`--instance-ids ${inst?.instanceId}`));
  });

  it('a host named <id>-0 that is pending: "retry later", exit 4, nothing allocated or launched', async (t) => {
    const f = await poolFixture(t, { hosts: 1 });
    f.sim.world.addHost({ name: `${ID}-0`, state: 'pending', tags: { purpose: ID } });
    const r = await f.run(['allocate-test-host', '--user', 'a.l.i.c.e'], AZ);
    assert.equal(r.code, 4, r.stderr);
    assert.equal(r.stdout, `Dedicated host ${ID}-0 is pending: host scrubbing, retry later.\n`);
    assert.equal(requests(f, 'AllocateHosts').length, 0);
    assert.equal(requests(f, 'RunInstances').length, 0);
  });

  it('AllocateHosts fails: the failure line and exit 4', async (t) => {
    const f = await poolFixture(t, { hosts: 1 });
    f.sim.faults.add({ action: 'AllocateHosts', kind: 'capacity' });
    const r = await f.run(['allocate-test-host', '--user', 'alice'], AZ);
    assert.equal(r.code, 4, r.stderr);
    assert.match(
      r.stdout,
      /^Provisioning new dedicated host aliceTesting-0 failed\. Manual debugging & cleanup required\.$/m,
    );
    assert.equal(requests(f, 'RunInstances').length, 0);
  });

  it('no testHost.availabilityZone: a config error naming the key (exit 3), no AWS call', async (t) => {
    const f = await poolFixture(t, { hosts: 1 });
    const r = await f.run(['allocate-test-host', '--user', 'alice']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /testHost\.availabilityZone is not set/);
    assert.equal(f.sim.requestLog.list().length, 0);
  });

  it('a user with no letters or digits is a usage error (exit 2)', async (t) => {
    const f = await poolFixture(t, { hosts: 1 });
    const r = await f.run(['allocate-test-host', '--user', '.-_'], AZ);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--user '\.-_' has no letters or digits/);
  });

  it('--dry-run changes nothing and writes no file', async (t) => {
    const f = await poolFixture(t, { hosts: 1 });
    const r = await f.run(['allocate-test-host', '--user', 'alice', '--dry-run'], AZ);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /Would allocate dedicated host aliceTesting-0 \(mac2\.metal, us-east-1a/,
    );
    assert.equal(requests(f, 'AllocateHosts').length, 0);
    assert.equal(existsSync(testDir(f)), false);
  });
});
