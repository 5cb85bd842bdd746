// Test helpers for the simulated Macs: a paused simulated cloud with deterministic boots, a Mac
// launched and booted on it, and a tiny real ssh2 client that speaks PROTOCOL.md (command forms,
// script text = paths.sh + lib.sh + ops/<op>.sh, key=value replies with their sentinel).

import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import ssh2 from 'ssh2';
import {
  generateEd25519KeyPair,
  type SimCloud,
  type StartSimCloudOptions,
} from '../../src/sim/index.js';
import { controlJson, startSim } from './helpers.js';

/** The control API (JSON in, JSON out). */
export const control = controlJson;

const MAC_DIR = new URL('../../src/mac/', import.meta.url);

export const CLIENT_KEY = generateEd25519KeyPair();
export const BOOT_S = 300;

/** The agents' patterns as behavior.md §7 gives them (what the manager passes to probe). */
export const CIRRUS = {
  listener: 'cirrus worker run',
  job: 'cirrus-[0-9][^ ]*-darwin-arm64 agent ',
  registered:
    '^time="[^"]*" level=info msg="worker successfully registered on upstream [^[:space:]]+"$|^worker successfully registered on upstream [^[:space:]]+$',
  started: '^time="[^"]*" level=info msg="started task [0-9]+"$|^started task [0-9]+$',
  finished: '^time="[^"]*" level=info msg="task [0-9]+ completed"$|^task [0-9]+ completed$',
} as const;

const TS = '[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}Z';
export const GITHUB = {
  listener: 'Runner.Listener',
  job: 'Runner.Worker',
  registered: '^(√ )?Connected to GitHub$',
  started: `^${TS}: Running job: .+$`,
  finished: `^${TS}: Job .+ completed with result: [A-Za-z]+$`,
} as const;

// The protocol's lists are pw-pool's own: the simulated Mac is checked against what the client
// sends and parses.
import { PROBE_KEYS } from '../../src/pw-lib/core/probe.js';
export { PROBE_KEYS };

import { INSTALLED_SET as INSTALLED } from '../../src/pw-lib/adapters/remote-mac.js';
export { INSTALLED };

export function shQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The script text of an operation: the real files when they exist, else a stand-in marker. */
export function opScript(op: string): string {
  const files = ['paths.sh', 'lib.sh', `ops/${op}.sh`].map((f) => new URL(f, MAC_DIR));
  if (!files.every((f) => existsSync(f))) return `# pw-pool-protocol: 1\n# pw-pool-op: ${op}\n`;
  return files
    .map((f) => {
      const text = readFileSync(f, 'utf8');
      return text.endsWith('\n') ? text : `${text}\n`;
    })
    .join('');
}

/** A file of the installed set (the real one when it exists). */
export function installedFile(name: string): Buffer {
  const url = new URL(name, MAC_DIR);
  return existsSync(url) ? readFileSync(url) : Buffer.from(`#!/bin/bash\n# ${name}\n`);
}

/** A paused simulated cloud (virtual time moves by `sim.advance`) whose Macs boot in BOOT_S. */
export async function startMacSim(
  t: TestContext,
  opts: StartSimCloudOptions = {},
): Promise<SimCloud> {
  return startSim(t, {
    hosts: 3,
    timings: { bootMinS: BOOT_S, bootMaxS: BOOT_S, ...opts.timings },
    ...opts,
  });
}

export interface LaunchedMac {
  instanceId: string;
  name: string;
  address: string;
}

/** Runs an instance on host `<prefix>-n` from the cirrus template, tagged like the pool does. */
export function launch(sim: SimCloud, n = 1, template = 'CirrusMacM1PWinstance'): LaunchedMac {
  const name = `MacM1-${n}`;
  const host = sim.world.host(name);
  assert.ok(host, `host ${name}`);
  const out = sim.world.runInstances({
    minCount: 1,
    maxCount: 1,
    hostId: host.hostId,
    launchTemplate: { name: template },
    tagSpecifications: [
      {
        resourceType: 'instance',
        tags: [
          { key: 'Name', value: name },
          { key: 'purpose', value: 'prod' },
          { key: 'PWPoolReady', value: 'true' },
          { key: 'automation', value: 'true' },
        ],
      },
    ],
  });
  const instance = out.instances[0];
  assert.ok(instance);
  return { instanceId: instance.instanceId, name, address: instance.address };
}

