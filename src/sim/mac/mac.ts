// One simulated Mac: the machine behind an instance, in the world's virtual time. It keeps a disk
// (filesystem.ts), users and a process table, and runs what the real on-instance scripts would
// run (behavior.md §6): setup.sh (phases over ≈ setupSeconds), the supervisor service_pool.sh, the
// CI agent's listener and its job processes (tasks at a seeded rate, with the agent's log lines),
// and the recycling timer that execs shutdown.sh. Every delayed step is an action scheduled on the
// world (SimWorld.schedule), so it happens at its virtual instant, also inside a long `advance`.
//
// The protocol operations (what the manager's commands do) live in operations.ts and use the
// "system calls" below; the SSH transport lives in ssh-endpoint.ts.

import { createHash } from 'node:crypto';
import type { FaultInjector, MacRef } from '../faults.js';
import type { InstanceView } from '../model.js';
import { SeededRandom } from '../random.js';
import type { SimWorld } from '../world.js';
import { MacFileSystem, type FileView, type NodeOwnership } from './filesystem.js';
import {
  runOperation,
  type CommandRecord,
  type ExecRequest,
  type ExecResult,
} from './operations.js';
import {
  AGENT_ENV,
  AGENTS,
  CI_TMP,
  CIRRUS_CFG,
  DRAIN_STARTED,
  isAgentKind,
  LIBEXEC,
  LISTENER_PID,
  NAME_PATTERN,
  RECYCLE_DEADLINE,
  RECYCLE_PID,
  runnerDir,
  SECRET,
  SETUP_DONE,
  SETUP_FAILED,
  SETUP_LOG,
  SETUP_PID,
  SETUP_STARTED,
  SUPERVISOR_PID,
  TMP,
  workerHome,
  workerLog,
  workerUser,
  type AgentKind,
} from './paths.js';
import { ereToRegExp } from './posix-ere.js';
import { controlToSpace, RE, type SetupArgs } from './setup-args.js';
import type { MacSettings } from './settings.js';

export type MacPower = 'off' | 'booting' | 'on';
export type ProcessRole = 'setup' | 'supervisor' | 'listener' | 'job' | 'timer';

export interface MacProcess {
  pid: number;
  user: string;
  command: string;
  role: ProcessRole;
  startedAtMs: number;
}

/**
 * What a simulated Mac needs from the fake GitHub (src/sim/github's FakeGitHub provides it): its
 * config.sh registers there, and its runner's status and job routing follow it.
 */
export interface MacGitHubLink {
  /** The fake's server URL (setup.sh's `url=` must name it). */
  readonly apiUrl: string;
  readonly org: string;
  /** config.sh: throws (RunnerRegistrationError) on an expired or unknown token, etc. */
  registerRunner(req: {
    token: string;
    name: string;
    labels: string[];
    group: string;
    replace: boolean;
  }): unknown;
  setRunnerStatus(name: string, status: 'online' | 'offline', busy?: boolean): unknown;
  runner(name: string): { status: 'online' | 'offline'; busy: boolean } | undefined;
  runnerCanReceiveJobs(name: string): boolean;
}

/** What the Mac needs from the fleet that owns it. */
export interface MacContext {
  world: SimWorld;
  faults: FaultInjector;
  /** The fake GitHub its github-actions runner registers with; undefined = none (the runner is
   *  registered locally only, and every job is routed to it). */
  github: MacGitHubLink | undefined;
  /** The effective settings of this Mac (fleet settings under its overrides). */
  settings(): MacSettings;
  /** The Mac powered on or off: the fleet opens or closes its SSH endpoint. */
  powerChanged(mac: SimMac): void;
  /** A host-key-change fault hit this Mac. */
  rotateHostKey(mac: SimMac): void;
}

export interface SetupRequest {
  kind: AgentKind;
  name: string;
  /** The validated `key=value` words, passed on unchanged (they hold no secret). */
  args: string[];
  options: SetupArgs;
  /** Bytes that arrived on stdin (the secret); its content is never kept. */
  secretBytes: number;
}

interface AgentParams {
  kind: AgentKind;
  name: string;
  worker: string;
  drainS: number;
}

interface SetupRun {
  pid: number;
  request: SetupRequest;
  startedAtMs: number;
  durationMs: number;
  failReason: string | undefined;
  step: number;
  /** setup.sh read the secret file (it holds the token in memory only). */
  hasToken: boolean;
  /**
   * The secret's value, kept only for a registration with the fake GitHub (config.sh) and dropped
   * at registration, when setup.sh no longer needs it, or when the run ends. Never logged, never
   * in a view.
   */
  token: string | undefined;
  mountedNow: boolean;
}

interface SetupSummary {
  phase: 'running' | 'done' | 'failed';
  kind: AgentKind;
  name: string;
  args: string[];
  startedAt: Date;
  endsAt: Date | undefined;
  finishedAt: Date | undefined;
  /** The step setup.sh is at (its `##### <ts> <step>` line), or why it stopped. */
  step: string;
  failedReason: string | undefined;
  secretBytes: number;
}

interface SupervisorState {
  pid: number;
  agent: AgentParams;
  startedAtMs: number;
  mode: 'loop' | 'draining';
  /** Consecutive failed reads of the ready tag (IMDS unreachable). */
  imdsFailures: number;
  nextTickMs: number | undefined;
}

interface ListenerState {
  pid: number;
  agent: AgentParams;
  startedAtMs: number;
}

interface TaskState {
  id: string;
  jobPid: number;
  startedAtMs: number;
  endsAtMs: number;
}

interface TimerState {
  pid: number;
  deadlineMs: number;
  drainS: number;
  jobPattern: string;
  phase: 'sleeping' | 'waiting-for-job';
  waitStartMs: number | undefined;
}

export interface WallMessage {
  at: Date;
  message: string;
}

export interface SftpRecord {
  at: Date;
  request: string;
  path: string;
  detail?: string;
}

/** The Mac as GET /_sim/state and GET /_sim/macs show it (never any secret). */
export interface MacView {
  instanceId: string;
  name: string | undefined;
  address: string;
  power: MacPower;
  bootedAt: Date | undefined;
  sshReadyAt: Date | undefined;
  hostname: string;
  users: string[];
  files: Record<string, FileView>;
  processes: { pid: number; user: string; role: ProcessRole; command: string; startedAt: Date }[];
  setup: SetupSummary | undefined;
  supervisor: { pid: number; mode: 'loop' | 'draining'; startedAt: Date } | undefined;
  listener: { pid: number; kind: AgentKind; startedAt: Date } | undefined;
  job: { pid: number; task: string; startedAt: Date; endsAt: Date } | undefined;
  timer:
    | {
        pid: number;
        deadline: Date;
        deadlineEpoch: number;
        drainSeconds: number;
        phase: 'sleeping' | 'waiting-for-job';
      }
    | undefined;
  tasks: { started: number; finished: number; aborted: number };
  walls: WallMessage[];
  commands: CommandRecord[];
  sftp: SftpRecord[];
  settings: MacSettings;
  overrides: Partial<MacSettings>;
}

const MAX_RECORDS = 500;
const PRIVATE_EC2: NodeOwnership = { mode: 0o600, owner: 'ec2-user', group: 'staff' };
const WORKER_LOG_OWNER: NodeOwnership = { mode: 0o660, owner: 'ec2-user', group: 'staff' };
const GITHUB_JOBS = ['build (macos-14)', 'test-unit', 'integration', 'lint', 'package'];

