// The world model on its own (no HTTP): transitions in virtual time, scripting, events, cost.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualClock } from '../../src/sim/clock.js';
import { populateDefaultWorld } from '../../src/sim/default-world.js';
import { Ec2ApiError } from '../../src/sim/ec2-error.js';
import type { SimEvent, SimTimings } from '../../src/sim/model.js';
import { SimScriptError, SimWorld, type RunInstancesInput } from '../../src/sim/world.js';

const T0 = new Date('2024-08-06T12:00:00.000Z');

function makeWorld(
  hosts = 2,
  timings: Partial<SimTimings> = {},
  seed = 1,
): { world: SimWorld; clock: VirtualClock } {
  const clock = new VirtualClock({ start: T0, speed: 0 });
  const world = new SimWorld({ clock, timings, seed });
  populateDefaultWorld(world, { hosts });
  return { world, clock };
}

function hostId(world: SimWorld, name: string): string {
  const h = world.host(name);
  assert.ok(h, name);
  return h.hostId;
}

function launchInput(
  world: SimWorld,
  name: string,
  extra: Partial<RunInstancesInput> = {},
): RunInstancesInput {
  return {
    minCount: 1,
    maxCount: 1,
    launchTemplate: { name: 'CirrusMacM1PWinstance' },
    hostId: hostId(world, name),
    tagSpecifications: [{ resourceType: 'instance', tags: [{ key: 'Name', value: name }] }],
    ...extra,
  };
}

function launch(world: SimWorld, name: string, extra: Partial<RunInstancesInput> = {}): string {
  const out = world.runInstances(launchInput(world, name, extra));
  const id = out.instances[0]?.instanceId;
  assert.ok(id);
  return id;
}

function ec2Code(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof Ec2ApiError) return error.code;
    throw error;
  }
  assert.fail('expected an EC2 error');
}

