// The simulated Mac answering PROTOCOL.md's operations over real SSH, in virtual time: probe,
// install, start-timer, start-setup, the supervisor, tasks, maintenance, force-stop and the
// recycling timer down to the host scrub.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { CreateTagsCommand } from '@aws-sdk/client-ec2';
import { ec2Client, START } from './helpers.js';
import {
  BOOT_S,
  CIRRUS,
  cirrusSetupArgs,
  connect,
  control,
  GITHUB,
  installScripts,
  launchReady,
  macState,
  probe,
  PROBE_KEYS,
  runOp,
  SECRET,
  setUp,
  startMacSim,
} from './mac-helpers.js';

const epoch = (d: Date): number => Math.floor(d.getTime() / 1000);

describe('simulated Mac protocol', () => {
  test('probe on a fresh Mac: every key in order, the sentinel, nothing present', async (t) => {
    const sim = await startMacSim(t);
    const mac = await launchReady(sim);
    const ssh = await connect(t, sim, mac.address);
    const reply = await runOp(ssh, 'probe', [
      'cirrus',
      mac.name,
      CIRRUS.listener,
      CIRRUS.job,
      CIRRUS.registered,
      CIRRUS.started,
      CIRRUS.finished,
    ]);
    assert.equal(reply.code, 0);
    assert.ok(reply.sentinel);
    assert.ok(reply.stdout.endsWith('pw-pool-probe=end\n'));
    assert.deepEqual(reply.keys, PROBE_KEYS);
    const v = Object.fromEntries(reply.values);
    assert.equal(v.protocol, '1');
    assert.equal(v.now, String(epoch(sim.clock.now())));
    assert.equal(v.scripts, 'absent');
    for (const key of ['setup.started', 'setup.done', 'setup.failed', 'setup.log', 'worker.user']) {
      assert.equal(v[key], 'absent', key);
    }
    for (const key of ['supervisor', 'timer', 'agent.config', 'worker.log', 'listener', 'job']) {
      assert.equal(v[key], 'absent', key);
    }
    for (const key of ['setup.started.last', 'setup.started.mtime', 'worker.log.started']) {
      assert.equal(v[key], '', key);
    }
  });

  test('probe refuses bad arguments with exit 3 and an error line', async (t) => {
    const sim = await startMacSim(t);
    const mac = await launchReady(sim);
    const ssh = await connect(t, sim, mac.address);
    const bad = await runOp(ssh, 'probe', ['docker', mac.name, 'a', 'b', 'c', 'd', 'e']);
    assert.equal(bad.code, 3);
    assert.deepEqual(bad.keys, ['error']);
    assert.equal(bad.values.get('error'), 'invalid agent kind');
    assert.ok(bad.sentinel);
    const few = await runOp(ssh, 'probe', ['cirrus']);
    assert.match(few.values.get('error') ?? '', /^usage: probe/);
    const pattern = await runOp(ssh, 'probe', ['cirrus', mac.name, '-x', 'b', 'c', 'd', 'e']);
    assert.equal(pattern.values.get('error'), 'invalid pattern argument');
  });

  test('start-timer starts one timer; a second call reports the existing one', async (t) => {
    const sim = await startMacSim(t);
    const mac = await launchReady(sim);
    const ssh = await connect(t, sim, mac.address);
    const early = await runOp(ssh, 'start-timer', ['86400', '7200', CIRRUS.job]);
    assert.equal(early.code, 3, 'before install');
    await installScripts(ssh);
    const first = await runOp(ssh, 'start-timer', ['86400', '7200', CIRRUS.job]);
    assert.equal(first.code, 0);
    assert.deepEqual(first.keys, ['timer', 'deadline']);
    assert.equal(first.values.get('timer'), 'started');
    const deadline = epoch(sim.clock.now()) + 86400;
    assert.equal(first.values.get('deadline'), String(deadline));
    await sim.advance(3600);
    const second = await runOp(ssh, 'start-timer', ['3600', '7200', CIRRUS.job]);
    assert.deepEqual(Object.fromEntries(second.values), {
      timer: 'existing',
      deadline: String(deadline),
    });
    const v = await probe(ssh, mac.name);
    assert.equal(v.get('timer'), 'alive');
    assert.equal(v.get('recycle.deadline'), String(deadline));
    const state = await macState(sim, mac.name);
    assert.equal(state.processes.filter((p) => p.role === 'timer').length, 1);
    assert.equal(state.timer?.deadlineEpoch, deadline);
    const bad = await runOp(ssh, 'start-timer', ['0', '7200', CIRRUS.job]);
    assert.equal(bad.values.get('error'), 'seconds must be an integer >= 1');
  });

  test('start-setup: ≈10 min later setup is done, supervisor and listener alive, registered', async (t) => {
    const sim = await startMacSim(t);
    const mac = await launchReady(sim);
    const ssh = await connect(t, sim, mac.address);
    await installScripts(ssh);
    const startedAt = sim.clock.now();
    const reply = await runOp(ssh, 'start-setup', cirrusSetupArgs(mac.name), SECRET);
    assert.equal(reply.code, 0, reply.stdout);
    assert.deepEqual(reply.keys, ['setup', 'pid']);
    assert.match(reply.values.get('pid') ?? '', /^[0-9]+$/);

    // Right after the start: the drop file, the secret (size only), setup.sh running.
    let v = await probe(ssh, mac.name);
    assert.equal(v.get('setup.started'), 'present');
    assert.equal(v.get('setup.started.last'), `${startedAt.toISOString().slice(0, 19)}+00:00`);
    assert.equal(v.get('setup.started.mtime'), String(epoch(startedAt)));
    assert.equal(v.get('setup.done'), 'absent');
    let state = await macState(sim, mac.name);
    assert.equal(state.setup?.phase, 'running');
    assert.equal(state.setup?.secretBytes, SECRET.length + 1);

    await sim.advance(300);
    v = await probe(ssh, mac.name);
    assert.equal(v.get('setup.done'), 'absent', 'half-way');
    assert.equal(v.get('setup.log'), 'present');
    assert.match(v.get('setup.log.last') ?? '', /Installing packages/);
    state = await macState(sim, mac.name);
    assert.equal(state.files['/Users/ec2-user/.pw-pool/secret'], undefined, 'consumed');

    await sim.advance(400);
    v = await probe(ssh, mac.name);
    assert.equal(v.get('setup.done'), 'present');
    assert.equal(v.get('setup.failed'), 'absent');
    assert.equal(v.get('supervisor'), 'alive');
    assert.equal(v.get('listener'), 'alive');
    assert.equal(v.get('worker.user'), 'present');
    assert.equal(v.get('agent.config'), 'present');
    assert.equal(v.get('worker.log'), 'present');
    assert.equal(v.get('worker.log.registered'), 'yes');
    assert.equal(v.get('worker.log.started'), '0');
    state = await macState(sim, mac.name);
    assert.equal(state.setup?.phase, 'done');
    assert.equal(state.files['/Users/ec2-user/.pw-pool/cirrus-worker.yml']?.mode, '0600');
    assert.equal(state.files['/private/tmp/MacM1-1-worker.log']?.mode, '0660');

    // The secret is nowhere in the control API; only its size and hash are recorded.
    const text = await (await fetch(`${sim.endpoint}/_sim/state`)).text();
    assert.ok(!text.includes(SECRET), 'the secret must not appear in /_sim/state');
    assert.ok(!JSON.stringify(await macState(sim, mac.name)).includes(SECRET));
    const command = state.commands.find((c) => c.op === 'start-setup');
    assert.equal(command?.form, 'secret');
    assert.equal(command?.stdinBytes, SECRET.length + 1);
    assert.equal(command?.secretSha256, createHash('sha256').update(`${SECRET}\n`).digest('hex'));
    assert.deepEqual(command?.args, cirrusSetupArgs(mac.name));

    // A second start-setup is a no-op (setup.sh sees .setup.done).
    const again = await runOp(ssh, 'start-setup', cirrusSetupArgs(mac.name), SECRET);
    assert.equal(again.code, 0);
    await sim.advance(1);
    v = await probe(ssh, mac.name);
    assert.match(v.get('setup.log.last') ?? '', /^##### Appears setup script already ran at /);
    assert.equal(
      (await macState(sim, mac.name)).files['/Users/ec2-user/.pw-pool/secret'],
      undefined,
    );
  });

  test('start-setup refuses a missing secret, bad setup arguments and missing scripts', async (t) => {
    const sim = await startMacSim(t);
    const mac = await launchReady(sim);
    const ssh = await connect(t, sim, mac.address);
    const early = await runOp(ssh, 'start-setup', cirrusSetupArgs(mac.name), SECRET);
    assert.equal(early.code, 3);
    await installScripts(ssh);
    const empty = await runOp(ssh, 'start-setup', cirrusSetupArgs(mac.name), '');
    assert.equal(empty.code, 3);
    assert.equal(
      empty.values.get('error'),
      'the secret on stdin is empty or has unexpected characters',
    );
    const noLabel = await runOp(ssh, 'start-setup', ['cirrus', mac.name], SECRET);
    assert.equal(noLabel.values.get('error'), "agent 'cirrus' needs the setup argument 'label'");
    const badLabel = await runOp(ssh, 'start-setup', ['cirrus', mac.name, 'label=x'], SECRET);
    assert.match(badLabel.values.get('error') ?? '', /^setup argument 'label' must match/);
    const v = await probe(ssh, mac.name);
    assert.equal(v.get('setup.started'), 'absent', 'a refusal changes nothing');
  });

  test('a setup on an instance whose Name differs fails with a reason', async (t) => {
    const sim = await startMacSim(t);
    const mac = await launchReady(sim);
    const ssh = await connect(t, sim, mac.address);
    await installScripts(ssh);
    const reply = await runOp(ssh, 'start-setup', cirrusSetupArgs('MacM1-9'), SECRET);
    assert.equal(reply.code, 0);
    await sim.advance(10);
    const v = await probe(ssh, 'MacM1-9');
    assert.equal(v.get('setup.started'), 'present');
    assert.equal(v.get('setup.failed'), 'present');
    assert.equal(v.get('setup.failed.reason'), "instance tag 'Name' is not 'MacM1-9'");
    assert.equal(
      (await macState(sim, mac.name)).files['/Users/ec2-user/.pw-pool/secret'],
      undefined,
    );
  });

  test('tasks: the worker log counts match the model after hours of virtual time', async (t) => {
    const sim = await startMacSim(t, { macs: { taskRatePerHour: 2, taskDurationSeconds: 900 } });
    const mac = await launchReady(sim);
    const ssh = await connect(t, sim, mac.address);
    await setUp(sim, ssh, mac);
    await sim.advance(8 * 3600);
    const v = await probe(ssh, mac.name);
    const state = await macState(sim, mac.name);
    assert.ok(state.tasks.finished >= 4, `finished ${state.tasks.finished}`);
    assert.equal(v.get('worker.log.started'), String(state.tasks.started));
    assert.equal(v.get('worker.log.finished'), String(state.tasks.finished));
    assert.equal(v.get('job'), state.job === null ? 'absent' : 'alive');
    assert.equal(v.get('worker.log.registered'), 'yes');
  });

  test('a task can be started through the control API; its job process is visible', async (t) => {
    const sim = await startMacSim(t, { macs: { taskRatePerHour: 0 } });
    const mac = await launchReady(sim);
    const ssh = await connect(t, sim, mac.address);
    await setUp(sim, ssh, mac);
    const started = await control(sim, 'POST', `/_sim/macs/${mac.name}/task`, {
      durationSeconds: 600,
    });
    assert.equal(started.status, 200);
    assert.equal((await probe(ssh, mac.name)).get('job'), 'alive');
    const busy = await control(sim, 'POST', `/_sim/macs/${mac.name}/task`, {});
    assert.equal(busy.status, 409);
    await sim.advance(600);
    const v = await probe(ssh, mac.name);
    assert.equal(v.get('job'), 'absent');
    assert.equal(v.get('worker.log.started'), '1');
    assert.equal(v.get('worker.log.finished'), '1');
  });

  test('probe counting: lines that must not count, CR and ANSI colours stripped', async (t) => {
    const sim = await startMacSim(t, { macs: { taskRatePerHour: 0, noiseLines: false } });
    const mac = await launchReady(sim);
    const ssh = await connect(t, sim, mac.address);
    await setUp(sim, ssh, mac);
    const instant = await control(sim, 'POST', `/_sim/macs/${mac.name}/task`, {
      durationSeconds: 0,
      count: 3,
    });
    assert.equal(instant.status, 200);
    const esc = String.fromCharCode(27);
    const lines = [
      'time="2024-08-06T12:00:00Z" level=warning msg="spurious task 7 completed"',
      'time="2024-08-06T12:00:00Z" level=error msg="failed to notify the server about the started task 8: x"',
      'time="2024-08-06T12:00:00Z" level=error msg="failed to create an instance for the task 9: x"',
      '##### 2024-08-06T12:00:00+00:00 Listener started at 2024-08-06T12:00:00+00:00',
      'STARTED TASK 10',
      'started task 11',
      `${esc}[32mtime="2024-08-06T12:00:00Z" level=info msg="task 11 completed"${esc}[0m\r`,
    ];
    const appended = await control(sim, 'POST', `/_sim/macs/${mac.name}/worker-log`, { lines });
    assert.equal(appended.status, 200);
    const v = await probe(ssh, mac.name);
    assert.equal(v.get('worker.log.registered'), 'yes');
    assert.equal(v.get('worker.log.started'), '4', '3 tasks + the bare "started task 11"');
    assert.equal(v.get('worker.log.finished'), '4', '3 tasks + the coloured line with a CR');
    const unknown = await control(sim, 'POST', `/_sim/macs/MacM1-2/worker-log`, { lines: ['x'] });
    assert.equal(unknown.status, 404);
  });

  test('probe counting: a registration after the first 10 lines does not count', async (t) => {
    const sim = await startMacSim(t, {
      macs: { taskRatePerHour: 0, noiseLines: false, setupSeconds: 600, setupJitterSeconds: 0 },
    });
    const mac = await launchReady(sim);
    const ssh = await connect(t, sim, mac.address);
    await installScripts(ssh);
    await runOp(ssh, 'start-setup', cirrusSetupArgs(mac.name), SECRET);
    // The worker log exists at 90 % of the setup; the listener registers at 92 % + 2 s.
    await sim.advance(545);
    const early = await control(sim, 'POST', `/_sim/macs/${mac.name}/worker-log`, {
      lines: Array.from({ length: 9 }, (_, i) => `noise ${i}`),
    });
    assert.equal(early.status, 200);
    await sim.advance(60);
    const v = await probe(ssh, mac.name);
    assert.equal(v.get('setup.done'), 'present');
    assert.equal(v.get('listener'), 'alive');
    assert.equal(v.get('worker.log.registered'), 'no', 'line 11');
  });

  test('PWPoolReady=false (CreateTags): the supervisor stops the listener within ~10 s', async (t) => {
    const sim = await startMacSim(t, { macs: { taskRatePerHour: 0 } });
    const mac = await launchReady(sim);
    const ssh = await connect(t, sim, mac.address);
    await setUp(sim, ssh, mac);
    await ec2Client(sim).send(
      new CreateTagsCommand({
        Resources: [mac.instanceId],
        Tags: [{ Key: 'PWPoolReady', Value: 'false' }],
      }),
    );
    assert.equal((await probe(ssh, mac.name)).get('listener'), 'alive', 'not yet');
    await sim.advance(10);
    const v = await probe(ssh, mac.name);
    assert.equal(v.get('listener'), 'absent');
    assert.equal(v.get('supervisor'), 'dead', 'it exited; its pid file stays');
    assert.match(
      v.get('setup.log.last') ?? '',
      /Stopped Cirrus worker listener; supervisor exiting/,
    );
  });

  test('PWPoolReady=false during a job (control API): the listener drains first', async (t) => {
    const sim = await startMacSim(t, { macs: { taskRatePerHour: 0 } });
    const mac = await launchReady(sim);
    const ssh = await connect(t, sim, mac.address);
    await setUp(sim, ssh, mac);
    await control(sim, 'POST', `/_sim/macs/${mac.name}/task`, { durationSeconds: 900 });
    await control(sim, 'POST', `/_sim/instances/${mac.name}`, { tags: { PWPoolReady: 'false' } });
    await sim.advance(20);
    let v = await probe(ssh, mac.name);
    assert.equal(v.get('listener'), 'alive');
    assert.equal(v.get('job'), 'alive');
    assert.match(v.get('drain.started') ?? '', /^[0-9]+$/);
    assert.equal(v.get('supervisor'), 'alive');
    await sim.advance(900);
    v = await probe(ssh, mac.name);
    assert.equal(v.get('listener'), 'absent');
    assert.equal(v.get('job'), 'absent');
    assert.equal(v.get('drain.started'), '');
    assert.equal(v.get('worker.log.finished'), '1', 'the job finished, it was not killed');
  });

  test('maintenance: timer cancelled, drop files and config gone, the supervisor drains', async (t) => {
    const sim = await startMacSim(t, { macs: { taskRatePerHour: 0 } });
    const mac = await launchReady(sim);
    const ssh = await connect(t, sim, mac.address);
    await setUp(sim, ssh, mac);
    await runOp(ssh, 'start-timer', ['86400', '7200', CIRRUS.job]);
    const reply = await runOp(ssh, 'maintenance', [
      'cirrus',
      mac.name,
      CIRRUS.listener,
      CIRRUS.job,
      '7200',
    ]);
    assert.equal(reply.code, 0);
    assert.deepEqual(reply.keys, ['timer', 'drain', 'drain.started']);
    assert.deepEqual(Object.fromEntries(reply.values), {
      timer: 'cancelled',
      drain: 'none',
      'drain.started': '',
    });
    let v = await probe(ssh, mac.name);
    assert.equal(v.get('timer'), 'absent');
    assert.equal(v.get('setup.started'), 'absent');
    assert.equal(v.get('setup.done'), 'absent');
    assert.equal(v.get('agent.config'), 'absent');
    await sim.advance(10);
    v = await probe(ssh, mac.name);
    assert.equal(v.get('listener'), 'absent', 'the supervisor saw the config gone');
    const second = await runOp(ssh, 'maintenance', [
      'cirrus',
      mac.name,
      CIRRUS.listener,
      CIRRUS.job,
      '7200',
    ]);
    assert.deepEqual(Object.fromEntries(second.values), {
      timer: 'none',
      drain: 'none',
      'drain.started': '',
    });
  });

  test('maintenance without a supervisor applies the drain rule itself', async (t) => {
    const sim = await startMacSim(t, { macs: { taskRatePerHour: 0 } });
    const mac = await launchReady(sim);
    const ssh = await connect(t, sim, mac.address);
    await setUp(sim, ssh, mac);
    await control(sim, 'POST', '/_sim/faults', { kind: 'supervisor-crash', target: mac.name });
    await control(sim, 'POST', `/_sim/macs/${mac.name}/task`, { durationSeconds: 1800 });
    const args = ['cirrus', mac.name, CIRRUS.listener, CIRRUS.job, '600'];
    const first = await runOp(ssh, 'maintenance', args);
    assert.equal(first.values.get('drain'), 'waiting');
    const since = first.values.get('drain.started');
    assert.equal(since, String(epoch(sim.clock.now())));
    await sim.advance(300);
    const still = await runOp(ssh, 'maintenance', args);
    assert.deepEqual(Object.fromEntries(still.values), {
      timer: 'none',
      drain: 'waiting',
      'drain.started': since,
    });
    await sim.advance(300);
    const done = await runOp(ssh, 'maintenance', args);
    assert.equal(done.values.get('drain'), 'done');
    assert.equal(done.values.get('drain.started'), '');
    const v = await probe(ssh, mac.name);
    assert.equal(v.get('listener'), 'absent');
    assert.equal(v.get('job'), 'absent', 'killing the listener cancels its task');
  });

  test('force-stop: wall, supervisor and listener stopped at once', async (t) => {
    const sim = await startMacSim(t);
    const mac = await launchReady(sim);
    const ssh = await connect(t, sim, mac.address);
    await setUp(sim, ssh, mac);
    const message = 'Pool listener dead state fault. Terminating immediately!';
    const reply = await runOp(ssh, 'force-stop', ['cirrus', mac.name, CIRRUS.listener, message]);
    assert.equal(reply.code, 0);
    assert.deepEqual(reply.keys, ['wall', 'supervisor', 'listener']);
    assert.deepEqual(Object.fromEntries(reply.values), {
      wall: 'ok',
      supervisor: 'stopped',
      listener: 'stopped',
    });
    const state = await macState(sim, mac.name);
    assert.deepEqual(
      state.walls.map((w) => w.message),
      [message],
    );
    const v = await probe(ssh, mac.name);
    assert.equal(v.get('supervisor'), 'dead');
    assert.equal(v.get('listener'), 'absent');
    assert.equal(v.get('agent.config'), 'absent');
    assert.equal(v.get('setup.done'), 'absent');
    const again = await runOp(ssh, 'force-stop', ['cirrus', mac.name, CIRRUS.listener, message]);
    assert.deepEqual(Object.fromEntries(again.values), {
      wall: 'ok',
      supervisor: 'none',
      listener: 'none',
    });
  });

  test('the timer deadline: drain, shutdown, terminate, then the host scrubs', async (t) => {
    const sim = await startMacSim(t, { macs: { taskRatePerHour: 0 } });
    const mac = await launchReady(sim);
    const ssh = await connect(t, sim, mac.address);
    await setUp(sim, ssh, mac);
    const timer = await runOp(ssh, 'start-timer', ['3600', '1800', CIRRUS.job]);
    assert.equal(timer.values.get('timer'), 'started');
    await sim.advance(3500);
    await control(sim, 'POST', `/_sim/macs/${mac.name}/task`, { durationSeconds: 700 });
    await sim.advance(100);
    // The deadline passed: shutdown.sh (exec'd by the timer) waits for the job.
    const v = await probe(ssh, mac.name);
    assert.equal(v.get('timer'), 'dead', 'the recorded pid now runs shutdown.sh');
    assert.equal(v.get('job'), 'alive');
    assert.match(v.get('setup.log.last') ?? '', /^##### Found '.*' still running, waiting\.\.\.$/);
    assert.equal(sim.world.instance(mac.instanceId)?.state, 'running');

    const closed = new Promise<void>((resolve) => ssh.client.once('close', () => resolve()));
    await sim.advance(600); // the job ends at +600 s; shutdown.sh notices within a minute
    await closed;
    const instance = sim.world.instance(mac.instanceId);
    assert.equal(instance?.state, 'shutting-down');
    assert.equal(instance?.stateReason?.code, 'Client.InstanceInitiatedShutdown');
    const state = await macState(sim, mac.name);
    assert.equal(state.power, 'off');
    assert.equal(state.reachable, false);
    assert.equal(state.walls.at(-1)?.message, 'Automatic instance recycling');
    await sim.advance(sim.world.timings.instanceShuttingDownS);
    assert.equal(sim.world.instance(mac.instanceId)?.state, 'terminated');
    await sim.advance(sim.world.timings.hostHandOffS);
    assert.equal(sim.world.host(mac.name)?.state, 'pending', 'the host scrubs');
  });

  test('the timer without a running job shuts down at its deadline', async (t) => {
    const sim = await startMacSim(t, { macs: { taskRatePerHour: 0 } });
    const mac = await launchReady(sim);
    const ssh = await connect(t, sim, mac.address);
    await setUp(sim, ssh, mac);
    await runOp(ssh, 'start-timer', ['7200', '1800', CIRRUS.job]);
    await sim.advance(7199);
    assert.equal(sim.world.instance(mac.instanceId)?.state, 'running');
    await sim.advance(1);
    assert.equal(sim.world.instance(mac.instanceId)?.state, 'shutting-down');
  });

  test('github-actions: runner lines, Runner.Listener / Runner.Worker, its agent config', async (t) => {
    const sim = await startMacSim(t, { macs: { taskRatePerHour: 2, taskDurationSeconds: 600 } });
    const mac = await launchReady(sim, 1, 'GHAMacM1Runner');
    const ssh = await connect(t, sim, mac.address);
    await setUp(sim, ssh, mac, 'github-actions');
    let v = await probe(ssh, mac.name, 'github-actions');
    assert.equal(v.get('setup.done'), 'present');
    assert.equal(v.get('listener'), 'alive');
    assert.equal(v.get('agent.config'), 'present');
    assert.equal(v.get('worker.log.registered'), 'yes');
    await sim.advance(6 * 3600);
    v = await probe(ssh, mac.name, 'github-actions');
    const state = await macState(sim, mac.name);
    assert.ok(state.tasks.finished > 0);
    assert.equal(v.get('worker.log.started'), String(state.tasks.started));
    assert.equal(v.get('worker.log.finished'), String(state.tasks.finished));
    assert.ok(state.files['/Users/MacM1-1-worker/actions-runner/.runner']);
    const reply = await runOp(ssh, 'force-stop', [
      'github-actions',
      mac.name,
      GITHUB.listener,
      'bye',
    ]);
    assert.equal(reply.values.get('listener'), 'stopped');
    v = await probe(ssh, mac.name, 'github-actions');
    assert.equal(v.get('agent.config'), 'absent');
  });
});

describe('virtual time', () => {
  test('world.schedule actions run in order with transitions, also inside one advance', async (t) => {
    const sim = await startMacSim(t);
    const seen: string[] = [];
    const at = START.getTime();
    sim.world.schedule(at + 90_000, (now) => seen.push(`b@${(now - at) / 1000}`));
    sim.world.schedule(at + 30_000, (now) => seen.push(`a@${(now - at) / 1000}`));
    const cancel = sim.world.schedule(at + 60_000, () => seen.push('cancelled'));
    cancel();
    sim.world.schedule(at + 10_000, (now) => {
      seen.push(`c@${(now - at) / 1000}`);
      sim.world.schedule(now + 5_000, (later) => seen.push(`d@${(later - at) / 1000}`));
    });
    assert.equal(sim.world.nextTransitionAt()?.getTime(), at + 10_000);
    await sim.advance(BOOT_S);
    assert.deepEqual(seen, ['c@10', 'd@15', 'a@30', 'b@90']);
  });
});