export class SimMac {
  readonly instanceId: string;
  readonly address: string;
  readonly fs: MacFileSystem;
  overrides: Partial<MacSettings> = {};

  readonly #ctx: MacContext;
  readonly #random: SeededRandom;
  readonly #users = new Set(['root', 'ec2-user']);
  readonly #procs = new Map<number, MacProcess>();
  readonly #timers = new Map<string, () => void>();
  readonly #commands: CommandRecord[] = [];
  readonly #sftp: SftpRecord[] = [];
  readonly #walls: WallMessage[] = [];
  #power: MacPower = 'off';
  #bootedAtMs: number | undefined;
  #sshReadyAtMs: number | undefined;
  #cancelBoot: (() => void) | undefined;
  #lives = 0;
  #hostname: string;
  #nextPid: number;
  #setupRun: SetupRun | undefined;
  #setup: SetupSummary | undefined;
  #sup: SupervisorState | undefined;
  #listener: ListenerState | undefined;
  #task: TaskState | undefined;
  #timer: TimerState | undefined;
  #taskSeq = 0;
  #tasksStarted = 0;
  #tasksFinished = 0;
  #tasksAborted = 0;

  constructor(ctx: MacContext, instance: InstanceView, seed: number) {
    this.#ctx = ctx;
    this.instanceId = instance.instanceId;
    this.address = instance.address;
    this.#random = new SeededRandom((seed ^ hash32(instance.instanceId)) | 0);
    this.#nextPid = 300 + Math.floor(this.#random.next() * 400);
    this.#hostname = instance.privateDnsName.replace(/\.ec2\.internal$/, '') || 'localhost';
    this.fs = new MacFileSystem(
      1_000_000 + Math.floor(this.#random.next() * 1_000_000),
      ctx.world.sync().getTime(),
    );
  }

  // ---------------------------------------------------------------- identity, power

  get power(): MacPower {
    return this.#power;
  }

  get ref(): MacRef {
    return { instanceId: this.instanceId, name: this.name };
  }

  get name(): string | undefined {
    return this.#ctx.world.instance(this.instanceId)?.name;
  }

  nowMs(): number {
    return this.#ctx.world.sync().getTime();
  }

  /** The settings in force on this Mac: the fleet's under this Mac's overrides. */
  effectiveSettings(): MacSettings {
    return this.#ctx.settings();
  }

  /** Follows the instance's EC2 state: powered while `running`, SSH from sshReadyAt. */
  follow(instance: InstanceView): void {
    if (instance.state === 'running') {
      const readyAtMs = instance.sshReadyAt?.getTime();
      if (this.#power === 'off') this.#boot(readyAtMs);
      else if (this.#power === 'booting' && readyAtMs !== this.#sshReadyAtMs) {
        this.#boot(readyAtMs);
      }
    } else if (this.#power !== 'off') {
      this.powerOff();
    }
  }

  #boot(readyAtMs: number | undefined): void {
    this.#cancelBoot?.();
    this.#cancelBoot = undefined;
    if (this.#power === 'off') {
      this.#power = 'booting';
      if (this.#lives > 0) {
        // A reboot empties /private/tmp (the worker log and the CI scratch volume with it).
        for (const child of this.fs.children(TMP)) this.fs.removeTree(`${TMP}/${child}`);
      }
    }
    this.#sshReadyAtMs = readyAtMs;
    if (readyAtMs === undefined) return;
    const up = (nowMs: number): void => {
      this.#cancelBoot = undefined;
      if (this.#power !== 'booting') return;
      this.#power = 'on';
      this.#bootedAtMs = nowMs;
      this.#lives++;
      this.#ctx.powerChanged(this);
    };
    const now = this.#ctx.world.sync().getTime();
    if (readyAtMs <= now) up(now);
    else this.#cancelBoot = this.#ctx.world.schedule(readyAtMs, up);
  }

  /** Shutdown, stop or terminate: every process ends, SSH goes away. The disk stays. */
  powerOff(): void {
    if (this.#power === 'off') return;
    this.#cancelBoot?.();
    this.#cancelBoot = undefined;
    for (const cancel of this.#timers.values()) cancel();
    this.#timers.clear();
    this.#procs.clear();
    this.#setupRun = undefined;
    if (this.#setup?.phase === 'running') {
      this.#setup.phase = 'failed';
      this.#setup.step = 'interrupted by the shutdown';
    }
    this.#sup = undefined;
    const listener = this.#listener;
    this.#listener = undefined;
    if (this.#task !== undefined) this.#tasksAborted++;
    this.#task = undefined;
    this.#timer = undefined;
    this.#power = 'off';
    if (listener !== undefined) this.#runnerStatus(listener.agent, 'offline', false);
    this.#sshReadyAtMs = undefined;
    this.#ctx.powerChanged(this);
  }

  // ---------------------------------------------------------------- commands

  /** Runs one SSH exec request at the current virtual time and records it. */
  exec(request: ExecRequest, fault?: string): ExecResult {
    const nowMs = this.nowMs();
    const { result, record } = runOperation(this, request, nowMs, fault);
    this.#commands.push(record);
    if (this.#commands.length > MAX_RECORDS) this.#commands.shift();
    return result;
  }

  recordSftp(entry: Omit<SftpRecord, 'at'>): void {
    this.#sftp.push({ at: new Date(this.nowMs()), ...entry });
    if (this.#sftp.length > MAX_RECORDS) this.#sftp.shift();
  }

  // ---------------------------------------------------------------- system calls (operations.ts)

  hasUser(user: string): boolean {
    return this.#users.has(user);
  }

  /** Processes of `user` whose command line matches `pattern` (pgrep -u user -f). */
  processesMatching(user: string, pattern: RegExp): MacProcess[] {
    return [...this.#procs.values()].filter((p) => p.user === user && pattern.test(p.command));
  }

  processes(): MacProcess[] {
    return [...this.#procs.values()];
  }

  /** lib.sh's pw_pid_state: `alive` when the pid file names a live process whose command line
   *  contains `marker`, `dead` when the file exists without one, `absent` without the file. */
  pidFileState(path: string, marker: string): 'alive' | 'dead' | 'absent' {
    if (this.fs.get(path) === undefined) return 'absent';
    const pid = this.pidFromFile(path);
    const proc = pid === undefined ? undefined : this.#procs.get(pid);
    return proc !== undefined && proc.command.includes(marker) ? 'alive' : 'dead';
  }

  /** The pid a pid file records (its first line, when that is an integer >= 1). */
  pidFromFile(path: string): number | undefined {
    const line = firstLine(this.fs.readText(path) ?? '');
    return RE.uint.test(line) ? Number(line) : undefined;
  }

  /** Kills matching processes of `user` (pkill -u user -f); returns how many. */
  pkill(user: string, pattern: RegExp, nowMs: number): number {
    const victims = this.processesMatching(user, pattern);
    for (const p of victims) this.kill(p.pid, nowMs);
    return victims.length;
  }

  /** SIGTERM/SIGKILL: the process ends at once, with its role's consequences. */
  kill(pid: number, nowMs: number): boolean {
    const p = this.#procs.get(pid);
    if (p === undefined) return false;
    this.#procs.delete(pid);
    switch (p.role) {
      case 'listener':
        if (this.#listener?.pid === pid) this.#listenerGone(nowMs);
        break;
      case 'job':
        if (this.#task?.jobPid === pid) {
          this.#task = undefined;
          this.#tasksAborted++;
          if (this.#listener !== undefined)
            this.#runnerStatus(this.#listener.agent, undefined, false);
          this.#cancel('task');
          this.#scheduleNextTask(nowMs);
          this.#wakeSupervisor(nowMs);
        }
        break;
      case 'supervisor':
        // SIGTERM: service_pool.sh exits at once and leaves the listener alone.
        if (this.#sup?.pid === pid) {
          this.#sup = undefined;
          this.#cancel('supervisor');
        }
        break;
      case 'setup':
        if (this.#setupRun?.pid === pid) this.#endSetup(this.#setupRun, nowMs, 'failed', 'killed');
        break;
      case 'timer':
        if (this.#timer?.pid === pid) {
          this.#timer = undefined;
          this.#cancel('timer');
        }
        break;
    }
    return true;
  }

  /** The agent config may be gone, or the tag changed: the supervisor looks at its next turn. */
  configChanged(nowMs: number): void {
    this.#wakeSupervisor(nowMs);
  }

  wall(message: string, nowMs: number): void {
    this.#walls.push({ at: new Date(nowMs), message });
    if (this.#walls.length > MAX_RECORDS) this.#walls.shift();
  }

  /** Appends `##### <message>` to setup.log (lib.sh's pw_log; every script's output goes there). */
  log(message: string, nowMs: number): void {
    this.fs.appendText(SETUP_LOG, `##### ${message}\n`, PRIVATE_EC2, nowMs);
  }

  /** lib.sh's pw_put: a small file of ec2-user (umask 077 in the scripts: 0600). */
  writeOwnFile(path: string, text: string, nowMs: number): void {
    this.fs.writeText(path, text, PRIVATE_EC2, nowMs);
  }

  /** start-timer: `bash -c 'sleep "$1" && exec /bin/bash "$2" "$3" "$4"' pw-pool-recycle ...`. */
  startTimer(seconds: number, drainS: number, jobPattern: string, nowMs: number): number {
    const proc = this.#spawn(
      'ec2-user',
      `/bin/bash -c sleep "$1" && exec /bin/bash "$2" "$3" "$4" pw-pool-recycle ${seconds} ${LIBEXEC}/shutdown.sh ${drainS} ${jobPattern}`,
      'timer',
      nowMs,
    );
    const deadlineS = epochSeconds(nowMs) + seconds;
    // `… >>setup.log 2>&1 &`: the shell creates the log when it starts the timer.
    if (this.fs.get(SETUP_LOG) === undefined) {
      this.fs.appendText(SETUP_LOG, '', PRIVATE_EC2, nowMs);
    }
    this.writeOwnFile(RECYCLE_PID, `${proc.pid}\n`, nowMs);
    this.writeOwnFile(RECYCLE_DEADLINE, `${deadlineS}\n`, nowMs);
    this.#timer = {
      pid: proc.pid,
      deadlineMs: nowMs + seconds * 1000,
      drainS,
      jobPattern,
      phase: 'sleeping',
      waitStartMs: undefined,
    };
    this.#at('timer', nowMs + seconds * 1000, (now) => this.#execShutdown(now));
    return deadlineS;
  }

  /**
   * Starts setup.sh detached (start-setup, after `.setup.started` and the secret file). `token` is
   * the secret's value: kept only while a github-actions registration with the fake GitHub may
   * need it.
   */
  startSetup(request: SetupRequest, nowMs: number, token?: string): number {
    const proc = this.#spawn(
      'ec2-user',
      [`/bin/bash ${LIBEXEC}/setup.sh`, request.kind, request.name, ...request.args].join(' '),
      'setup',
      nowMs,
    );
    // Step 1: an earlier setup that completed, or one still running, leaves this one a no-op.
    if (this.fs.get(SETUP_DONE) !== undefined) {
      this.log(
        `Appears setup script already ran at ${lastLine(this.fs.readText(SETUP_DONE) ?? '')}`,
        nowMs,
      );
      this.#procs.delete(proc.pid);
      this.fs.remove(SECRET);
      return proc.pid;
    }
    const running = this.#setupRun;
    if (running !== undefined && this.pidFileState(SETUP_PID, 'setup.sh') === 'alive') {
      this.log(
        `${isoSeconds(nowMs)} setup.sh is already running as pid ${running.pid}; leaving it alone`,
        nowMs,
      );
      this.#procs.delete(proc.pid);
      this.fs.remove(SECRET);
      return proc.pid;
    }
    this.writeOwnFile(SETUP_PID, `${proc.pid}\n`, nowMs);
    const fault = this.#ctx.faults.takeMacFault('setup-fail', this.ref);
    const s = this.#ctx.settings();
    const jitter = s.setupJitterSeconds * (2 * this.#random.next() - 1);
    const durationMs = Math.max(1, s.setupSeconds + jitter) * 1000;
    const run: SetupRun = {
      pid: proc.pid,
      request,
      startedAtMs: nowMs,
      durationMs,
      failReason:
        fault === undefined
          ? undefined
          : typeof fault.value === 'string'
            ? fault.value
            : 'brew install krunkit failed',
      step: 0,
      hasToken: false,
      token:
        request.kind === 'github-actions' && this.#ctx.github !== undefined ? token : undefined,
      mountedNow: false,
    };
    this.#setupRun = run;
    this.#setup = {
      phase: 'running',
      kind: request.kind,
      name: request.name,
      args: [...request.args],
      startedAt: new Date(nowMs),
      endsAt: new Date(nowMs + durationMs),
      finishedAt: undefined,
      step: 'start',
      failedReason: undefined,
      secretBytes: request.secretBytes,
    };
    this.#runSetupStep(nowMs);
    return proc.pid;
  }

  /**
   * Starts a task now on an idle listener (control API); false when there is none. A duration of
   * 0 completes it at once, and then `count` tasks run back to back.
   */
  startTaskNow(nowMs: number, durationS?: number, count = 1): boolean {
    if (this.#power !== 'on' || this.#listener === undefined || this.#task !== undefined) {
      return false;
    }
    if (durationS !== 0) {
      this.#startTask(nowMs, durationS);
      return true;
    }
    for (let i = 0; i < count; i++) {
      this.#startTask(nowMs, 0);
      this.#finishTask(nowMs);
    }
    return true;
  }

  /** Appends raw lines to the worker log of this instance's Name (control API); false without
   *  a Name or a worker log (it exists once setup.sh created it). */
  appendWorkerLog(lines: readonly string[], nowMs: number): boolean {
    const name = this.name;
    if (name === undefined || this.fs.get(workerLog(name)) === undefined) return false;
    for (const line of lines) {
      this.fs.appendText(workerLog(name), `${line}\n`, WORKER_LOG_OWNER, nowMs);
    }
    return true;
  }

  // ---------------------------------------------------------------- faults

  /** Applies the fault kinds that act on a running Mac (called when faults change). */
  applyFaults(nowMs: number): void {
    if (this.#ctx.faults.takeMacFault('host-key-change', this.ref) !== undefined) {
      this.#ctx.rotateHostKey(this);
    }
    if (this.#power !== 'on') return;
    if (this.#listener !== undefined) {
      if (this.#ctx.faults.takeMacFault('listener-crash', this.ref) !== undefined) {
        this.kill(this.#listener.pid, nowMs);
      }
    }
    if (this.#sup !== undefined) {
      if (this.#ctx.faults.takeMacFault('supervisor-crash', this.ref) !== undefined) {
        this.#procs.delete(this.#sup.pid); // SIGKILL: no log line, the listener stays
        this.#sup = undefined;
        this.#cancel('supervisor');
      }
    }
    // A removed persistent listener fault lets the supervisor start the listener again.
    this.#wakeSupervisor(nowMs);
  }

  // ---------------------------------------------------------------- setup.sh (behavior.md §6.1)

  #runSetupStep(nowMs: number): void {
    const run = this.#setupRun;
    if (run === undefined) return;
    const step = SETUP_STEPS[run.step];
    if (step === undefined) return;
    if (step.title !== undefined) {
      const title = step.title(run);
      if (this.#setup !== undefined) this.#setup.step = title;
      this.log(`${isoSeconds(nowMs)} ${title}`, nowMs);
    }
    const failure = step.run(this, run, nowMs);
    if (failure !== undefined) {
      this.#endSetup(run, nowMs, 'failed', failure);
      return;
    }
    if (this.#setupRun !== run) return; // finished in this step
    run.step++;
    const next = SETUP_STEPS[run.step];
    if (next === undefined) return;
    this.#at('setup', run.startedAtMs + next.at * run.durationMs, (now) => this.#runSetupStep(now));
  }

  /** setup.sh exits: its EXIT trap removes the secret and setup.pid, and records a failure. */
  #endSetup(run: SetupRun, nowMs: number, phase: 'done' | 'failed', reason?: string): void {
    run.token = undefined;
    this.fs.remove(SECRET);
    if (this.pidFromFile(SETUP_PID) === run.pid) this.fs.remove(SETUP_PID);
    if (phase === 'failed') {
      const oneLine = controlToSpace(reason ?? 'setup.sh failed');
      this.fs.writeText(SETUP_FAILED, `${oneLine}\n`, PRIVATE_EC2, nowMs);
      this.log(`${isoSeconds(nowMs)} Setup failed: ${oneLine}`, nowMs);
    }
    this.#procs.delete(run.pid);
    this.#setupRun = undefined;
    this.#cancel('setup');
    if (this.#setup !== undefined) {
      this.#setup.phase = phase;
      this.#setup.finishedAt = new Date(nowMs);
      this.#setup.failedReason = phase === 'failed' ? reason : undefined;
    }
  }

  /** Step 2: the setup start (the drop file, a stale failure removed). */
  setupRecordStart(_run: SetupRun, nowMs: number): string | undefined {
    if (this.fs.get(SETUP_STARTED) === undefined) {
      this.fs.appendText(SETUP_STARTED, `${isoSeconds(nowMs)}\n`, PRIVATE_EC2, nowMs);
    }
    this.fs.remove(SETUP_FAILED);
    return undefined;
  }

  /** Step 3: ec2-user, and the Name and PWPoolReady tags from IMDSv2. */
  setupCheckTags(run: SetupRun): string | undefined {
    const tags = readTags(this.#ctx.world.instance(this.instanceId));
    const name = tags === 'recheck' ? undefined : tags.get('Name');
    if (name === undefined) {
      return `could not read the instance tag 'Name' from IMDSv2 (${tags === 'recheck' ? 'recheck' : 'absent'})`;
    }
    if (!NAME_PATTERN.test(name))
      return `instance tag 'Name' does not match ${NAME_PATTERN.source}`;
    if (name !== run.request.name) return `instance tag 'Name' is not '${run.request.name}'`;
    if (tags === 'recheck' || tags.get('PWPoolReady') !== 'true') {
      return "instance tag 'PWPoolReady' is not 'true'";
    }
    return undefined;
  }

  /** Step 4: read the secret file and delete it (the token stays in setup.sh's memory). */
  setupConsumeSecret(run: SetupRun, nowMs: number): string | undefined {
    const secret = this.fs.get(SECRET);
    if (secret === undefined) {
      run.token = undefined;
      this.log('No new CI secret; an existing agent configuration will be kept', nowMs);
      return undefined;
    }
    this.fs.remove(SECRET);
    if (secret.size <= 1) return 'the CI secret file is empty or malformed';
    run.hasToken = true;
    return undefined;
  }

  /** Step 6, the end of the package installs: where a setup-fail fault strikes. */
  setupPackagesDone(run: SetupRun, nowMs: number): string | undefined {
    if (run.failReason !== undefined) return run.failReason;
    const bin = { mode: 0o755, owner: 'ec2-user', group: 'admin' };
    this.fs.mkdirp('/opt/homebrew/bin', bin, nowMs);
    if (run.request.kind === 'cirrus') {
      this.fs.writeText('/opt/homebrew/bin/cirrus', '#!/bin/sh\n# simulated\n', bin, nowMs);
    }
    return undefined;
  }

  /** Step 7. */
  setupHostname(run: SetupRun): string | undefined {
    this.#hostname = run.request.name;
    return undefined;
  }

  /** Step 8: `sysadminctl -addUser <name>-worker`. */
  setupWorkerUser(run: SetupRun): string | undefined {
    this.#users.add(workerUser(run.request.name));
    return undefined;
  }

  /** Step 9: the APFS volumes for /private/tmp/ci and the worker home (first time only). */
  setupStorage(run: SetupRun, nowMs: number): string | undefined {
    const worker = workerUser(run.request.name);
    const home = workerHome(run.request.name);
    const ciTmp = this.fs.get(CI_TMP);
    if (ciTmp === undefined || ciTmp.owner !== worker) {
      this.fs.removeTree(home);
      run.mountedNow = true;
    }
    this.fs.mkdirp(CI_TMP, { mode: 0o1770, owner: worker, group: 'staff' }, nowMs);
    this.fs.mkdirp(home, { mode: 0o750, owner: worker, group: 'staff' }, nowMs);
    for (const path of [CI_TMP, home]) {
      Object.assign(this.fs.get(path) ?? {}, { owner: worker, group: 'staff' });
    }
    if (run.mountedNow) {
      // `sudo pkill -u <worker>`: nothing of the worker survives a fresh volume.
      this.pkill(worker, /.*/, nowMs);
    }
    return undefined;
  }

  /** Step 10: the agent config (holding the token: only its size is kept) and agent.env. */
  setupAgent(run: SetupRun, nowMs: number): string | undefined {
    const { kind, name, options } = run.request;
    const worker = workerUser(name);
    if (kind === 'cirrus') {
      if (!run.hasToken) {
        if (this.fs.get(CIRRUS_CFG) === undefined)
          return 'no CI secret and no cirrus configuration';
        this.log('Keeping the existing cirrus configuration', nowMs);
      } else {
        const colon = options.label.indexOf(':');
        const yaml = [
          '---',
          `name: "${name}"`,
          `token: "${'x'.repeat(Math.max(0, run.request.secretBytes - 1))}"`,
          'labels:',
          `  ${options.label.slice(0, colon)}: ${options.label.slice(colon + 1).replace(/^ /, '')}`,
          'log:',
          `  file: "${workerLog(name)}"`,
          'security:',
          '  allowed-isolations:',
          '    none: {}',
          '',
        ].join('\n');
        this.fs.writeSensitive(CIRRUS_CFG, Buffer.byteLength(yaml), PRIVATE_EC2, nowMs);
        run.hasToken = false;
      }
    } else {
      const dir = runnerDir(name);
      const own = { mode: 0o644, owner: worker, group: 'staff' };
      this.fs.mkdirp(`${dir}/bin`, { ...own, mode: 0o755 }, nowMs);
      this.fs.writeText(
        `${dir}/config.sh`,
        '#!/bin/bash\n# simulated\n',
        { ...own, mode: 0o755 },
        nowMs,
      );
      this.fs.writeText(
        `${dir}/run.sh`,
        '#!/bin/bash\n# simulated\n',
        { ...own, mode: 0o755 },
        nowMs,
      );
      if (this.fs.get(`${dir}/.runner`) === undefined) {
        if (!run.hasToken) return 'no registration token for an unregistered runner';
        const refused = this.#registerWithGitHub(run, nowMs);
        if (refused !== undefined) return refused;
        // config.sh registers the runner; its own credential files are readable by the worker.
        this.fs.writeText(
          `${dir}/.runner`,
          `${JSON.stringify({ agentName: name, poolName: options.group, serverUrl: `${options.url}/${options.org}`, workFolder: `${workerHome(name)}/ci` })}\n`,
          own,
          nowMs,
        );
        this.fs.writeText(
          `${dir}/.credentials`,
          `${JSON.stringify({ scheme: 'OAuth', data: { clientId: this.#random.uuid() } })}\n`,
          { ...own, mode: 0o600 },
          nowMs,
        );
        run.hasToken = false;
      }
      run.token = undefined; // setup.sh needs the token no more
      const extra = options.runnerenv === '' ? '' : `${options.runnerenv.split(',').join('\n')}\n`;
      this.fs.writeText(
        `${dir}/.env`,
        `ACTIONS_RUNNER_HOOK_JOB_COMPLETED=${LIBEXEC}/cleanup_hook.sh\n${extra}`,
        own,
        nowMs,
      );
    }
    this.fs.writeText(
      AGENT_ENV,
      `kind=${kind}\nname=${name}\ndrain=${options.drain}\nrunnerenv=${options.runnerenv}\n`,
      PRIVATE_EC2,
      nowMs,
    );
    return undefined;
  }

  /**
   * config.sh against the fake GitHub, when there is one: registers `<name>` in the group with
   * the labels (`--replace`), using the token once and dropping it. A refusal (an expired or
   * unknown token, an unknown group, another server or org) is config.sh failing: its message
   * goes to setup.log, and setup.sh fails.
   */
  #registerWithGitHub(run: SetupRun, nowMs: number): string | undefined {
    const github = this.#ctx.github;
    if (github === undefined) return undefined;
    const token = run.token;
    run.token = undefined;
    const { name, options } = run.request;
    let problem: string | undefined;
    if (token === undefined) {
      problem = 'Not configured. A registration token is required.';
    } else if (
      options.url !== github.apiUrl ||
      options.org.toLowerCase() !== github.org.toLowerCase()
    ) {
      problem = `Http response code: NotFound from 'POST ${options.url}/${options.org}': not the simulated GitHub (${github.apiUrl}/${github.org})`;
    } else {
      try {
        github.registerRunner({
          token,
          name,
          labels: options.labels === '' ? [] : options.labels.split(','),
          group: options.group,
          replace: true,
        });
      } catch (error) {
        problem = error instanceof Error ? error.message : String(error);
      }
    }
    if (problem === undefined) return undefined;
    // config.sh's own output (setup.sh's output goes to setup.log).
    this.fs.appendText(
      SETUP_LOG,
      `An error occurred: ${controlToSpace(problem)}\n`,
      PRIVATE_EC2,
      nowMs,
    );
    return 'config.sh failed to register the runner';
  }

  /** Step 13: the worker log, line 1 the header. */
  setupWorkerLog(run: SetupRun, nowMs: number): string | undefined {
    const path = workerLog(run.request.name);
    if (this.fs.get(path) === undefined) {
      this.fs.writeText(
        path,
        `# Log created ${isoSeconds(nowMs)} - do not manually remove or modify!\n`,
        WORKER_LOG_OWNER,
        nowMs,
      );
    }
    return undefined;
  }

  /** Step 14: the supervisor, unless a live one is recorded. */
  setupSupervisor(_run: SetupRun, nowMs: number): string | undefined {
    const recorded = this.pidFromFile(SUPERVISOR_PID);
    if (
      recorded !== undefined &&
      this.pidFileState(SUPERVISOR_PID, 'service_pool.sh') === 'alive'
    ) {
      this.log(`Supervisor already running as pid ${recorded}`, nowMs);
    } else {
      const pid = this.#startSupervisor(nowMs);
      this.log(`Spawned the supervisor as pid ${pid}`, nowMs);
    }
    return undefined;
  }

  /** Step 15: `.setup.done`, always last. */
  setupDone(run: SetupRun, nowMs: number): string | undefined {
    this.fs.appendText(SETUP_DONE, `${isoSeconds(nowMs)}\n`, PRIVATE_EC2, nowMs);
    this.log(`${isoSeconds(nowMs)} Setup complete`, nowMs);
    this.#endSetup(run, nowMs, 'done');
    return undefined;
  }

  // ---------------------------------------------------------------- service_pool.sh (§6.2)

  #startSupervisor(nowMs: number): number {
    const proc = this.#spawn(
      'ec2-user',
      `/bin/bash ${LIBEXEC}/service_pool.sh`,
      'supervisor',
      nowMs,
    );
    this.writeOwnFile(SUPERVISOR_PID, `${proc.pid}\n`, nowMs);
    const agent = this.#readAgentEnv();
    if (agent === undefined) {
      this.log(
        `${isoSeconds(nowMs)} ${AGENT_ENV} is missing or invalid; supervisor not started`,
        nowMs,
      );
      this.#procs.delete(proc.pid);
      return proc.pid;
    }
    this.log(
      `${isoSeconds(nowMs)} Supervisor started as pid ${proc.pid} for ${agent.worker}`,
      nowMs,
    );
    this.#sup = {
      pid: proc.pid,
      agent,
      startedAtMs: nowMs,
      mode: 'loop',
      imdsFailures: 0,
      nextTickMs: undefined,
    };
    this.pkill(agent.worker, ereToRegExp(AGENTS[agent.kind].listenerPattern), nowMs);
    this.#supervisorTurn(nowMs);
    this.applyFaults(nowMs);
    return proc.pid;
  }

  #readAgentEnv(): AgentParams | undefined {
    let kind = '';
    let name = '';
    let drain = '';
    for (const line of (this.fs.readText(AGENT_ENV) ?? '').split('\n')) {
      if (line.startsWith('kind=')) kind = line.slice(5);
      else if (line.startsWith('name=')) name = line.slice(5);
      else if (line.startsWith('drain=')) drain = line.slice(6);
    }
    if (!isAgentKind(kind) || !NAME_PATTERN.test(name) || !RE.uint.test(drain)) return undefined;
    return { kind, name, worker: workerUser(name), drainS: Number(drain) };
  }

  /** Wakes the supervisor at its next loop turn (it sleeps supervisorPollSeconds per turn). */
  #wakeSupervisor(nowMs: number): void {
    const sup = this.#sup;
    if (sup === undefined) return;
    const periodMs = this.#ctx.settings().supervisorPollSeconds * 1000;
    const atMs =
      sup.startedAtMs + (Math.floor((nowMs - sup.startedAtMs) / periodMs) + 1) * periodMs;
    if (sup.nextTickMs !== undefined && sup.nextTickMs > nowMs && sup.nextTickMs <= atMs) return;
    this.#supervisorAt(sup, atMs);
  }

  #supervisorAt(sup: SupervisorState, atMs: number): void {
    sup.nextTickMs = atMs;
    this.#at('supervisor', atMs, (now) => {
      sup.nextTickMs = undefined;
      this.#supervisorTurn(now);
    });
  }

  #supervisorTurn(nowMs: number): void {
    const sup = this.#sup;
    if (sup === undefined || !this.#procs.has(sup.pid)) return;
    if (sup.mode === 'loop') {
      const reason = this.#loopEnd(sup, nowMs);
      if (reason === 'recheck') {
        this.#wakeSupervisor(nowMs);
        return;
      }
      if (reason === undefined) {
        if (this.#listener === undefined) this.#startListener(sup.agent, nowMs);
        return;
      }
      this.log(`${isoSeconds(nowMs)} Leaving the supervisor loop: ${reason}`, nowMs);
      sup.mode = 'draining';
    }
    this.#supervisorDrain(sup, nowMs);
  }

  /** Why the loop ends now (undefined = keep going; 'recheck' = read the tag again next turn). */
  #loopEnd(sup: SupervisorState, nowMs: number): string | undefined {
    const { kind, name } = sup.agent;
    if (!this.agentConfigPresent(kind, name)) return 'the agent config is gone';
    const tags = readTags(this.#ctx.world.instance(this.instanceId));
    if (tags === 'recheck') {
      sup.imdsFailures++;
      if (sup.imdsFailures < 2) return 'recheck';
      this.log('Failed twice to obtain PWPoolReady instance tag. Disabling listener.', nowMs);
      if (kind === 'cirrus') this.fs.remove(CIRRUS_CFG);
      return 'PWPoolReady could not be read twice';
    }
    sup.imdsFailures = 0;
    const ready = tags.get('PWPoolReady');
    if (ready === undefined) return 'PWPoolReady is absent';
    return ready === 'true' ? undefined : `PWPoolReady is '${controlToSpace(ready)}'`;
  }

  /** The drain rule (behavior.md §4.5) as the supervisor applies it; then it stops the listener. */
  #supervisorDrain(sup: SupervisorState, nowMs: number): void {
    const facts = AGENTS[sup.agent.kind];
    const worker = sup.agent.worker;
    const listenerRe = ereToRegExp(facts.listenerPattern);
    if (
      this.processesMatching(worker, listenerRe).length > 0 &&
      this.processesMatching(worker, ereToRegExp(facts.jobPattern)).length > 0
    ) {
      let startedS = firstLine(this.fs.readText(DRAIN_STARTED) ?? '');
      if (!RE.epoch.test(startedS)) {
        startedS = String(epochSeconds(nowMs));
        this.writeOwnFile(DRAIN_STARTED, `${startedS}\n`, nowMs);
        this.log(
          `${isoSeconds(nowMs)} Draining: waiting up to ${hours(sup.agent.drainS)} hours for the running job`,
          nowMs,
        );
      }
      if (epochSeconds(nowMs) - Number(startedS) < sup.agent.drainS) {
        // It polls every turn; the job's end wakes it too, so only the timeout needs a turn here.
        const periodMs = this.#ctx.settings().supervisorPollSeconds * 1000;
        const timeoutMs = (Number(startedS) + sup.agent.drainS) * 1000;
        const turns = Math.max(1, Math.ceil((timeoutMs - sup.startedAtMs) / periodMs));
        this.#supervisorAt(sup, Math.max(sup.startedAtMs + turns * periodMs, nowMs + 1));
        return;
      }
      this.log(`${isoSeconds(nowMs)} Drain timeout; stopping ${facts.listenerLabel}`, nowMs);
    }
    this.pkill(worker, listenerRe, nowMs);
    this.fs.remove(DRAIN_STARTED);
    this.log(`${isoSeconds(nowMs)} Stopped ${facts.listenerLabel}; supervisor exiting`, nowMs);
    this.#procs.delete(sup.pid);
    this.#sup = undefined;
    this.#cancel('supervisor');
  }

  /** lib.sh's pw_agent_config_present. */
  agentConfigPresent(kind: AgentKind, name: string): boolean {
    if (kind === 'cirrus') return this.fs.isFile(CIRRUS_CFG);
    return this.#users.has(workerUser(name)) && this.fs.isFile(`${runnerDir(name)}/.runner`);
  }

  /** A SIGTERM to the supervisor (force-stop): it logs, exits and leaves the listener alone. */
  terminateSupervisor(pid: number, nowMs: number): boolean {
    if (this.#sup?.pid === pid) {
      this.log(
        `${isoSeconds(nowMs)} Supervisor received SIGTERM; exiting, the listener is left alone`,
        nowMs,
      );
    }
    return this.kill(pid, nowMs);
  }

  // ---------------------------------------------------------------- the listener and its tasks

  #startListener(agent: AgentParams, nowMs: number): void {
    const facts = AGENTS[agent.kind];
    this.log(`${isoSeconds(nowMs)} Starting ${facts.listenerLabel} as ${agent.worker}`, nowMs);
    if (this.#ctx.faults.listenerBlocked(this.ref)) {
      // It exits at once (the supervisor tries again at a later turn).
      this.#workerLog(
        agent,
        nowMs,
        agent.kind === 'cirrus'
          ? `time="${logrusTime(nowMs)}" level=fatal msg="failed to start the worker: connection refused"`
          : `${githubTime(nowMs)}: An error occurred: Runner connect error`,
      );
      return;
    }
    const proc = this.#spawn(agent.worker, facts.listenerCommand(agent.name), 'listener', nowMs);
    this.writeOwnFile(LISTENER_PID, `${proc.pid}\n`, nowMs);
    this.#listener = { pid: proc.pid, agent, startedAtMs: nowMs };
    const delayMs = this.#ctx.settings().registrationDelaySeconds * 1000;
    this.#at('listener', nowMs + delayMs, (now) => this.#listenerRegistered(now));
  }

  #listenerRegistered(nowMs: number): void {
    const listener = this.#listener;
    if (listener === undefined) return;
    const { agent } = listener;
    const s = this.#ctx.settings();
    if (agent.kind === 'cirrus') {
      if (s.noiseLines)
        this.#workerLog(agent, nowMs, `##### Listener started at ${isoSeconds(nowMs)}`);
      this.#workerLog(
        agent,
        nowMs,
        `time="${logrusTime(nowMs)}" level=info msg="worker successfully registered on upstream ${s.cirrusUpstream}"`,
      );
    } else {
      this.#runnerStatus(agent, 'online', false);
      this.#workerLog(agent, nowMs, '√ Connected to GitHub');
      this.#workerLog(agent, nowMs, '');
      this.#workerLog(
        agent,
        nowMs,
        `Current runner version: '${this.#setupVersion() ?? s.runnerVersion}'`,
      );
      this.#workerLog(agent, nowMs, `${githubTime(nowMs)}: Listening for Jobs`);
    }
    this.#scheduleNextTask(nowMs);
    this.applyFaults(nowMs);
  }

  #setupVersion(): string | undefined {
    const version = this.#setup?.args.find((a) => a.startsWith('version='));
    return version?.slice('version='.length);
  }

  #listenerGone(nowMs: number): void {
    const listener = this.#listener;
    this.#listener = undefined;
    if (listener !== undefined) this.#runnerStatus(listener.agent, 'offline', false);
    this.#cancel('listener');
    this.#cancel('task');
    const task = this.#task;
    if (task !== undefined) {
      // Killing the listener cancels its running task.
      this.#task = undefined;
      this.#tasksAborted++;
      this.#procs.delete(task.jobPid);
    }
    this.#wakeSupervisor(nowMs);
  }

  /**
   * Whether a new job reaches the listener. A github-actions runner with a fake GitHub gets one
   * exactly when GitHub routes jobs to it: the real runner knows nothing of pw-pool's
   * drain marker, so only the cordon (a move to the quarantine group) keeps new jobs away.
   * Otherwise new work stops while a drain is under way.
   */
  #accepting(): boolean {
    const agent = this.#listener?.agent;
    if (agent !== undefined && this.#routedByGitHub()) {
      return this.#ctx.github?.runnerCanReceiveJobs(agent.name) === true;
    }
    return !this.#draining();
  }

  /** A github-actions runner with a fake GitHub: GitHub alone decides which jobs reach it. */
  #routedByGitHub(): boolean {
    const agent = this.#listener?.agent;
    return agent?.kind === 'github-actions' && this.#ctx.github !== undefined;
  }

  #draining(): boolean {
    return this.fs.get(DRAIN_STARTED) !== undefined || this.#sup?.mode === 'draining';
  }

  #scheduleNextTask(nowMs: number): void {
    if (this.#listener === undefined || this.#task !== undefined) return;
    const rate = this.#ctx.settings().taskRatePerHour;
    if (rate <= 0) return;
    const delayMs = (-Math.log(1 - this.#random.next()) * 3_600_000) / rate;
    this.#at('task', nowMs + Math.max(1000, delayMs), (now) => {
      if (this.#accepting()) this.#startTask(now);
      // GitHub routes no job here now (cordoned, offline, deleted): a later job may find the
      // runner routable again.
      else if (this.#routedByGitHub() || !this.#draining()) this.#scheduleNextTask(now);
    });
  }

  /**
   * The runner's status on the fake GitHub follows the listener (online/offline) and its job
   * (busy); `status` undefined keeps the current one. Skipped without a fake GitHub, for cirrus,
   * for a runner GitHub no longer knows (deleted), and for a change GitHub refuses (busy while
   * offline).
   */
  #runnerStatus(agent: AgentParams, status: 'online' | 'offline' | undefined, busy: boolean): void {
    const github = this.#ctx.github;
    if (github === undefined || agent.kind !== 'github-actions') return;
    const runner = github.runner(agent.name);
    if (runner === undefined) return;
    const next = status ?? runner.status;
    if (next === 'offline' && busy) return;
    github.setRunnerStatus(agent.name, next, busy);
  }

  #startTask(nowMs: number, durationS?: number): void {
    const listener = this.#listener;
    if (listener === undefined) return;
    const { agent } = listener;
    const s = this.#ctx.settings();
    const n = ++this.#taskSeq;
    const id =
      agent.kind === 'cirrus'
        ? String(4_500_000_000_000_000 + n * 7_919_000 + Math.floor(this.#random.next() * 1000))
        : `${GITHUB_JOBS[(n - 1) % GITHUB_JOBS.length] ?? 'build'} #${n}`;
    const taskArg = agent.kind === 'cirrus' ? id : `${100 + n} ${103 + n}`;
    const job = this.#spawn(
      agent.worker,
      AGENTS[agent.kind].jobCommand(agent.name, taskArg),
      'job',
      nowMs,
    );
    const durationMs = (durationS ?? s.taskDurationSeconds * (0.5 + this.#random.next())) * 1000;
    this.#task = { id, jobPid: job.pid, startedAtMs: nowMs, endsAtMs: nowMs + durationMs };
    this.#tasksStarted++;
    if (agent.kind === 'cirrus') {
      this.#workerLog(
        agent,
        nowMs,
        `time="${logrusTime(nowMs)}" level=info msg="started task ${id}"`,
      );
      if (s.noiseLines && n % 5 === 2) {
        this.#workerLog(
          agent,
          nowMs,
          `time="${logrusTime(nowMs)}" level=error msg="failed to notify the server about the started task ${id}: rpc error: code = Unavailable desc = connection reset"`,
        );
      }
    } else {
      this.#runnerStatus(agent, undefined, true);
      this.#workerLog(agent, nowMs, `${githubTime(nowMs)}: Running job: ${id}`);
    }
    this.#at('task', nowMs + durationMs, (now) => this.#finishTask(now));
  }

  #finishTask(nowMs: number): void {
    const task = this.#task;
    const listener = this.#listener;
    if (task === undefined || listener === undefined) return;
    const { agent } = listener;
    const noise = this.#ctx.settings().noiseLines && this.#tasksFinished % 4 === 2;
    if (agent.kind === 'cirrus') {
      this.#workerLog(
        agent,
        nowMs,
        `time="${logrusTime(nowMs)}" level=info msg="task ${task.id} completed"`,
      );
      if (noise) {
        this.#workerLog(
          agent,
          nowMs,
          `time="${logrusTime(nowMs)}" level=warning msg="spurious task ${task.id} completed"`,
        );
      }
    } else {
      this.#workerLog(
        agent,
        nowMs,
        `${githubTime(nowMs)}: Job ${task.id} completed with result: Succeeded`,
      );
      if (noise) this.#workerLog(agent, nowMs, `Job ${task.id} completed with result: Succeeded`);
      this.#runnerStatus(agent, undefined, false);
    }
    this.#procs.delete(task.jobPid);
    this.#task = undefined;
    this.#tasksFinished++;
    this.#wakeSupervisor(nowMs);
    this.#scheduleNextTask(nowMs);
  }

  #workerLog(agent: AgentParams, nowMs: number, line: string): void {
    this.fs.appendText(workerLog(agent.name), `${line}\n`, WORKER_LOG_OWNER, nowMs);
  }

  // ---------------------------------------------------------------- the timer and shutdown.sh

  #execShutdown(nowMs: number): void {
    const timer = this.#timer;
    const proc = timer === undefined ? undefined : this.#procs.get(timer.pid);
    if (timer === undefined || proc === undefined) return;
    // `exec`: the same pid now runs shutdown.sh (no longer a pw-pool-recycle command line).
    proc.command = `/bin/bash ${LIBEXEC}/shutdown.sh ${timer.drainS} ${timer.jobPattern}`;
    this.log(`Starting shutdown.sh at ${isoSeconds(nowMs)}`, nowMs);
    const tags = readTags(this.#ctx.world.instance(this.instanceId));
    const tagName = tags === 'recheck' ? undefined : tags.get('Name');
    const name = tagName !== undefined && NAME_PATTERN.test(tagName) ? tagName : this.#hostname;
    if (!NAME_PATTERN.test(name) || !this.#users.has(workerUser(name))) {
      this.#halt(nowMs);
      return;
    }
    this.log(`Waiting up to ${hours(timer.drainS)} hours for any running job`, nowMs);
    timer.phase = 'waiting-for-job';
    timer.waitStartMs = nowMs;
    this.#shutdownCheck(workerUser(name), nowMs);
  }

  #shutdownCheck(worker: string, nowMs: number): void {
    const timer = this.#timer;
    if (timer === undefined) return;
    let pattern: RegExp;
    try {
      pattern = ereToRegExp(timer.jobPattern);
    } catch {
      pattern = /$^/;
    }
    if (this.processesMatching(worker, pattern).length > 0) {
      if (epochSeconds(nowMs) > epochSeconds(timer.waitStartMs ?? nowMs) + timer.drainS) {
        this.log(`Timeout waiting for '${timer.jobPattern}' to terminate`, nowMs);
      } else {
        this.log(`Found '${timer.jobPattern}' still running, waiting...`, nowMs);
        const pollMs = this.#ctx.settings().shutdownPollSeconds * 1000;
        this.#at('timer', nowMs + pollMs, (now) => this.#shutdownCheck(worker, now));
        return;
      }
    }
    this.#halt(nowMs);
  }

  /** `sudo shutdown -h now "Automatic instance recycling"`: EC2 follows the shutdown behaviour. */
  #halt(nowMs: number): void {
    this.log(`Initiating shutdown at ${isoSeconds(nowMs)}`, nowMs);
    this.wall('Automatic instance recycling', nowMs);
    try {
      this.#ctx.world.shutdownFromInstance(this.instanceId);
    } catch {
      // Not running any more: nothing to shut down.
    }
    this.powerOff();
  }

  // ---------------------------------------------------------------- helpers

  #spawn(user: string, command: string, role: ProcessRole, nowMs: number): MacProcess {
    const pid = this.#nextPid;
    this.#nextPid += 1 + Math.floor(this.#random.next() * 4);
    const proc: MacProcess = { pid, user, command, role, startedAtMs: nowMs };
    this.#procs.set(pid, proc);
    return proc;
  }

  /** Schedules `run` on the world under `key` (replacing a pending one); dropped if powered off. */
  #at(key: string, atMs: number, run: (nowMs: number) => void): void {
    this.#timers.get(key)?.();
    const cancel = this.#ctx.world.schedule(atMs, (now) => {
      this.#timers.delete(key);
      if (this.#power === 'on') run(now);
    });
    this.#timers.set(key, cancel);
  }

  #cancel(key: string): void {
    this.#timers.get(key)?.();
    this.#timers.delete(key);
  }

  view(settings: MacSettings): MacView {
    const procs = [...this.#procs.values()].sort((a, b) => a.pid - b.pid);
    const task = this.#task;
    const timer = this.#timer;
    return {
      instanceId: this.instanceId,
      name: this.name,
      address: this.address,
      power: this.#power,
      bootedAt:
        this.#power === 'on' && this.#bootedAtMs !== undefined
          ? new Date(this.#bootedAtMs)
          : undefined,
      sshReadyAt: this.#sshReadyAtMs === undefined ? undefined : new Date(this.#sshReadyAtMs),
      hostname: this.#hostname,
      users: [...this.#users].sort(),
      files: this.fs.view(),
      processes: procs.map((p) => ({
        pid: p.pid,
        user: p.user,
        role: p.role,
        command: p.command,
        startedAt: new Date(p.startedAtMs),
      })),
      setup:
        this.#setup === undefined ? undefined : { ...this.#setup, args: [...this.#setup.args] },
      supervisor:
        this.#sup === undefined
          ? undefined
          : {
              pid: this.#sup.pid,
              mode: this.#sup.mode,
              startedAt: new Date(this.#sup.startedAtMs),
            },
      listener:
        this.#listener === undefined
          ? undefined
          : {
              pid: this.#listener.pid,
              kind: this.#listener.agent.kind,
              startedAt: new Date(this.#listener.startedAtMs),
            },
      job:
        task === undefined
          ? undefined
          : {
              pid: task.jobPid,
              task: task.id,
              startedAt: new Date(task.startedAtMs),
              endsAt: new Date(task.endsAtMs),
            },
      timer:
        timer === undefined
          ? undefined
          : {
              pid: timer.pid,
              deadline: new Date(timer.deadlineMs),
              deadlineEpoch: epochSeconds(timer.deadlineMs),
              drainSeconds: timer.drainS,
              phase: timer.phase,
            },
      tasks: {
        started: this.#tasksStarted,
        finished: this.#tasksFinished,
        aborted: this.#tasksAborted,
      },
      walls: [...this.#walls],
      commands: this.#commands.map((c) => ({ ...c })),
      sftp: [...this.#sftp],
      settings,
      overrides: { ...this.overrides },
    };
  }
}

/** setup.sh's steps (behavior.md §6.1) at fractions of the run's duration, with their titles. */
const SETUP_STEPS: readonly {
  at: number;
  title?: (run: SetupRun) => string;
  run: (mac: SimMac, run: SetupRun, nowMs: number) => string | undefined;
}[] = [
  {
    at: 0,
    title: () => 'Recording the setup start',
    run: (m, r, now) => m.setupRecordStart(r, now),
  },
  {
    at: 0.002,
    title: () => 'Checking the user and the instance tags',
    run: (m, r) => m.setupCheckTags(r),
  },
  {
    at: 0.004,
    title: () => 'Consuming the CI secret',
    run: (m, r, now) => m.setupConsumeSecret(r, now),
  },
  { at: 0.01, title: () => 'Configuring paths', run: () => undefined },
  { at: 0.02, title: () => 'Installing packages', run: () => undefined },
  { at: 0.4, run: (m, r, now) => m.setupPackagesDone(r, now) },
  { at: 0.75, title: () => 'Setting the hostname', run: (m, r) => m.setupHostname(r) },
  {
    at: 0.76,
    title: (r) => `Creating the worker user ${workerUser(r.request.name)}`,
    run: (m, r) => m.setupWorkerUser(r),
  },
  {
    at: 0.78,
    title: () => 'Setting up the worker storage',
    run: (m, r, now) => m.setupStorage(r, now),
  },
  { at: 0.82, title: () => 'Configuring the CI agent', run: (m, r, now) => m.setupAgent(r, now) },
  { at: 0.86, title: () => 'Checking Rosetta', run: () => undefined },
  { at: 0.88, title: () => 'Restricting software updates to admins', run: () => undefined },
  { at: 0.9, title: () => 'Creating the worker log', run: (m, r, now) => m.setupWorkerLog(r, now) },
  {
    at: 0.92,
    title: () => 'Starting the supervisor',
    run: (m, r, now) => m.setupSupervisor(r, now),
  },
  { at: 1, run: (m, r, now) => m.setupDone(r, now) },
];

/** The instance's tags as IMDSv2 shows them, or 'recheck' when IMDS does not answer. */
function readTags(instance: InstanceView | undefined): Map<string, string> | 'recheck' {
  if (instance === undefined || instance.metadataOptions.httpEndpoint === 'disabled') {
    return 'recheck';
  }
  if (instance.metadataOptions.instanceMetadataTags !== 'enabled') return new Map();
  return new Map(Object.entries(instance.tags));
}

export function epochSeconds(ms: number): number {
  return Math.floor(ms / 1000);
}

/** `YYYY-MM-DDTHH:MM:SS+00:00` (what `date -u +%Y-%m-%dT%H:%M:%S+00:00` prints). */
export function isoSeconds(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}+00:00`;
}

/** lib.sh's pw_hours: whole hours with up to two (truncated) decimals, a trailing zero dropped
 *  (7200 → 2, 5400 → 1.5, 3636 → 1.01, 60 → 0.01). */
export function hours(seconds: number): string {
  const whole = Math.floor(seconds / 3600);
  const cents = Math.floor(((seconds % 3600) * 100) / 3600);
  if (cents === 0) return String(whole);
  if (cents % 10 === 0) return `${whole}.${cents / 10}`;
  return `${whole}.${String(cents).padStart(2, '0')}`;
}

function logrusTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

function githubTime(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}Z`;
}

/** `tail -n 1`: the last line, without its newline. */
export function lastLine(text: string): string {
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  return body.slice(body.lastIndexOf('\n') + 1);
}

/** `read -r` of the first line. */
export function firstLine(text: string): string {
  const nl = text.indexOf('\n');
  return nl < 0 ? text : text.slice(0, nl);
}

function hash32(text: string): number {
  return createHash('sha256').update(text).digest().readInt32BE(0);
}