/** Launches and advances until SSH answers (pending 60 s + boot BOOT_S). */
export async function launchReady(sim: SimCloud, n = 1, template?: string): Promise<LaunchedMac> {
  const mac = launch(sim, n, template);
  await sim.advance(60 + BOOT_S);
  return mac;
}

export interface Ssh {
  client: ssh2.Client;
  /** The host key the server presented (raw blob). */
  hostKey: Buffer;
}

/** Connects as `username` with the test key; rejects on any failure. Closed with the test. */
export async function connect(
  t: TestContext,
  sim: SimCloud,
  address: string,
  opts: { username?: string; readyTimeoutMs?: number; password?: string } = {},
): Promise<Ssh> {
  const client = new ssh2.Client();
  t.after(() => client.end());
  client.on('error', () => undefined); // after the first one (which rejects), errors are expected
  let hostKey: Buffer | undefined;
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', reject);
    client.connect({
      host: address,
      port: sim.sshPort,
      username: opts.username ?? 'ec2-user',
      ...(opts.password === undefined
        ? { privateKey: CLIENT_KEY.private }
        : { password: opts.password }),
      readyTimeout: opts.readyTimeoutMs ?? 5000,
      hostVerifier: (key: Buffer) => {
        hostKey = key;
        return true;
      },
    });
  });
  assert.ok(hostKey);
  return { client, hostKey };
}

export interface ExecOutcome {
  /** Undefined when the channel closed without an exit status. */
  code: number | undefined;
  stdout: string;
  stderr: string;
}

/** One exec request with `stdin` then EOF; rejects after `timeoutMs` (real) without an answer. */
export function exec(
  ssh: Ssh,
  command: string,
  stdin = '',
  timeoutMs = 5000,
): Promise<ExecOutcome> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('exec timed out')), timeoutMs);
    let code: number | undefined;
    let stdout = '';
    let stderr = '';
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    };
    ssh.client.once('close', finish);
    ssh.client.exec(command, (err, channel) => {
      if (err) {
        clearTimeout(timer);
        reject(err);
        return;
      }
      channel.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
      channel.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
      channel.on('exit', (c: number | null) => (code = c ?? undefined));
      channel.on('close', finish);
      channel.end(stdin);
    });
  });
}

export interface OpReply extends ExecOutcome {
  /** The keys in the order printed (before the sentinel). */
  keys: string[];
  values: Map<string, string>;
  sentinel: boolean;
}

/** Runs `op` as the manager does: stdin form, or secret form when `secret` is given. */
export async function runOp(
  ssh: Ssh,
  op: string,
  args: readonly string[],
  secret?: string,
): Promise<OpReply> {
  const quoted = args.map(shQuote);
  const outcome =
    secret === undefined
      ? await exec(ssh, ['/bin/bash', '-s', '--', ...quoted].join(' '), opScript(op))
      : await exec(
          ssh,
          ['/bin/bash', '-c', shQuote(opScript(op)), 'pw-pool', ...quoted].join(' '),
          `${secret}\n`,
        );
  return { ...outcome, ...parseReply(outcome.stdout, op) };
}

