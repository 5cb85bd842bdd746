// A tiny SSH client for the sandbox Mac (the product's SSH adapter is not used here) and the
// protocol helpers of src/mac/PROTOCOL.md: script text, command forms, reply parsing, upload.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ssh2 from 'ssh2';
import type { Client as SshClient, SFTPWrapper } from 'ssh2';
import type { SandboxMac } from '../sandbox/sandbox-mac.js';
import { generateEd25519KeyPair } from '../../src/sim/index.js';

const { Client } = ssh2;

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const MAC_DIR = join(REPO, 'src', 'mac');

export const OPS = [
  'probe',
  'install',
  'start-timer',
  'start-setup',
  'maintenance',
  'force-stop',
] as const;
export type Op = (typeof OPS)[number];

// The protocol's lists are pw-pool's own: the scripts are checked against what the client sends
// and parses, not against a third copy.
import { INSTALLED_SET } from '../../src/pw-lib/adapters/remote-mac.js';
export { INSTALLED_SET };

/** The cirrus patterns exactly as the manager passes them (behavior.md §7). */
export const CIRRUS = {
  listener: 'cirrus worker run',
  job: 'cirrus-[0-9][^ ]*-darwin-arm64 agent ',
  registered:
    '^(time="[^"]*" level=info msg="worker successfully registered on upstream [^[:space:]]+"|worker successfully registered on upstream [^[:space:]]+)$',
  started: '^(time="[^"]*" level=info msg="started task [0-9]+"|started task [0-9]+)$',
  finished: '^(time="[^"]*" level=info msg="task [0-9]+ completed"|task [0-9]+ completed)$',
} as const;

export { PROBE_KEYS } from '../../src/pw-lib/core/probe.js';

/** The script text of an operation: paths.sh + lib.sh + ops/<op>.sh, each ending with a newline. */
export function opScript(op: Op): string {
  const part = (p: string) => {
    const text = readFileSync(join(MAC_DIR, p), 'utf8');
    return text.endsWith('\n') ? text : `${text}\n`;
  };
  return part('paths.sh') + part('lib.sh') + part(join('ops', `${op}.sh`));
}

/** Single-quote escaping for the remote command string. */
export function shq(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

export interface ExecResult {
  code: number | null;
  signal: string | undefined;
  stdout: string;
  stderr: string;
}

export interface Reply {
  keys: string[];
  values: Map<string, string>;
  /** The value of a key that must be present. */
  get(key: string): string;
}

/** Parse a key=value reply; undefined when the sentinel `pw-pool-<op>=end` is missing. */
export function parseReply(op: Op, stdout: string): Reply | undefined {
  const lines = stdout.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (lines.at(-1) !== `pw-pool-${op}=end`) return undefined;
  lines.pop();
  const keys: string[] = [];
  const values = new Map<string, string>();
  for (const line of lines) {
    const eq = line.indexOf('=');
    if (eq <= 0) return undefined;
    keys.push(line.slice(0, eq));
    values.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return {
    keys,
    values,
    get: (key) => {
      const v = values.get(key);
      assert.notEqual(v, undefined, `reply of ${op} lacks ${key}: ${stdout}`);
      return v ?? '';
    },
  };
}

export interface OpResult extends ExecResult {
  reply: Reply | undefined;
}

export interface MacSession {
  client: SshClient;
  exec(command: string, stdin?: string): Promise<ExecResult>;
  /** stdin form: `/bin/bash -s -- '<arg>'…`, the script text on stdin. */
  op(op: Op, args: string[]): Promise<OpResult>;
  /** secret form: `/bin/bash -c '<script>' pw-pool '<arg>'…`, the secret on stdin. */
  secretOp(op: Op, args: string[], secret: string): Promise<OpResult>;
  sftp(): Promise<SFTPWrapper>;
  close(): void;
}

/** Connect as ec2-user with a key generated now, checking the sandbox's host key. */
export async function connect(mac: SandboxMac): Promise<MacSession> {
  const key = generateEd25519KeyPair();
  const client = new Client();
  const expected = mac.hostKey.parsed.getPublicSSH();
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', reject);
    client.connect({
      host: mac.host,
      port: mac.port,
      username: 'ec2-user',
      privateKey: key.private,
      readyTimeout: 10_000,
      hostVerifier: (presented: Buffer) => presented.equals(expected),
    });
  });
  client.on('error', () => undefined);

  const exec = (command: string, stdin?: string) =>
    new Promise<ExecResult>((resolve, reject) => {
      client.exec(command, (error, channel) => {
        if (error) return reject(error);
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        let code: number | null = null;
        let signal: string | undefined;
        channel.on('data', (d: Buffer) => out.push(d));
        channel.stderr.on('data', (d: Buffer) => err.push(d));
        channel.on('exit', (c: number | null, s?: string) => {
          code = c;
          signal = s;
        });
        channel.on('close', () =>
          resolve({
            code,
            signal,
            stdout: Buffer.concat(out).toString('utf8'),
            stderr: Buffer.concat(err).toString('utf8'),
          }),
        );
        channel.end(stdin ?? '');
      });
    });

  return {
    client,
    exec,
    op: async (op, args) => {
      const command = `/bin/bash -s -- ${args.map(shq).join(' ')}`.trimEnd();
      const r = await exec(command, opScript(op));
      return { ...r, reply: parseReply(op, r.stdout) };
    },
    secretOp: async (op, args, secret) => {
      const command = `/bin/bash -c ${shq(opScript(op))} pw-pool ${args.map(shq).join(' ')}`;
      const r = await exec(command, `${secret}\n`);
      return { ...r, reply: parseReply(op, r.stdout) };
    },
    sftp: () =>
      new Promise<SFTPWrapper>((resolve, reject) =>
        client.sftp((error, sftp) => (error ? reject(error) : resolve(sftp))),
      ),
    close: () => client.end(),
  };
}

