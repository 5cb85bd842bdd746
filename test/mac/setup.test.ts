// start-setup and setup.sh (behavior.md §6.1): a fresh setup, the files and modes it leaves,
// idempotence (R16), and failures that leave .setup.failed and no secret behind.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startSandboxMac, type SandboxMac, type StandInCall } from '../sandbox/sandbox-mac.js';
import {
  CIRRUS,
  INSTALLED_SET,
  SETUP_ARGS,
  connect,
  installScripts,
  probe,
  processesMatching,
  randomToken,
  setUpWorker,
  waitFor,
  waitForListener,
  type MacSession,
} from './helpers.js';

const NAME = 'MacM1-4';
const WORKER = `${NAME}-worker`;

const count = (calls: StandInCall[], tool: string, ...prefix: string[]) =>
  calls.filter((c) => c.tool === tool && prefix.every((p, i) => c.argv[i] === p)).length;

describe('a fresh setup', () => {
  let mac: SandboxMac;
  let session: MacSession;
  let token: string;
  before(async () => {
    mac = await startSandboxMac({ name: NAME });
    session = await connect(mac);
    ({ token } = await setUpWorker(mac, session, { name: NAME }));
  });
  after(async () => {
    session?.close();
    await mac?.close();
  });

  it('completes: drop files, worker user, one volume each, supervisor and listener alive', async () => {
    const r = await probe(session, NAME);
    assert.ok(r.reply);
    for (const [k, v] of Object.entries({
      scripts: 'installed',
      'setup.started': 'present',
      'setup.done': 'present',
      'setup.failed': 'absent',
      supervisor: 'alive',
      listener: 'alive',
      job: 'absent',
      'worker.user': 'present',
      timer: 'alive',
      'agent.config': 'present',
      'worker.log': 'present',
      'worker.log.registered': 'yes',
      'worker.log.started': '0',
      'worker.log.finished': '0',
    })) {
      assert.equal(r.reply.get(k), v, k);
    }
    assert.match(r.reply.get('setup.started.last'), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);
    assert.ok((await mac.users()).includes(WORKER));
    const calls = await mac.standInLog();
    assert.equal(count(calls, 'sysadminctl', '-addUser', WORKER), 1);
    assert.equal(count(calls, 'diskutil', 'apfs', 'addVolume', 'disk3', 'APFS', 'ci_tempdir'), 1);
    assert.equal(count(calls, 'diskutil', 'apfs', 'addVolume', 'disk3', 'APFS', 'ci_homedir'), 1);
    const mounts = (await mac.shell('mount')).stdout;
    assert.match(mounts, new RegExp(` on ${mac.hostPath('/private/tmp/ci')} \\(`));
    assert.match(mounts, new RegExp(` on ${mac.hostPath(`/Users/${WORKER}`)} \\(`));
  });

  it('writes the worker log with its header on line 1 and the registration line', async () => {
    const log = await mac.readText(`/private/tmp/${NAME}-worker.log`);
    assert.ok(log);
    const lines = log.split('\n');
    assert.match(
      lines[0] ?? '',
      /^# Log created \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00 - do not manually remove or modify!$/,
    );
    assert.match(
      lines[1] ?? '',
      /^time="[^"]+" level=info msg="worker successfully registered on upstream grpc\.cirrus-ci\.com:443"$/,
    );
    const file = await mac.file(`/private/tmp/${NAME}-worker.log`);
    assert.equal(file?.mode, 0o660);
  });

  it('leaves the files with the modes of behavior.md §6', async () => {
    const mode = async (p: string) => (await mac.file(p))?.mode;
    assert.equal(await mode('/Users/ec2-user/.pw-pool'), 0o700);
    assert.equal(await mac.file('/Users/ec2-user/.pw-pool/secret'), undefined);
    assert.equal(await mode('/Users/ec2-user/.pw-pool/cirrus-worker.yml'), 0o600);
    assert.equal(await mode('/Users/ec2-user/.pw-pool/agent.env'), 0o600);
    assert.equal(await mode('/usr/local/libexec/pw-pool'), 0o755);
    for (const f of INSTALLED_SET)
      assert.equal(await mode(`/usr/local/libexec/pw-pool/${f}`), 0o755, f);
    const tmpCi = await mac.file('/private/tmp/ci');
    assert.equal(tmpCi?.mode, 0o1770);
    assert.equal(tmpCi?.owner, `${WORKER}:staff`);
    const home = await mac.file(`/Users/${WORKER}`);
    assert.equal(home?.mode, 0o750);
    assert.equal(home?.owner, `${WORKER}:staff`);
    const gvproxy = await mac.file('/usr/local/bin/gvproxy');
    assert.equal(gvproxy?.mode, 0o755);
    assert.equal(gvproxy?.owner, 'root:staff');
    const shim = await mac.file('/usr/local/bin/softwareupdate');
    assert.equal(shim?.type, 'symlink');
    const names = (await mac.files()).map((f) => f.path);
    const leftovers = names.filter((n) => /\/\.[^/]*(\.tmp|\.[A-Za-z0-9]{6})$/.test(n));
    assert.deepEqual(leftovers, [], 'temp files left behind');
  });

  it('writes the cirrus config (0600) and feeds it to the listener on stdin', async () => {
    const cfg = await mac.readText('/Users/ec2-user/.pw-pool/cirrus-worker.yml');
    assert.equal(
      cfg,
      [
        '---',
        `name: "${NAME}"`,
        `token: "${token}"`,
        'labels:',
        '  purpose: prod',
        'log:',
        `  file: "${mac.hostPath(`/private/tmp/${NAME}-worker.log`)}"`,
        'security:',
        '  allowed-isolations:',
        '    none: {}',
        '',
      ].join('\n'),
    );
    const sha = await mac.shell('cat "$PW_POOL_ROOT/../state/cirrus-token.sha256"');
    assert.equal(sha.stdout.trim(), createHash('sha256').update(token).digest('hex'));
    const calls = await mac.standInLog();
    const sudo = calls.filter((c) => c.tool === 'sudo' && c.argv[0] === '-iu');
    assert.deepEqual(sudo.at(-1)?.argv, [
      '-iu',
      WORKER,
      mac.hostPath('/opt/homebrew/bin/cirrus'),
      'worker',
      'run',
      '--file',
      '/dev/stdin',
    ]);
    const [listener] = await processesMatching(mac, /cirrus worker run/);
    assert.equal(listener?.user, WORKER);
    const pid = (await mac.readText('/Users/ec2-user/.pw-pool/listener.pid'))?.trim();
    assert.equal(pid, String(listener?.pid));
  });

  it('configures the system: paths, packages, hostname, Rosetta, update restrictions', async () => {
    const paths = (await mac.readText('/etc/paths'))?.split('\n');
    assert.deepEqual(paths?.slice(0, 3), [
      mac.hostPath('/opt/homebrew/bin'),
      mac.hostPath('/opt/homebrew/opt/coreutils/libexec/gnubin'),
      '/usr/local/bin',
    ]);
    const calls = await mac.standInLog();
    for (const tap of ['libkrun/krun', 'cirruslabs/cli']) {
      assert.equal(count(calls, 'brew', 'tap', tap), 1, tap);
      assert.equal(count(calls, 'brew', 'trust', tap), 1, tap);
    }
    const installs = calls.filter((c) => c.tool === 'brew' && c.argv[0] === 'install');
    assert.deepEqual(
      installs.map((c) => c.argv),
      [['install', 'go', 'pkg-config', 'cirruslabs/cli/cirrus']],
    );
    assert.ok(
      calls.every((c) => c.tool !== 'brew' || c.user === 'ec2-user'),
      'brew runs as ec2-user',
    );
    assert.equal(count(calls, 'hostname', NAME), 1);
    assert.equal(count(calls, 'scutil', '--set', 'HostName', NAME), 1);
    assert.equal(count(calls, 'scutil', '--set', 'ComputerName', NAME), 1);
    assert.equal(count(calls, 'softwareupdate', '--install-rosetta', '--agree-to-license'), 1);
    assert.equal(count(calls, 'mdutil', '-a', '-i', 'off'), 1);
    const defaults = calls.filter((c) => c.tool === 'defaults').map((c) => c.argv[2]);
    assert.deepEqual(defaults, [
      'restrict-software-update-require-admin-to-install',
      'restrict-store-require-admin-to-install',
    ]);
  });

  it('ci_env.sh gives an operator a CI-like shell as the worker', async () => {
    const r = await session.exec(
      '/bin/bash ~/ci_env.sh',
      'echo "CI $PW_SANDBOX_USER|$HOME|$TMPDIR|$CIRRUS_WORKING_DIR|$GOPATH|$PWD|$CIRRUS_SHELL"\nexit\n',
    );
    assert.equal(r.code, 0, r.stderr);
    const line = r.stdout.split('\n').find((l) => l.startsWith('CI '));
    const ci = mac.hostPath(`/Users/${WORKER}/ci`);
    assert.equal(
      line,
      `CI ${WORKER}|${ci}|${mac.hostPath('/private/tmp/ci')}|${ci}/work|${ci}/work/.go|${ci}/work|/bin/bash`,
    );
    assert.equal((await mac.file(`/Users/${WORKER}/ci_env.sh`))?.owner, `${WORKER}:staff`);
  });

  it('start-setup again after .setup.done: setup.sh exits at once and deletes the secret', async () => {
    const before = (await mac.standInLog()).length;
    const r = await session.secretOp('start-setup', ['cirrus', NAME, ...SETUP_ARGS], randomToken());
    assert.equal(r.code, 0, r.stderr);
    await waitFor('the second setup.sh to finish', async () => {
      const log = (await mac.readText('/Users/ec2-user/setup.log')) ?? '';
      return /Appears setup script already ran at \d{4}-/.test(log);
    });
    await waitFor('the secret to be deleted', async () =>
      (await mac.file('/Users/ec2-user/.pw-pool/secret')) === undefined ? true : undefined,
    );
    const after = await mac.standInLog();
    assert.deepEqual(
      after.slice(before).filter((c) => c.tool !== 'pgrep' && c.tool !== 'mv' && c.tool !== 'id'),
      [],
      'the second setup must not touch anything',
    );
  });

  it('a repair run (drop files gone, worker live) adds no volume, user, timer or supervisor', async () => {
    const supervisorPid = (await mac.readText('/Users/ec2-user/.pw-pool/supervisor.pid'))?.trim();
    await mac.shell('rm -f "$HOME/.setup.done" "$HOME/.setup.started"');
    const timer = await session.op('start-timer', ['3600', '7200', CIRRUS.job]);
    assert.equal(timer.reply?.get('timer'), 'existing');
    const r = await session.secretOp('start-setup', ['cirrus', NAME, ...SETUP_ARGS], token);
    assert.equal(r.code, 0, r.stderr);
    await waitForListener(mac, session, NAME);
    const calls = await mac.standInLog();
    assert.equal(count(calls, 'sysadminctl', '-addUser', WORKER), 1);
    assert.equal(count(calls, 'diskutil', 'apfs', 'addVolume'), 2);
    assert.equal(count(calls, 'hostname', NAME), 1);
    assert.equal(count(calls, 'softwareupdate', '--install-rosetta', '--agree-to-license'), 1);
    assert.equal(calls.filter((c) => c.tool === 'brew' && c.argv[0] === 'install').length, 1);
    assert.equal(
      (await mac.readText('/Users/ec2-user/.pw-pool/supervisor.pid'))?.trim(),
      supervisorPid,
    );
    assert.equal((await processesMatching(mac, /service_pool\.sh/)).length, 1);
    assert.equal((await processesMatching(mac, /pw-pool-recycle/)).length, 1);
    assert.equal((await processesMatching(mac, /cirrus worker run/)).length, 1);
    const log = (await mac.readText('/Users/ec2-user/setup.log')) ?? '';
    assert.match(log, /Supervisor already running as pid/);
    assert.equal(await mac.file('/Users/ec2-user/.pw-pool/secret'), undefined);
  });
});

