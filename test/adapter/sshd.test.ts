// The SSH adapter against Debian's real OpenSSH server: ssh-agent authentication, a command with
// stdin under /bin/bash, and SFTP uploads with modes. `.ci/run` installs openssh-server, so under CI
// (CI=true) this test must run; elsewhere it skips with a printed reason when sshd is missing.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { KnownHosts, SshConnection } from '../../src/pw-lib/adapters/ssh.js';
import { resolveSshAuth } from '../../src/pw-lib/adapters/ssh-auth.js';
import { memoryLogger } from '../helpers/fakes.js';

const SSHD = '/usr/sbin/sshd';
const missing = ['ssh-keygen', 'ssh-agent', 'ssh-add'].filter(
  (t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0,
);
const reason = !existsSync(SSHD)
  ? `${SSHD} is not installed`
  : missing.length
    ? `missing ${missing.join(', ')}`
    : undefined;
const underCi = process.env.CI === 'true';
if (reason !== undefined) {
  if (underCi)
    throw new Error(`CI must run the real-sshd test, but ${reason} (.ci/apt-packages installs it)`);
  console.log(`# skipping the real-sshd test: ${reason}`);
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

async function waitForPort(port: number, ms: number): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(true)); // in use: sshd listens
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(false)));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`sshd did not listen on ${port}`);
    await delay(50);
  }
}

describe('real OpenSSH server', { skip: reason }, () => {
  let dir: string;
  let sshd: ChildProcess | undefined;
  let agent: ChildProcess | undefined;
  let port: number;
  let sftpRoot: string;
  const agentSock = () => join(dir, 'agent.sock');
  let sshdLog = '';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pw-pool-sshd-'));
    sftpRoot = join(dir, 'sftp-home');
    await mkdir(sftpRoot, { mode: 0o755 });
    for (const k of ['host', 'user']) {
      const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, k)]);
      assert.equal(r.status, 0, r.stderr.toString());
    }
    await writeFile(join(dir, 'authorized_keys'), await readFile(join(dir, 'user.pub')), {
      mode: 0o600,
    });
    port = await freePort();
    await writeFile(
      join(dir, 'sshd_config'),
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${join(dir, 'host')}`,
        `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
        'PubkeyAuthentication yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PermitRootLogin prohibit-password',
        'StrictModes no',
        'UsePAM no',
        `PidFile ${join(dir, 'sshd.pid')}`,
        `Subsystem sftp internal-sftp -d ${sftpRoot}`,
        '',
      ].join('\n'),
    );
    if (process.getuid?.() === 0) await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
    sshd = spawn(SSHD, ['-D', '-e', '-f', join(dir, 'sshd_config')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    sshd.stderr?.on('data', (d: Buffer) => (sshdLog += d.toString()));
    agent = spawn('ssh-agent', ['-D', '-a', agentSock()], { stdio: 'ignore' });
    await waitForPort(port, 10_000);
    for (let i = 0; i < 100 && !existsSync(agentSock()); i += 1) await delay(50);
    const add = spawnSync('ssh-add', [join(dir, 'user')], {
      env: { ...process.env, SSH_AUTH_SOCK: agentSock() },
    });
    assert.equal(add.status, 0, add.stderr.toString());
  });

  after(async () => {
    sshd?.kill();
    agent?.kill();
    await rm(dir, { recursive: true, force: true });
  });

  it('authenticates through the ssh-agent, runs /bin/bash with stdin, uploads with modes', async () => {
    const log = memoryLogger().log;
    const auth = await resolveSshAuth(
      { identityFile: undefined, agentEnvFile: join(dir, 'none') },
      { SSH_AUTH_SOCK: agentSock() },
      0,
    );
    assert.equal(auth.agentSocket, agentSock());
    assert.equal(auth.privateKey, undefined);
    const knownHosts = await KnownHosts.load(join(dir, 'known_hosts'), 'accept-new', log);
    const conn = await SshConnection.open('127.0.0.1', 'i-0123456789abcdef0', {
      user: userInfo().username,
      port,
      connectTimeoutMs: 13_000,
      commandTimeoutMs: 10_000,
      auth,
      knownHosts,
      log,
    }).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}\nsshd log:\n${sshdLog}`);
    });
    try {
      const r = await conn.exec(
        `/bin/bash -s -- 'it'\\''s'`,
        'printf "%s|%s\\n" "$1" "$BASH_VERSION"\n',
      );
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^it's\|\d+\.\d+/);
      await conn.upload(
        [
          { path: '.pw-pool', mode: 0o700 },
          { path: '.pw-pool/stage', mode: 0o700 },
        ],
        [{ path: '.pw-pool/stage/probe.sh', data: Buffer.from('echo probe\n'), mode: 0o700 }],
      );
    } finally {
      conn.close();
    }
    await knownHosts.save();
    assert.match(
      await readFile(join(dir, 'known_hosts'), 'utf8'),
      /^i-0123456789abcdef0 ssh-ed25519 /m,
    );
    const uploaded = join(sftpRoot, '.pw-pool', 'stage', 'probe.sh');
    assert.equal(await readFile(uploaded, 'utf8'), 'echo probe\n');
    assert.equal((await stat(uploaded)).mode & 0o777, 0o700);
    assert.equal((await stat(join(sftpRoot, '.pw-pool'))).mode & 0o777, 0o700);
  });

  it('an agent without keys does not count as access (§4.1)', async () => {
    spawnSync('ssh-add', ['-D'], { env: { ...process.env, SSH_AUTH_SOCK: agentSock() } });
    await assert.rejects(
      resolveSshAuth(
        { identityFile: undefined, agentEnvFile: join(dir, 'none') },
        { SSH_AUTH_SOCK: agentSock() },
        1000,
      ),
      /Cannot access an ssh-agent\. Please run 'ssh-agent -s > \/run\/user\/1000\/ssh-agent\.env' and 'ssh-add \/path\/to\/required\/key'\./,
    );
  });
});
