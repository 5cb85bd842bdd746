// Upload over SFTP + install (modes, refusals) and the recycling timer (one timer, always).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startSandboxMac, type SandboxMac } from '../sandbox/sandbox-mac.js';
import {
  CIRRUS,
  INSTALLED_SET,
  connect,
  probe,
  processesMatching,
  uploadScripts,
  type MacSession,
} from './helpers.js';

describe('upload and install', () => {
  let mac: SandboxMac;
  let session: MacSession;
  before(async () => {
    mac = await startSandboxMac({ name: 'MacM1-2' });
    session = await connect(mac);
  });
  after(async () => {
    session?.close();
    await mac?.close();
  });

  it('start-timer and start-setup refuse while the scripts are not installed', async () => {
    await mac.shell('mkdir -m 700 "$HOME/.pw-pool"');
    const timer = await session.op('start-timer', ['60', '60', CIRRUS.job]);
    assert.equal(timer.code, 3, timer.stdout + timer.stderr);
    assert.match(timer.reply?.get('error') ?? '', /installed scripts are missing/);
    const setup = await session.secretOp(
      'start-setup',
      ['cirrus', 'MacM1-2', 'label=purpose: prod'],
      'tok1',
    );
    assert.equal(setup.code, 3, setup.stdout + setup.stderr);
    assert.equal(await mac.file('/Users/ec2-user/.setup.started'), undefined);
    assert.equal(await mac.file('/Users/ec2-user/.pw-pool/secret'), undefined);
  });

  it('uploads the installed set to the 0700 stage with mode 0700', async () => {
    await uploadScripts(session);
    assert.equal((await mac.file('/Users/ec2-user/.pw-pool'))?.mode, 0o700);
    assert.equal((await mac.file('/Users/ec2-user/.pw-pool/stage'))?.mode, 0o700);
    for (const f of INSTALLED_SET) {
      const file = await mac.file(`/Users/ec2-user/.pw-pool/stage/${f}`);
      assert.equal(file?.mode, 0o700, f);
    }
  });

  it('refuses to install when .pw-pool has mode 0755, and installs nothing', async () => {
    await mac.shell('chmod 755 "$HOME/.pw-pool"');
    const r = await session.op('install', []);
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.ok(r.reply);
    assert.deepEqual(r.reply.keys, ['error']);
    assert.match(r.reply.get('error'), /mode 0700/);
    assert.equal(await mac.file('/usr/local/libexec/pw-pool'), undefined);
    await mac.shell('chmod 700 "$HOME/.pw-pool"');
  });

  it('refuses to install when a staged file is missing', async () => {
    await mac.shell('mv "$HOME/.pw-pool/stage/lib.sh" "$HOME/.pw-pool/lib.sh.away"');
    const r = await session.op('install', []);
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(r.reply?.get('error') ?? '', /lib\.sh is missing/);
    await mac.shell('mv "$HOME/.pw-pool/lib.sh.away" "$HOME/.pw-pool/stage/lib.sh"');
  });

  it('installs into libexec (root:wheel 0755, files 0755) and copies ci_env.sh home', async () => {
    const r = await session.op('install', []);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.reply?.keys, ['install']);
    assert.equal(r.reply?.get('install'), 'ok');
    const dir = await mac.file('/usr/local/libexec/pw-pool');
    assert.equal(dir?.mode, 0o755);
    assert.equal(dir?.owner, 'root:wheel');
    for (const f of INSTALLED_SET) {
      const file = await mac.file(`/usr/local/libexec/pw-pool/${f}`);
      assert.equal(file?.type, 'file', f);
      assert.equal(file?.mode, 0o755, f);
      assert.equal(file?.owner, 'root:wheel', f);
    }
    const names = (await mac.files()).map((f) => f.path);
    assert.ok(!names.some((n) => n.startsWith('/usr/local/libexec/pw-pool/.')), 'temp files left');
    const copy = await mac.file('/Users/ec2-user/ci_env.sh');
    assert.equal(copy?.mode, 0o755);
    const calls = await mac.standInLog();
    const installs = calls.filter((c) => c.tool === 'install' && c.argv.includes('wheel'));
    assert.equal(installs.length, INSTALLED_SET.length + 1);
    for (const c of installs) assert.equal(c.user, 'root', 'install -o root runs through sudo');
  });

  it('the probe now says scripts=installed', async () => {
    const r = await probe(session, 'MacM1-2');
    assert.equal(r.reply?.get('scripts'), 'installed');
  });

  it('install again replaces the files (temp name, then rename)', async () => {
    const r = await session.op('install', []);
    assert.equal(r.code, 0, r.stderr);
    const moves = (await mac.standInLog()).filter((c) => c.tool === 'sudo' && c.argv[0] === 'mv');
    assert.equal(moves.length, 2 * INSTALLED_SET.length);
    for (const m of moves) {
      assert.match(m.argv[2] ?? '', /\/usr\/local\/libexec\/pw-pool\/\.[a-z_]+\.sh\.tmp$/);
    }
  });
});