describe('setup failures', () => {
  let mac: SandboxMac;
  let session: MacSession;
  before(async () => {
    mac = await startSandboxMac({
      name: 'MacM1-5',
      tags: { Name: 'MacM1-5', PWPoolReady: 'false' },
    });
    session = await connect(mac);
    await installScripts(session);
  });
  after(async () => {
    session?.close();
    await mac?.close();
  });

  const runSetup = async (name: string) => {
    await mac.shell('rm -f "$HOME/.setup.started" "$HOME/.setup.failed"');
    const r = await session.secretOp('start-setup', ['cirrus', name, ...SETUP_ARGS], randomToken());
    assert.equal(r.code, 0, r.stderr);
    return waitFor('.setup.failed', async () => {
      const p = await probe(session, name);
      return p.reply?.get('setup.failed') === 'present' ? p.reply : undefined;
    });
  };

  it('PWPoolReady not true: .setup.failed with a one-line reason, no secret, no supervisor', async () => {
    const reply = await runSetup('MacM1-5');
    assert.equal(reply.get('setup.failed.reason'), "instance tag 'PWPoolReady' is not 'true'");
    assert.equal(reply.get('setup.started'), 'present');
    assert.equal(reply.get('setup.done'), 'absent');
    assert.equal(reply.get('supervisor'), 'absent');
    assert.equal(reply.get('agent.config'), 'absent');
    assert.match(
      reply.get('setup.log.last'),
      /Setup failed: instance tag 'PWPoolReady' is not 'true'$/,
    );
    assert.equal(await mac.file('/Users/ec2-user/.pw-pool/secret'), undefined);
  });

  it('a Name tag that differs from the expected name fails the setup', async () => {
    mac.setTag('PWPoolReady', 'true');
    const reply = await runSetup('MacM1-6');
    assert.equal(reply.get('setup.failed.reason'), "instance tag 'Name' is not 'MacM1-6'");
    assert.equal(await mac.file('/Users/ec2-user/.pw-pool/secret'), undefined);
  });

  it('start-setup refuses bad setup arguments and a bad secret, changing nothing', async () => {
    await mac.shell('rm -f "$HOME/.setup.started" "$HOME/.setup.failed"');
    const cases: [string[], string][] = [
      [['cirrus', 'MacM1-5', 'label=purpose prod'], randomToken()],
      [['cirrus', 'MacM1-5'], randomToken()],
      [['cirrus', 'MacM1-5', 'label=purpose: prod', 'colour=blue'], randomToken()],
      [['cirrus', 'MacM1-5', 'label=purpose: prod', 'formulas=go;rm'], randomToken()],
      [['github-actions', 'MacM1-5', 'url=https://github.com'], randomToken()],
      [['cirrus', 'MacM1-5', 'label=purpose: prod'], ''],
      [['cirrus', 'MacM1-5', 'label=purpose: prod'], 'two\nlines'],
      [['cirrus', 'MacM1-5', 'label=purpose: prod'], 'has "quotes"'],
    ];
    for (const [args, secret] of cases) {
      const r = await session.secretOp('start-setup', args, secret);
      assert.equal(r.code, 3, `${JSON.stringify(args)}: ${r.stdout}${r.stderr}`);
      assert.ok(r.reply?.get('error'));
      if (secret !== '') assert.ok(!r.stdout.includes(secret), 'the secret is echoed back');
    }
    assert.equal(await mac.file('/Users/ec2-user/.setup.started'), undefined);
    assert.equal(await mac.file('/Users/ec2-user/.pw-pool/secret'), undefined);
  });
});
