// The simulator's JSON control API, driven with fetch like `pw-pool sim serve` users and the
// e2e tests will, and checked through the real EC2 client where the effect is EC2-visible.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DescribeHostsCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplateVersionsCommand,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { startSimCloud } from '../../src/sim/index.js';
import {
  controlJson,
  ec2Client,
  hostIdByName,
  rejectsWithCode,
  START,
  startSim,
} from './helpers.js';

interface HostJson {
  hostId: string;
  name: string | null;
  state: string;
  tags: Record<string, string>;
  availableCapacity: number;
  instanceIds: string[];
}
interface InstanceJson {
  instanceId: string;
  hostId: string;
  name: string | null;
  state: string;
  launchTime: string;
  publicDnsName: string;
  tags: Record<string, string>;
  sshReadyAt: string | null;
}

describe('control API', () => {
  test('clock: read, advance, change speed', async (t) => {
    const sim = await startSim(t, { hosts: 0 });
    assert.deepEqual((await controlJson(sim, 'GET', '/_sim/clock')).json, {
      now: START.toISOString(),
      speed: 0,
    });
    const adv = await controlJson(sim, 'POST', '/_sim/advance', { seconds: 7200 });
    assert.deepEqual(adv, { status: 200, json: { now: '2024-08-06T14:00:00.000Z' } });
    const speed = await controlJson(sim, 'POST', '/_sim/clock', { speed: 0 });
    assert.equal((speed.json as { speed: number }).speed, 0);
    assert.equal(sim.clock.now().toISOString(), '2024-08-06T14:00:00.000Z');
  });

  test('state lists hosts and instances with tags as an object and the Name as name', async (t) => {
    const sim = await startSim(t, { hosts: 2 });
    const ec2 = ec2Client(sim);
    await ec2.send(
      new RunInstancesCommand({
        LaunchTemplate: { LaunchTemplateName: 'GHAMacM1Runner', Version: '$Default' },
        MinCount: 1,
        MaxCount: 1,
        Placement: { HostId: hostIdByName(sim, 'MacM1-2'), Tenancy: 'host' },
        TagSpecifications: [
          { ResourceType: 'instance', Tags: [{ Key: 'Name', Value: 'MacM1-2' }] },
        ],
      }),
    );
    await controlJson(sim, 'POST', '/_sim/advance', { seconds: 60 });
    const { status, json } = await controlJson(sim, 'GET', '/_sim/state');
    assert.equal(status, 200);
    const state = json as {
      now: string;
      hosts: HostJson[];
      instances: InstanceJson[];
      costUsd: number;
    };
    assert.equal(state.now, '2024-08-06T12:01:00.000Z');
    assert.deepEqual(
      state.hosts.map((h) => [h.name, h.state, h.availableCapacity]),
      [
        ['MacM1-1', 'available', 1],
        ['MacM1-2', 'available', 0],
      ],
    );
    assert.deepEqual(state.hosts[0]?.tags, {
      Name: 'MacM1-1',
      purpose: 'prod',
      PWPoolReady: 'true',
      automation: 'false',
    });
    const [instance] = state.instances;
    assert.ok(instance);
    assert.equal(instance.name, 'MacM1-2');
    assert.equal(instance.state, 'running');
    assert.equal(instance.hostId, hostIdByName(sim, 'MacM1-2'));
    assert.equal(instance.launchTime, START.toISOString());
    assert.match(instance.publicDnsName, /^127\.0\.\d+\.\d+$/);
    assert.equal(instance.tags.Name, 'MacM1-2');
    assert.ok(instance.sshReadyAt !== null);
    assert.deepEqual(state.hosts[1]?.instanceIds, [instance.instanceId]);
    assert.equal(state.costUsd, 0.02);
  });

  test('request log: everything as sent, ?since=, and clearing', async (t) => {
    const sim = await startSim(t, { hosts: 1 });
    const ec2 = ec2Client(sim);
    await ec2.send(
      new DescribeHostsCommand({ Filter: [{ Name: 'tag:Name', Values: ['MacM1-*'] }] }),
    );
    await ec2.send(new DescribeInstancesCommand({}));
    const all = (await controlJson(sim, 'GET', '/_sim/requests')).json as {
      requests: {
        seq: number;
        action: string;
        params: Record<string, string>;
        status: number;
        virtualTime: string;
      }[];
    };
    assert.deepEqual(
      all.requests.map((r) => [r.seq, r.action, r.status]),
      [
        [1, 'DescribeHosts', 200],
        [2, 'DescribeInstances', 200],
      ],
    );
    assert.deepEqual(all.requests[0]?.params, {
      Action: 'DescribeHosts',
      Version: '2016-11-15',
      'Filter.1.Name': 'tag:Name',
      'Filter.1.Value.1': 'MacM1-*',
    });
    assert.equal(all.requests[0]?.virtualTime, START.toISOString());
    const since = (await controlJson(sim, 'GET', '/_sim/requests?since=1')).json as {
      requests: { seq: number }[];
    };
    assert.deepEqual(
      since.requests.map((r) => r.seq),
      [2],
    );
    assert.deepEqual((await controlJson(sim, 'DELETE', '/_sim/requests')).json, { cleared: 2 });
    await ec2.send(new DescribeInstancesCommand({}));
    const after = (await controlJson(sim, 'GET', '/_sim/requests')).json as {
      requests: { seq: number }[];
    };
    assert.deepEqual(
      after.requests.map((r) => r.seq),
      [3],
    );
  });

  test('faults: add, list, remove and clear', async (t) => {
    const sim = await startSim(t, { hosts: 1 });
    const added = await controlJson(sim, 'POST', '/_sim/faults', {
      action: 'DescribeHosts',
      kind: 'throttle',
      count: 1,
    });
    assert.equal(added.status, 201);
    assert.deepEqual(added.json, {
      id: 1,
      action: 'DescribeHosts',
      kind: 'throttle',
      value: null,
      remaining: 1,
      hits: 0,
    });
    await controlJson(sim, 'POST', '/_sim/faults', { action: '*', kind: 'latencyMs', value: 5 });
    await rejectsWithCode(
      ec2Client(sim).send(new DescribeHostsCommand({})),
      'RequestLimitExceeded',
    );
    const listed = (await controlJson(sim, 'GET', '/_sim/faults')).json as {
      faults: { id: number; hits: number }[];
    };
    assert.deepEqual(
      listed.faults.map((f) => [f.id, f.hits]),
      [
        [1, 1],
        [2, 1],
      ],
    );
    assert.deepEqual((await controlJson(sim, 'DELETE', '/_sim/faults/2')).json, { removed: true });
    assert.equal((await controlJson(sim, 'DELETE', '/_sim/faults/2')).status, 404);
    assert.deepEqual((await controlJson(sim, 'DELETE', '/_sim/faults')).json, { cleared: 1 });
    const bad = await controlJson(sim, 'POST', '/_sim/faults', { action: 'X', kind: 'latencyMs' });
    assert.equal(bad.status, 400);
    assert.match((bad.json as { error: string }).error, /latencyMs/);
  });

  test('hosts: add, then script state, tags and capacity (visible through EC2)', async (t) => {
    const sim = await startSim(t, { hosts: 1 });
    const ec2 = ec2Client(sim);
    const added = await controlJson(sim, 'POST', '/_sim/hosts', [
      { name: 'MacM1-2', tags: { purpose: 'prod', PWPoolReady: 'true' } },
      { name: 'MacM1-3', state: 'under-assessment' },
    ]);
    assert.equal(added.status, 201);
    const hosts = (added.json as { hosts: HostJson[] }).hosts;
    assert.deepEqual(
      hosts.map((h) => [h.name, h.state]),
      [
        ['MacM1-2', 'available'],
        ['MacM1-3', 'under-assessment'],
      ],
    );
    const scripted = await controlJson(sim, 'POST', '/_sim/hosts/MacM1-2', {
      tags: { PWPoolReady: 'false' },
      removeTags: ['purpose'],
      availableCapacity: 0,
    });
    assert.equal(scripted.status, 200);
    assert.deepEqual((scripted.json as HostJson).tags, { Name: 'MacM1-2', PWPoolReady: 'false' });
    const seen = await ec2.send(new DescribeHostsCommand({ HostIds: [hosts[0]?.hostId ?? ''] }));
    assert.equal(
      seen.Hosts?.[0]?.AvailableCapacity?.AvailableInstanceCapacity?.[0]?.AvailableCapacity,
      0,
    );
    const byId = await controlJson(sim, 'POST', `/_sim/hosts/${hosts[1]?.hostId ?? ''}`, {
      state: 'permanent-failure',
    });
    assert.equal((byId.json as HostJson).state, 'permanent-failure');
    const got = await controlJson(sim, 'GET', '/_sim/hosts/MacM1-3');
    assert.equal((got.json as HostJson).state, 'permanent-failure');
  });

  test('instances: script state and tags, and an on-instance shutdown', async (t) => {
    const sim = await startSim(t, { hosts: 1 });
    const ec2 = ec2Client(sim);
    const run = await ec2.send(
      new RunInstancesCommand({
        LaunchTemplate: { LaunchTemplateName: 'CirrusMacM1PWinstance' },
        MinCount: 1,
        MaxCount: 1,
        Placement: { HostId: hostIdByName(sim, 'MacM1-1') },
        TagSpecifications: [
          { ResourceType: 'instance', Tags: [{ Key: 'Name', Value: 'MacM1-1' }] },
        ],
      }),
    );
    const id = run.Instances?.[0]?.InstanceId ?? '';
    const running = await controlJson(sim, 'POST', '/_sim/instances/MacM1-1', {
      state: 'running',
      tags: { PWPoolReady: 'true' },
    });
    assert.equal((running.json as InstanceJson).state, 'running');
    assert.equal((running.json as InstanceJson).tags.PWPoolReady, 'true');
    const shutdown = await controlJson(sim, 'POST', `/_sim/instances/${id}/shutdown`);
    assert.equal((shutdown.json as InstanceJson).state, 'shutting-down');
    const again = await controlJson(sim, 'POST', `/_sim/instances/${id}/shutdown`);
    assert.equal(again.status, 409);
    assert.equal(
      (await controlJson(sim, 'GET', '/_sim/instances/i-0123456789abcdef0')).status,
      404,
    );
  });

  test('launch templates: a new default version with shutdown behaviour stop', async (t) => {
    const sim = await startSim(t, { hosts: 0 });
    const put = await controlJson(sim, 'POST', '/_sim/launch-templates', {
      name: 'GHAMacM1Runner',
      data: { instanceType: 'mac2.metal', instanceInitiatedShutdownBehavior: 'stop' },
    });
    assert.equal(put.status, 201);
    assert.equal((put.json as { defaultVersionNumber: number }).defaultVersionNumber, 2);
    const out = await ec2Client(sim).send(
      new DescribeLaunchTemplateVersionsCommand({
        LaunchTemplateName: 'GHAMacM1Runner',
        Versions: ['$Default'],
      }),
    );
    assert.equal(
      out.LaunchTemplateVersions?.[0]?.LaunchTemplateData?.InstanceInitiatedShutdownBehavior,
      'stop',
    );
    const all = await ec2Client(sim).send(
      new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateName: 'GHAMacM1Runner' }),
    );
    assert.deepEqual(
      all.LaunchTemplateVersions?.map((v) => [v.VersionNumber, v.DefaultVersion]),
      [
        [1, false],
        [2, true],
      ],
    );
  });

  test('bad JSON, unknown routes, wrong methods and invalid bodies are 4xx with an error', async (t) => {
    const sim = await startSim(t, { hosts: 1 });
    const badJson = await controlJson(sim, 'POST', '/_sim/advance', '{"seconds": ');
    assert.equal(badJson.status, 400);
    assert.match((badJson.json as { error: string }).error, /invalid JSON/);
    const unknown = await controlJson(sim, 'GET', '/_sim/nope');
    assert.equal(unknown.status, 404);
    assert.match((unknown.json as { error: string }).error, /\/_sim\/nope/);
    const method = await controlJson(sim, 'DELETE', '/_sim/clock');
    assert.equal(method.status, 405);
    const invalid = await controlJson(sim, 'POST', '/_sim/advance', { seconds: -5 });
    assert.equal(invalid.status, 400);
    assert.match((invalid.json as { error: string }).error, /seconds/);
    const extra = await controlJson(sim, 'POST', '/_sim/hosts/MacM1-1', { state: 'sleeping' });
    assert.equal(extra.status, 400);
    const noHost = await controlJson(sim, 'POST', '/_sim/hosts/MacM1-404', { state: 'available' });
    assert.equal(noHost.status, 404);
  });
});

describe('startSimCloud', () => {
  test('binds loopback on a free port and close() releases it', async () => {
    const sim = await startSimCloud({ hosts: 2, speed: 0 });
    assert.match(sim.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(sim.port > 0);
    assert.equal(sim.world.hosts().length, 2);
    await sim.close();
    await sim.close();
    await assert.rejects(fetch(`${sim.endpoint}/_sim/clock`));
  });

  test('with a running clock, listeners see running without any request', async (t) => {
    const sim = await startSim(t, { hosts: 1, speed: 3600 });
    const running = new Promise<string>((resolve) => {
      sim.world.subscribe((e) => {
        if (e.type === 'instance-state' && e.instance.state === 'running')
          resolve(e.instance.instanceId);
      });
    });
    const out = sim.world.runInstances({
      minCount: 1,
      maxCount: 1,
      launchTemplate: { name: 'GHAMacM1Runner' },
      hostId: hostIdByName(sim, 'MacM1-1'),
    });
    // 60 virtual seconds at 3600× is ~17 real milliseconds
    assert.equal(await running, out.instances[0]?.instanceId);
  });
});
