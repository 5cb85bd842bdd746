// The simulated Macs' SSH endpoint, driven by a real ssh2 client: when it listens, its host key,
// who may log in, the command forms it recognises, SFTP uploads, and clean shutdown.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import ssh2 from 'ssh2';
import {
  ereToRegExp,
  generateEd25519KeyPair,
  parseBashCommand,
  scriptOperation,
  shellQuote,
  splitShellWords,
  startSimCloud,
} from '../../src/sim/index.js';
import { START } from './helpers.js';
import {
  BOOT_S,
  connect,
  exec,
  installedFile,
  installScripts,
  launch,
  launchReady,
  macState,
  opScript,
  runOp,
  startMacSim,
  uploadScripts,
} from './mac-helpers.js';

/** Whether something accepts TCP connections at address:port. */
function tcpOpen(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ host: address, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('simulated Mac SSH endpoint', () => {
  test('nothing listens before sshReadyAt; the Mac listens from then until it stops', async (t) => {
    const sim = await startMacSim(t);
    assert.ok(sim.sshPort > 0);
    const mac = launch(sim);
    assert.equal(await tcpOpen(mac.address, sim.sshPort), false, 'pending');
    await sim.advance(60);
    assert.equal(sim.world.instance(mac.instanceId)?.state, 'running');
    assert.equal(await tcpOpen(mac.address, sim.sshPort), false, 'booting');
    await sim.advance(BOOT_S - 1);
    assert.equal(await tcpOpen(mac.address, sim.sshPort), false, 'one second before');
    await sim.advance(1);
    assert.equal(await tcpOpen(mac.address, sim.sshPort), true, 'at sshReadyAt');
    const state = await macState(sim, mac.name);
    assert.equal(state.reachable, true);
    assert.equal(state.sshPort, sim.sshPort);
    assert.equal(state.address, mac.address);

    sim.world.terminateInstances([mac.instanceId]);
    await sim.macs?.settled();
    assert.equal(await tcpOpen(mac.address, sim.sshPort), false, 'shutting-down');
    assert.equal((await macState(sim, mac.instanceId)).power, 'off');
  });

  test('each Mac has its own address and host key, stable over connections', async (t) => {
    const sim = await startMacSim(t);
    const a = launch(sim, 1);
    const b = launch(sim, 2);
    await sim.advance(60 + BOOT_S);
    const a1 = await connect(t, sim, a.address);
    const a2 = await connect(t, sim, a.address);
    const b1 = await connect(t, sim, b.address);
    assert.notEqual(a.address, b.address);
    assert.deepEqual(a1.hostKey, a2.hostKey);
    assert.notDeepEqual(a1.hostKey, b1.hostKey);
    const state = await macState(sim, a.name);
    assert.equal(state.ssh.hostKey.split(' ')[1], a1.hostKey.toString('base64'));
  });

  test('public-key auth as ec2-user only', async (t) => {
    const sim = await startMacSim(t);
    const mac = await launchReady(sim);
    await connect(t, sim, mac.address); // any key whose signature verifies
    const other = generateEd25519KeyPair();
    const client = new ssh2.Client();
    t.after(() => client.end());
    client.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      client.once('ready', () => resolve());
      client.once('error', reject);
      client.connect({
        host: mac.address,
        port: sim.sshPort,
        username: 'ec2-user',
        privateKey: other.private,
      });
    });
    await assert.rejects(connect(t, sim, mac.address, { username: 'root' }), /authentication/i);
    await assert.rejects(connect(t, sim, mac.address, { password: 'hunter2' }), /authentication/i);
  });

  test('an unknown command exits 127 with a message on stderr, and is recorded', async (t) => {
    const sim = await startMacSim(t);
    const mac = await launchReady(sim);
    const ssh = await connect(t, sim, mac.address);
    const plain = await exec(ssh, 'uname -a');
    assert.equal(plain.code, 127);
    assert.equal(plain.stdout, '');
    assert.match(plain.stderr, /uname: command not found/);
    const noMarker = await exec(ssh, "/bin/bash -s -- 'x'", 'echo hello\n');
    assert.equal(noMarker.code, 127);
    assert.match(noMarker.stderr, /pw-pool-op/);
    const unknownOp = await exec(ssh, '/bin/bash -s', '# pw-pool-op: reboot\n');
    assert.equal(unknownOp.code, 127);
    const commands = (await macState(sim, mac.name)).commands;
    assert.deepEqual(
      commands.map((c) => [c.form, c.op, c.exitCode]),
      [
        ['other', null, 127],
        ['stdin', null, 127],
        ['stdin', 'reboot', 127],
      ],
    );
  });

  test('SFTP uploads keep their modes; install puts the set into the libexec directory', async (t) => {
    const sim = await startMacSim(t);
    const mac = await launchReady(sim);
    const ssh = await connect(t, sim, mac.address);
    await uploadScripts(ssh);
    let files = (await macState(sim, mac.name)).files;
    assert.deepEqual(files['/Users/ec2-user/.pw-pool'], {
      ...files['/Users/ec2-user/.pw-pool'],
      type: 'dir',
      mode: '0700',
      owner: 'ec2-user',
    });
    assert.equal(files['/Users/ec2-user/.pw-pool/stage']?.mode, '0700');
    const staged = files['/Users/ec2-user/.pw-pool/stage/setup.sh'];
    assert.equal(staged?.mode, '0700');
    assert.equal(staged?.size, installedFile('setup.sh').length);

    const reply = await runOp(ssh, 'install', []);
    assert.equal(reply.code, 0);
    assert.deepEqual(reply.keys, ['install']);
    assert.ok(reply.sentinel);
    files = (await macState(sim, mac.name)).files;
    assert.equal(files['/usr/local/libexec/pw-pool']?.mode, '0755');
    for (const f of ['paths.sh', 'lib.sh', 'setup.sh', 'shutdown.sh', 'cleanup_hook.sh']) {
      const installed = files[`/usr/local/libexec/pw-pool/${f}`];
      assert.equal(installed?.mode, '0755', f);
      assert.equal(installed?.owner, 'root', f);
    }
    assert.equal(files['/Users/ec2-user/ci_env.sh']?.mode, '0755');

    // The SFTP requests are recorded, and files can be read back and listed.
    const state = await macState(sim, mac.name);
    assert.ok(
      (state as unknown as { sftp: { request: string; path: string }[] }).sftp.some(
        (r) => r.request === 'MKDIR' && r.path === '/Users/ec2-user/.pw-pool',
      ),
    );
    const sftp = await new Promise<ssh2.SFTPWrapper>((resolve, reject) =>
      ssh.client.sftp((err, s) => (err ? reject(err) : resolve(s))),
    );
    const names = await new Promise<string[]>((resolve, reject) =>
      sftp.readdir('.pw-pool/stage', (err, list) =>
        err ? reject(err) : resolve(list.map((e) => e.filename)),
      ),
    );
    assert.ok(names.includes('setup.sh'));
    const real = await new Promise<string>((resolve, reject) =>
      sftp.realpath('.', (err, p) => (err ? reject(err) : resolve(p))),
    );
    assert.equal(real, '/Users/ec2-user');
    await assert.rejects(
      new Promise<void>((resolve, reject) =>
        sftp.writeFile('/usr/local/libexec/pw-pool/setup.sh', 'x', (err) =>
          err ? reject(err) : resolve(),
        ),
      ),
      /denied/i,
    );
    sftp.end();
  });

  test('install refuses without the private directory or a staged file', async (t) => {
    const sim = await startMacSim(t);
    const mac = await launchReady(sim);
    const ssh = await connect(t, sim, mac.address);
    const bare = await runOp(ssh, 'install', []);
    assert.equal(bare.code, 3);
    assert.equal(
      bare.values.get('error'),
      '/Users/ec2-user/.pw-pool must be a directory owned by ec2-user with mode 0700',
    );
    assert.ok(bare.sentinel);
    await uploadScripts(ssh);
    const sftp = await new Promise<ssh2.SFTPWrapper>((resolve, reject) =>
      ssh.client.sftp((err, s) => (err ? reject(err) : resolve(s))),
    );
    await new Promise<void>((resolve, reject) =>
      sftp.unlink('.pw-pool/stage/shutdown.sh', (err) => (err ? reject(err) : resolve())),
    );
    sftp.end();
    const missing = await runOp(ssh, 'install', []);
    assert.equal(missing.code, 3);
    assert.equal(missing.values.get('error'), 'staged file shutdown.sh is missing');
    assert.equal(
      (await runOp(ssh, 'install', ['x'])).values.get('error'),
      'usage: install (no arguments)',
    );
  });

  test('close() stops every listener and drops open connections', async (t) => {
    const sim = await startSimCloud({
      speed: 0,
      startTime: START,
      hosts: 1,
      timings: { bootMinS: BOOT_S, bootMaxS: BOOT_S },
    });
    let closed = false;
    t.after(async () => {
      if (!closed) await sim.close();
    });
    const mac = await launchReady(sim);
    const ssh = await connect(t, sim, mac.address);
    await installScripts(ssh);
    const gone = new Promise<void>((resolve) => ssh.client.once('close', () => resolve()));
    await sim.close();
    closed = true;
    await gone;
    assert.equal(await tcpOpen(mac.address, sim.sshPort), false);
    await sim.close(); // idempotent
  });

  test('macs: false starts no SSH at all', async (t) => {
    const sim = await startSimCloud({ speed: 0, startTime: START, hosts: 1, macs: false });
    t.after(() => sim.close());
    assert.equal(sim.sshPort, 0);
    assert.equal(sim.macs, undefined);
    const res = await fetch(`${sim.endpoint}/_sim/macs`);
    assert.equal(res.status, 404);
  });
});

