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

/** The organisation of githubPoolFixture's fake GitHub. */
export const GH_POOL_ORG = 'pwpool-e2e';

export interface GitHubApiAnswer {
  readonly status: number;
  readonly json: Record<string, unknown>;
}

export interface GitHubPoolFixture extends Omit<MacPoolFixture, 'token'> {
  /** The fake GitHub (in process). */
  readonly gh: SimCloud['github'] & object;
  /** A personal token the fake accepts (the test's own API calls; pw-pool never gets it). */
  readonly pat: string;
  /** The App private key file given to pw-pool (mode 0600). */
  readonly appKeyFile: string;
  /** A REST call to the fake GitHub with the test's personal token. */
  api(method: string, path: string, body?: unknown): Promise<GitHubApiAnswer>;
  /** GET /_sim/github/state. */
  ghState(): Promise<GhState>;
  /**
   * A runner registered outside pw-pool: `group` is created first when missing (visibility all),
   * the registration token minted through the REST API; then `status` is set.
   */
  registerForeignRunner(
    name: string,
    group: string,
    status: 'online' | 'offline',
  ): Promise<GhRunner>;
}

export interface GhRunner {
  id: number;
  name: string;
  status: 'online' | 'offline';
  busy: boolean;
  labels: string[];
  groupId: number;
  groupName: string;
}

export interface GhState {
  groups: {
    id: number;
    name: string;
    visibility: string;
    default: boolean;
    allowsPublicRepositories: boolean;
    selectedRepositoryIds: number[];
    canReceiveJobs: boolean;
    runnerIds: number[];
  }[];
  runners: GhRunner[];
  issued: { installationTokens: number; registrationTokens: number };
  requests: { method: string; path: string; status: number }[];
}

/**
 * macPoolFixture with the fake GitHub and the `github-actions` agent, configured as `sim serve
 * --agent github-actions` exports it (App auth, key file 0600), without POOLTOKEN.
 */
export async function githubPoolFixture(
  t: TestContext,
  opts: StartSimCloudOptions & { env?: Record<string, string> } = {},
): Promise<GitHubPoolFixture> {
  const pat = `ghp_${randomBytes(18).toString('hex')}`;
  const { env: extra, ...simOpts } = opts;
  const base = await macPoolFixture(t, {
    ...simOpts,
    github: { org: GH_POOL_ORG, personalTokens: [pat] },
  });
  const gh = base.sim.github;
  if (gh === undefined) throw new Error('the fake GitHub did not start');
  const appKeyFile = join(base.home, 'gh-app.pem');
  await writeFile(appKeyFile, gh.appPrivateKeyPem, { mode: 0o600 });
  const env: Record<string, string> = {
    ...base.env,
    PW_POOL_AGENT_KIND: 'github-actions',
    PW_POOL_GITHUB_ORG: gh.org,
    PW_POOL_GITHUB_API_URL: gh.apiUrl,
    PW_POOL_GITHUB_SERVER_URL: gh.apiUrl,
    PW_POOL_GITHUB_APP_ID: String(gh.appId),
    PW_POOL_GITHUB_INSTALLATION_ID: String(gh.installationId),
    PW_POOL_GITHUB_APP_PRIVATE_KEY_FILE: appKeyFile,
    ...extra,
  };
  delete env.POOLTOKEN;
  const run = (args: readonly string[], extraEnv: Record<string, string> = {}) =>
    runCli(['--state-dir', base.stateDir, ...args], { ...env, ...extraEnv });
  const api = async (method: string, path: string, body?: unknown): Promise<GitHubApiAnswer> => {
    const res = await fetch(`${gh.apiUrl}${path}`, {
      method,
      headers: {
        accept: 'application/vnd.github+json',
        authorization: `token ${pat}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return {
      status: res.status,
      json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
    };
  };
  const { token: _poolToken, ...rest } = base;
  void _poolToken;
  const f: GitHubPoolFixture = {
    ...rest,
    env,
    gh,
    pat,
    appKeyFile,
    run,
    api,
    ghState: async () => (await base.control('GET', '/_sim/github/state')) as GhState,
    launchAll: async () => {
      await base.control('POST', '/_sim/macs', { bootMinS: 60, bootMaxS: 60 });
      const r = await run(['launch-instances', '--force']);
      if (r.code !== 0) throw new Error(`launch failed: ${r.stderr}`);
      await base.control('POST', '/_sim/clock', { speed: 0 });
    },
    registerForeignRunner: async (name, group, status) => {
      const org = gh.org;
      const groups = await api('GET', `/orgs/${org}/actions/runner-groups?per_page=100`);
      const list = groups.json['runner_groups'] as { name: string }[];
      if (!list.some((g) => g.name === group)) {
        const made = await api('POST', `/orgs/${org}/actions/runner-groups`, {
          name: group,
          visibility: 'all',
          allows_public_repositories: false,
        });
        if (made.status !== 201) throw new Error(`create group ${group}: ${made.status}`);
      }
      const reg = await api('POST', `/orgs/${org}/actions/runners/registration-token`);
      if (reg.status !== 201) throw new Error(`registration token: ${reg.status}`);
      gh.registerRunner({
        token: reg.json['token'] as string,
        name,
        labels: ['foreign'],
        group,
        replace: false,
      });
      return (await base.control('POST', `/_sim/github/runners/${name}/status`, {
        status,
      })) as GhRunner;
    },
  };
  return f;
}
