// The real @aws-sdk/client-ec2 against the simulated cloud on port 0: wire format, filters,
// pagination, the Mac host/instance life cycle and fault injection.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AllocateHostsCommand,
  CreateTagsCommand,
  DeleteTagsCommand,
  DescribeHostsCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplatesCommand,
  DescribeLaunchTemplateVersionsCommand,
  paginateDescribeHosts,
  paginateDescribeInstances,
  ReleaseHostsCommand,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  type EC2Client,
  type Host,
  type Instance,
} from '@aws-sdk/client-ec2';
import type { SimCloud } from '../../src/sim/index.js';
import { ec2Client, hostIdByName, logged, rejectsWithCode, START, startSim } from './helpers.js';

const POOL_FILTER = [
  { Name: 'tag:Name', Values: ['MacM1-*'] },
  { Name: 'tag:purpose', Values: ['prod'] },
];

function launch(
  ec2: EC2Client,
  hostId: string,
  name: string,
  extra: { ClientToken?: string } = {},
) {
  return ec2.send(
    new RunInstancesCommand({
      LaunchTemplate: { LaunchTemplateName: 'CirrusMacM1PWinstance', Version: '$Default' },
      MinCount: 1,
      MaxCount: 1,
      Placement: { HostId: hostId, Tenancy: 'host' },
      InstanceInitiatedShutdownBehavior: 'terminate',
      MetadataOptions: { HttpTokens: 'required', InstanceMetadataTags: 'enabled' },
      TagSpecifications: [
        {
          ResourceType: 'instance',
          Tags: [
            { Key: 'Name', Value: name },
            { Key: 'purpose', Value: 'prod' },
            { Key: 'PWPoolReady', Value: 'true' },
            { Key: 'automation', Value: 'true' },
          ],
        },
      ],
      ...extra,
    }),
  );
}

async function describeHost(ec2: EC2Client, hostId: string): Promise<Host> {
  const out = await ec2.send(new DescribeHostsCommand({ HostIds: [hostId] }));
  assert.equal(out.Hosts?.length, 1);
  return out.Hosts[0] as Host;
}

async function describeInstance(ec2: EC2Client, instanceId: string): Promise<Instance> {
  const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  const instances = (out.Reservations ?? []).flatMap((r) => r.Instances ?? []);
  assert.equal(instances.length, 1);
  return instances[0] as Instance;
}

function capacity(host: Host): number | undefined {
  return host.AvailableCapacity?.AvailableInstanceCapacity?.[0]?.AvailableCapacity;
}

