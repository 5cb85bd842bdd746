// setup-instances end to end: the built CLI against the simulated cloud with simulated Macs,
// advancing virtual time between runs.
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { macPoolFixture } from '../helpers/cli.js';
import type { MacPoolFixture } from '../helpers/cli.js';

const HEADER = /^# SetupInstances\.sh run \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00\n#\n/;

async function setup(f: MacPoolFixture, args: string[] = [], env: Record<string, string> = {}) {
  return f.run(['setup-instances', ...args], env);
}

/** Launch, boot, run setup until every worker is `complete alive`. */
async function toCompleteAlive(f: MacPoolFixture, names: string[]): Promise<void> {
  await f.launchAll();
  await f.advance(90);
  const first = await setup(f);
  assert.equal(first.code, 0, first.stderr);
  await f.advance(900);
  const second = await setup(f);
  assert.equal(second.code, 0, second.stderr);
  for (const n of names) assert.match(await f.statusLine(n), /^MacM1-\d+ complete alive \d+ \d+$/);
}

describe('pw-pool setup-instances (e2e on simulated Macs)', () => {
  it('takes a fresh pool to complete alive: setup pushed, progress reported, then healthy', async (t) => {
    const f = await macPoolFixture(t, { hosts: 3 });
    await f.launchAll();
    const booting = await setup(f);
    assert.equal(booting.code, 4, 'not booted yet: unreachable');
    assert.match(
      await f.statusLine('MacM1-1'),
      /^MacM1-1 error error 0 0 # Could not connect to port \d+ on '127\.0\.\d+\.\d+'\.$/,
    );
    await f.advance(90);
    const push = await setup(f);
    assert.equal(push.code, 0, push.stderr);
    assert.match(push.stdout, /^Operating on 3 instances from # LaunchInstances\.sh run /m);
    assert.match(push.stdout, /^Processing all persistent worker states\.$/m);
    const text = await readFile(join(f.stateDir, 'pw_status.txt'), 'utf8');
    assert.match(text, HEADER);
    for (const n of [1, 2, 3])
      assert.match(
        text,
        new RegExp(`^MacM1-${n} started error 0 0 # Executing setup script\\.$`, 'm'),
      );
    const inst = await f.instance('MacM1-1');
    assert.equal(inst.mac?.setup?.secretBytes, f.token.length + 1);
    assert.equal(inst.mac?.files['/usr/local/libexec/pw-pool/setup.sh']?.mode, '0755');
    const launchS =
      Date.parse(((await f.control('GET', '/_sim/clock')) as { now: string }).now) / 1000;
    assert.ok(
      Math.abs((inst.mac?.timer?.deadlineEpoch ?? 0) - (launchS + 86400)) < 5,
      'the recycling timer is maxLifetime',
    );

    await f.advance(300);
    await setup(f);
    assert.match(
      await f.statusLine('MacM1-2'),
      /^MacM1-2 started error 0 0 # Setup incomplete; running for 5 minutes \(~10 typical\)\.$/,
    );
    await f.advance(600);
    const healthy = await setup(f);
    assert.equal(healthy.code, 0, healthy.stderr);
    for (const n of ['MacM1-1', 'MacM1-2', 'MacM1-3'])
      assert.equal(await f.statusLine(n), `${n} complete alive 0 0`);
    // one connection and one command per healthy instance in a steady run
    const mac = (await f.instance('MacM1-3')).mac;
    const lastOps = mac?.commands.slice(-1).map((c) => c.op);
    assert.deepEqual(lastOps, ['probe']);
    assert.ok(
      mac?.processes.some((p) => p.role === 'supervisor') &&
        mac.processes.some((p) => p.role === 'listener'),
    );
  });

  it('--force staggers the recycling timers: 22 h, 20 h, 18 h in name order', async (t) => {
    const f = await macPoolFixture(t, { hosts: 3 });
    await f.launchAll();
    await f.advance(90);
    const r = await setup(f, ['--force']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Forcing instance creation w\/ staggered existence limits\./);
    const now = Date.parse(((await f.control('GET', '/_sim/clock')) as { now: string }).now) / 1000;
    const hours = [];
    for (const n of ['MacM1-1', 'MacM1-2', 'MacM1-3']) {
      hours.push(Math.round((((await f.instance(n)).mac?.timer?.deadlineEpoch ?? 0) - now) / 3600));
    }
    assert.deepEqual(hours, [22, 20, 18]);
  });

  it('a setup that runs past the timeout is force-terminated', async (t) => {
    const f = await macPoolFixture(t, { hosts: 1 });
    await f.control('POST', '/_sim/macs', { setupSeconds: 5000, setupJitterSeconds: 0 });
    await f.launchAll();
    await f.advance(90);
    await setup(f);
    await f.advance(2401);
    const r = await setup(f);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      await f.statusLine('MacM1-1'),
      /^MacM1-1 started error 0 0 # Setup running for 240\d+s, max 2400s\. Terminating immediately!$/,
    );
    const inst = await f.instance('MacM1-1');
    assert.equal(inst.state, 'shutting-down');
    assert.equal(
      ((await f.control('GET', '/_sim/instances/MacM1-1')) as { tags: Record<string, string> }).tags
        .PWPoolReady,
      'false',
    );
    assert.ok(
      inst.mac?.walls.some((w) => /Setup running for .* Terminating immediately!/.test(w.message)),
    );
  });

  it('a missing supervisor is force-terminated', async (t) => {
    const f = await macPoolFixture(t, { hosts: 2 });
    await toCompleteAlive(f, ['MacM1-1', 'MacM1-2']);
    await f.control('POST', '/_sim/faults', { kind: 'supervisor-crash', target: 'MacM1-2' });
    await setup(f);
    assert.equal(
      await f.statusLine('MacM1-2'),
      'MacM1-2 complete error 0 0 # Pool servicing script (service_pool.sh) is not running. Terminating immediately!',
    );
    assert.equal((await f.instance('MacM1-2')).state, 'shutting-down');
    assert.equal((await f.instance('MacM1-1')).state, 'running');
  });

  it('a dead listener: first strike `dead`, second strike terminate', async (t) => {
    const f = await macPoolFixture(t, { hosts: 2 });
    await toCompleteAlive(f, ['MacM1-1', 'MacM1-2']);
    await f.control('POST', '/_sim/faults', {
      kind: 'listener-crash',
      target: 'MacM1-1',
      value: 'persistent',
    });
    await f.advance(30);
    await setup(f);
    assert.equal(
      await f.statusLine('MacM1-1'),
      'MacM1-1 complete dead 0 0 # Cirrus worker listener process NOT running, will recheck again.',
    );
    assert.equal((await f.instance('MacM1-1')).state, 'running');
    await f.advance(61);
    await setup(f);
    assert.equal(
      await f.statusLine('MacM1-1'),
      "MacM1-1 complete error 0 0 # Pool listener 'dead' state fault. Terminating immediately!",
    );
    assert.equal((await f.instance('MacM1-1')).state, 'shutting-down');
    assert.equal(await f.statusLine('MacM1-2'), 'MacM1-2 complete alive 0 0');
  });

  it('the task limit terminates over-limit workers while the min-alive guard holds', async (t) => {
    const env = { PW_POOL_MAX_FINISHED_TASKS: '1', PW_POOL_MIN_ALIVE_WORKERS: '1' };
    const f = await macPoolFixture(t, { hosts: 3, env });
    await toCompleteAlive(f, ['MacM1-1', 'MacM1-2', 'MacM1-3']);
    for (let round = 0; round < 2; round += 1) {
      for (const n of ['MacM1-1', 'MacM1-2', 'MacM1-3'])
        await f.control('POST', `/_sim/macs/${n}/task`, { durationSeconds: 60 });
      await f.advance(61);
    }
    const r = await setup(f);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      await f.statusLine('MacM1-1'),
      'MacM1-1 complete alive 2 2 # Instance exceeded 1 apparent tasks. Terminating immediately!',
    );
    assert.equal(
      await f.statusLine('MacM1-2'),
      'MacM1-2 complete alive 2 2 # Instance exceeded 1 apparent tasks. Terminating immediately!',
    );
    assert.equal(
      await f.statusLine('MacM1-3'),
      'MacM1-3 complete alive 2 2 # Not enforcing max-tasks limit, only 1 workers alive last run.',
    );
    assert.equal((await f.instance('MacM1-3')).state, 'running');
  });

  it('maintenance mode stops the worker without AWS changes; re-enabling sets it up again', async (t) => {
    const f = await macPoolFixture(t, { hosts: 1 });
    await toCompleteAlive(f, ['MacM1-1']);
    await f.control('POST', '/_sim/instances/MacM1-1', { tags: { PWPoolReady: 'false' } });
    f.sim.requestLog.clear();
    const r = await setup(f);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      await f.statusLine('MacM1-1'),
      "MacM1-1 disabled disabled 0 0 # Instance disabled via tag 'PWPoolReady' == 'false'.",
    );
    assert.deepEqual(
      f.sim.requestLog
        .list()
        .map((q) => q.action)
        .filter((a) => a !== 'DescribeInstances'),
      [],
    );
    await f.advance(60);
    const off = (await f.instance('MacM1-1')).mac;
    assert.ok(!off?.processes.some((p) => p.role === 'listener'), 'the listener stopped');
    assert.equal(off?.files['/Users/ec2-user/.setup.done'], undefined);
    assert.equal((await f.instance('MacM1-1')).state, 'running');

    await f.control('POST', '/_sim/instances/MacM1-1', { tags: { PWPoolReady: 'true' } });
    await setup(f);
    assert.equal(
      await f.statusLine('MacM1-1'),
      'MacM1-1 started error 0 0 # Executing setup script.',
    );
    await f.advance(900);
    await setup(f);
    assert.equal(await f.statusLine('MacM1-1'), 'MacM1-1 complete alive 0 0');
    const timers =
      (await f.instance('MacM1-1')).mac?.processes.filter((p) => p.role === 'timer') ?? [];
    assert.equal(timers.length, 1, 'still one recycling timer');
  });

  it('soft warning on a worker past maxLifetime; hard backstop for an unreachable one; a hung one is left alone', async (t) => {
    const env = {
      PW_POOL_MAX_LIFETIME_SECONDS: '7200',
      PW_POOL_LAUNCH_STAGGER_SECONDS: '600',
      PW_POOL_AGENT_DRAIN_SECONDS: '3600',
      PW_POOL_SSH_COMMAND_TIMEOUT_SECONDS: '2',
      PW_POOL_SSH_CONNECT_TIMEOUT_SECONDS: '2',
    };
    const f = await macPoolFixture(t, { hosts: 3, env });
    await f.control('POST', '/_sim/faults', { kind: 'unreachable', target: 'MacM1-2' });
    await f.launchAll();
    await f.advance(90);
    await setup(f);
    await f.advance(900);
    await setup(f);
    assert.equal(await f.statusLine('MacM1-1'), 'MacM1-1 complete alive 0 0');
    assert.match(
      await f.statusLine('MacM1-2'),
      /^MacM1-2 error error 0 0 # Could not ssh to 'ec2-user@127\.0\.\d+\.\d+'\.$/,
    );
    // Tasks running at the recycling deadline keep MacM1-1 and MacM1-3 alive past it (the
    // shutdown waits for the job), so they outlive maxLifetime.
    await f.advance(7200 - 990);
    for (const n of ['MacM1-1', 'MacM1-3'])
      await f.control('POST', `/_sim/macs/${n}/task`, { durationSeconds: 3000 });
    await f.control('POST', '/_sim/faults', { kind: 'hang', target: 'MacM1-3', count: 100 });
    await f.advance(150);
    const soft = await setup(f);
    assert.equal(soft.code, 4, 'unreachable and hung instances make exit 4');
    assert.equal(
      await f.statusLine('MacM1-1'),
      'MacM1-1 complete alive 1 0 # Instance alive longer than soft max. Investigation recommended.',
    );
    assert.match(
      await f.statusLine('MacM1-3'),
      /^MacM1-3 error error 0 0 # Lost contact with '127\.0\.\d+\.\d+' while probing\.$/,
    );
    assert.equal(
      (await f.instance('MacM1-2')).state,
      'running',
      'unreachable is never a reason on its own',
    );
    assert.equal((await f.instance('MacM1-3')).state, 'running');
    // Past the hard limit (2 × 7200 s after launch) the backstop acts without SSH.
    await f.advance(7300);
    await setup(f);
    assert.match(
      await f.statusLine('MacM1-2'),
      /^MacM1-2 error error 0 0 # Excess instance lifetime; \d+m past hard max limit\. Terminating immediately!$/,
    );
    assert.equal((await f.instance('MacM1-2')).state, 'shutting-down');
  });

  it('a changed host key is reported and the instance skipped, never terminated', async (t) => {
    const f = await macPoolFixture(t, { hosts: 2 });
    await toCompleteAlive(f, ['MacM1-1', 'MacM1-2']);
    await f.control('POST', '/_sim/faults', { kind: 'host-key-change', target: 'MacM1-1' });
    const r = await setup(f);
    assert.equal(r.code, 4);
    assert.match(
      await f.statusLine('MacM1-1'),
      /^MacM1-1 error error 0 0 # Could not ssh to 'ec2-user@127\.0\.\d+\.\d+'\.$/,
    );
    assert.match(r.stderr, /host key for i-[0-9a-f]{17} changed/);
    assert.equal((await f.instance('MacM1-1')).state, 'running');
    assert.equal(await f.statusLine('MacM1-2'), 'MacM1-2 complete alive 0 0');
  });

  it('token hygiene: the pool token appears nowhere but the channel stdin', async (t) => {
    const f = await macPoolFixture(t, { hosts: 2 });
    await f.launchAll();
    await f.advance(90);
    // Sample every process's command line and environment while setup-instances runs.
    const seen = new Set<string>();
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        for (const pid of await readdir('/proc').catch(() => [] as string[])) {
          if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
          const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replace(
            /\0/g,
            ' ',
          );
          if (cmdline.includes(f.token)) seen.add(`${pid} cmdline: ${cmdline.slice(0, 200)}`);
          // The operator gives pw-pool itself the token in POOLTOKEN; no other process may have it.
          if (cmdline.includes('bin/pw-pool')) continue;
          const environ = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '');
          if (environ.includes(f.token)) seen.add(`${pid} environ of: ${cmdline.slice(0, 200)}`);
        }
        await delay(20);
      }
    })();
    let r;
    try {
      r = await setup(f);
    } finally {
      sampling = false;
      await sampler;
    }
    assert.equal(r.code, 0, r.stderr);
    const { environ } = {
      environ: [...seen].filter((s2) => !s2.includes(' environ: ') || !s2.includes('POOLTOKEN=')),
    };
    assert.deepEqual(environ, [], 'no process command line carries the token');
    assert.ok(!r.stdout.includes(f.token) && !r.stderr.includes(f.token), 'not in stdout/stderr');
    for (const file of await readdir(f.stateDir)) {
      const text = await readFile(join(f.stateDir, file), 'utf8').catch(() => '');
      assert.ok(!text.includes(f.token), `not in ${file}`);
    }
    const state = JSON.stringify(await f.control('GET', '/_sim/state'));
    assert.ok(
      !state.includes(f.token),
      'not in any command string, environment or file the simulated Macs recorded',
    );
    const mac = (await f.instance('MacM1-1')).mac;
    const setupCmd = mac?.commands.find((c) => c.op === 'start-setup');
    assert.ok(setupCmd, 'start-setup was sent');
    assert.equal(setupCmd.stdinBytes, f.token.length + 1, 'the token travelled on stdin');
    assert.match(setupCmd.command, /^\/bin\/bash -c /);
    for (const c of mac?.commands ?? [])
      assert.match(c.command, /^\/bin\/bash (-s|-c) /, 'every command runs under /bin/bash');
  });
});
