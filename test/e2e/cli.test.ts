// The CLI's contract at the process boundary: exit codes, usage and config errors, the lock,
// `sim serve` with its export lines, and the demo that `npm start` runs.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { parseDhStatus } from '../../src/pw-lib/core/dh-status.js';
import { BIN, baseEnv, poolFixture, runCli } from '../helpers/cli.js';
import { generateEd25519KeyPair } from '../../src/sim/index.js';

describe('pw-pool CLI', () => {
  it('unknown commands and flags are usage errors (exit 2); --force must match exactly', async (t) => {
    const f = await poolFixture(t, { hosts: 1 });
    for (const args of [
      ['launch-instances', '--forced'],
      ['launch-instances', '--no-force'],
      ['no-such-command'],
    ]) {
      const r = await f.run(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    }
    assert.equal(f.sim.requestLog.list().length, 0, 'nothing reached EC2');
  });

  it('an invalid config prints every problem at once and exits 3', async (t) => {
    const f = await poolFixture(t, { hosts: 1 });
    const r = await f.run(['launch-instances'], {
      PW_POOL_LAUNCH_STAGGER_SECONDS: 'abc',
      PW_POOL_NAME_PREFIX: 'Mac M1',
      PW_POOL_NO_SUCH_KNOB: '1',
    });
    assert.equal(r.code, 3);
    assert.match(r.stderr, /PW_POOL_LAUNCH_STAGGER_SECONDS/);
    assert.match(r.stderr, /namePrefix/);
    assert.match(r.stderr, /PW_POOL_NO_SUCH_KNOB/);
    assert.equal(f.sim.requestLog.list().length, 0);
  });

  it('--now: accepted with --dry-run anywhere, refused for a mutating run against a non-loopback endpoint', async (t) => {
    const home = await mkdtemp(join(tmpdir(), 'pw-pool-now-'));
    t.after(() => rm(home, { recursive: true, force: true }));
    const env = baseEnv(home, {
      AWS_ENDPOINT_URL: 'https://ec2.us-east-1.amazonaws.com',
      AWS_ACCESS_KEY_ID: 'x',
      AWS_SECRET_ACCESS_KEY: 'y',
    });
    const r = await runCli(
      ['--state-dir', join(home, 's'), '--now', '2024-08-06T14:00:00Z', 'launch-instances'],
      env,
    );
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--now is accepted with --dry-run/);
    const bad = await runCli(['--now', 'yesterday', 'launch-instances', '--dry-run'], env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--now: 'yesterday' is not an ISO-8601 time/);
  });

  it('--now fixes the decision instant against the simulated cloud', async (t) => {
    const f = await poolFixture(t, { hosts: 2 });
    const r = await f.run(['--now', '2030-01-01T00:00:00Z', 'launch-instances', '--force']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Operating on 2 dedicated hosts at 2030-01-01T00:00:00\+00:00$/m);
    assert.match(
      await readFile(join(f.stateDir, 'dh_status.txt'), 'utf8'),
      /^# LaunchInstances\.sh run 2030-01-01T00:00:00\+00:00$/m,
    );
  });

  it('clock "sim" without a reachable simulated cloud is a clear precondition error (exit 3)', async (t) => {
    const home = await mkdtemp(join(tmpdir(), 'pw-pool-clock-'));
    t.after(() => rm(home, { recursive: true, force: true }));
    const env = baseEnv(home, {
      AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
      AWS_ACCESS_KEY_ID: 'x',
      AWS_SECRET_ACCESS_KEY: 'y',
      PW_POOL_CLOCK: 'sim',
    });
    const r = await runCli(['--state-dir', join(home, 's'), 'launch-instances'], env);
    assert.equal(r.code, 3, r.stderr);
    assert.match(
      r.stderr,
      /Cannot read the simulated clock at http:\/\/127\.0\.0\.1:9\/_sim\/clock/,
    );
  });

  it('sim serve on a port in use is a usage error', async (t) => {
    const f = await poolFixture(t, { hosts: 1 });
    const r = await runCli(['sim', 'serve', '--port', String(f.sim.port)], f.env);
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(`port ${f.sim.port} on 127\\.0\\.0\\.1 is in use`));
  });

  it('a held pool lock makes a mutating run exit 5 with the contract message', async (t) => {
    const f = await poolFixture(t, { hosts: 1 });
    const { mkdir } = await import('node:fs/promises');
    await mkdir(f.stateDir, { recursive: true });
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    t.after(() => holder.kill());
    const { processStartTime } = await import('../../src/pw-lib/adapters/lock.js');
    const { hostname } = await import('node:os');
    await writeFile(
      join(f.stateDir, 'pw-pool.lock'),
      JSON.stringify({
        pid: holder.pid,
        startTime: processStartTime(holder.pid ?? 0),
        host: hostname(),
      }),
    );
    const r = await f.run(['launch-instances'], { PW_POOL_CRON_LOCK_WAIT_SECONDS: '1' });
    assert.equal(r.code, 5);
    assert.ok(
      r.stderr.includes(
        `Could not acquire lock ${join(f.stateDir, 'pw-pool.lock')} within 1s (held by pid ${holder.pid}).`,
      ),
      r.stderr,
    );
    assert.equal(f.sim.requestLog.list().length, 0);
    const dry = await f.run(['launch-instances', '--dry-run'], {
      PW_POOL_CRON_LOCK_WAIT_SECONDS: '1',
    });
    assert.equal(dry.code, 0, 'a dry run takes no lock');
  });

  it('sim serve prints the export lines; launch-instances and setup-instances work with them and an ssh-agent', async (t) => {
    const home = await mkdtemp(join(tmpdir(), 'pw-pool-serve-'));
    const server = spawn(
      process.execPath,
      [BIN, 'sim', 'serve', '--port', '0', '--hosts', '3', '--speed', '600'],
      {
        env: baseEnv(home),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    t.after(async () => {
      server.kill('SIGKILL');
      await rm(home, { recursive: true, force: true });
    });
    const lines = createInterface({ input: server.stdout });
    const exports: Record<string, string> = {};
    let endpointLine = '';
    for await (const line of lines) {
      if (line.startsWith('EC2 endpoint: ')) endpointLine = line;
      const m = /^export ([A-Z_]+)=(.*)$/.exec(line);
      if (m?.[1] && m[2] !== undefined) exports[m[1]] = m[2];
      if (exports.PW_POOL_SSH_PORT !== undefined) break;
    }
    assert.match(endpointLine, /^EC2 endpoint: http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(exports.AWS_ENDPOINT_URL, endpointLine.slice('EC2 endpoint: '.length));
    assert.equal(exports.PW_POOL_CLOCK, 'sim');
    assert.ok(exports.AWS_ACCESS_KEY_ID && exports.AWS_SECRET_ACCESS_KEY && exports.AWS_REGION);

    const stateDir = join(home, 'state');
    const r = await runCli(
      ['--state-dir', stateDir, 'launch-instances', '--force'],
      baseEnv(home, exports),
    );
    assert.equal(r.code, 0, r.stderr);
    const dh = parseDhStatus(await readFile(join(stateDir, 'dh_status.txt'), 'utf8'));
    assert.deepEqual(
      dh.entries.map((e) => e.name),
      ['MacM1-1', 'MacM1-2', 'MacM1-3'],
    );
    const state = (await (await fetch(`${exports.AWS_ENDPOINT_URL}/_sim/state`)).json()) as {
      instances: { instanceId: string; state: string }[];
    };
    for (const e of dh.entries) {
      assert.equal(state.instances.find((i) => i.instanceId === e.instanceId)?.state, 'running');
    }
    // The operator's own ssh-agent, holding a key the simulated Macs have never seen.
    const agentSock = join(home, 'agent.sock');
    const agent = spawn('ssh-agent', ['-D', '-a', agentSock], { stdio: 'ignore' });
    t.after(() => agent.kill());
    const keyFile = join(home, 'id_ed25519');
    await writeFile(keyFile, generateEd25519KeyPair().private, { mode: 0o600 });
    for (let i = 0; i < 100 && !existsSync(agentSock); i += 1) await delay(50);
    assert.equal(
      spawnSync('ssh-add', [keyFile], { env: { ...process.env, SSH_AUTH_SOCK: agentSock } }).status,
      0,
    );
    const env = baseEnv(home, {
      ...exports,
      SSH_AUTH_SOCK: agentSock,
      POOLTOKEN: 'any-token-works-here',
    });
    let status = '';
    const alive = (text: string) =>
      text.split('\n').filter((l) => / complete alive /.test(l)).length;
    for (let i = 0; i < 30 && alive(status) < 3; i += 1) {
      const run = await runCli(['--state-dir', stateDir, 'setup-instances'], env);
      assert.ok(run.code === 0 || run.code === 4, run.stderr);
      status = await readFile(join(stateDir, 'pw_status.txt'), 'utf8');
      await delay(1000);
    }
    for (const n of [1, 2, 3])
      assert.match(status, new RegExp(`^MacM1-${n} complete alive \\d+ \\d+`, 'm'));
    assert.match(
      await readFile(join(stateDir, 'known_hosts'), 'utf8'),
      /^i-[0-9a-f]{17} ssh-ed25519 /m,
    );
    const exited = new Promise<number | null>((resolve) =>
      server.on('exit', (code) => resolve(code)),
    );
    server.kill('SIGTERM');
    assert.equal(await exited, 0);
  });

  it('the demo (npm start) takes its own simulated pool from empty hosts to complete alive workers', async (t) => {
    const home = await mkdtemp(join(tmpdir(), 'pw-pool-demo-'));
    t.after(() => rm(home, { recursive: true, force: true }));
    // A hostile environment: the demo must ignore it and use its own loopback endpoint and key.
    const env = baseEnv(home, {
      AWS_ENDPOINT_URL: 'https://ec2.us-east-1.amazonaws.com',
      AWS_PROFILE: 'prod',
      SSH_AUTH_SOCK: join(home, 'no-such-agent'),
      POOLTOKEN: 'must-not-be-used',
    });
    const r = await runCli(['demo', '--hosts', '3', '--until-alive', '--keep-state'], env, 180_000);
    assert.equal(r.code, 0, r.stderr);
    const kept = /^state directory kept: (.+)$/m.exec(r.stdout)?.[1] ?? assert.fail(r.stdout);
    t.after(() => rm(kept, { recursive: true, force: true }));
    assert.match(r.stdout, /EC2 endpoint http:\/\/127\.0\.0\.1:\d+/);
    assert.match(r.stdout, /^status page: http:\/\/127\.0\.0\.1:\d+\/ /m);
    assert.match(
      r.stdout,
      /^\$ pw-pool cron$/m,
      'after the first fill, every tick is pw-pool cron',
    );
    // The cron loop's products: the page, the metrics, the CSV and the audit trail.
    const html = await readFile(join(kept, 'html', 'index.html'), 'utf8');
    for (const n of [1, 2, 3]) assert.match(html, new RegExp(`MacM1-${n}`));
    assert.match(
      await readFile(join(kept, 'pw-pool.prom'), 'utf8'),
      /^pwpool_workers\{state="alive"\} 3$/m,
    );
    assert.match(await readFile(join(kept, 'utilization.csv'), 'utf8'), /,3,\d+,\d+\n$/);
    assert.equal((await readFile(join(kept, 'audit.jsonl'), 'utf8')).trim().split('\n').length, 3);
    assert.match(r.stdout, /^\$ pw-pool launch-instances --force$/m);
    assert.match(r.stdout, /^\$ pw-pool setup-instances --force$/m);
    assert.match(
      r.stdout,
      /^MacM1-\d +available +i-[0-9a-f]{17} +running .* started +error +0\/0 +Executing setup script\.$/m,
    );
    assert.match(r.stdout, /^every worker is complete alive in pw_status\.txt$/m);
    for (const n of [1, 2, 3]) {
      assert.match(
        r.stdout,
        new RegExp(`^MacM1-${n} +available +i-[0-9a-f]{17} +running .* complete +alive `, 'm'),
      );
    }
    assert.doesNotMatch(r.stderr + r.stdout, /must-not-be-used|NodeVersionSupportWarning/);
  });

  it('demo --agent github-actions: the pool registers as GitHub runners through the fake GitHub', async (t) => {
    const home = await mkdtemp(join(tmpdir(), 'pw-pool-demo-'));
    t.after(() => rm(home, { recursive: true, force: true }));
    // An operator's real GitHub settings in the environment must not reach the demo.
    const env = baseEnv(home, {
      GITHUB_TOKEN: 'must-not-be-used',
      PW_POOL_GITHUB_API_URL: 'https://api.github.com',
      PW_POOL_GITHUB_ORG: 'must-not-be-used',
    });
    const r = await runCli(
      ['demo', '--agent', 'github-actions', '--hosts', '2', '--until-alive', '--keep-state'],
      env,
      180_000,
    );
    assert.equal(r.code, 0, r.stderr);
    const kept = /^state directory kept: (.+)$/m.exec(r.stdout)?.[1] ?? assert.fail(r.stdout);
    t.after(() => rm(kept, { recursive: true, force: true }));
    assert.match(
      r.stdout,
      /^agent github-actions: fake GitHub API http:\/\/127\.0\.0\.1:\d+, org pw-pool-demo; /m,
    );
    assert.match(r.stdout, /^every worker is complete alive in pw_status\.txt$/m);
    const config = JSON.parse(await readFile(join(kept, 'demo-config.json'), 'utf8')) as {
      agent: { kind: string };
      github: { apiUrl: string; appPrivateKeyFile: string };
    };
    assert.equal(config.agent.kind, 'github-actions');
    assert.match(config.github.apiUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal((await stat(config.github.appPrivateKeyFile)).mode & 0o777, 0o600);
    // No secret in anything the demo printed or kept, but the key file itself.
    const pem = await readFile(config.github.appPrivateKeyFile, 'utf8');
    const keyLine = pem.split('\n')[1] ?? assert.fail('no key body');
    assert.ok(!(r.stdout + r.stderr).includes(keyLine));
    assert.doesNotMatch(r.stdout + r.stderr, /ghs_[A-Za-z0-9]{36}|must-not-be-used|octokit/);
  });
});
