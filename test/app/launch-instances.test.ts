// The launch-instances use case against in-memory fakes and a fixed clock; asserts end state.
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { launchInstances } from '../../src/pw-lib/app/launch-instances.js';
import type { LaunchSettings } from '../../src/pw-lib/app/launch-instances.js';
import { parseDhStatus } from '../../src/pw-lib/core/dh-status.js';
import {
  FakeClock,
  FakeEc2,
  MemoryStore,
  RecordingOutput,
  awsError,
  memoryLogger,
  poolHost,
} from '../helpers/fakes.js';

const settings: LaunchSettings = {
  pool: { namePrefix: 'MacM1', purposeTagKey: 'purpose', purposeValue: 'prod' },
  launchTemplateName: 'CirrusMacM1PWinstance',
  launchStaggerSeconds: 7200,
  launchWaitSeconds: 600,
  launchPollSeconds: 15,
};
const NOW_MS = Date.parse('2024-08-06T14:10:03Z');

describe('launchInstances (app, fakes)', () => {
  let clock: FakeClock;
  let ec2: FakeEc2;
  let store: MemoryStore;
  let out: RecordingOutput;
  let logs: ReturnType<typeof memoryLogger>;
  const run = (force = false, dryRun = false) =>
    launchInstances(
      settings,
      { ec2, clock, store, out, log: logs.log, rng: () => 0.999 },
      { nowS: Math.floor(clock.nowMs / 1000), force, dryRun },
    );
  const messages = () => logs.records.map((r) => r.msg);

  beforeEach(() => {
    clock = new FakeClock(NOW_MS);
    ec2 = new FakeEc2(clock);
    store = new MemoryStore();
    out = new RecordingOutput();
    logs = memoryLogger();
  });

  it('no hosts: prints the message and writes a header-only file (Port: no stale file)', async () => {
    store.files.set('dh_status.txt', 'stale\n');
    const r = await run();
    assert.equal(r.exitCode, 0);
    assert.deepEqual(out.lines, ['No dedicated hosts found']);
    assert.equal(
      store.files.get('dh_status.txt'),
      '# LaunchInstances.sh run 2024-08-06T14:10:03+00:00\n#\n',
    );
  });

  it('discovery failure: exit 4, file untouched', async () => {
    store.files.set('dh_status.txt', 'previous\n');
    ec2.hosts = [poolHost('MacM1-1')];
    ec2.failDescribeHosts = awsError(
      'auth',
      'AuthFailure',
      'AWS was not able to validate the provided access credentials',
    );
    const r = await run();
    assert.equal(r.exitCode, 4);
    assert.equal(store.files.get('dh_status.txt'), 'previous\n');
    assert.equal(store.writes, 0);
  });

  it('an empty pool without instances launches exactly one host (one launch per run)', async () => {
    ec2.hosts = [poolHost('MacM1-1'), poolHost('MacM1-2'), poolHost('MacM1-3')];
    const r = await run();
    assert.equal(r.exitCode, 0);
    assert.equal(r.launched.length, 1);
    assert.ok(messages().includes('Found no running instances, this should not happen.'));
    assert.deepEqual(out.lines.slice(0, 2), [
      'Operating on 3 dedicated hosts at 2024-08-06T14:10:03+00:00',
      'Last instance launch on 1970-01-01T00:00:00+00:00',
    ]);
    const text = store.files.get('dh_status.txt') ?? '';
    const throttled = text.split('\n').filter((l) => l.includes('HOST THROTTLE'));
    assert.equal(throttled.length, 2);
    // latest := now after the launch, so the others wait a whole stagger from now.
    for (const l of throttled)
      assert.match(l, /Inst\. creation delayed until 2024-08-06T16:10:03\+00:00$/);
    assert.equal(parseDhStatus(text).entries.length, 1);
  });

  it('--force launches on every empty host and waits for all of them together', async () => {
    ec2.hosts = [poolHost('MacM1-1'), poolHost('MacM1-2'), poolHost('MacM1-3')];
    ec2.pollsUntilRunning = 2;
    const r = await run(true);
    assert.equal(r.exitCode, 0);
    assert.equal(r.launched.length, 3);
    assert.ok(
      messages().includes('Forcing instance creation: Ignoring staggered creation limits.'),
    );
    // Two polls for all three launches, not two per launch.
    assert.equal(ec2.calls.filter((c) => c === 'DescribeInstances:poll').length, 2);
    assert.equal(ec2.calls.filter((c) => c === 'DescribeLaunchTemplateVersions').length, 1);
    const entries = parseDhStatus(store.files.get('dh_status.txt') ?? '').entries;
    assert.deepEqual(
      entries.map((e) => e.name),
      ['MacM1-1', 'MacM1-2', 'MacM1-3'],
    );
    for (const e of entries) assert.equal(e.launchTime, '2024-08-06T14:10:03+00:00');
  });

  it('a launch that never runs ends with the running-state timeout after launchWaitSeconds', async () => {
    ec2.hosts = [poolHost('MacM1-1')];
    ec2.pollsUntilRunning = Infinity;
    const r = await run(true);
    assert.equal(r.exitCode, 4);
    const text = store.files.get('dh_status.txt') ?? '';
    assert.match(text, /^# MacM1-1 INST ERROR: Running-state timeout\.$/m);
    assert.match(text, /^# {4}aws CLI output: \{$/m);
    assert.match(text, /^# {4}Last state 'pending' after 600s\.$/m);
    assert.equal(clock.nowMs - NOW_MS, 600_000);
  });

  it('a capacity failure is an INST ERROR, latest is unchanged and another host still launches', async () => {
    const bad = poolHost('MacM1-1');
    ec2.hosts = [bad, poolHost('MacM1-2')];
    ec2.failLaunch.set(
      bad.hostId ?? '',
      awsError('capacity', 'InsufficientCapacityOnHost', 'Insufficient capacity on host h-1.'),
    );
    const r = await run();
    assert.equal(r.exitCode, 4);
    const text = store.files.get('dh_status.txt') ?? '';
    assert.match(
      text,
      /^# MacM1-1 INST ERROR: Failed to create new instance on available host\.\n# {4}aws CLI output: InsufficientCapacityOnHost: Insufficient capacity on host h-1\.$/m,
    );
    assert.match(text, /^MacM1-2 i-/m);
  });

  it('a RunInstances answer without an InstanceId is an INST ERROR', async () => {
    ec2.hosts = [poolHost('MacM1-1')];
    ec2.launchWithoutId = true;
    const r = await run(true);
    assert.equal(r.exitCode, 4);
    assert.match(
      store.files.get('dh_status.txt') ?? '',
      /INST ERROR: Empty\/null\/failed JSON query of brand-new InstanceId$/m,
    );
  });

  it('a failed batch: T2 throttles empty hosts, occupants fail to describe, exit 4, file written', async () => {
    ec2.hosts = [
      poolHost('MacM1-1'),
      poolHost('MacM1-2', { instanceIds: ['i-0aaaaaaaaaaaaaaa1'], macCapacity: 0 }),
    ];
    ec2.failBatch = awsError('other', 'InternalError', 'An internal error has occurred');
    const r = await run();
    assert.equal(r.exitCode, 4);
    const text = store.files.get('dh_status.txt') ?? '';
    assert.match(text, /^# MacM1-1 HOST THROTTLE: Last-launch query failed; creation deferred\.$/m);
    assert.match(
      text,
      /^# MacM1-2 INST ERROR: Failed to describe host instance\.\n# {4}aws CLI output: InternalError: An internal error has occurred$/m,
    );
    assert.equal(out.lines[1], 'Last instance launch on unknown (query failed)');
  });

  it('warns about a launch template that RunInstances has to override', async () => {
    ec2.hosts = [poolHost('MacM1-1')];
    ec2.template = {
      ...ec2.template,
      shutdownBehavior: undefined,
      httpTokens: 'optional',
      instanceMetadataTags: 'disabled',
    };
    await run(true);
    const warns = logs.records.filter((r) => r.level === 40).map((r) => String(r.msg));
    assert.equal(warns.filter((m) => m.startsWith("launch template's")).length, 3);
  });

  it('--dry-run decides everything, launches nothing, writes nothing and prints the plan', async () => {
    ec2.hosts = [poolHost('MacM1-1'), poolHost('MacM1-2', { state: 'pending' })];
    const r = await run(true, true);
    assert.equal(r.exitCode, 0);
    assert.equal(store.writes, 0);
    assert.ok(!ec2.calls.some((c) => c.startsWith('RunInstances')));
    assert.ok(out.lines.includes('  launch MacM1-1 on ' + (ec2.hosts[0]?.hostId ?? '')));
    assert.ok(out.lines.some((l) => l === '  skip MacM1-2: HOST BUSY: pending'));
    assert.ok(out.lines.some((l) => /^# MacM1-1 WOULD LAUNCH: RunInstances on h-/.test(l)));
  });

  it('a clock that fails during the wait gives up the pending launches instead of crashing', async () => {
    ec2.hosts = [poolHost('MacM1-1')];
    ec2.pollsUntilRunning = Infinity;
    clock.sleep = () => Promise.reject(new Error('Cannot read the simulated clock'));
    const r = await run(true);
    assert.equal(r.exitCode, 4);
    const text = store.files.get('dh_status.txt') ?? '';
    assert.match(text, /^# MacM1-1 INST ERROR: Running-state timeout\.$/m);
    assert.match(text, /^# {4}aws CLI output: clock: Cannot read the simulated clock$/m);
    assert.match(text, /^# {4}Last state 'unknown' after 0s\.$/m);
  });

  it('a failed write exits 4 and reports it', async () => {
    ec2.hosts = [poolHost('MacM1-1', { state: 'pending' })];
    store.failWrites = true;
    const r = await run();
    assert.equal(r.exitCode, 4);
    assert.ok(messages().includes('could not write dh_status.txt'));
  });
});