describe('SimWorld', () => {
  test('the default world: hosts MacM1-1..n allocated long ago, two templates', () => {
    const { world } = makeWorld(3);
    const hosts = world.hosts();
    assert.deepEqual(
      hosts.map((h) => [h.name, h.state, h.availableCapacity, h.instanceIds.length]),
      [
        ['MacM1-1', 'available', 1, 0],
        ['MacM1-2', 'available', 1, 0],
        ['MacM1-3', 'available', 1, 0],
      ],
    );
    assert.deepEqual(hosts[0]?.tags, {
      Name: 'MacM1-1',
      purpose: 'prod',
      PWPoolReady: 'true',
      automation: 'false',
    });
    assert.ok(hosts.every((h) => T0.getTime() - h.allocationTime.getTime() > 24 * 3600 * 1000));
    assert.deepEqual(
      world.launchTemplates().map((t) => t.launchTemplateName),
      ['CirrusMacM1PWinstance', 'GHAMacM1Runner'],
    );
  });

  test('the same seed builds the same world; another seed does not', () => {
    const ids = (seed: number): string[] =>
      makeWorld(3, {}, seed)
        .world.hosts()
        .map((h) => h.hostId);
    assert.deepEqual(ids(5), ids(5));
    assert.notDeepEqual(ids(5), ids(6));
  });

  test('events report every transition at its own virtual instant, after the change', () => {
    const { world, clock } = makeWorld(1, { hostHandOffS: 0 });
    const events: string[] = [];
    world.subscribe((e: SimEvent) => {
      if (e.type === 'instance-state') {
        // listeners run once the world is consistent, so they may read it (it may have moved on)
        assert.equal(world.hosts().length, 1);
        events.push(
          `${e.previous ?? 'new'}->${e.instance.state} +${(e.at.getTime() - T0.getTime()) / 1000}`,
        );
      }
      if (e.type === 'host-state')
        events.push(
          `host ${e.previous}->${e.host.state} +${(e.at.getTime() - T0.getTime()) / 1000}`,
        );
      if (e.type === 'instance-removed')
        events.push(`removed +${(e.at.getTime() - T0.getTime()) / 1000}`);
    });
    const id = launch(world, 'MacM1-1');
    clock.advance(100);
    world.terminateInstances([id]);
    clock.advance(20_000);
    world.sync();
    assert.deepEqual(
      events,
      [
        'new->pending +0',
        'pending->running +60',
        'running->shutting-down +100',
        'shutting-down->terminated +220',
        'host available->pending +220',
        'host pending->available +6820',
        'removed +3820',
      ].sort((a, b) => Number(a.split('+')[1]) - Number(b.split('+')[1])),
    );
  });

  test('sshReadyAt is running + a seeded 5..20 min boot delay', () => {
    const { world, clock } = makeWorld(2);
    const a = launch(world, 'MacM1-1');
    assert.equal(world.instance(a)?.sshReadyAt, undefined);
    clock.advance(60);
    const ready = world.instance(a)?.sshReadyAt;
    assert.ok(ready);
    const bootS = (ready.getTime() - T0.getTime()) / 1000 - 60;
    assert.ok(bootS >= 300 && bootS <= 1200, String(bootS));
    world.scriptInstance(a, { sshReadyAt: new Date(T0.getTime() + 99_000) });
    assert.equal(world.instance(a)?.sshReadyAt?.toISOString(), '2024-08-06T12:01:39.000Z');
  });

  test('a scripted capacity of 0 is the hand-off: no instance listed, launches refused', () => {
    const { world } = makeWorld(1);
    const h = world.scriptHost('MacM1-1', { availableCapacity: 0 });
    assert.equal(h.availableCapacity, 0);
    assert.deepEqual(h.instanceIds, []);
    assert.equal(h.state, 'available');
    assert.equal(
      ec2Code(() => launch(world, 'MacM1-1')),
      'InsufficientCapacityOnHost',
    );
    world.scriptHost('MacM1-1', { availableCapacity: null });
    launch(world, 'MacM1-1');
  });

  test('every host state can be scripted; the model continues unless held', () => {
    const { world, clock } = makeWorld(3);
    world.scriptHost('MacM1-1', { state: 'permanent-failure' });
    assert.equal(
      ec2Code(() => launch(world, 'MacM1-1')),
      'InvalidHostState',
    );
    world.scriptHost('MacM1-2', { state: 'pending' });
    world.scriptHost('MacM1-3', { state: 'pending', hold: true });
    assert.equal(
      ec2Code(() => launch(world, 'MacM1-2')),
      'InsufficientCapacityOnHost',
    );
    clock.advance(110 * 60);
    assert.equal(world.host('MacM1-2')?.state, 'available');
    assert.equal(world.host('MacM1-3')?.state, 'pending');
    for (const state of ['under-assessment', 'released-permanent-failure', 'available'] as const) {
      assert.equal(world.scriptHost('MacM1-3', { state }).state, state);
    }
    assert.throws(() => world.scriptHost('MacM1-9', { state: 'available' }), SimScriptError);
  });

  test('a released host stays listed for an hour, then disappears', () => {
    const { world, clock } = makeWorld(1);
    const id = hostId(world, 'MacM1-1');
    const out = world.releaseHosts([id]);
    assert.deepEqual(out.successful, [id]);
    assert.equal(world.host(id)?.releaseTime?.toISOString(), T0.toISOString());
    clock.advance(3599);
    assert.equal(world.host(id)?.state, 'released');
    clock.advance(1);
    assert.equal(world.host(id), undefined);
    assert.equal(world.hosts().length, 0);
  });

  test('an instance-initiated shutdown follows the shutdown behaviour', () => {
    const { world, clock } = makeWorld(2);
    world.putLaunchTemplate({
      name: 'StopTemplate',
      data: { instanceType: 'mac2.metal', instanceInitiatedShutdownBehavior: 'stop' },
    });
    const stops = launch(world, 'MacM1-1', { launchTemplate: { name: 'StopTemplate' } });
    const terminates = launch(world, 'MacM1-2');
    clock.advance(60);
    assert.equal(world.shutdownFromInstance(stops).state, 'stopping');
    assert.equal(world.shutdownFromInstance(terminates).state, 'shutting-down');
    assert.equal(world.instance(terminates)?.stateReason?.code, 'Client.InstanceInitiatedShutdown');
    clock.advance(15 * 60);
    assert.equal(world.instance(stops)?.state, 'stopped');
    assert.deepEqual(world.host('MacM1-1')?.instanceIds, [stops]);
    assert.equal(world.instance(terminates)?.state, 'terminated');
  });

  test('scripting an instance state has the natural consequences', () => {
    const { world, clock } = makeWorld(1);
    const id = launch(world, 'MacM1-1');
    world.scriptInstance('MacM1-1', { state: 'running', tags: { PWPoolReady: 'false' } });
    assert.equal(world.instance(id)?.tags.PWPoolReady, 'false');
    assert.ok(world.instance(id)?.publicDnsName);
    world.scriptInstance(id, { state: 'terminated' });
    const host = world.host('MacM1-1');
    assert.deepEqual(host?.instanceIds, []);
    assert.equal(host?.inHandOff, true);
    clock.advance(30);
    assert.equal(world.host('MacM1-1')?.state, 'pending');
    world.scriptInstance(id, { state: 'stopped', hold: true });
    assert.deepEqual(world.host('MacM1-1')?.instanceIds, [id]);
  });

  test('the 24 h minimum allocation and the occupant both block ReleaseHosts', () => {
    const { world, clock } = makeWorld(1);
    const [fresh] = world.allocateHosts({
      availabilityZone: 'us-east-1a',
      instanceType: 'mac2.metal',
    });
    assert.ok(fresh);
    clock.advance(5);
    assert.equal(world.host(fresh)?.state, 'available');
    assert.equal(world.releaseHosts([fresh]).unsuccessful.length, 1);
    clock.advance(24 * 3600);
    launch(world, 'MacM1-1');
    const out = world.releaseHosts([fresh, hostId(world, 'MacM1-1')]);
    assert.deepEqual(out.successful, [fresh]);
    assert.equal(out.unsuccessful[0]?.resourceId, hostId(world, 'MacM1-1'));
  });

  test('AllocateHosts validates like EC2', () => {
    const { world } = makeWorld(0);
    assert.equal(
      ec2Code(() => world.allocateHosts({ instanceType: 'mac2.metal' })),
      'MissingParameter',
    );
    assert.equal(
      ec2Code(() =>
        world.allocateHosts({ availabilityZone: 'eu-west-1a', instanceType: 'mac2.metal' }),
      ),
      'InvalidParameterValue',
    );
    assert.equal(
      ec2Code(() =>
        world.allocateHosts({ availabilityZone: 'us-east-1a', instanceType: 'm5.large' }),
      ),
      'UnsupportedOperation',
    );
  });

  test('StopInstances refuses a pending instance; TerminateInstances is idempotent', () => {
    const { world, clock } = makeWorld(1);
    const id = launch(world, 'MacM1-1');
    assert.equal(
      ec2Code(() => world.stopInstances([id])),
      'IncorrectInstanceState',
    );
    const first = world.terminateInstances([id]);
    const again = world.terminateInstances([id]);
    assert.deepEqual(first, [{ instanceId: id, previous: 'pending', current: 'shutting-down' }]);
    assert.deepEqual(again, [
      { instanceId: id, previous: 'shutting-down', current: 'shutting-down' },
    ]);
    clock.advance(120);
    assert.equal(world.instance(id)?.state, 'terminated');
    assert.equal(
      ec2Code(() => world.terminateInstances(['i-nope'])),
      'InvalidInstanceID.Malformed',
    );
  });

  test('cost counts host-hours from the start of the simulation at $0.65', () => {
    const { world, clock } = makeWorld(2);
    assert.equal(world.costUsd(), 0);
    clock.advance(3600);
    assert.equal(Math.round(world.costUsd() * 100) / 100, 1.3);
  });

  test('a listener that throws is reported, not fatal', () => {
    const clock = new VirtualClock({ start: T0, speed: 0 });
    const reported: unknown[] = [];
    const world = new SimWorld({
      clock,
      onListenerError: (e) => {
        reported.push(e);
      },
    });
    world.subscribe(() => {
      throw new Error('boom');
    });
    populateDefaultWorld(world, { hosts: 1 });
    assert.equal(world.hosts().length, 1);
    assert.ok(reported.length > 0);
  });
});