export function parseReply(
  stdout: string,
  op: string,
): { keys: string[]; values: Map<string, string>; sentinel: boolean } {
  const keys: string[] = [];
  const values = new Map<string, string>();
  let sentinel = false;
  // Complete lines only: a dropped connection may cut the last one.
  for (const line of stdout.split('\n').slice(0, -1)) {
    if (line === `pw-pool-${op}=end`) {
      sentinel = true;
      break;
    }
    const eq = line.indexOf('=');
    assert.ok(eq > 0, `a key=value line: ${line}`);
    keys.push(line.slice(0, eq));
    values.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return { keys, values, sentinel };
}

export function probeArgs(name: string, kind: 'cirrus' | 'github-actions' = 'cirrus'): string[] {
  const p = kind === 'cirrus' ? CIRRUS : GITHUB;
  return [kind, name, p.listener, p.job, p.registered, p.started, p.finished];
}

/** Probes and checks the reply's shape; returns the values. */
export async function probe(
  ssh: Ssh,
  name: string,
  kind: 'cirrus' | 'github-actions' = 'cirrus',
): Promise<Map<string, string>> {
  const reply = await runOp(ssh, 'probe', probeArgs(name, kind));
  assert.equal(reply.code, 0, reply.stdout + reply.stderr);
  assert.ok(reply.sentinel, 'sentinel');
  assert.deepEqual(reply.keys, PROBE_KEYS);
  return reply.values;
}

async function sftpCall(call: (cb: (err?: Error | null) => void) => void): Promise<void> {
  await new Promise<void>((resolve, reject) => call((err) => (err ? reject(err) : resolve())));
}

/** Uploads the installed set to .pw-pool/stage as the manager does (0700 dirs and files). */
export async function uploadScripts(ssh: Ssh): Promise<void> {
  const sftp = await new Promise<ssh2.SFTPWrapper>((resolve, reject) =>
    ssh.client.sftp((err, s) => (err ? reject(err) : resolve(s))),
  );
  try {
    for (const dir of ['.pw-pool', '.pw-pool/stage']) {
      await new Promise<void>((resolve) => sftp.mkdir(dir, { mode: 0o700 }, () => resolve()));
      await sftpCall((cb) => sftp.chmod(dir, 0o700, cb));
    }
    for (const file of INSTALLED) {
      const path = `.pw-pool/stage/${file}`;
      await sftpCall((cb) => sftp.writeFile(path, installedFile(file), { mode: 0o700 }, cb));
      await sftpCall((cb) => sftp.chmod(path, 0o700, cb));
    }
  } finally {
    sftp.end();
  }
}

/** Upload + install; asserts `install=ok`. */
export async function installScripts(ssh: Ssh): Promise<void> {
  await uploadScripts(ssh);
  const reply = await runOp(ssh, 'install', []);
  assert.equal(reply.code, 0, reply.stdout + reply.stderr);
  assert.equal(reply.values.get('install'), 'ok');
}

export const SECRET = 'pool-token-0123456789abcdefSECRET';

export function cirrusSetupArgs(name: string): string[] {
  return [
    'cirrus',
    name,
    'label=purpose: prod',
    'taps=libkrun/krun',
    'formulas=go vfkit',
    'drain=7200',
  ];
}

export function githubSetupArgs(name: string): string[] {
  return [
    'github-actions',
    name,
    'url=https://github.com',
    'org=example',
    'group=prod',
    'version=2.321.0',
    'runnerenv=GOPATH=/Users/x/ci/.go',
    'drain=7200',
  ];
}

/** Installs, starts the setup and advances past it (setupSeconds ± jitter, default 600 ± 60). */
export async function setUp(
  sim: SimCloud,
  ssh: Ssh,
  mac: LaunchedMac,
  kind: 'cirrus' | 'github-actions' = 'cirrus',
): Promise<void> {
  await installScripts(ssh);
  const args = kind === 'cirrus' ? cirrusSetupArgs(mac.name) : githubSetupArgs(mac.name);
  const reply = await runOp(ssh, 'start-setup', args, SECRET);
  assert.equal(reply.code, 0, reply.stdout + reply.stderr);
  assert.equal(reply.values.get('setup'), 'started');
  await sim.advance(700);
}

/** The Mac's state as the control API shows it. */
export async function macState(sim: SimCloud, ref: string): Promise<MacJson> {
  const res = await fetch(`${sim.endpoint}/_sim/macs/${encodeURIComponent(ref)}`);
  assert.equal(res.status, 200);
  return (await res.json()) as MacJson;
}

export interface MacJson {
  instanceId: string;
  address: string;
  sshPort: number;
  power: string;
  reachable: boolean;
  files: Record<string, { type: string; mode: string; owner: string; size: number }>;
  processes: { pid: number; user: string; role: string; command: string }[];
  setup: { phase: string; failedReason: string | null; secretBytes: number } | null;
  supervisor: { pid: number; mode: string } | null;
  listener: { pid: number } | null;
  job: { task: string } | null;
  timer: { deadlineEpoch: number; phase: string } | null;
  tasks: { started: number; finished: number; aborted: number };
  walls: { message: string }[];
  commands: {
    op: string | null;
    args: string[];
    form: string;
    exitCode: number | null;
    stdinBytes: number;
    secretSha256?: string;
    fault: string | null;
    env: Record<string, string>;
  }[];
  ssh: { hostKey: string; hostKeyFingerprint: string; listening: boolean };
}
