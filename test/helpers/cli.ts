// Runs the built CLI (bin/pw-pool → dist/) as a separate process, the way a user does, against a
// simulated cloud started in the test process. `npm test` builds first.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { generateEd25519KeyPair, startSimCloud } from '../../src/sim/index.js';
import type { SimCloud, StartSimCloudOptions } from '../../src/sim/index.js';

export const ROOT = new URL('../..', import.meta.url).pathname;
export const BIN = join(ROOT, 'bin', 'pw-pool');

if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) {
  throw new Error('dist/ is missing: run `npm run build` (npm test does) before the e2e tests');
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A clean environment: no AWS profile, config or PW_POOL_* leaks in from the developer's shell. */
export function baseEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    AWS_CONFIG_FILE: join(home, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, 'no-aws-credentials'),
    ...extra,
  };
}

/** What `pw-pool sim serve` tells a user to export. */
export function simEnv(endpoint: string): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: 'simulated',
    AWS_SECRET_ACCESS_KEY: 'simulated',
    AWS_REGION: 'us-east-1',
    PW_POOL_CLOCK: 'sim',
  };
}

export function runCli(
  args: readonly string[],
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `pw-pool ${args.join(' ')} timed out after ${timeoutMs} ms\n${stdout}\n${stderr}`,
        ),
      );
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface PoolFixture {
  readonly sim: SimCloud;
  readonly home: string;
  readonly stateDir: string;
  readonly env: Record<string, string>;
  run(args: readonly string[], extraEnv?: Record<string, string>): Promise<CliResult>;
  control(method: string, path: string, body?: unknown): Promise<unknown>;
}

/**
 * A simulated cloud (fast virtual time, so launch waits take real milliseconds), a temporary HOME
 * and state directory, all removed when the test ends.
 */
export async function poolFixture(
  t: TestContext,
  opts: StartSimCloudOptions = {},
): Promise<PoolFixture> {
  const sim = await startSimCloud({ speed: 120, hosts: 4, ...opts });
  const home = await mkdtemp(join(tmpdir(), 'pw-pool-e2e-'));
  t.after(async () => {
    await sim.close();
    await rm(home, { recursive: true, force: true });
  });
  const stateDir = join(home, 'state');
  const env = baseEnv(home, simEnv(sim.endpoint));
  return {
    sim,
    home,
    stateDir,
    env,
    run: (args, extraEnv = {}) =>
      runCli(['--state-dir', stateDir, ...args], { ...env, ...extraEnv }),
    control: async (method, path, body) => {
      const res = await fetch(`${sim.endpoint}${path}`, {
        method,
        ...(body === undefined
          ? {}
          : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      });
      const json = await res.json();
      if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${JSON.stringify(json)}`);
      return json;
    },
  };
}

export interface MacPoolFixture extends PoolFixture {
  /** The random pool token every run gets through POOLTOKEN. */
  readonly token: string;
  /** The sim's state of one instance, with its Mac. */
  instance(name: string): Promise<SimInstanceState>;
  /** Launches with --force at speed, then pauses virtual time: the test advances it. */
  launchAll(): Promise<void>;
  advance(seconds: number): Promise<void>;
  statusLine(name: string): Promise<string>;
}

export interface SimInstanceState {
  instanceId: string;
  name: string;
  state: string;
  publicDnsName: string;
  mac: {
    files: Record<string, { mode: string; size: number }>;
    processes: { role: string; command: string }[];
    timer: { deadlineEpoch: number } | null;
    setup: { phase: string; secretBytes: number } | null;
    commands: { command: string; env: Record<string, string>; op: string; stdinBytes: number }[];
    walls: { message: string }[];
    tasks: { started: number; finished: number };
  } | null;
}

/**
 * A pool on the simulated cloud with simulated Macs: an SSH identity generated for the test (mode
 * 0600, used through ssh.identityFile, no ssh-agent), a random pool token, and the export lines of
 * `sim serve` (PW_POOL_SSH_PORT included).
 */
export async function macPoolFixture(
  t: TestContext,
  opts: StartSimCloudOptions & { env?: Record<string, string> } = {},
): Promise<MacPoolFixture> {
  const { env: extra, ...simOpts } = opts;
  const base = await poolFixture(t, { macs: { taskRatePerHour: 0 }, ...simOpts });
  const key = generateEd25519KeyPair();
  const identity = join(base.home, 'id_ed25519');
  await writeFile(identity, key.private, { mode: 0o600 });
  const token = `tok_${randomBytes(18).toString('hex')}`;
  const env = {
    ...base.env,
    PW_POOL_SSH_PORT: String(base.sim.sshPort),
    PW_POOL_SSH_IDENTITY_FILE: identity,
    PW_POOL_SSH_AGENT_ENV_FILE: join(base.home, 'no-agent.env'),
    POOLTOKEN: token,
    ...extra,
  };
  const f: MacPoolFixture = {
    ...base,
    env,
    token,
    run: (args, extraEnv = {}) =>
      runCli(['--state-dir', base.stateDir, ...args], { ...env, ...extraEnv }),
    instance: async (name) => {
      const inst = (await base.control('GET', `/_sim/instances/${name}`)) as SimInstanceState;
      const mac = (await base.control('GET', `/_sim/macs/${name}`)) as SimInstanceState['mac'];
      return { ...inst, mac };
    },
    launchAll: async () => {
      await base.control('POST', '/_sim/macs', { bootMinS: 60, bootMaxS: 60 });
      const r = await f.run(['launch-instances', '--force']);
      if (r.code !== 0) throw new Error(`launch failed: ${r.stderr}`);
      await base.control('POST', '/_sim/clock', { speed: 0 });
    },
    advance: async (seconds) => {
      await base.control('POST', '/_sim/advance', { seconds });
    },
    statusLine: async (name) => {
      const { readFile } = await import('node:fs/promises');
      const text = await readFile(join(base.stateDir, 'pw_status.txt'), 'utf8');
      return text.split('\n').find((l) => l.startsWith(`${name} `)) ?? `(no line for ${name})`;
    },
  };
  return f;
}
