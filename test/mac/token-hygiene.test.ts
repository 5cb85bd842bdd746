// Token hygiene (behavior.md §6.4, R12): the CI secret travels stdin → the 0600 secret file →
// the 0600 cirrus config → the listener's stdin, and nowhere else: not in a command string, an
// argument or environment of any process, a stand-in call, a log, or any other file.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startSandboxMac, type SandboxMac, type SandboxProcess } from '../sandbox/sandbox-mac.js';
import {
  CIRRUS,
  SETUP_ARGS,
  connect,
  installScripts,
  randomToken,
  waitForListener,
  type MacSession,
  type OpResult,
} from './helpers.js';

const NAME = 'MacM1-31';

async function filesContaining(dir: string, needle: string): Promise<string[]> {
  const hits: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) hits.push(...(await filesContaining(p, needle)));
    else if (entry.isFile() && (await readFile(p, 'latin1')).includes(needle)) hits.push(p);
  }
  return hits;
}

describe('token hygiene', () => {
  const token = randomToken();
  let mac: SandboxMac;
  let session: MacSession;
  let startSetup: OpResult;
  const samples = new Map<string, SandboxProcess>();
  let scans = 0;

  before(async () => {
    mac = await startSandboxMac({ name: NAME });
    session = await connect(mac);
    await installScripts(session);
    await session.op('start-timer', ['3600', '7200', CIRRUS.job]);
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        for (const p of await mac.processes()) samples.set(`${p.pid}:${p.rawCmdline}`, p);
        scans++;
      }
    })();
    try {
      startSetup = await session.secretOp('start-setup', ['cirrus', NAME, ...SETUP_ARGS], token);
      await waitForListener(mac, session, NAME);
    } finally {
      sampling = false;
      await sampler;
    }
  });
  after(async () => {
    session?.close();
    await mac?.close();
  });

  it('sampled the processes while setup ran', () => {
    assert.ok(scans > 5, `only ${scans} scans`);
    const seen = [...samples.values()].map((p) => p.cmdline);
    assert.ok(
      seen.some((c) => /setup\.sh cirrus MacM1-31 /.test(c)),
      'setup.sh never sampled',
    );
    assert.ok(
      seen.some((c) => /service_pool\.sh/.test(c)),
      'the supervisor never sampled',
    );
    assert.ok(
      seen.some((c) => /cirrus worker run --file \/dev\/stdin$/.test(c)),
      'listener never sampled',
    );
  });

  it('is in no command line and no environment of any sampled process', () => {
    for (const p of samples.values()) {
      assert.ok(!p.rawCmdline.includes(token), `token in the command line of ${p.cmdline}`);
      assert.ok(!p.rawEnviron.includes(token), `token in the environment of ${p.cmdline}`);
    }
  });

  it('is in no command string or environment the SSH server received', () => {
    const commands = mac.commands();
    assert.ok(
      commands.some((c) => c.command.startsWith('/bin/bash -c ')),
      'no secret-form command',
    );
    for (const c of commands) {
      assert.ok(!c.command.includes(token));
      assert.ok(!JSON.stringify(c.env).includes(token));
    }
    assert.ok(!startSetup.stdout.includes(token) && !startSetup.stderr.includes(token));
  });

  it('is in no argument of any stand-in call', async () => {
    const calls = await mac.standInLog();
    assert.ok(calls.length > 20);
    for (const c of calls) assert.ok(!JSON.stringify(c).includes(token), `token in ${c.tool} call`);
  });

  it('is in neither setup.log nor the worker log', async () => {
    for (const f of ['/Users/ec2-user/setup.log', `/private/tmp/${NAME}-worker.log`]) {
      const text = await mac.readText(f);
      assert.ok(text !== undefined && text.length > 0, f);
      assert.ok(!text.includes(token), `token in ${f}`);
    }
  });

  it('lives only in the 0600 cirrus config; the secret file is gone', async () => {
    const hits = await filesContaining(mac.root, token);
    assert.deepEqual(hits, [mac.hostPath('/Users/ec2-user/.pw-pool/cirrus-worker.yml')]);
    assert.equal((await mac.file('/Users/ec2-user/.pw-pool/cirrus-worker.yml'))?.mode, 0o600);
    assert.equal((await mac.file('/Users/ec2-user/.pw-pool'))?.mode, 0o700);
    assert.equal(await mac.file('/Users/ec2-user/.pw-pool/secret'), undefined);
    const state = join(mac.root, '..', 'state');
    assert.deepEqual(await filesContaining(state, token), []);
  });

  it('the listener got it on stdin (its hash matches)', async () => {
    const { createHash } = await import('node:crypto');
    const sha = (await mac.shell('cat "$PW_POOL_ROOT/../state/cirrus-token.sha256"')).stdout.trim();
    assert.equal(sha, createHash('sha256').update(token).digest('hex'));
  });
});