function tagsOf(x: {
  Tags?: { Key?: string | undefined; Value?: string | undefined }[] | undefined;
}): Record<string, string> {
  return Object.fromEntries((x.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
}

async function launchRunning(sim: SimCloud, ec2: EC2Client, name: string): Promise<Instance> {
  const run = await launch(ec2, hostIdByName(sim, name), name);
  const id = run.Instances?.[0]?.InstanceId;
  assert.ok(id);
  sim.clock.advance(60);
  return describeInstance(ec2, id);
}

describe('DescribeHosts', () => {
  test('tag filters with wildcards reach the wire as Filter.N and select the pool', async (t) => {
    const sim = await startSim(t, { hosts: 3 });
    sim.world.addHost({ name: 'MacM1-10', tags: { purpose: 'test' } });
    sim.world.addHost({ name: 'Linux-1', tags: { purpose: 'prod' } });
    sim.world.addHost({ name: 'MacM1-x', tags: { purpose: 'prod' } });
    const ec2 = ec2Client(sim);

    const pool = await ec2.send(new DescribeHostsCommand({ Filter: POOL_FILTER }));
    const names = (pool.Hosts ?? []).map((h) => tagsOf(h).Name).sort();
    assert.deepEqual(names, ['MacM1-1', 'MacM1-2', 'MacM1-3', 'MacM1-x']);

    const single = await ec2.send(
      new DescribeHostsCommand({ Filter: [{ Name: 'tag:Name', Values: ['MacM1-?'] }] }),
    );
    assert.deepEqual((single.Hosts ?? []).map((h) => tagsOf(h).Name).sort(), [
      'MacM1-1',
      'MacM1-2',
      'MacM1-3',
      'MacM1-x',
    ]);
    const twoDigits = await ec2.send(
      new DescribeHostsCommand({ Filter: [{ Name: 'tag:Name', Values: ['MacM1-1?', 'Linux-*'] }] }),
    );
    assert.deepEqual((twoDigits.Hosts ?? []).map((h) => tagsOf(h).Name).sort(), [
      'Linux-1',
      'MacM1-10',
    ]);
    const keyed = await ec2.send(
      new DescribeHostsCommand({ Filter: [{ Name: 'tag-key', Values: ['automation'] }] }),
    );
    assert.equal(keyed.Hosts?.length, 3);
    const state = await ec2.send(
      new DescribeHostsCommand({
        Filter: [{ Name: 'state', Values: ['pending', 'under-assessment'] }],
      }),
    );
    assert.deepEqual(state.Hosts, []);

    const first = logged(sim, 'DescribeHosts')[0];
    assert.ok(first);
    assert.equal(first.params['Filter.1.Name'], 'tag:Name');
    assert.equal(first.params['Filter.1.Value.1'], 'MacM1-*');
    assert.equal(first.params['Filter.2.Name'], 'tag:purpose');
    assert.equal(first.params['Filter.2.Value.1'], 'prod');
    assert.equal(first.status, 200);
  });

  test('returns the full host record the SDK expects', async (t) => {
    const sim = await startSim(t, { hosts: 1 });
    const ec2 = ec2Client(sim);
    const host = await describeHost(ec2, hostIdByName(sim, 'MacM1-1'));
    assert.match(host.HostId ?? '', /^h-[0-9a-f]{17}$/);
    assert.equal(host.State, 'available');
    assert.equal(host.AutoPlacement, 'off');
    assert.equal(host.HostRecovery, 'off');
    assert.equal(host.HostMaintenance, 'off');
    assert.equal(host.AvailabilityZone, 'us-east-1a');
    assert.equal(host.HostProperties?.InstanceType, 'mac2.metal');
    assert.equal(
      host.AvailableCapacity?.AvailableInstanceCapacity?.[0]?.InstanceType,
      'mac2.metal',
    );
    assert.equal(capacity(host), 1);
    assert.deepEqual(host.Instances, []);
    assert.ok(host.AllocationTime instanceof Date);
    assert.ok(START.getTime() - host.AllocationTime.getTime() > 24 * 3600 * 1000);
    assert.deepEqual(tagsOf(host), {
      Name: 'MacM1-1',
      purpose: 'prod',
      PWPoolReady: 'true',
      automation: 'false',
    });
  });

  test('12 hosts at MaxResults 5 take 3 requests and the paginator sees each host once', async (t) => {
    const sim = await startSim(t, { hosts: 12 });
    const ec2 = ec2Client(sim);
    const seen: string[] = [];
    for await (const page of paginateDescribeHosts(
      { client: ec2, pageSize: 5 },
      { Filter: POOL_FILTER },
    )) {
      for (const h of page.Hosts ?? []) seen.push(h.HostId ?? '');
    }
    assert.equal(seen.length, 12);
    assert.equal(new Set(seen).size, 12);
    const requests = logged(sim, 'DescribeHosts');
    assert.equal(requests.length, 3);
    assert.deepEqual(
      requests.map((r) => [r.params.MaxResults, r.params.NextToken !== undefined]),
      [
        ['5', false],
        ['5', true],
        ['5', true],
      ],
    );
  });

  test('pages never skip or repeat hosts even when hosts appear between pages', async (t) => {
    const sim = await startSim(t, { hosts: 12 });
    const ec2 = ec2Client(sim);
    const first = await ec2.send(new DescribeHostsCommand({ MaxResults: 5 }));
    sim.world.addHost({ name: 'MacM1-13' });
    const seen = new Set((first.Hosts ?? []).map((h) => h.HostId));
    let token = first.NextToken;
    while (token !== undefined) {
      const page = await ec2.send(new DescribeHostsCommand({ MaxResults: 5, NextToken: token }));
      for (const h of page.Hosts ?? []) {
        assert.ok(!seen.has(h.HostId), `repeated ${h.HostId}`);
        seen.add(h.HostId);
      }
      token = page.NextToken;
    }
    const ids = sim.world.hosts().map((h) => h.hostId);
    for (const id of ids.slice(0, 12)) assert.ok(seen.has(id), `skipped ${id}`);
  });

  test('MaxResults below 5 is rejected', async (t) => {
    const sim = await startSim(t, { hosts: 1 });
    await rejectsWithCode(
      ec2Client(sim).send(new DescribeHostsCommand({ MaxResults: 4 })),
      'InvalidParameterValue',
      /maxResults/,
    );
    assert.equal(logged(sim, 'DescribeHosts')[0]?.status, 400);
    assert.equal(logged(sim, 'DescribeHosts')[0]?.errorCode, 'InvalidParameterValue');
  });

  test('an unsupported filter name fails the call', async (t) => {
    const sim = await startSim(t, { hosts: 1 });
    await rejectsWithCode(
      ec2Client(sim).send(new DescribeHostsCommand({ Filter: [{ Name: 'bogus', Values: ['x'] }] })),
      'InvalidParameterValue',
      "The filter 'bogus' is invalid",
    );
  });

  test('an unknown host id fails with InvalidHostID.NotFound', async (t) => {
    const sim = await startSim(t, { hosts: 1 });
    await rejectsWithCode(
      ec2Client(sim).send(new DescribeHostsCommand({ HostIds: ['h-0123456789abcdef0'] })),
      'InvalidHostID.NotFound',
    );
  });
});

describe('RunInstances and the instance life cycle', () => {
  test('a launch on a free host goes pending, then running with tags, DNS and placement', async (t) => {
    const sim = await startSim(t, { hosts: 2 });
    const ec2 = ec2Client(sim);
    const hostId = hostIdByName(sim, 'MacM1-1');
    const run = await launch(ec2, hostId, 'MacM1-1');
    const created = run.Instances?.[0];
    assert.ok(created?.InstanceId);
    assert.match(created.InstanceId, /^i-[0-9a-f]{17}$/);
    assert.equal(created.State?.Name, 'pending');
    assert.equal(created.State?.Code, 0);
    assert.equal(created.PublicDnsName, '');
    assert.equal(created.Placement?.HostId, hostId);
    assert.equal(created.Placement?.Tenancy, 'host');
    assert.equal(created.LaunchTime?.toISOString(), START.toISOString());
    assert.equal(tagsOf(created).Name, 'MacM1-1');
    assert.equal(tagsOf(created).PWPoolReady, 'true');

    const occupied = await describeHost(ec2, hostId);
    assert.deepEqual(
      occupied.Instances?.map((i) => i.InstanceId),
      [created.InstanceId],
    );
    assert.equal(capacity(occupied), 0);
    assert.equal(occupied.State, 'available');

    sim.clock.advance(59);
    assert.equal((await describeInstance(ec2, created.InstanceId)).State?.Name, 'pending');
    sim.clock.advance(1);
    const running = await describeInstance(ec2, created.InstanceId);
    assert.equal(running.State?.Name, 'running');
    assert.equal(running.State?.Code, 16);
    assert.match(running.PublicDnsName ?? '', /^127\.0\.\d{1,3}\.\d{1,3}$/);
    assert.equal(running.PublicIpAddress, running.PublicDnsName);
    assert.equal(running.InstanceType, 'mac2.metal');
    assert.equal(running.Placement?.AvailabilityZone, 'us-east-1a');
    assert.equal(running.MetadataOptions?.InstanceMetadataTags, 'enabled');
    assert.equal(running.MetadataOptions?.HttpTokens, 'required');
    assert.deepEqual(
      {
        ...tagsOf(running),
        'aws:ec2launchtemplate:id': undefined,
        'aws:ec2launchtemplate:version': undefined,
      },
      {
        Name: 'MacM1-1',
        purpose: 'prod',
        PWPoolReady: 'true',
        automation: 'true',
        'aws:ec2launchtemplate:id': undefined,
        'aws:ec2launchtemplate:version': undefined,
      },
    );
    const view = sim.world.instance(created.InstanceId);
    assert.ok(view?.sshReadyAt);
    const bootS = (view.sshReadyAt.getTime() - START.getTime()) / 1000 - 60;
    assert.ok(bootS >= 300 && bootS <= 1200, `boot delay ${bootS}s`);

    const other = await launchRunning(sim, ec2, 'MacM1-2');
    assert.notEqual(other.PublicDnsName, running.PublicDnsName);
  });

  test('a second launch on an occupied host fails with InsufficientCapacityOnHost', async (t) => {
    const sim = await startSim(t, { hosts: 1 });
    const ec2 = ec2Client(sim);
    const hostId = hostIdByName(sim, 'MacM1-1');
    await launch(ec2, hostId, 'MacM1-1');
    await rejectsWithCode(
      launch(ec2, hostId, 'MacM1-1'),
      'InsufficientCapacityOnHost',
      `Insufficient capacity on host ${hostId}.`,
    );
    assert.equal(sim.world.instances().length, 1);
  });

  test('the same ClientToken returns the same instance and launches nothing new', async (t) => {
    const sim = await startSim(t, { hosts: 1 });
    const ec2 = ec2Client(sim);
    const hostId = hostIdByName(sim, 'MacM1-1');
    const a = await launch(ec2, hostId, 'MacM1-1', { ClientToken: 'token-1' });
    const b = await launch(ec2, hostId, 'MacM1-1', { ClientToken: 'token-1' });
    assert.equal(b.Instances?.[0]?.InstanceId, a.Instances?.[0]?.InstanceId);
    assert.equal(b.ReservationId, a.ReservationId);
    assert.equal(sim.world.instances().length, 1);
    await rejectsWithCode(
      launch(ec2, hostId, 'MacM1-2', { ClientToken: 'token-1' }),
      'IdempotentParameterMismatch',
    );
  });

  test('an SDK retry after a lost answer reuses the ClientToken and launches once', async (t) => {
    const sim = await startSim(t, { hosts: 1 });
    const ec2 = ec2Client(sim, 2);
    sim.faults.add({ action: 'RunInstances', kind: '5xx', value: 'after', count: 1 });
    const out = await launch(ec2, hostIdByName(sim, 'MacM1-1'), 'MacM1-1');
    assert.equal(out.$metadata.attempts, 2);
    const requests = logged(sim, 'RunInstances');
    assert.deepEqual(
      requests.map((r) => r.status),
      [500, 200],
    );
    assert.equal(requests[0]?.params.ClientToken, requests[1]?.params.ClientToken);
    assert.equal(sim.world.instances().length, 1);
    assert.equal(out.Instances?.[0]?.InstanceId, sim.world.instances()[0]?.instanceId);
  });

  test('an unknown launch template fails with the real EC2 error', async (t) => {
    const sim = await startSim(t, { hosts: 1 });
    const ec2 = ec2Client(sim);
    await rejectsWithCode(
      ec2.send(
        new RunInstancesCommand({
          LaunchTemplate: { LaunchTemplateName: 'NoSuchTemplate', Version: '$Default' },
          MinCount: 1,
          MaxCount: 1,
          Placement: { HostId: hostIdByName(sim, 'MacM1-1'), Tenancy: 'host' },
        }),
      ),
      'InvalidLaunchTemplateName.NotFoundException',
      'The specified launch template, with template name NoSuchTemplate, does not exist.',
    );
    await rejectsWithCode(
      ec2.send(
        new DescribeLaunchTemplateVersionsCommand({
          LaunchTemplateName: 'NoSuchTemplate',
          Versions: ['$Default'],
        }),
      ),
      'InvalidLaunchTemplateName.NotFoundException',
    );
  });

  test('launching onto an unknown or released host fails', async (t) => {
    const sim = await startSim(t, { hosts: 1 });
    const ec2 = ec2Client(sim);
    await rejectsWithCode(launch(ec2, 'h-0123456789abcdef0', 'MacM1-9'), 'InvalidHostID.NotFound');
    sim.world.scriptHost('MacM1-1', { state: 'released' });
    await rejectsWithCode(launch(ec2, hostIdByName(sim, 'MacM1-1'), 'MacM1-1'), 'InvalidHostState');
  });

  test('terminate: shutting-down, terminated, hand-off, scrub, then available again', async (t) => {
    const sim = await startSim(t, { hosts: 1 });
    const ec2 = ec2Client(sim);
    const hostId = hostIdByName(sim, 'MacM1-1');
    const instance = await launchRunning(sim, ec2, 'MacM1-1');
    const id = instance.InstanceId as string;

    const term = await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    assert.equal(term.TerminatingInstances?.[0]?.PreviousState?.Name, 'running');
    assert.equal(term.TerminatingInstances?.[0]?.CurrentState?.Name, 'shutting-down');
    const host1 = await describeHost(ec2, hostId);
    assert.deepEqual(
      host1.Instances?.map((i) => i.InstanceId),
      [id],
    );

    sim.clock.advance(120);
    const terminated = await describeInstance(ec2, id);
    assert.equal(terminated.State?.Name, 'terminated');
    assert.equal(terminated.PublicDnsName, '');
    assert.match(
      terminated.StateTransitionReason ?? '',
      /^User initiated \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d GMT\)$/,
    );
    const handOff = await describeHost(ec2, hostId);
    assert.equal(handOff.State, 'available');
    assert.deepEqual(handOff.Instances, []);
    assert.equal(capacity(handOff), 0);
    await rejectsWithCode(launch(ec2, hostId, 'MacM1-1'), 'InsufficientCapacityOnHost');

    sim.clock.advance(30);
    const scrubbing = await describeHost(ec2, hostId);
    assert.equal(scrubbing.State, 'pending');
    await rejectsWithCode(launch(ec2, hostId, 'MacM1-1'), 'InsufficientCapacityOnHost');
    sim.clock.advance(110 * 60 - 1);
    assert.equal((await describeHost(ec2, hostId)).State, 'pending');
    sim.clock.advance(1);
    const free = await describeHost(ec2, hostId);
    assert.equal(free.State, 'available');
    assert.equal(capacity(free), 1);

    // terminated stays visible for an hour after it terminated, then is gone
    sim.clock.advance(3600 - 30 - 110 * 60 + 3600);
    await rejectsWithCode(
      ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] })),
      'InvalidInstanceID.NotFound',
    );
  });

  test('one large advance walks through every transition', async (t) => {
    const sim = await startSim(t, { hosts: 1 });
    const ec2 = ec2Client(sim);
    const hostId = hostIdByName(sim, 'MacM1-1');
    const run = await launch(ec2, hostId, 'MacM1-1');
    const id = run.Instances?.[0]?.InstanceId as string;
    const seen: string[] = [];
    sim.world.subscribe((e) => {
      if (e.type === 'instance-state') seen.push(`${e.instance.state}@${e.at.toISOString()}`);
      if (e.type === 'host-state') seen.push(`host:${e.host.state}@${e.at.toISOString()}`);
    });
    sim.clock.advance(300);
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    sim.clock.advance(7200);
    assert.equal((await describeHost(ec2, hostId)).State, 'available');
    const at = (s: number): string => new Date(START.getTime() + s * 1000).toISOString();
    assert.deepEqual(seen, [
      `running@${at(60)}`,
      `shutting-down@${at(300)}`,
      `terminated@${at(420)}`,
      `host:pending@${at(450)}`,
      `host:available@${at(450 + 6600)}`,
    ]);
  });

  test('stop keeps the host occupied', async (t) => {
    const sim = await startSim(t, { hosts: 1 });
    const ec2 = ec2Client(sim);
    const hostId = hostIdByName(sim, 'MacM1-1');
    const instance = await launchRunning(sim, ec2, 'MacM1-1');
    const id = instance.InstanceId as string;
    const stop = await ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
    assert.equal(stop.StoppingInstances?.[0]?.CurrentState?.Name, 'stopping');
    sim.clock.advance(15 * 60);
    const stopped = await describeInstance(ec2, id);
    assert.equal(stopped.State?.Name, 'stopped');
    assert.equal(stopped.PublicDnsName, '');
    assert.equal(
      stopped.StateTransitionReason,
      `User initiated (${START.toISOString().slice(0, 10)} 12:01:00 GMT)`,
    );
    for (const advance of [0, 3 * 3600]) {
      sim.clock.advance(advance);
      const host = await describeHost(ec2, hostId);
      assert.deepEqual(
        host.Instances?.map((i) => i.InstanceId),
        [id],
      );
      assert.equal(capacity(host), 0);
      await rejectsWithCode(launch(ec2, hostId, 'MacM1-1'), 'InsufficientCapacityOnHost');
    }
    await rejectsWithCode(
      ec2.send(new ReleaseHostsCommand({ HostIds: [hostId] })).then((r) => {
        if ((r.Unsuccessful ?? []).length > 0)
          throw Object.assign(new Error('unsuccessful'), { name: 'Unsuccessful' });
        return r;
      }),
      'Unsuccessful',
    );
  });

  test('DescribeInstances filters by state and host, and paginates in stable pages', async (t) => {
    const sim = await startSim(t, { hosts: 7 });
    const ec2 = ec2Client(sim);
    const ids: string[] = [];
    for (let n = 1; n <= 7; n++) {
      const run = await launch(ec2, hostIdByName(sim, `MacM1-${n}`), `MacM1-${n}`);
      ids.push(run.Instances?.[0]?.InstanceId as string);
    }
    sim.clock.advance(60);
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [ids[0] as string] }));
    const live = await ec2.send(
      new DescribeInstancesCommand({
        Filters: [
          { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
          { Name: 'tag:Name', Values: ['MacM1-*'] },
        ],
      }),
    );
    const liveIds = (live.Reservations ?? [])
      .flatMap((r) => r.Instances ?? [])
      .map((i) => i.InstanceId);
    assert.deepEqual(liveIds.sort(), ids.slice(1).sort());
    const byHost = await ec2.send(
      new DescribeInstancesCommand({
        Filters: [
          { Name: 'host-id', Values: [hostIdByName(sim, 'MacM1-3'), hostIdByName(sim, 'MacM1-4')] },
        ],
      }),
    );
    assert.deepEqual(
      (byHost.Reservations ?? [])
        .flatMap((r) => r.Instances ?? [])
        .map((i) => tagsOf(i).Name)
        .sort(),
      ['MacM1-3', 'MacM1-4'],
    );
    const paged: string[] = [];
    for await (const page of paginateDescribeInstances({ client: ec2, pageSize: 5 }, {})) {
      for (const r of page.Reservations ?? [])
        for (const i of r.Instances ?? []) paged.push(i.InstanceId ?? '');
    }
    assert.deepEqual(paged.sort(), [...ids].sort());
    assert.equal(
      logged(sim, 'DescribeInstances').filter((r) => r.params.MaxResults === '5').length,
      2,
    );
  });

  test('InstanceId.N with one unknown id fails the whole call', async (t) => {
    const sim = await startSim(t, { hosts: 1 });
    const ec2 = ec2Client(sim);
    const instance = await launchRunning(sim, ec2, 'MacM1-1');
    await rejectsWithCode(
      ec2.send(
        new DescribeInstancesCommand({
          InstanceIds: [instance.InstanceId as string, 'i-0123456789abcdef0'],
        }),
      ),
      'InvalidInstanceID.NotFound',
      "The instance ID 'i-0123456789abcdef0' does not exist",
    );
    const byFilter = await ec2.send(
      new DescribeInstancesCommand({
        Filters: [
          { Name: 'instance-id', Values: [instance.InstanceId as string, 'i-0123456789abcdef0'] },
        ],
      }),
    );
    assert.equal(byFilter.Reservations?.length, 1);
  });
});

