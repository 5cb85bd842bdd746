// The two targets of the remote-protocol contract suite (src/mac/PROTOCOL.md): the sandbox Mac
// (the real scripts, real bash, real time) and the simulated Mac (a model in virtual time). Both
// are driven only through the product's MacRemote/RemoteSession, so the command strings the
// manager really sends are what both must answer. A Target hides what legitimately differs: how
// a Mac starts, how time passes, how the PWPoolReady tag is set, how the cirrus worker is made to
// run tasks or write log lines, and where the side effects that no probe shows (wall messages,
// process counts) are looked up.
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { Logger } from 'pino';
import { MacRemote } from '../../src/pw-lib/adapters/remote-mac.js';
import { KnownHosts, SshConnection } from '../../src/pw-lib/adapters/ssh.js';
import { CIRRUS_PATTERNS } from '../../src/pw-lib/agents/cirrus.js';
import type { ProbeFacts } from '../../src/pw-lib/core/probe.js';
import type { ProbeRequest, RemoteSession, RemoteTarget } from '../../src/pw-lib/ports.js';
import { generateEd25519KeyPair, startSimCloud, type SimCloud } from '../../src/sim/index.js';
import { startSandboxMac, type SandboxMac } from '../sandbox/sandbox-mac.js';

export type TargetKind = 'sim' | 'sandbox';

/** The instance every scenario works on (its Name tag). */
export const NAME = 'MacM1-1';

/** What the manager passes to probe, maintenance and force-stop for a cirrus worker. */
export const PROBE: ProbeRequest = { kind: 'cirrus', name: NAME, patterns: CIRRUS_PATTERNS };

export interface ProcessCounts {
  /** Live `service_pool.sh` processes. */
  supervisors: number;
  /** Live `pw-pool-recycle` timers (the pid file aside: maintenance removes it). */
  timers: number;
  /** Live listeners of the worker (`cirrus worker run`). */
  listeners: number;
  /** Live job processes of the worker. */
  jobs: number;
}

export interface Target {
  readonly kind: TargetKind;
  /** A new session through the product's MacRemote; closed by `close()` at the latest. */
  session(): Promise<RemoteSession>;
  /**
   * Lets time pass until `check` holds on a fresh probe and returns that probe's facts (sim:
   * POST /_sim/advance in small steps; sandbox: probes in real time, bounded). Fails with the
   * last facts when it does not happen in time.
   */
  until(
    what: string,
    s: RemoteSession,
    check: (f: ProbeFacts) => boolean,
    opts?: { maxSeconds?: number },
  ): Promise<ProbeFacts>;
  /** At least `seconds` of the Mac's clock pass (sim: advance; sandbox: a real sleep). */
  elapse(seconds: number): Promise<void>;
  /** Sets (or, with undefined, removes) the instance's PWPoolReady tag as IMDS shows it. */
  setReadyTag(value: string | undefined): Promise<void>;
  /** The cirrus worker runs `n` tasks that start and complete; returns once they are logged. */
  completeTasks(n: number): Promise<void>;
  /** A task starts and keeps running (its job process is alive); returns once it is. */
  startJob(): Promise<void>;
  /** The running task completes (logged) and its job process ends; returns once it has. */
  finishJob(): Promise<void>;
  /** Appends raw lines to the worker log (the listener writes them); returns once they are in. */
  writeWorkerLog(lines: readonly string[]): Promise<void>;
  /** SIGKILL for the supervisor: no log line, the listener keeps running. */
  crashSupervisor(): Promise<void>;
  /** The messages `wall` received, in order. */
  walls(): Promise<string[]>;
  processCounts(): Promise<ProcessCounts>;
  /** Text of the Mac made comparable: the sandbox's root prefix is dropped from paths. */
  normalise(text: string): string;
  /** Sets the mode of ~/.pw-pool through SFTP (the product's SshConnection.upload does a chmod). */
  setPrivMode(mode: number): Promise<void>;
  /** What to show when a scenario fails: the Mac's setup.log. */
  diagnostics(): Promise<string>;
  /** Closes every session, the Mac and its servers. */
  close(): Promise<void>;
}

