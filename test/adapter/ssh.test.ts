// The SSH adapter against an in-process ssh2 server on port 0 with keys generated at test time:
// host-key policies, the tcp/ssh distinction, exec with stdin, timeouts, dropped channels, uploads.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { KnownHosts, SshConnection, SshError, shQuote } from '../../src/pw-lib/adapters/ssh.js';
import type { HostKeyPolicy, SshOptions } from '../../src/pw-lib/adapters/ssh.js';
import { memoryLogger } from '../helpers/fakes.js';
import { generateKey, startSilentServer, startTestSshServer } from '../helpers/ssh-server.js';
import type { TestSshServer } from '../helpers/ssh-server.js';

const clientKey = generateKey();

describe('SshConnection and KnownHosts', () => {
  let dir: string;
  let server: TestSshServer;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pw-pool-ssh-'));
    server = await startTestSshServer((call, channel) => {
      if (call.command === 'hang') return; // never answers
      if (call.command === 'drop') {
        channel.destroy();
        return;
      }
      channel.write(`cmd=${call.command}\nstdin=${call.stdin}\n`);
      channel.exit(call.command === 'fail' ? 3 : 0);
      channel.end();
    });
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  const options = async (
    policy: HostKeyPolicy,
    file: string,
    over: Partial<SshOptions> = {},
  ): Promise<SshOptions> => {
    const log = memoryLogger().log;
    return {
      user: 'ec2-user',
      port: server.port,
      connectTimeoutMs: 2000,
      commandTimeoutMs: 1000,
      auth: { agentSocket: undefined, privateKey: clientKey.private },
      knownHosts: await KnownHosts.load(join(dir, file), policy, log),
      log,
      ...over,
    };
  };

  it('runs a command with stdin and returns stdout and the exit status', async () => {
    const conn = await SshConnection.open(
      '127.0.0.1',
      'i-0000000000000000a',
      await options('accept-new', 'kh1'),
    );
    try {
      const r = await conn.exec("/bin/bash -s -- 'a b'", 'echo hi\n');
      assert.equal(r.code, 0);
      assert.equal(r.stdout, "cmd=/bin/bash -s -- 'a b'\nstdin=echo hi\n\n");
      const f = await conn.exec('fail', '');
      assert.equal(f.code, 3);
      // the same connection serves several commands
      assert.equal((await conn.exec('again', '')).code, 0);
    } finally {
      conn.close();
    }
  });

  it('accept-new pins the first key per instance id in OpenSSH format; a changed key is refused', async () => {
    const opts = await options('accept-new', 'kh2');
    (await SshConnection.open('127.0.0.1', 'i-0000000000000000b', opts)).close();
    await opts.knownHosts.save();
    const text = await readFile(join(dir, 'kh2'), 'utf8');
    assert.match(text, /^i-0000000000000000b ssh-ed25519 AAAA[A-Za-z0-9+/=]+$/m);
    // same key again: fine, from a freshly loaded file
    (
      await SshConnection.open(
        '127.0.0.1',
        'i-0000000000000000b',
        await options('accept-new', 'kh2'),
      )
    ).close();
    server.setHostKey(generateKey().private);
    try {
      await assert.rejects(
        SshConnection.open('127.0.0.1', 'i-0000000000000000b', await options('accept-new', 'kh2')),
        (e: unknown) => {
          assert.ok(e instanceof SshError);
          assert.equal(e.kind, 'host-key');
          assert.match(e.message, /host key for i-0000000000000000b changed/);
          return true;
        },
      );
      // another instance id at the same address is a new alias: accepted
      (
        await SshConnection.open(
          '127.0.0.1',
          'i-0000000000000000c',
          await options('accept-new', 'kh2'),
        )
      ).close();
    } finally {
      server.setHostKey(generateKey().private);
    }
  });

  it('strict needs a pinned key; insecure accepts anything', async () => {
    await assert.rejects(
      SshConnection.open('127.0.0.1', 'i-0000000000000000d', await options('strict', 'kh3')),
      (e: unknown) => e instanceof SshError && e.kind === 'host-key',
    );
    (
      await SshConnection.open('127.0.0.1', 'i-0000000000000000d', await options('insecure', 'kh3'))
    ).close();
  });

  it('a closed port is a tcp failure; a silent server is an ssh failure', async () => {
    const silent = await startSilentServer();
    const closedPort = silent.port;
    try {
      await assert.rejects(
        SshConnection.open(
          '127.0.0.1',
          'i-0000000000000000e',
          await options('insecure', 'kh4', { port: silent.port, connectTimeoutMs: 500 }),
        ),
        (e: unknown) => e instanceof SshError && e.kind === 'ssh',
      );
    } finally {
      await silent.close();
    }
    await assert.rejects(
      SshConnection.open(
        '127.0.0.1',
        'i-0000000000000000e',
        await options('insecure', 'kh4', { port: closedPort }),
      ),
      (e: unknown) => e instanceof SshError && e.kind === 'tcp',
    );
  });

  it('an unknown client key is refused (auth is an ssh failure)', async () => {
    const conn = SshConnection.open(
      '127.0.0.1',
      'i-0000000000000000f',
      await options('insecure', 'kh5', { auth: { agentSocket: undefined, privateKey: undefined } }),
    );
    await assert.rejects(conn, (e: unknown) => e instanceof SshError && e.kind === 'ssh');
  });

  it('a hung command times out and the connection is not reused; a dropped channel is a transport error', async () => {
    const conn = await SshConnection.open(
      '127.0.0.1',
      'i-00000000000000010',
      await options('insecure', 'kh6'),
    );
    await assert.rejects(
      conn.exec('hang', ''),
      (e: unknown) => e instanceof SshError && e.kind === 'timeout',
    );
    await assert.rejects(conn.exec('echo', ''), SshError);
    const conn2 = await SshConnection.open(
      '127.0.0.1',
      'i-00000000000000010',
      await options('insecure', 'kh6'),
    );
    try {
      await assert.rejects(
        conn2.exec('drop', ''),
        (e: unknown) => e instanceof SshError && e.kind === 'transport',
      );
    } finally {
      conn2.close();
    }
  });

  it('uploads over SFTP with explicit modes', async () => {
    const conn = await SshConnection.open(
      '127.0.0.1',
      'i-00000000000000011',
      await options('insecure', 'kh7'),
    );
    try {
      await conn.upload(
        [{ path: '.pw-pool', mode: 0o700 }],
        [{ path: '.pw-pool/x.sh', data: Buffer.from('echo x\n'), mode: 0o700 }],
      );
    } finally {
      conn.close();
    }
    assert.equal(server.dirs.get('.pw-pool'), 0o700);
    assert.equal(server.files.get('.pw-pool/x.sh')?.data.toString(), 'echo x\n');
    assert.equal((server.files.get('.pw-pool/x.sh')?.mode ?? 0) & 0o777, 0o700);
  });

  it('quotes words for the remote shell', () => {
    assert.equal(shQuote("it's"), `'it'\\''s'`);
    assert.equal(shQuote('$(rm -rf /)'), "'$(rm -rf /)'");
  });
});