describe('tags, templates, hosts', () => {
  test('CreateTags and DeleteTags change instance and host tags', async (t) => {
    const sim = await startSim(t, { hosts: 1 });
    const ec2 = ec2Client(sim);
    const instance = await launchRunning(sim, ec2, 'MacM1-1');
    const id = instance.InstanceId as string;
    const hostId = hostIdByName(sim, 'MacM1-1');
    await ec2.send(
      new CreateTagsCommand({
        Resources: [id, hostId],
        Tags: [{ Key: 'PWPoolReady', Value: 'false' }],
      }),
    );
    assert.equal(tagsOf(await describeInstance(ec2, id)).PWPoolReady, 'false');
    assert.equal(tagsOf(await describeHost(ec2, hostId)).PWPoolReady, 'false');
    await ec2.send(
      new DeleteTagsCommand({ Resources: [id], Tags: [{ Key: 'PWPoolReady', Value: 'true' }] }),
    );
    assert.equal(
      tagsOf(await describeInstance(ec2, id)).PWPoolReady,
      'false',
      'value mismatch keeps the tag',
    );
    await ec2.send(new DeleteTagsCommand({ Resources: [id], Tags: [{ Key: 'PWPoolReady' }] }));
    assert.equal(tagsOf(await describeInstance(ec2, id)).PWPoolReady, undefined);
    await rejectsWithCode(
      ec2.send(
        new CreateTagsCommand({
          Resources: ['i-0123456789abcdef0'],
          Tags: [{ Key: 'a', Value: 'b' }],
        }),
      ),
      'InvalidInstanceID.NotFound',
    );
  });

  test('the default launch templates carry the settings pw-pool checks', async (t) => {
    const sim = await startSim(t, { hosts: 0 });
    const ec2 = ec2Client(sim);
    const list = await ec2.send(new DescribeLaunchTemplatesCommand({}));
    assert.deepEqual((list.LaunchTemplates ?? []).map((lt) => lt.LaunchTemplateName).sort(), [
      'CirrusMacM1PWinstance',
      'GHAMacM1Runner',
    ]);
    for (const name of ['CirrusMacM1PWinstance', 'GHAMacM1Runner']) {
      const out = await ec2.send(
        new DescribeLaunchTemplateVersionsCommand({
          LaunchTemplateName: name,
          Versions: ['$Default'],
        }),
      );
      const data = out.LaunchTemplateVersions?.[0]?.LaunchTemplateData;
      assert.equal(out.LaunchTemplateVersions?.length, 1);
      assert.equal(out.LaunchTemplateVersions?.[0]?.DefaultVersion, true);
      assert.equal(data?.InstanceType, 'mac2.metal');
      assert.equal(data?.InstanceInitiatedShutdownBehavior, 'terminate');
      assert.equal(data?.MetadataOptions?.HttpTokens, 'required');
      assert.equal(data?.MetadataOptions?.InstanceMetadataTags, 'enabled');
    }
    await rejectsWithCode(
      ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateNames: ['Nope'] })),
      'InvalidLaunchTemplateName.NotFoundException',
    );
  });

  test('a scripted template with shutdown behaviour stop is what RunInstances uses unless overridden', async (t) => {
    const sim = await startSim(t, { hosts: 2 });
    const ec2 = ec2Client(sim);
    sim.world.putLaunchTemplate({
      name: 'CirrusMacM1PWinstance',
      data: { instanceType: 'mac2.metal', instanceInitiatedShutdownBehavior: 'stop' },
    });
    const out = await ec2.send(
      new DescribeLaunchTemplateVersionsCommand({
        LaunchTemplateName: 'CirrusMacM1PWinstance',
        Versions: ['$Default'],
      }),
    );
    assert.equal(out.LaunchTemplateVersions?.[0]?.VersionNumber, 2);
    assert.equal(
      out.LaunchTemplateVersions?.[0]?.LaunchTemplateData?.InstanceInitiatedShutdownBehavior,
      'stop',
    );
    assert.equal(out.LaunchTemplateVersions?.[0]?.LaunchTemplateData?.MetadataOptions, undefined);

    const plain = await ec2.send(
      new RunInstancesCommand({
        LaunchTemplate: { LaunchTemplateName: 'CirrusMacM1PWinstance', Version: '$Default' },
        MinCount: 1,
        MaxCount: 1,
        Placement: { HostId: hostIdByName(sim, 'MacM1-1'), Tenancy: 'host' },
      }),
    );
    const overridden = await launch(ec2, hostIdByName(sim, 'MacM1-2'), 'MacM1-2');
    assert.equal(
      sim.world.instance(plain.Instances?.[0]?.InstanceId ?? '')?.shutdownBehavior,
      'stop',
    );
    assert.equal(
      sim.world.instance(overridden.Instances?.[0]?.InstanceId ?? '')?.shutdownBehavior,
      'terminate',
    );
  });

  test('AllocateHosts: pending, then available within seconds, tagged; ReleaseHosts waits 24 h', async (t) => {
    const sim = await startSim(t, { hosts: 0 });
    const ec2 = ec2Client(sim);
    const alloc = await ec2.send(
      new AllocateHostsCommand({
        AvailabilityZone: 'us-east-1b',
        InstanceType: 'mac2.metal',
        Quantity: 1,
        AutoPlacement: 'off',
        HostRecovery: 'off',
        HostMaintenance: 'off',
        TagSpecifications: [
          {
            ResourceType: 'dedicated-host',
            Tags: [
              { Key: 'Name', Value: 'aliceTesting-0' },
              { Key: 'purpose', Value: 'aliceTesting' },
            ],
          },
        ],
      }),
    );
    assert.equal(alloc.HostIds?.length, 1);
    const hostId = alloc.HostIds?.[0] as string;
    const fresh = await describeHost(ec2, hostId);
    assert.equal(fresh.State, 'pending');
    assert.equal(fresh.AllocationTime?.toISOString(), START.toISOString());
    assert.deepEqual(tagsOf(fresh), { Name: 'aliceTesting-0', purpose: 'aliceTesting' });
    sim.clock.advance(5);
    const ready = await describeHost(ec2, hostId);
    assert.equal(ready.State, 'available');
    assert.equal(ready.AvailabilityZone, 'us-east-1b');
    assert.equal(capacity(ready), 1);

    const early = await ec2.send(new ReleaseHostsCommand({ HostIds: [hostId] }));
    assert.deepEqual(early.Successful, []);
    assert.equal(early.Unsuccessful?.[0]?.ResourceId, hostId);
    assert.match(early.Unsuccessful?.[0]?.Error?.Message ?? '', /24 hours/);

    sim.clock.advance(24 * 3600 - 5);
    const released = await ec2.send(new ReleaseHostsCommand({ HostIds: [hostId] }));
    assert.deepEqual(released.Successful, [hostId]);
    assert.deepEqual(released.Unsuccessful, []);
    const gone = await describeHost(ec2, hostId);
    assert.equal(gone.State, 'released');
    assert.ok(gone.ReleaseTime instanceof Date);
    await rejectsWithCode(launch(ec2, hostId, 'aliceTesting-0'), 'InvalidHostState');
    sim.clock.advance(3600);
    await rejectsWithCode(
      ec2.send(new DescribeHostsCommand({ HostIds: [hostId] })),
      'InvalidHostID.NotFound',
    );
    // billed from allocation to release: exactly 24 host-hours
    assert.equal(Math.round(sim.world.costUsd() * 100) / 100, 15.6);
  });

  test('ReleaseHosts fails for a host with an instance', async (t) => {
    const sim = await startSim(t, { hosts: 1 });
    const ec2 = ec2Client(sim);
    const hostId = hostIdByName(sim, 'MacM1-1');
    await launchRunning(sim, ec2, 'MacM1-1');
    const out = await ec2.send(
      new ReleaseHostsCommand({ HostIds: [hostId, 'h-0123456789abcdef0'] }),
    );
    assert.deepEqual(out.Successful, []);
    assert.deepEqual(
      out.Unsuccessful?.map((u) => u.ResourceId),
      [hostId, 'h-0123456789abcdef0'],
    );
    assert.equal(out.Unsuccessful?.[1]?.Error?.Code, 'Client.InvalidHostID.NotFound');
    assert.equal(sim.world.host(hostId)?.state, 'available');
  });
});

