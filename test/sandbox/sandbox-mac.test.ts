// The sandbox Mac itself: SSH (auth, exec, SFTP), the fake IMDSv2, the stand-ins' strictness and
// user model, and that close() leaves nothing behind.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import ssh2 from 'ssh2';
import type { ParsedKey, PublicKeyAuthMethod } from 'ssh2';
import { connect, waitFor, type MacSession } from '../mac/helpers.js';
import { startSandboxMac, type SandboxMac } from './sandbox-mac.js';
import { generateEd25519KeyPair } from '../../src/sim/index.js';

const { Client, utils } = ssh2;

const curl = (mac: SandboxMac, args: string) =>
  mac.shell(`curl -s -o /dev/null -w '%{http_code}' ${args}`).then((r) => r.stdout);

describe('sandbox Mac', () => {
  let mac: SandboxMac;
  let session: MacSession;
  before(async () => {
    mac = await startSandboxMac({ name: 'MacM1-90', env: { PW_POOL_EXTRA: 'x' } });
    session = await connect(mac);
  });
  after(async () => {
    session?.close();
    await mac?.close();
  });

  it('rejects a login user other than ec2-user', async () => {
    const client = new Client();
    const error = await new Promise<Error | undefined>((resolve) => {
      client.once('ready', () => resolve(undefined));
      client.once('error', resolve);
      client.connect({
        host: mac.host,
        port: mac.port,
        username: 'root',
        privateKey: generateEd25519KeyPair().private,
        hostVerifier: () => true,
      });
    });
    client.end();
    assert.ok(error, 'root must not log in');
  });

  it('accepts any key with a valid signature, and rejects a signature the key did not make', async () => {
    const offered = utils.parseKey(generateEd25519KeyPair().private);
    const signer = utils.parseKey(generateEd25519KeyPair().private);
    if (offered instanceof Error || signer instanceof Error) throw new Error('key parsing failed');
    const forged = Object.create(offered) as ParsedKey;
    forged.sign = (data: Buffer, algo?: string) => signer.sign(data, algo);
    const tryKey = (key: ParsedKey) => {
      const client = new Client();
      const method: PublicKeyAuthMethod = { type: 'publickey', username: 'ec2-user', key };
      return new Promise<Error | undefined>((resolve) => {
        client.once('ready', () => resolve(undefined));
        client.once('error', resolve);
        client.connect({
          host: mac.host,
          port: mac.port,
          username: 'ec2-user',
          authHandler: [method],
          hostVerifier: () => true,
        });
      }).finally(() => client.end());
    };
    assert.equal(await tryKey(offered), undefined, 'a genuine key must log in');
    assert.ok(await tryKey(forged), 'a forged signature must not log in');
  });

  it('runs exec requests with /bin/sh -c, forwarding stdin, stdout, stderr and the exit status', async () => {
    const r = await session.exec('read -r x; echo "got $x"; echo oops >&2; exit 7', 'hello\n');
    assert.deepEqual([r.code, r.stdout, r.stderr], [7, 'got hello\n', 'oops\n']);
    const killed = await session.exec('kill -TERM $$');
    assert.equal(killed.signal, 'SIGTERM');
    const last = mac.commands().at(-1);
    assert.equal(last?.command, 'kill -TERM $$');
  });

  it('gives every command the sandbox environment, starting in the login directory', async () => {
    const r = await session.exec(
      'pwd; echo "$HOME|$PW_POOL_ROOT|$PW_POOL_IMDS_URL|$PW_POOL_EXTRA"; echo "$PATH"',
    );
    const [pwd, vars, path] = r.stdout.trim().split('\n');
    assert.equal(pwd, mac.home);
    assert.equal(vars, `${mac.home}|${mac.root}|${mac.imdsUrl}|x`);
    assert.match(path ?? '', /^\/tmp\/.*\/bin:\/usr\/bin:\/bin$/);
    assert.equal(mac.commands().at(-1)?.env.PW_POOL_ROOT, mac.root);
  });

  it('serves SFTP relative to the login directory, applying the requested modes', async () => {
    const sftp = await session.sftp();
    const call = (fn: (cb: (e: Error | null | undefined) => void) => void) =>
      new Promise<void>((resolve, reject) => fn((e) => (e ? reject(e) : resolve())));
    await call((cb) => sftp.mkdir('up', { mode: 0o700 }, cb));
    await call((cb) => sftp.writeFile('up/f.sh', 'echo hi\n', { mode: 0o700 }, cb));
    await call((cb) => sftp.writeFile('/private/tmp/g', 'x', { mode: 0o640 }, cb));
    await call((cb) => sftp.writeFile('../../../escape', 'x', cb));
    const attrs = await new Promise<ssh2.Stats>((resolve, reject) =>
      sftp.stat('up/f.sh', (e, s) => (e ? reject(e) : resolve(s))),
    );
    assert.equal(attrs.size, 8);
    sftp.end();
    assert.equal((await mac.file('/Users/ec2-user/up'))?.mode, 0o700);
    assert.equal((await mac.file('/Users/ec2-user/up/f.sh'))?.mode, 0o700);
    assert.equal((await mac.file('/private/tmp/g'))?.mode, 0o640);
    assert.ok(await mac.file('/escape'), 'a path above / stays inside the root');
    assert.equal(await mac.readText('/Users/ec2-user/up/f.sh'), 'echo hi\n');
  });

  it('fakes IMDSv2: tokens, tag reads, 401 and 404, tags changeable at run time', async () => {
    const u = mac.imdsUrl;
    assert.equal(await curl(mac, `-X PUT ${u}/latest/api/token`), '400');
    assert.equal(await curl(mac, `${u}/latest/meta-data/tags/instance/Name`), '401');
    const token = (
      await mac.shell(
        `curl -s -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' ${u}/latest/api/token`,
      )
    ).stdout;
    const get = (key: string) =>
      mac
        .shell(
          `curl -s -w ' %{http_code}' -H 'X-aws-ec2-metadata-token: ${token}' ${u}/latest/meta-data/tags/instance/${key}`,
        )
        .then((r) => r.stdout);
    assert.equal(await get('Name'), 'MacM1-90 200');
    assert.equal(await get('PWPoolReady'), 'true 200');
    assert.equal(await get('Nope'), ' 404');
    mac.setTag('PWPoolReady', 'false');
    assert.equal(await get('PWPoolReady'), 'false 200');
    mac.setTag('PWPoolReady', undefined);
    assert.equal(await get('PWPoolReady'), ' 404');
    mac.imds.failTagReads(1, 503);
    assert.equal(await get('Name'), ' 503');
    mac.imds.expireTokens();
    assert.equal(await get('Name'), ' 401');
    assert.ok(mac.imds.requests().length >= 9);
  });

  it('stand-ins reject flags they do not know, and log every call', async () => {
    const tools = [
      'sudo',
      'id',
      'install',
      'chown',
      'hostname',
      'uname',
      'scutil',
      'sysadminctl',
      'diskutil',
      'mount',
      'mdutil',
      'arch',
      'defaults',
      'shutdown',
      'wall',
      'pgrep',
      'pkill',
      'mv',
      'su',
    ];
    for (const tool of tools) {
      const r = await mac.shell(`${tool} --bogus-flag </dev/null`);
      assert.notEqual(r.code, 0, `${tool} accepted --bogus-flag`);
      assert.match(r.stderr, new RegExp(`^${tool}: `), `${tool}: ${r.stderr}`);
    }
    const brew = await mac.shell('"$PW_POOL_ROOT/opt/homebrew/bin/brew" --bogus-flag');
    assert.notEqual(brew.code, 0);
    const swu = await mac.shell('"$PW_POOL_ROOT/usr/sbin/softwareupdate" --bogus-flag');
    assert.notEqual(swu.code, 0);
    const logged = (await mac.standInLog()).filter((c) => c.argv.includes('--bogus-flag'));
    assert.equal(logged.length, tools.length + 2);
  });

  it('sudo runs as the named user; pgrep/pkill see only sandbox processes of that user', async () => {
    const added = await mac.shell(
      'sudo sysadminctl -addUser w1-worker && id w1-worker && sudo -iu w1-worker id -un',
    );
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /^uid=\d+\(w1-worker\)/m);
    assert.match(added.stdout, /^w1-worker$/m);
    assert.notEqual((await mac.shell('sysadminctl -addUser w2-worker')).code, 0, 'needs root');
    // the same command line: one process of the worker in the sandbox, one outside the sandbox
    const outside = spawn('sleep', ['4242'], { stdio: 'ignore' });
    try {
      await mac.shell(
        'sudo -iu w1-worker sleep 4242 >/dev/null 2>&1 </dev/null & sleep 4242 >/dev/null 2>&1 </dev/null &',
      );
      await waitFor('the sandbox sleepers', async () =>
        (await mac.processes()).filter((p) => p.cmdline === 'sleep 4242').length === 2
          ? true
          : undefined,
      );
      const mine = await mac.shell("pgrep -u w1-worker -f '^sleep 4242$'");
      assert.equal(mine.stdout.trim().split('\n').length, 1);
      assert.equal((await mac.shell("pgrep -u root -f '^sleep 4242$'")).code, 1);
      assert.equal(
        (await mac.shell("pkill -u w1-worker -f '^sleep 4242$'")).code,
        1,
        'not permitted for ec2-user',
      );
      assert.equal((await mac.shell("sudo pkill -u w1-worker -f '^sleep 4242$'")).code, 0);
      await waitFor('the worker sleeper to die', async () =>
        (await mac.processes()).filter((p) => p.cmdline === 'sleep 4242').length === 1
          ? true
          : undefined,
      );
      assert.equal(outside.exitCode, null, 'a process outside the sandbox was killed');
      assert.equal((await mac.shell('pgrep -x sleep')).code, 64);
    } finally {
      outside.kill('SIGKILL');
    }
  });
});

describe('sandbox close()', () => {
  it('kills every process started in the sandbox and deletes it', async () => {
    const mac = await startSandboxMac({ name: 'MacM1-91' });
    const session = await connect(mac);
    await session.exec(
      '(trap "" TERM HUP; exec sleep 4343) >/dev/null 2>&1 </dev/null & echo started',
    );
    await mac.shell('nohup sleep 4344 >/dev/null 2>&1 </dev/null &');
    const procs = await waitFor('the sleepers', async () => {
      const p = (await mac.processes()).filter((x) => /^sleep 434[34]$/.test(x.cmdline));
      return p.length === 2 ? p : undefined;
    });
    session.close();
    await mac.close();
    for (const p of procs) {
      // gone, or a zombie waiting for a reaper that is not ours
      const stat = existsSync(`/proc/${p.pid}/stat`)
        ? readFileSync(`/proc/${p.pid}/stat`, 'utf8')
        : '';
      assert.ok(stat === '' || / Z /.test(stat), `pid ${p.pid} survived: ${stat}`);
    }
    assert.equal(existsSync(mac.root), false);
  });
});
