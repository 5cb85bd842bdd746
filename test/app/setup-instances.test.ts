// The setup-instances use case against in-memory fakes: phases, the force-terminate order, the
// sweep, preconditions and the run deadline. Asserts the end state and the calls made.
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { CirrusAgent } from '../../src/pw-lib/agents/cirrus.js';
import { setupInstances } from '../../src/pw-lib/app/setup-instances.js';
import type { SetupSettings } from '../../src/pw-lib/app/setup-instances.js';
import { PreconditionError } from '../../src/pw-lib/errors.js';
import { RemoteError } from '../../src/pw-lib/ports.js';
import type { InstanceView } from '../../src/pw-lib/ports.js';
import {
  FakeClock,
  FakeEc2,
  FakeRemote,
  HEALTHY_FACTS,
  MemoryStore,
  RecordingOutput,
  awsError,
  memoryLogger,
} from '../helpers/fakes.js';
import { poolInstance, seedPool, testSettings } from '../helpers/setup-fixtures.js';

const NOW_S = Date.parse('2024-08-06T15:00:00Z') / 1000;
const TOKEN = 'cirrus-pool-token-0123456789';

function settings(env: Record<string, string> = { POOLTOKEN: TOKEN }): SetupSettings {
  const agent = new CirrusAgent({
    poolTokenFile: undefined,
    env,
    purposeTagKey: 'purpose',
    purposeValue: 'prod',
  });
  return testSettings(agent, { brewTaps: ['libkrun/krun'], brewFormulas: ['go'] });
}

const instance = poolInstance;