describe('errors and faults', () => {
  test('an action the simulator does not implement is InvalidAction', async (t) => {
    const sim = await startSim(t, { hosts: 1 });
    await rejectsWithCode(
      ec2Client(sim).send(new StartInstancesCommand({ InstanceIds: ['i-0123456789abcdef0'] })),
      'InvalidAction',
      'The action StartInstances is not valid for this web service.',
    );
  });

  test('throttle twice, then success within maxAttempts 3', async (t) => {
    const sim = await startSim(t, { hosts: 2 });
    sim.faults.add({ action: 'DescribeHosts', kind: 'throttle', count: 2 });
    const out = await ec2Client(sim, 3).send(new DescribeHostsCommand({ Filter: POOL_FILTER }));
    assert.equal(out.Hosts?.length, 2);
    assert.equal(out.$metadata.attempts, 3);
    const requests = logged(sim, 'DescribeHosts');
    assert.deepEqual(
      requests.map((r) => [r.status, r.errorCode ?? null]),
      [
        [503, 'RequestLimitExceeded'],
        [503, 'RequestLimitExceeded'],
        [200, null],
      ],
    );
    assert.deepEqual(sim.faults.list()[0]?.remaining, 0);
    assert.equal(sim.faults.list()[0]?.hits, 2);
  });

  test('throttling beyond maxAttempts surfaces RequestLimitExceeded', async (t) => {
    const sim = await startSim(t, { hosts: 1 });
    sim.faults.add({ action: '*', kind: 'throttle' });
    const error = await rejectsWithCode(
      ec2Client(sim, 1).send(new DescribeHostsCommand({})),
      'RequestLimitExceeded',
    );
    assert.equal(
      (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode,
      503,
    );
  });

  test('5xx answers InternalError', async (t) => {
    const sim = await startSim(t, { hosts: 1 });
    sim.faults.add({ action: 'DescribeInstances', kind: '5xx', count: 1 });
    const error = await rejectsWithCode(
      ec2Client(sim).send(new DescribeInstancesCommand({})),
      'InternalError',
    );
    assert.equal((error as { $fault?: string }).$fault, 'server');
    const after = await ec2Client(sim).send(new DescribeInstancesCommand({}));
    assert.deepEqual(after.Reservations, []);
  });

  test('a capacity fault fails RunInstances on the targeted host only', async (t) => {
    const sim = await startSim(t, { hosts: 2 });
    const ec2 = ec2Client(sim);
    sim.faults.add({ action: 'RunInstances', kind: 'capacity', value: 'MacM1-2', count: 1 });
    await launch(ec2, hostIdByName(sim, 'MacM1-1'), 'MacM1-1');
    const hostId = hostIdByName(sim, 'MacM1-2');
    await rejectsWithCode(
      launch(ec2, hostId, 'MacM1-2'),
      'InsufficientCapacityOnHost',
      `Insufficient capacity on host ${hostId}.`,
    );
    assert.deepEqual(logged(sim, 'RunInstances')[1]?.faults, ['capacity']);
    await launch(ec2, hostId, 'MacM1-2');
    assert.equal(sim.world.instances().length, 2);
  });

  test('latency delays each matching answer by the given real milliseconds', async (t) => {
    const sim = await startSim(t, { hosts: 1 });
    const ec2 = ec2Client(sim);
    sim.faults.add({ action: 'DescribeHosts', kind: 'latencyMs', value: 80 });
    const started = performance.now();
    await ec2.send(new DescribeHostsCommand({}));
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 75, `elapsed ${elapsed} ms`);
    const entry = logged(sim, 'DescribeHosts')[0];
    assert.deepEqual(entry?.faults, ['latencyMs:80']);
    assert.ok((entry?.durationMs ?? 0) >= 75);
    await ec2.send(new DescribeInstancesCommand({}));
    assert.deepEqual(
      logged(sim, 'DescribeInstances')[0]?.faults,
      [],
      'other actions are not delayed',
    );
  });
});

