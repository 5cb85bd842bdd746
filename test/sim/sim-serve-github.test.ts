// `pw-pool sim serve --agent github-actions`: the fake GitHub next to the simulated cloud, the
// export lines that point pw-pool at it (agent.kind, github.* with App auth), and the App key in
// a 0600 file inside a fresh 0700 directory that is removed on exit. The key is never printed.

import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { sign } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  DEFAULT_SIM_GITHUB_ORG,
  simExportLines,
  simHintLine,
  writeSimAppKey,
} from '../../src/cli/commands/sim.js';
import { findKeyByEnv } from '../../src/pw-lib/config/index.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const GH = {
  org: 'acme',
  apiUrl: 'http://127.0.0.1:40001',
  appId: 100001,
  installationId: 4242,
  appPrivateKeyFile: '/tmp/pw-pool-sim-github-x/app-private-key.pem',
};

/** `export NAME=value` lines as a map. */
function exported(lines: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of lines) {
    const m = /^export ([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    assert.ok(m?.[1] !== undefined && m[2] !== undefined, `an export line: ${line}`);
    out.set(m[1], m[2]);
  }
  return out;
}

describe('sim serve export lines', () => {
  test('cirrus: the EC2 and SSH lines only', () => {
    const env = exported(simExportLines('http://127.0.0.1:1234', 2222));
    assert.deepEqual(
      [...env.keys()],
      [
        'AWS_ENDPOINT_URL',
        'AWS_ACCESS_KEY_ID',
        'AWS_SECRET_ACCESS_KEY',
        'AWS_REGION',
        'PW_POOL_CLOCK',
        'PW_POOL_SSH_PORT',
      ],
    );
    assert.match(simHintLine('cirrus'), /POOLTOKEN/);
  });

  test('github-actions: agent kind, org, URLs and App auth, each a config key', () => {
    const lines = simExportLines('http://127.0.0.1:1234', 2222, GH);
    const env = exported(lines);
    const github = new Map(
      [...env].filter(
        ([k]) => k.startsWith('PW_POOL_') && k !== 'PW_POOL_CLOCK' && k !== 'PW_POOL_SSH_PORT',
      ),
    );
    assert.deepEqual(
      [...github],
      [
        ['PW_POOL_AGENT_KIND', 'github-actions'],
        ['PW_POOL_GITHUB_ORG', 'acme'],
        ['PW_POOL_GITHUB_API_URL', GH.apiUrl],
        ['PW_POOL_GITHUB_SERVER_URL', GH.apiUrl],
        ['PW_POOL_GITHUB_APP_ID', '100001'],
        ['PW_POOL_GITHUB_INSTALLATION_ID', '4242'],
        ['PW_POOL_GITHUB_APP_PRIVATE_KEY_FILE', GH.appPrivateKeyFile],
      ],
    );
    const keys = [...github.keys()].map((name) => findKeyByEnv(name)?.key);
    assert.deepEqual(keys, [
      'agent.kind',
      'github.org',
      'github.apiUrl',
      'github.serverUrl',
      'github.appId',
      'github.installationId',
      'github.appPrivateKeyFile',
    ]);
    const hint = simHintLine('github-actions');
    assert.ok(!hint.includes('POOLTOKEN='), hint);
    assert.match(hint, /^# setup-instances .*fake GitHub/);
  });

  test('a key file path with a space is quoted for the shell', () => {
    const lines = simExportLines('http://x', 0, { ...GH, appPrivateKeyFile: "/tmp/a b/it's.pem" });
    assert.ok(lines.includes(`export PW_POOL_GITHUB_APP_PRIVATE_KEY_FILE='/tmp/a b/it'\\''s.pem'`));
  });

  test('the App key goes to a 0600 file in a fresh 0700 directory; remove() deletes it', () => {
    const parent = mkdtempSync(join(tmpdir(), 'pw-pool-simkey-test-'));
    try {
      const pem = '-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n';
      const key = writeSimAppKey(pem, parent);
      assert.equal(readFileSync(key.file, 'utf8'), pem);
      assert.equal(statSync(key.file).mode & 0o777, 0o600);
      assert.equal(statSync(dirname(key.file)).mode & 0o777, 0o700);
      assert.equal(dirname(dirname(key.file)), parent);
      key.remove();
      assert.equal(existsSync(dirname(key.file)), false);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });
});

describe('sim serve --agent github-actions (the command)', () => {
  test('serves the fake GitHub, prints where it is and the key file (never the key), and removes the key on exit', async (t: TestContext) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        `import(${JSON.stringify(join(ROOT, 'src/cli/main.ts'))}).then(async (m) => { process.exitCode = await m.main(process.argv.slice(1)); })`,
        'sim',
        'serve',
        '--agent',
        'github-actions',
        '--github-org',
        'acme',
        '--hosts',
        '1',
        '--speed',
        '1',
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const lines: string[] = [];
    const reader = createInterface({ input: child.stdout });
    await new Promise<void>((resolve, reject) => {
      reader.on('line', (line) => {
        lines.push(line);
        if (line.startsWith('# setup-instances')) resolve();
      });
      void exited.then((code) => reject(new Error(`sim serve exited ${code}: ${stderr}`)));
    });
    const env = exported(lines.filter((l) => l.startsWith('export ')));
    assert.equal(env.get('PW_POOL_AGENT_KIND'), 'github-actions');
    assert.equal(env.get('PW_POOL_GITHUB_ORG'), 'acme');
    const apiUrl = env.get('PW_POOL_GITHUB_API_URL') ?? '';
    assert.match(apiUrl, /^http:\/\/127\.0\.0\.1:[0-9]+$/);
    assert.equal(env.get('PW_POOL_GITHUB_SERVER_URL'), apiUrl);
    assert.ok(lines.includes(`GitHub API: ${apiUrl}`));
    const keyFile = env.get('PW_POOL_GITHUB_APP_PRIVATE_KEY_FILE') ?? '';
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    assert.equal(statSync(dirname(keyFile)).mode & 0o777, 0o700);
    const pem = readFileSync(keyFile, 'utf8');
    assert.match(pem, /^-----BEGIN PRIVATE KEY-----\n/);
    const body = pem.split('\n')[1] ?? 'x';
    assert.ok(!lines.join('\n').includes(body), 'the key is printed');
    assert.ok(!stderr.includes(body), 'the key is logged');
    assert.equal(DEFAULT_SIM_GITHUB_ORG, 'pw-pool-sim');

    // The key file and the printed ids work: an App JWT gets an installation token.
    const appId = Number(env.get('PW_POOL_GITHUB_APP_ID'));
    const state = (await (
      await fetch(`${env.get('AWS_ENDPOINT_URL')}/_sim/github/state`)
    ).json()) as {
      now: string;
    };
    const nowS = Math.floor(Date.parse(state.now) / 1000);
    const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
    const input = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64({ iat: nowS - 30, exp: nowS + 540, iss: appId })}`;
    const jwt = `${input}.${sign('RSA-SHA256', Buffer.from(input), pem).toString('base64url')}`;
    const res = await fetch(
      `${apiUrl}/app/installations/${env.get('PW_POOL_GITHUB_INSTALLATION_ID')}/access_tokens`,
      { method: 'POST', headers: { authorization: `Bearer ${jwt}` } },
    );
    assert.equal(res.status, 201, await res.text());

    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
    assert.equal(existsSync(dirname(keyFile)), false, 'the key directory is removed on exit');
  });
});