describe('start-timer', () => {
  let mac: SandboxMac;
  let session: MacSession;
  before(async () => {
    mac = await startSandboxMac({ name: 'MacM1-3' });
    session = await connect(mac);
    await uploadScripts(session);
    assert.equal((await session.op('install', [])).code, 0);
  });
  after(async () => {
    session?.close();
    await mac?.close();
  });

  it('validates its arguments', async () => {
    for (const args of [
      ['0', '60', CIRRUS.job],
      ['3600', 'x', CIRRUS.job],
      ['3600', '60', ''],
      ['3600', '60'],
    ]) {
      const r = await session.op('start-timer', args);
      assert.equal(r.code, 3, `${JSON.stringify(args)}: ${r.stdout}${r.stderr}`);
    }
    assert.equal((await processesMatching(mac, /pw-pool-recycle/)).length, 0);
  });

  it('twice: started, then existing with the same deadline; one pw-pool-recycle process', async () => {
    const t0 = Math.floor(Date.now() / 1000);
    const first = await session.op('start-timer', ['3600', '7200', CIRRUS.job]);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(first.reply?.keys, ['timer', 'deadline']);
    assert.equal(first.reply?.get('timer'), 'started');
    const deadline = Number(first.reply?.get('deadline'));
    assert.ok(deadline >= t0 + 3600 && deadline <= t0 + 3605, `deadline ${deadline}`);

    const second = await session.op('start-timer', ['3600', '7200', CIRRUS.job]);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.reply?.get('timer'), 'existing');
    assert.equal(second.reply?.get('deadline'), String(deadline));

    const timers = await processesMatching(mac, /pw-pool-recycle/);
    assert.equal(timers.length, 1, timers.map((p) => p.cmdline).join('\n'));
    const timer = timers[0];
    assert.ok(timer);
    assert.equal(
      timer.rawCmdline,
      [
        '/bin/bash',
        '-c',
        'sleep "$1" && exec /bin/bash "$2" "$3" "$4"',
        'pw-pool-recycle',
        '3600',
        mac.hostPath('/usr/local/libexec/pw-pool/shutdown.sh'),
        '7200',
        CIRRUS.job,
        '',
      ].join('\0'),
    );
    assert.equal(
      (await mac.readText('/Users/ec2-user/.pw-pool/recycle.pid'))?.trim(),
      String(timer.pid),
    );
    assert.equal(
      (await mac.readText('/Users/ec2-user/.pw-pool/recycle.deadline'))?.trim(),
      String(deadline),
    );

    const r = await probe(session, 'MacM1-3');
    assert.equal(r.reply?.get('timer'), 'alive');
    assert.equal(r.reply?.get('recycle.deadline'), String(deadline));
  });

  it('a dead timer is replaced by a new one', async () => {
    const [timer] = await processesMatching(mac, /pw-pool-recycle/);
    assert.ok(timer);
    process.kill(timer.pid, 'SIGKILL');
    const r = await probe(session, 'MacM1-3');
    assert.equal(r.reply?.get('timer'), 'dead');
    const again = await session.op('start-timer', ['1800', '7200', CIRRUS.job]);
    assert.equal(again.reply?.get('timer'), 'started');
    assert.equal((await processesMatching(mac, /pw-pool-recycle/)).length, 1);
  });
});