function sftpCall<T>(fn: (cb: (error: Error | null | undefined, value?: T) => void) => void) {
  return new Promise<T | undefined>((resolve, reject) =>
    fn((error, value) => (error ? reject(error) : resolve(value))),
  );
}

/** Upload the installed set as the manager does: `.pw-pool` and `stage` 0700, files 0700. */
export async function uploadScripts(session: MacSession): Promise<void> {
  const sftp = await session.sftp();
  try {
    for (const dir of ['.pw-pool', '.pw-pool/stage']) {
      const exists = await sftpCall<unknown>((cb) => sftp.stat(dir, cb)).then(
        () => true,
        () => false,
      );
      if (!exists) await sftpCall<void>((cb) => sftp.mkdir(dir, { mode: 0o700 }, cb));
    }
    for (const f of INSTALLED_SET) {
      const data = readFileSync(join(MAC_DIR, f));
      await sftpCall<void>((cb) =>
        sftp.writeFile(`.pw-pool/stage/${f}`, data, { mode: 0o700 }, cb),
      );
    }
  } finally {
    sftp.end();
  }
}

/** Upload and install; asserts `install=ok`. */
export async function installScripts(session: MacSession): Promise<void> {
  await uploadScripts(session);
  const r = await session.op('install', []);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.reply?.get('install'), 'ok');
}

/** The probe with the cirrus patterns. */
export function probe(session: MacSession, name: string): Promise<OpResult> {
  return session.op('probe', [
    'cirrus',
    name,
    CIRRUS.listener,
    CIRRUS.job,
    CIRRUS.registered,
    CIRRUS.started,
    CIRRUS.finished,
  ]);
}

/** Poll `check` every 50 ms until it returns a truthy value, or fail after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export const SETUP_ARGS = [
  'label=purpose: prod',
  'taps=libkrun/krun',
  'formulas=go pkg-config',
  'drain=7200',
];

/** A random CI token (letters and digits, like a Cirrus pool token). */
export function randomToken(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let t = 'pwtok';
  for (let i = 0; i < 40; i++) t += alphabet[Math.floor(Math.random() * alphabet.length)];
  return t;
}

export interface WorkerSetup {
  token: string;
  startSetup: OpResult;
}

/**
 * The manager's fresh-setup sequence (behavior.md §4.3 S10 C): upload + install, the timer,
 * start-setup with the token on stdin; then wait for .setup.done and a live listener.
 */
export async function setUpWorker(
  mac: SandboxMac,
  session: MacSession,
  opts: { name: string; token?: string; timerSeconds?: number; drainSeconds?: number } = {
    name: 'MacM1-1',
  },
): Promise<WorkerSetup> {
  const token = opts.token ?? randomToken();
  await installScripts(session);
  const timer = await session.op('start-timer', [
    String(opts.timerSeconds ?? 3600),
    String(opts.drainSeconds ?? 7200),
    CIRRUS.job,
  ]);
  assert.equal(timer.code, 0, timer.stderr);
  const startSetup = await session.secretOp(
    'start-setup',
    ['cirrus', opts.name, ...SETUP_ARGS],
    token,
  );
  assert.equal(startSetup.code, 0, startSetup.stderr);
  assert.equal(startSetup.reply?.get('setup'), 'started');
  await waitForListener(mac, session, opts.name);
  return { token, startSetup };
}

/** Wait until the probe reports setup done, a live supervisor and a live listener. */
export async function waitForListener(mac: SandboxMac, session: MacSession, name: string) {
  return waitFor('setup done, supervisor and listener alive', async () => {
    const r = await probe(session, name);
    if (r.reply === undefined) return false;
    if (r.reply.get('setup.failed') === 'present') {
      const log = await mac.readText('/Users/ec2-user/setup.log');
      throw new Error(`setup failed: ${r.reply.get('setup.failed.reason')}\n${log}`);
    }
    const ok =
      r.reply.get('setup.done') === 'present' &&
      r.reply.get('supervisor') === 'alive' &&
      r.reply.get('listener') === 'alive' &&
      r.reply.get('worker.log.registered') === 'yes';
    return ok ? r.reply : false;
  });
}

/** Processes of the sandbox whose command line matches `re`. */
export async function processesMatching(mac: SandboxMac, re: RegExp) {
  return (await mac.processes()).filter((p) => re.test(p.cmdline));
}