describe('setupInstances (app, fakes)', () => {
  let ec2: FakeEc2;
  let remote: FakeRemote;
  let store: MemoryStore;
  let out: RecordingOutput;
  let logs: ReturnType<typeof memoryLogger>;
  let sshOk: boolean;
  const run = (
    opts: { force?: boolean; dryRun?: boolean; s?: SetupSettings; elapsed?: () => number } = {},
  ) =>
    setupInstances(
      opts.s ?? settings(),
      {
        ec2,
        remote,
        store,
        out,
        log: logs.log,
        checkSshAccess: () =>
          sshOk
            ? Promise.resolve()
            : Promise.reject(new PreconditionError('Cannot access an ssh-agent.')),
        ...(opts.elapsed ? { elapsedMs: opts.elapsed } : {}),
      },
      { nowS: NOW_S, force: opts.force ?? false, dryRun: opts.dryRun ?? false },
    );
  const status = () => store.files.get('pw_status.txt') ?? '';
  const setPool = (instances: InstanceView[]) => seedPool(ec2, store, instances);

  beforeEach(() => {
    ec2 = new FakeEc2(new FakeClock(NOW_S * 1000));
    remote = new FakeRemote();
    store = new MemoryStore();
    out = new RecordingOutput();
    logs = memoryLogger();
    sshOk = true;
  });

  it('sets up fresh instances: upload, install, timer, then setup with the secret on the session only', async () => {
    setPool([instance(1), instance(2)]);
    const r = await run();
    assert.equal(r.exitCode, 0);
    assert.match(status(), /^MacM1-1 started error 0 0 # Executing setup script\.$/m);
    assert.match(status(), /^MacM1-2 started error 0 0 # Executing setup script\.$/m);
    const m1 = remote.calls.filter((c) => c.endsWith(' MacM1-1'));
    assert.deepEqual(m1, [
      'connect MacM1-1',
      'probe MacM1-1',
      'upload MacM1-1',
      'install MacM1-1',
      'timer 86400 MacM1-1',
      'setup [label=purpose: prod|taps=libkrun/krun cirruslabs/cli|formulas=go cirruslabs/cli/cirrus|drain=7200] MacM1-1',
      'close MacM1-1',
    ]);
    assert.deepEqual(remote.secrets, [TOKEN, TOKEN]);
    assert.equal(remote.connections, 2, 'one connection per instance');
    assert.ok(!JSON.stringify(logs.records).includes(TOKEN), 'the token is not logged');
    assert.ok(!status().includes(TOKEN));
    assert.deepEqual(out.lines.slice(0, 1), [
      'Operating on 2 instances from # LaunchInstances.sh run 2024-08-06T14:00:00+00:00',
    ]);
    assert.ok(out.lines.includes('Processing all persistent worker states.'));
  });

  it('--force staggers the timers in sorted order: 22 h, 20 h, 18 h', async () => {
    setPool([instance(3), instance(1), instance(2)]);
    await run({ force: true });
    const timers = remote.calls
      .filter((c) => c.startsWith('timer '))
      .map((c) => c.split(' ').slice(1).join(' '));
    assert.deepEqual(timers, ['79200 MacM1-1', '72000 MacM1-2', '64800 MacM1-3']);
    assert.ok(
      logs.records.some(
        (r) => r.msg === 'Forcing instance creation w/ staggered existence limits.',
      ),
    );
  });

  it('a failed install stops that entry with its text, the others go on', async () => {
    setPool([instance(1), instance(2)]);
    remote.opFailure.set('install MacM1-1', new RemoteError('refused', 'bad mode'));
    const r = await run();
    assert.equal(r.exitCode, 4);
    assert.match(status(), /^MacM1-1 error error 0 0 # Could not install scripts\.$/m);
    assert.match(status(), /^MacM1-2 started error 0 0 # Executing setup script\.$/m);
  });

  it('start-setup: a lost connection retries next run, a remote refusal force-terminates', async () => {
    setPool([instance(1), instance(2)]);
    remote.opFailure.set(
      'setup [label=purpose: prod|taps=libkrun/krun cirruslabs/cli|formulas=go cirruslabs/cli/cirrus|drain=7200] MacM1-1',
      new RemoteError('lost', 'timeout'),
    );
    remote.opFailure.set(
      'setup [label=purpose: prod|taps=libkrun/krun cirruslabs/cli|formulas=go cirruslabs/cli/cirrus|drain=7200] MacM1-2',
      new RemoteError('refused', 'no setup.sh'),
    );
    const r = await run();
    assert.equal(r.exitCode, 4);
    assert.match(
      status(),
      /^MacM1-1 error error 0 0 # Could not start setup script; will retry next run\.$/m,
    );
    assert.match(
      status(),
      /^MacM1-2 error error 0 0 # Failed to start background setup script\. Terminating immediately!$/m,
    );
    assert.ok(ec2.calls.includes(`TerminateInstances:${instance(2).instanceId}`));
    assert.ok(!ec2.calls.includes(`TerminateInstances:${instance(1).instanceId}`));
  });

  it('force-terminate runs in its order: listener stop over SSH, tag false, terminate', async () => {
    setPool([instance(1)]);
    remote.facts.set('MacM1-1', { ...HEALTHY_FACTS, supervisor: 'dead' });
    const r = await run();
    assert.equal(r.exitCode, 0);
    const msg = 'Pool servicing script (service_pool.sh) is not running. Terminating immediately!';
    assert.match(
      status(),
      new RegExp(`^MacM1-1 complete error 0 0 # ${msg.replace(/[.()]/g, '\\$&')}$`, 'm'),
    );
    assert.ok(remote.calls.includes(`force-stop[${msg}] MacM1-1`));
    const id = instance(1).instanceId ?? '';
    assert.deepEqual(
      ec2.calls.filter((c) => c.includes(id)),
      [`CreateTags:${id}:{"PWPoolReady":"false"}`, `TerminateInstances:${id}`],
    );
  });

  it('the hard backstop terminates an unreachable instance without SSH', async () => {
    setPool([instance(1, { launchTime: '2024-08-04T14:00:00.000Z', publicDnsName: undefined })]);
    remote.connectFailure.set('MacM1-1', 'tcp');
    await run();
    assert.match(
      status(),
      /^MacM1-1 error error 0 0 # Excess instance lifetime; 60m past hard max limit\. Terminating immediately!$/m,
    );
    assert.deepEqual(remote.calls, [], 'no SSH at all');
    assert.ok(ec2.calls.includes(`TerminateInstances:${instance(1).instanceId}`));
  });

  it('an unreachable instance inside its lifetime is reported, never terminated', async () => {
    setPool([instance(1), instance(2)]);
    remote.connectFailure.set('MacM1-1', 'tcp');
    remote.connectFailure.set('MacM1-2', 'ssh');
    const r = await run();
    assert.equal(r.exitCode, 4);
    assert.match(
      status(),
      /^MacM1-1 error error 0 0 # Could not connect to port 22 on '127\.0\.1\.1'\.$/m,
    );
    assert.match(
      status(),
      /^MacM1-2 error error 0 0 # Could not ssh to 'ec2-user@127\.0\.1\.2'\.$/m,
    );
    assert.ok(
      !ec2.calls.some((c) => c.startsWith('TerminateInstances') || c.startsWith('CreateTags')),
    );
  });

  it('instances waiting out their connect timeout hold no observation slot', async () => {
    const pool = [1, 2, 3, 4, 5, 6].map((n) => instance(n));
    setPool(pool);
    let release = () => {};
    const timeout = new Promise<void>((resolve) => (release = resolve));
    for (const n of [1, 2]) {
      remote.connectFailure.set(`MacM1-${n}`, 'tcp');
      remote.connectGate.set(`MacM1-${n}`, timeout);
    }
    const s = { ...settings(), observeConcurrency: 1, connectConcurrency: 3 };
    const running = run({ s });
    const probed = () => [3, 4, 5, 6].every((n) => remote.calls.includes(`probe MacM1-${n}`));
    for (let i = 0; i < 1000 && !probed(); i++) await new Promise((r) => setImmediate(r));
    const probedBeforeTimeouts = probed();
    release();
    const r = await running;
    assert.ok(probedBeforeTimeouts, `calls before the timeouts: ${remote.calls.join(', ')}`);
    assert.equal(r.exitCode, 4);
    assert.match(status(), /^MacM1-1 error error 0 0 # Could not connect to port 22/m);
    assert.match(status(), /^MacM1-6 /m);
  });

  it('a probe that loses contact is unknown, not "absent"', async () => {
    setPool([instance(1)]);
    remote.opFailure.set('probe MacM1-1', new RemoteError('lost', 'channel closed'));
    await run();
    assert.match(
      status(),
      /^MacM1-1 error error 0 0 # Lost contact with '127\.0\.1\.1' while probing\.$/m,
    );
    assert.ok(!ec2.calls.some((c) => c.startsWith('TerminateInstances')));
  });

  it('the task budget: previous alive count, shrinking within the run', async () => {
    const pool = [1, 2, 3, 4, 5].map((n) => instance(n));
    setPool(pool);
    for (const n of [1, 2, 3])
      remote.facts.set(`MacM1-${n}`, {
        ...HEALTHY_FACTS,
        workerLog: {
          present: true,
          inode: '1',
          size: 1,
          registered: true,
          started: 30,
          finished: 30,
        },
      });
    for (const n of [4, 5]) remote.facts.set(`MacM1-${n}`, HEALTHY_FACTS);
    store.files.set(
      'pw_status.txt',
      `# SetupInstances.sh run 2024-08-06T14:55:00+00:00\n#\n${pool.map((i) => `${i.tags.Name} complete alive 1 1`).join('\n')}\n`,
    );
    await run();
    assert.match(
      status(),
      /^MacM1-1 complete alive 30 30 # Instance exceeded 24 apparent tasks\. Terminating immediately!$/m,
    );
    assert.match(
      status(),
      /^MacM1-2 complete alive 30 30 # Instance exceeded 24 apparent tasks\. Terminating immediately!$/m,
    );
    assert.match(
      status(),
      /^MacM1-3 complete alive 30 30 # Not enforcing max-tasks limit, only 3 workers alive last run\.$/m,
    );
    assert.equal(ec2.calls.filter((c) => c.startsWith('TerminateInstances')).length, 2);
  });

  it('maintenance mode for PWPoolReady=false: disabled disabled, no AWS change', async () => {
    setPool([instance(1, { tags: { Name: 'MacM1-1', purpose: 'prod', PWPoolReady: 'false' } })]);
    remote.facts.set('MacM1-1', HEALTHY_FACTS);
    await run();
    assert.match(
      status(),
      /^MacM1-1 disabled disabled 0 0 # Instance disabled via tag 'PWPoolReady' == 'false'\.$/m,
    );
    assert.ok(remote.calls.includes('maintenance MacM1-1'));
    assert.ok(
      !ec2.calls.some((c) => c.startsWith('CreateTags') || c.startsWith('TerminateInstances')),
    );
  });

  it('a missing secret: exit 3 with the contract text, pw_status untouched, the sweep still runs', async () => {
    setPool([
      instance(1),
      instance(9, {
        launchTime: '2024-08-01T00:00:00.000Z',
        tags: { Name: 'MacM1-9', purpose: 'prod', PWPoolReady: 'true' },
      }),
    ]);
    store.files.set('pw_status.txt', 'previous\n');
    const r = await run({ s: settings({}) });
    assert.equal(r.exitCode, 3);
    assert.equal(out.lines[0], "Missing CI secret for agent 'cirrus'.");
    assert.equal(status(), 'previous\n');
    assert.ok(ec2.calls.includes(`TerminateInstances:${instance(9).instanceId}`), 'swept');
    assert.ok(!ec2.calls.includes(`TerminateInstances:${instance(1).instanceId}`));
    assert.deepEqual(remote.calls, []);
  });

  it('no ssh-agent: exit 3, nothing touched over SSH', async () => {
    setPool([instance(1)]);
    sshOk = false;
    const r = await run();
    assert.equal(r.exitCode, 3);
    assert.equal(out.lines[0], 'Cannot access an ssh-agent.');
    assert.deepEqual(remote.calls, []);
  });

  it('no dh_status.txt: exit 3 with the contract text', async () => {
    const r = await run();
    assert.equal(r.exitCode, 3);
    assert.equal(out.lines[0], "Can't read from state file: /fake-state/dh_status.txt");
  });

  it('the sweep terminates unlisted instances past the hard lifetime and writes SWEEP lines', async () => {
    setPool([instance(1)]);
    remote.facts.set('MacM1-1', HEALTHY_FACTS);
    ec2.instances.push(
      instance(7, { launchTime: '2024-08-04T14:30:00.000Z', publicDnsName: undefined }),
    );
    ec2.instances.push(
      instance(8, {
        state: 'stopped',
        stateTransitionReason: 'User initiated (2024-08-06 13:00:00 GMT)',
      }),
    );
    ec2.instances.push(
      instance(6, {
        launchTime: '2024-08-01T00:00:00.000Z',
        tags: { Name: 'MacM1-6', purpose: 'elsewhere' },
      }),
    );
    const r = await run();
    assert.equal(r.exitCode, 0);
    assert.match(
      status(),
      /^# MacM1-7 i-0{16}7 SWEEP: Excess instance lifetime; 30m past hard max limit\. Terminating immediately!$/m,
    );
    assert.match(
      status(),
      /^# MacM1-8 i-0{16}8 SWEEP: Instance i-0{16}8 is stopped\. Terminating immediately!$/m,
    );
    assert.doesNotMatch(status(), /MacM1-6/);
    assert.ok(
      !ec2.calls.includes(`TerminateInstances:${instance(6).instanceId}`),
      'another pool is never touched',
    );
  });

  it('a failed entry batch: every entry "Could not query", exit 4, file still written', async () => {
    setPool([instance(1)]);
    ec2.describeInstancesById = () => Promise.reject(awsError('other', 'InternalError', 'boom'));
    const r = await run();
    assert.equal(r.exitCode, 4);
    assert.match(status(), /^MacM1-1 error error 0 0 # Could not query instance i-0{16}1\.$/m);
  });

  it('invalid dh_status entries become trailing comments and exit 4', async () => {
    setPool([instance(1)]);
    remote.facts.set('MacM1-1', HEALTHY_FACTS);
    store.files.set(
      'dh_status.txt',
      `${store.files.get('dh_status.txt')}Other-3 i-0aaaaaaaaaaaaaaa1 2024-08-06T12:00:00+00:00\nMacM1-4 i-bad 2024\n`,
    );
    const r = await run();
    assert.equal(r.exitCode, 4);
    assert.match(
      status(),
      /^# invalid dh_status entry: Other-3\?i-0aaaaaaaaaaaaaaa1\?2024-08-06T12:00:00\+00:00$/m,
    );
    assert.match(status(), /^# invalid dh_status entry: MacM1-4\?i-bad\?2024$/m);
  });

  it("an unexpected exception for one instance is that entry's result; the others and the file go on (R3)", async () => {
    setPool([instance(1), instance(2)]);
    remote.facts.set('MacM1-2', HEALTHY_FACTS);
    // A malformed report that slipped through makes the decision code throw for MacM1-1 only.
    remote.facts.set('MacM1-1', { ...HEALTHY_FACTS, workerLog: undefined as never });
    const r = await run();
    assert.equal(r.exitCode, 4);
    assert.match(
      status(),
      /^MacM1-1 error error 0 0 # Internal error while processing instance i-0{16}1; see the log\.$/m,
    );
    assert.equal(
      status()
        .split('\n')
        .find((l) => l.startsWith('MacM1-2 ')),
      'MacM1-2 complete alive 1 1',
    );
    assert.ok(logs.records.some((x) => x.msg === 'internal error while processing the instance'));
  });

  it('after the run deadline no new remote work starts', async () => {
    setPool([instance(1), instance(2)]);
    let t = 0;
    const r = await run({ elapsed: () => (t += 700_000) });
    assert.equal(r.exitCode, 4);
    assert.match(status(), /# Not processed: run deadline exceeded\.$/m);
  });

  it('--dry-run probes but changes nothing and writes nothing', async () => {
    setPool([instance(1), instance(2)]);
    remote.facts.set('MacM1-2', { ...HEALTHY_FACTS, supervisor: 'dead' });
    const r = await run({ dryRun: true });
    assert.equal(r.exitCode, 0);
    assert.equal(store.writes, 0);
    assert.deepEqual(
      remote.calls.filter((c) => !/^(connect|probe|close) /.test(c)),
      [],
    );
    assert.deepEqual(
      ec2.calls.filter((c) => c.startsWith('CreateTags') || c.startsWith('TerminateInstances')),
      [],
    );
    assert.ok(out.lines.some((l) => l.startsWith('  set up MacM1-1')));
    assert.ok(out.lines.some((l) => l.startsWith('  force-terminate MacM1-2')));
  });
});