describe('command recognition', () => {
  test('single-quoted words with escapes, and the two command forms', () => {
    assert.deepEqual(splitShellWords(`/bin/bash -s -- 'a b' 'it'\\''s' ''`), [
      '/bin/bash',
      '-s',
      '--',
      'a b',
      "it's",
      '',
    ]);
    const script = "# pw-pool-op: start-setup\necho 'quoted'\n";
    const command = `/bin/bash -c ${shellQuote(script)} pw-pool 'cirrus' 'MacM1-1'`;
    assert.deepEqual(parseBashCommand(command), {
      form: 'secret',
      script,
      arg0: 'pw-pool',
      args: ['cirrus', 'MacM1-1'],
    });
    assert.equal(scriptOperation(script), 'start-setup');
    assert.equal(scriptOperation(opScript('probe')), 'probe');
    assert.equal(parseBashCommand('ls -l'), undefined);
    assert.equal(parseBashCommand("/bin/bash -s 'unterminated"), undefined);
  });

  test('POSIX bracket classes translate to JavaScript', () => {
    const re = ereToRegExp('^worker successfully registered on upstream [^[:space:]]+$');
    assert.ok(re.test('worker successfully registered on upstream grpc.cirrus-ci.com:443'));
    assert.ok(!re.test('worker successfully registered on upstream a b'));
    assert.ok(ereToRegExp('[[:digit:]]{3}').test('x123'));
    assert.ok(ereToRegExp('[]x]').test(']'));
    assert.throws(() => ereToRegExp('[[:nope:]]'), /unknown class/);
  });
});