const silentLog: Logger = pino({ level: 'silent' });
const CLIENT_KEY = generateEd25519KeyPair();
/** Never written: accept-new pins in memory only (MacRemote.finish() is never called). */
const KNOWN_HOSTS_PATH = join(tmpdir(), 'pw-pool-contract-never-written', 'known_hosts');

interface Endpoint {
  target: RemoteTarget;
  port: number;
}

/** The product's remote adapter, as setup-instances builds it, for one endpoint. */
class Sessions {
  readonly #open = new Set<RemoteSession>();
  #knownHosts: KnownHosts | undefined;

  constructor(readonly endpoint: Endpoint) {}

  async #hosts(): Promise<KnownHosts> {
    this.#knownHosts ??= await KnownHosts.load(KNOWN_HOSTS_PATH, 'accept-new', silentLog);
    return this.#knownHosts;
  }

  async open(): Promise<RemoteSession> {
    const remote = new MacRemote({
      user: 'ec2-user',
      port: this.endpoint.port,
      connectTimeoutSeconds: 10,
      commandTimeoutSeconds: 20,
      auth: () => ({ agentSocket: undefined, privateKey: CLIENT_KEY.private }),
      knownHosts: await this.#hosts(),
      log: silentLog,
    });
    const session = await remote.connect(this.endpoint.target, silentLog);
    this.#open.add(session);
    return session;
  }

  /** `.pw-pool` with `mode`: SFTP mkdir (ignored when it exists) and chmod, as uploads do. */
  async chmodPriv(mode: number): Promise<void> {
    const conn = await SshConnection.open(
      this.endpoint.target.host,
      this.endpoint.target.instanceId,
      {
        user: 'ec2-user',
        port: this.endpoint.port,
        connectTimeoutMs: 10_000,
        commandTimeoutMs: 20_000,
        auth: { agentSocket: undefined, privateKey: CLIENT_KEY.private },
        knownHosts: await this.#hosts(),
        log: silentLog,
      },
    );
    try {
      await conn.upload([{ path: '.pw-pool', mode }], []);
    } finally {
      conn.close();
    }
  }

  async closeAll(): Promise<void> {
    for (const s of this.#open) await s.close();
    this.#open.clear();
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function describeFacts(f: ProbeFacts | undefined): string {
  return JSON.stringify(f ?? null);
}

// ------------------------------------------------------------------------------ the sandbox Mac

/** Real-time bound of every wait on the sandbox (it sets up in about 2 s; CI machines are slow). */
const SANDBOX_WAIT_MS = 45_000;
const JOB_RE = /cirrus-[0-9][^ ]*-darwin-arm64 agent /;
const WORKER = `${NAME}-worker`;

export async function startSandboxTarget(): Promise<Target> {
  const mac: SandboxMac = await startSandboxMac({ name: NAME, pollSeconds: 1 });
  const sessions = new Sessions({
    target: { instanceId: 'i-0sandbox0000000001', name: NAME, host: mac.host },
    port: mac.port,
  });
  const logPath = `/private/tmp/${NAME}-worker.log`;
  let tasks = 0;

  const wait = async <T>(what: string, check: () => Promise<T | undefined>): Promise<T> => {
    const deadline = Date.now() + SANDBOX_WAIT_MS;
    for (;;) {
      const v = await check();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`sandbox: timed out waiting for ${what}`);
      await sleep(50);
    }
  };
  const logText = async () => (await mac.readText(logPath)) ?? '';
  const logLineCount = async () => (await logText()).split('\n').length - 1;
  const byCommand = async (re: RegExp, user?: string) =>
    (await mac.processes()).filter(
      (p) => re.test(p.cmdline) && (user === undefined || p.user === user),
    );
  const appendAndWait = async (commands: Parameters<SandboxMac['cirrus']>[0], newLines: number) => {
    const before = await logLineCount();
    await mac.cirrus(commands);
    await wait(`${newLines} new worker-log lines`, async () =>
      (await logLineCount()) >= before + newLines ? true : undefined,
    );
  };

  return {
    kind: 'sandbox',
    session: () => sessions.open(),
    async until(what, s, check) {
      // Real time: the sandbox's supervisor polls every second, setup takes about two.
      const deadline = Date.now() + SANDBOX_WAIT_MS;
      let last: ProbeFacts | undefined;
      for (;;) {
        last = await s.probe(PROBE);
        if (check(last)) return last;
        if (Date.now() > deadline) {
          const log = (await mac.readText('/Users/ec2-user/setup.log')) ?? '';
          throw new Error(
            `sandbox: timed out waiting for ${what}; last probe ${describeFacts(last)}\nsetup.log:\n${log}`,
          );
        }
        // A probe runs pgrep/pkill stand-ins that scan /proc: poll gently.
        await sleep(250);
      }
    },
    elapse: (seconds) => sleep(seconds * 1000),
    setReadyTag(value) {
      mac.setTag('PWPoolReady', value);
      return Promise.resolve();
    },
    async completeTasks(n) {
      await appendAndWait([{ tasks: n }], 2 * n);
      tasks += n;
    },
    async startJob() {
      await appendAndWait([{ startTask: true }, { job: 'start' }], 1);
      tasks += 1;
      await wait('a job process', async () =>
        (await byCommand(JOB_RE, WORKER)).length > 0 ? true : undefined,
      );
    },
    async finishJob() {
      await appendAndWait([{ finishTask: tasks }, { job: 'stop' }], 1);
      await wait('the job process to end', async () =>
        (await byCommand(JOB_RE, WORKER)).length === 0 ? true : undefined,
      );
    },
    async writeWorkerLog(lines) {
      await appendAndWait(
        lines.map((line) => ({ line })),
        lines.length,
      );
    },
    async crashSupervisor() {
      const sups = await byCommand(/service_pool\.sh/);
      assert.equal(sups.length, 1, 'one supervisor to crash');
      for (const p of sups) process.kill(p.pid, 'SIGKILL');
      await wait('the supervisor to die', async () =>
        (await byCommand(/service_pool\.sh/)).length === 0 ? true : undefined,
      );
    },
    async walls() {
      return (await mac.standInLog()).filter((c) => c.tool === 'wall').map((c) => c.stdin ?? '');
    },
    async processCounts() {
      return {
        supervisors: (await byCommand(/service_pool\.sh/)).length,
        timers: (await byCommand(/pw-pool-recycle/)).length,
        // The listener is `sudo -iu <worker> …/cirrus worker run …`: the stand-in's process
        // (as the worker) is the one pgrep -u <worker> sees.
        listeners: (await byCommand(/cirrus worker run/, WORKER)).length,
        jobs: (await byCommand(JOB_RE, WORKER)).length,
      };
    },
    normalise: (text) => text.replaceAll(mac.root, ''),
    diagnostics: async () => (await mac.readText('/Users/ec2-user/setup.log')) ?? '(no setup.log)',
    setPrivMode: (mode) => sessions.chmodPriv(mode),
    async close() {
      await sessions.closeAll();
      await mac.close();
    },
  };
}

// ------------------------------------------------------------------------------ the simulated Mac

/** Virtual seconds per step while waiting (half the supervisor's poll). */
const SIM_STEP_S = 5;
const BOOT_S = 60;

interface SimMacJson {
  processes: { pid: number; role: string; command: string }[];
  job: { endsAt: string } | null;
  walls: { message: string }[];
}

export async function startSimTarget(): Promise<Target> {
  const sim: SimCloud = await startSimCloud({
    hosts: 1,
    speed: 0,
    timings: { bootMinS: BOOT_S, bootMaxS: BOOT_S },
    // No tasks nor noise lines of its own: the scenarios make the worker do exactly what the
    // sandbox's cirrus stand-in does.
    macs: { taskRatePerHour: 0, noiseLines: false, setupSeconds: 30, setupJitterSeconds: 5 },
  });
  try {
    const control = async (method: string, path: string, body?: unknown): Promise<unknown> => {
      const res = await fetch(`${sim.endpoint}${path}`, {
        method,
        ...(body === undefined
          ? {}
          : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      });
      const json: unknown = await res.json();
      assert.ok(res.ok, `sim ${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
      return json;
    };
    const advance = (seconds: number) => control('POST', '/_sim/advance', { seconds });
    const macState = async () => (await control('GET', `/_sim/macs/${NAME}`)) as SimMacJson;

    const host = sim.world.host(NAME);
    assert.ok(host, `sim host ${NAME}`);
    const launched = sim.world.runInstances({
      minCount: 1,
      maxCount: 1,
      hostId: host.hostId,
      launchTemplate: { name: 'CirrusMacM1PWinstance' },
      tagSpecifications: [
        {
          resourceType: 'instance',
          tags: [
            { key: 'Name', value: NAME },
            { key: 'purpose', value: 'prod' },
            { key: 'PWPoolReady', value: 'true' },
          ],
        },
      ],
    });
    const instance = launched.instances[0];
    assert.ok(instance);
    await advance(60 + BOOT_S); // pending, then the boot: SSH answers
    const sessions = new Sessions({
      target: { instanceId: instance.instanceId, name: NAME, host: instance.address },
      port: sim.sshPort,
    });

    return {
      kind: 'sim',
      session: () => sessions.open(),
      async until(what, s, check, opts = {}) {
        const maxS = opts.maxSeconds ?? 1800;
        let last: ProbeFacts | undefined;
        for (let waited = 0; ; waited += SIM_STEP_S) {
          last = await s.probe(PROBE);
          if (check(last)) return last;
          if (waited >= maxS) {
            throw new Error(
              `sim: ${what} did not happen within ${maxS} virtual seconds; last probe ${describeFacts(last)}`,
            );
          }
          await advance(SIM_STEP_S);
        }
      },
      elapse: async (seconds) => {
        await advance(seconds);
      },
      async setReadyTag(value) {
        await control(
          'POST',
          `/_sim/instances/${instance.instanceId}`,
          value === undefined ? { removeTags: ['PWPoolReady'] } : { tags: { PWPoolReady: value } },
        );
      },
      async completeTasks(n) {
        await control('POST', `/_sim/macs/${NAME}/task`, { durationSeconds: 0, count: n });
      },
      async startJob() {
        const mac = (await control('POST', `/_sim/macs/${NAME}/task`, {
          durationSeconds: 1800,
        })) as SimMacJson;
        assert.ok(mac.job, 'a running task');
      },
      async finishJob() {
        const job = (await macState()).job;
        assert.ok(job, 'a running task to finish');
        const now = (await control('GET', '/_sim/clock')) as { now: string };
        const left = (Date.parse(job.endsAt) - Date.parse(now.now)) / 1000;
        await advance(Math.max(0, left));
        assert.equal((await macState()).job, null, 'the task completed');
      },
      async writeWorkerLog(lines) {
        await control('POST', `/_sim/macs/${NAME}/worker-log`, { lines });
      },
      async crashSupervisor() {
        await control('POST', '/_sim/faults', { kind: 'supervisor-crash', target: NAME });
        const mac = await macState();
        assert.equal(mac.processes.filter((p) => p.role === 'supervisor').length, 0);
      },
      async walls() {
        return (await macState()).walls.map((w) => w.message);
      },
      async processCounts() {
        const procs = (await macState()).processes;
        const count = (role: string) => procs.filter((p) => p.role === role).length;
        return {
          supervisors: count('supervisor'),
          timers: procs.filter((p) => p.role === 'timer' && p.command.includes('pw-pool-recycle'))
            .length,
          listeners: count('listener'),
          jobs: count('job'),
        };
      },
      normalise: (text) => text,
      diagnostics: () =>
        Promise.resolve(
          sim.macs?.mac(NAME)?.fs.readText('/Users/ec2-user/setup.log') ?? '(no setup.log)',
        ),
      setPrivMode: (mode) => sessions.chmodPriv(mode),
      async close() {
        await sessions.closeAll();
        await sim.close();
      },
    };
  } catch (error) {
    await sim.close();
    throw error;
  }
}

export function startTarget(kind: TargetKind): Promise<Target> {
  return kind === 'sim' ? startSimTarget() : startSandboxTarget();
}