describe('the wire, without the SDK', () => {
  test('a request without Authorization is AuthFailure', async (t) => {
    const sim = await startSim(t, { hosts: 1 });
    const res = await fetch(sim.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=DescribeHosts&Version=2016-11-15',
    });
    assert.equal(res.status, 401);
    const text = await res.text();
    assert.match(
      text,
      /<Response><Errors><Error><Code>AuthFailure<\/Code><Message>[^<]+<\/Message><\/Error><\/Errors><RequestID>[0-9a-f-]{36}<\/RequestID><\/Response>/,
    );
    assert.equal(logged(sim, 'DescribeHosts')[0]?.errorCode, 'AuthFailure');
  });

  test('Filters.N on DescribeHosts is an unknown parameter, as on EC2', async (t) => {
    const sim = await startSim(t, { hosts: 1 });
    const res = await fetch(sim.endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: 'AWS4-HMAC-SHA256 dummy',
      },
      body: 'Action=DescribeHosts&Version=2016-11-15&Filters.1.Name=tag%3AName&Filters.1.Value.1=MacM1-*',
    });
    assert.equal(res.status, 400);
    assert.match(
      await res.text(),
      /<Code>UnknownParameter<\/Code><Message>The parameter Filters is not recognized<\/Message>/,
    );
  });

  test('a successful answer is namespaced EC2 XML with a requestId', async (t) => {
    const sim = await startSim(t, { hosts: 1 });
    const res = await fetch(`${sim.endpoint}/?Action=DescribeHosts&Version=2016-11-15`, {
      headers: { authorization: 'AWS4-HMAC-SHA256 dummy' },
    });
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(
      text,
      /^<\?xml version="1.0" encoding="UTF-8"\?>\n<DescribeHostsResponse xmlns="http:\/\/ec2.amazonaws.com\/doc\/2016-11-15\/"><requestId>[0-9a-f-]{36}<\/requestId><hostSet><item>/,
    );
    assert.match(
      text,
      /<availableInstanceCapacity><item><availableCapacity>1<\/availableCapacity>/,
    );
  });
});
