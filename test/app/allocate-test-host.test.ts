// The allocate-test-host use case against in-memory fakes and a fixed clock (behavior.md §8.2).
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { allocateTestHost } from '../../src/pw-lib/app/allocate-test-host.js';
import type {
  AllocateTestHostSettings,
  TestLaunchAttempt,
} from '../../src/pw-lib/app/allocate-test-host.js';
import { launchInstances } from '../../src/pw-lib/app/launch-instances.js';
import { buildTestOverlay, formatOverlay } from '../../src/pw-lib/core/test-host.js';
import { PreconditionError } from '../../src/pw-lib/errors.js';
import type { AuditEvent, Journal } from '../../src/pw-lib/ports.js';
import {
  FakeClock,
  FakeEc2,
  MemoryStore,
  RecordingOutput,
  awsError,
  memoryLogger,
  poolHost,
} from '../helpers/fakes.js';

const NOW_MS = Date.parse('2024-08-06T14:10:03Z');
const ID = 'aliceTesting';
const overlay = buildTestOverlay({
  id: ID,
  launchTemplateName: 'CirrusMacM1PWinstance',
  testStateDir: '/fake-state',
});
const settings: AllocateTestHostSettings = {
  id: ID,
  purposeTagKey: 'purpose',
  availabilityZone: 'us-east-1a',
  retrySeconds: 3,
  overlay,
};

class RecordingJournal implements Journal {
  readonly events: AuditEvent[] = [];
  record(event: AuditEvent): Promise<void> {
    this.events.push(event);
    return Promise.resolve();
  }
}

describe('allocateTestHost (app, fakes)', () => {
  let clock: FakeClock;
  let ec2: FakeEc2;
  let store: MemoryStore;
  let out: RecordingOutput;
  let journal: RecordingJournal;
  let launches: number;
  let launch: () => Promise<TestLaunchAttempt>;
  const run = (dryRun = false) =>
    allocateTestHost(
      settings,
      { ec2, clock, testStore: store, out, log: memoryLogger().log, journal, launch },
      { dryRun },
    );

  beforeEach(() => {
    clock = new FakeClock(NOW_MS);
    ec2 = new FakeEc2(clock);
    store = new MemoryStore();
    out = new RecordingOutput();
    journal = new RecordingJournal();
    launches = 0;
    // The real launch-instances --force for the test pool, on the same fakes.
    const testStore = new MemoryStore();
    launch = async () => {
      launches += 1;
      const o = await launchInstances(
        {
          pool: { namePrefix: ID, purposeTagKey: 'purpose', purposeValue: ID },
          launchTemplateName: 'CirrusMacM1PWinstance',
          launchStaggerSeconds: 7200,
          launchWaitSeconds: 600,
          launchPollSeconds: 15,
        },
        { ec2, clock, store: testStore, out, log: memoryLogger().log, rng: () => 0.5, journal },
        { nowS: Math.floor(clock.nowMs / 1000), force: true, dryRun: false },
      );
      const e = o.blocks.find((b) => b.kind === 'entry' && b.name === `${ID}-0`);
      return { exitCode: o.exitCode, instanceId: e?.kind === 'entry' ? e.instanceId : undefined };
    };
  });

  it('allocates a host with the §8.2 parameters, writes the overlay, launches, reports', async () => {
    const r = await run();
    assert.equal(r.exitCode, 0, out.lines.join('\n'));
    assert.deepEqual(ec2.allocations, [
      {
        availabilityZone: 'us-east-1a',
        instanceType: 'mac2.metal',
        tags: { Name: `${ID}-0`, purpose: ID, PWPoolReady: 'true', automation: 'false' },
      },
    ]);
    assert.equal(store.files.get('overlay.json'), formatOverlay(overlay));
    assert.equal(launches, 1);
    assert.ok(r.instanceId);
    const text = out.lines.join('\n');
    assert.match(text, /not before 2024-08-07T14:10:03\+00:00/);
    assert.ok(text.includes(`terminate-instances --instance-ids ${r.instanceId}`));
    assert.deepEqual(
      journal.events.map((e) => [e.action, e.host]),
      [
        ['allocate-host', r.hostId],
        ['launch', r.hostId],
      ],
    );
  });

  it('reuses an available host named <id>-0 without allocating', async () => {
    const host = poolHost(`${ID}-0`, {
      tags: { Name: `${ID}-0`, purpose: ID, PWPoolReady: 'true' },
    });
    ec2.hosts.push(host);
    const r = await run();
    assert.equal(r.exitCode, 0, out.lines.join('\n'));
    assert.equal(ec2.allocations.length, 0);
    assert.equal(r.hostId, host.hostId);
    assert.equal(r.allocated, false);
  });

  it('a pending host: the exact "retry later" line, exit 4, no allocation, no launch', async () => {
    ec2.hosts.push(poolHost(`${ID}-0`, { state: 'pending' }));
    const r = await run();
    assert.equal(r.exitCode, 4);
    assert.deepEqual(out.lines, [
      `Dedicated host ${ID}-0 is pending: host scrubbing, retry later.`,
    ]);
    assert.equal(ec2.allocations.length, 0);
    assert.equal(launches, 0);
  });

  it('AllocateHosts fails: the failure line, exit 4, no launch', async () => {
    ec2.failAllocate = awsError('capacity', 'InsufficientHostCapacity', 'no hosts');
    const r = await run();
    assert.equal(r.exitCode, 4);
    assert.equal(
      out.lines.at(-1),
      `Provisioning new dedicated host ${ID}-0 failed. Manual debugging & cleanup required.`,
    );
    assert.equal(launches, 0);
  });

  it('10 attempts retrySeconds apart on the clock, then the failure line', async () => {
    launch = () => {
      launches += 1;
      return Promise.resolve({ exitCode: 4, instanceId: undefined });
    };
    const r = await run();
    assert.equal(r.exitCode, 4);
    assert.equal(launches, 10);
    assert.equal(clock.nowMs - NOW_MS, 9 * 3 * 1000, 'nine waits of 3 s');
    assert.equal(
      out.lines.at(-1),
      `Failed to launch an instance on ${ID}-0. Manual debugging & cleanup required.`,
    );
  });

  it('stops at the first attempt with an entry', async () => {
    let n = 0;
    launch = () => {
      n += 1;
      return Promise.resolve({
        exitCode: 0,
        instanceId: n === 3 ? 'i-0123456789abcdef0' : undefined,
      });
    };
    const r = await run();
    assert.equal(r.exitCode, 0);
    assert.equal(r.attempts, 3);
  });

  it('refuses a different overlay already there, before any AWS call', async () => {
    store.files.set('overlay.json', formatOverlay({ ...overlay, maxFinishedTasks: 5 }));
    await assert.rejects(run(), PreconditionError);
    assert.deepEqual(ec2.calls, []);
  });

  it('--dry-run: reads, prints the plan, changes nothing', async () => {
    const r = await run(true);
    assert.equal(r.exitCode, 0);
    assert.equal(store.files.size, 0);
    assert.equal(ec2.allocations.length, 0);
    assert.equal(launches, 0);
    assert.match(out.lines.join('\n'), /Would allocate dedicated host aliceTesting-0/);
  });
});
