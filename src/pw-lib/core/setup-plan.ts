// setup-instances decisions (behavior.md §4.3): the per-instance state machine as pure functions.
// The app observes (EC2 batch, one probe) and executes; these functions decide.
import type { AgentTexts } from '../agents/types.js';
import type { InstanceView } from '../ports.js';
import type { PoolId } from './pool.js';
import { DNS_NAME_RE, TagKey, isReady, readyTagShown } from './pool.js';
import type { ProbeFacts } from './probe.js';
import type { ListenerField, PwStatusLine, SetupField } from './pw-status.js';
import { showTagValue } from './launch-plan.js';
import { formatUtc, parseIsoStrict } from './time.js';

export interface SetupPolicy {
  readonly pool: PoolId;
  readonly maxLifetimeS: number;
  readonly hardLifetimeS: number;
  readonly setupTimeoutS: number;
  readonly listenerGraceS: number;
  readonly maxFinishedTasks: number;
  readonly minAliveWorkers: number;
  readonly launchStaggerS: number;
  readonly sshPort: number;
  readonly sshUser: string;
  readonly texts: AgentTexts;
}

/** The fields of one pw_status line while it is being decided. */
export interface EntryState {
  readonly setup: SetupField;
  readonly listener: ListenerField;
  readonly started: number;
  readonly finished: number;
  readonly comment: string;
  /** ⚠: this outcome makes the exit code 4. */
  readonly warn: boolean;
}

export const INITIAL_STATE: EntryState = {
  setup: 'error',
  listener: 'error',
  started: 0,
  finished: 0,
  comment: '',
  warn: false,
};

export function toLine(name: string, s: EntryState): PwStatusLine {
  return {
    name,
    setup: s.setup,
    listener: s.listener,
    started: s.started,
    finished: s.finished,
    comment: s.comment,
  };
}

export const TERMINATING = 'Terminating immediately!';
export function terminatingComment(message: string): string {
  return `${message} ${TERMINATING}`;
}

/** Why an instance is force-terminated: the audit log's and the action counter's `reason`. */
export type TerminateReason =
  | 'hard-lifetime'
  | 'stopped'
  | 'setup-timeout'
  | 'setup-start-failed'
  | 'supervisor-missing'
  | 'listener-dead'
  | 'worker-log-missing'
  | 'max-tasks';

/** What to do with an entry. `terminate` is FT(m) of §4.4; `ssh` says whether its SSH steps may run. */
export type Verdict =
  | { readonly kind: 'done'; readonly state: EntryState; readonly leftPool?: boolean }
  | {
      readonly kind: 'terminate';
      readonly state: EntryState;
      readonly message: string;
      readonly ssh: boolean;
      readonly reason: TerminateReason;
    }
  | { readonly kind: 'connect'; readonly state: EntryState; readonly dns: string }
  | { readonly kind: 'maintenance'; readonly state: EntryState }
  | { readonly kind: 'fresh-setup'; readonly state: EntryState; readonly setupLogFound: boolean }
  | { readonly kind: 'count-tasks'; readonly state: EntryState };

function done(state: EntryState, leftPool = false): Verdict {
  return leftPool ? { kind: 'done', state, leftPool } : { kind: 'done', state };
}

function terminate(
  state: EntryState,
  message: string,
  ssh: boolean,
  reason: TerminateReason,
): Verdict {
  return {
    kind: 'terminate',
    state: { ...state, comment: terminatingComment(message) },
    message,
    ssh,
    reason,
  };
}

const STOPPED = new Set(['stopped', 'stopping']);

/** The stop time from `StateTransitionReason` ("User initiated (2024-08-06 14:10:03 GMT)"). */
export function stopTimeS(reason: string | undefined): number | undefined {
  const m = /\((\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) GMT\)/.exec(reason ?? '');
  return m ? parseIsoStrict(`${m[1]}T${m[2]}Z`) : undefined;
}

export interface LifetimeCheck {
  readonly kind: 'ok' | 'soft' | 'hard' | 'stopped' | 'no-launch-time';
  /** Minutes past the hard limit, for the `hard` text. */
  readonly pastHardMin: number;
}

/** S3 (and the sweep, §4.6): age from EC2 LaunchTime; a stopped instance also by its stop time. */
export function checkLifetime(
  inst: InstanceView,
  nowS: number,
  policy: SetupPolicy,
): LifetimeCheck {
  const launchS = parseIsoStrict(inst.launchTime);
  if (launchS === undefined) return { kind: 'no-launch-time', pastHardMin: 0 };
  const age = nowS - launchS;
  if (age > policy.hardLifetimeS) {
    return { kind: 'hard', pastHardMin: Math.floor((age - policy.hardLifetimeS) / 60) };
  }
  if (inst.state !== undefined && STOPPED.has(inst.state)) {
    const since = stopTimeS(inst.stateTransitionReason) ?? launchS;
    if (nowS - since > policy.setupTimeoutS) return { kind: 'stopped', pastHardMin: 0 };
  }
  return { kind: age > policy.maxLifetimeS ? 'soft' : 'ok', pastHardMin: 0 };
}

export function hardLimitMessage(pastHardMin: number): string {
  return `Excess instance lifetime; ${pastHardMin}m past hard max limit.`;
}
export function stoppedMessage(instanceId: string): string {
  return `Instance ${instanceId} is stopped.`;
}
export const SOFT_LIMIT_COMMENT = 'Instance alive longer than soft max. Investigation recommended.';

/**
 * S1–S6: everything decided from the EC2 batch alone, before any SSH. `instance` is undefined when
 * the id is missing from the answer; `batchFailed` when the whole batch failed.
 */
export function decideBeforeRemote(
  entry: { readonly name: string; readonly instanceId: string },
  instance: InstanceView | undefined,
  batchFailed: boolean,
  nowS: number,
  policy: SetupPolicy,
): Verdict {
  let s = INITIAL_STATE;
  const id = entry.instanceId;
  // S1
  if (batchFailed) return done({ ...s, comment: `Could not query instance ${id}.`, warn: true });
  if (instance === undefined) return done({ ...s, comment: `Instance ${id} no longer exists.` });
  // S2
  if (instance.state === 'shutting-down' || instance.state === 'terminated') {
    return done({ ...s, comment: `Instance ${id} is ${instance.state}.` });
  }
  // S4, S5: an instance whose tags say it left the pool is reported, never terminated.
  const key = policy.pool.purposeTagKey;
  const purpose = instance.tags[key];
  if (purpose === undefined)
    return done({ ...s, comment: `Could not look up instance ${key} tag.`, warn: true }, true);
  if (purpose !== policy.pool.purposeValue) {
    return done(
      {
        ...s,
        comment: `Required inst. '${key}' tag != '${policy.pool.purposeValue}'.`,
        warn: true,
      },
      true,
    );
  }
  const instName = instance.tags[TagKey.name];
  if (instName === undefined)
    return done({ ...s, comment: 'Could not look up instance Name tag.', warn: true }, true);
  if (instName !== entry.name) {
    return done(
      {
        ...s,
        comment: `Inst. name '${showTagValue(instName)}' != DH name '${entry.name}'.`,
        warn: true,
      },
      true,
    );
  }
  // S3: the hard backstop, before DNS, reachability and the ready tag (R9).
  const life = checkLifetime(instance, nowS, policy);
  switch (life.kind) {
    case 'hard':
      return terminate(s, hardLimitMessage(life.pastHardMin), false, 'hard-lifetime');
    case 'stopped':
      return terminate(s, stoppedMessage(id), false, 'stopped');
    case 'no-launch-time':
      return done({
        ...s,
        comment: `Could not query the launch time of instance ${id}.`,
        warn: true,
      });
    case 'soft':
      s = { ...s, comment: SOFT_LIMIT_COMMENT };
      break;
    case 'ok':
      break;
  }
  // S6
  const dns = instance.publicDnsName;
  if (dns === undefined || dns === '' || !DNS_NAME_RE.test(dns)) {
    return done({ ...s, comment: `Could not look up public DNS for instance ${id}.`, warn: true });
  }
  return { kind: 'connect', state: s, dns };
}

/** S7 texts. */
export function connectFailure(kind: 'tcp' | 'ssh', dns: string, policy: SetupPolicy): string {
  return kind === 'tcp'
    ? `Could not connect to port ${policy.sshPort} on '${dns}'.`
    : `Could not ssh to '${policy.sshUser}@${dns}'.`;
}
export function probeFailure(dns: string): string {
  return `Lost contact with '${dns}' while probing.`;
}

export function maintenanceComment(instance: InstanceView, drainSinceS?: number): string {
  const base = `Instance disabled via tag 'PWPoolReady' == '${showTagValue(readyTagShown(instance.tags))}'.`;
  return drainSinceS === undefined
    ? base
    : `${base}; waiting for running job since ${formatUtc(drainSinceS)}.`;
}

/** When the setup started: the last line of `.setup.started`, else the file's mtime (§4.3 B). */
export function setupStartedS(facts: ProbeFacts): number | undefined {
  return parseIsoStrict(facts.setupStartedLast) ?? facts.setupStartedMtimeS;
}

export interface ProbeContext {
  readonly name: string;
  readonly instance: InstanceView;
  readonly nowS: number;
  /** The previous pw_status line's listener field for this name, if any. */
  readonly prevListener: string | undefined;
  /** The previous pw_status.txt's header time. */
  readonly prevTimeS: number | undefined;
}

export function workerLogPath(name: string): string {
  return `/private/tmp/${name}-worker.log`;
}

/** S9–S13 from one completed probe. S14 (the task limit) is decided later in sorted order. */
export function decideFromProbe(
  facts: ProbeFacts,
  start: EntryState,
  ctx: ProbeContext,
  policy: SetupPolicy,
): Verdict {
  let s = start;
  // S9
  if (!isReady(ctx.instance.tags)) {
    return {
      kind: 'maintenance',
      state: {
        ...s,
        setup: 'disabled',
        listener: 'disabled',
        comment: maintenanceComment(ctx.instance),
      },
    };
  }
  // S10
  if (!facts.setupDone) {
    if (facts.setupStarted) {
      s = { ...s, setup: 'started' };
      const startedS = setupStartedS(facts);
      const running = startedS === undefined ? 0 : Math.max(0, ctx.nowS - startedS);
      if (running > policy.setupTimeoutS) {
        return terminate(
          s,
          `Setup running for ${running}s, max ${policy.setupTimeoutS}s.`,
          true,
          'setup-timeout',
        );
      }
      if (facts.setupFailed) {
        const reason = facts.setupFailedReason.replace(/\.+$/, '') || 'no reason given';
        return done({ ...s, comment: `Setup failed: ${reason}.`, warn: true });
      }
      return done({
        ...s,
        comment: `Setup incomplete; running for ${Math.floor(running / 60)} minutes (~10 typical).`,
      });
    }
    return { kind: 'fresh-setup', state: s, setupLogFound: facts.setupLog };
  }
  s = { ...s, setup: 'complete' };
  // S11
  if (facts.supervisor !== 'alive') {
    return terminate(
      s,
      'Pool servicing script (service_pool.sh) is not running.',
      true,
      'supervisor-missing',
    );
  }
  // S12: the two-strike rule
  if (!facts.listener) {
    const graceOver =
      ctx.prevTimeS !== undefined && ctx.nowS - ctx.prevTimeS >= policy.listenerGraceS;
    if (ctx.prevListener === 'dead' && graceOver) {
      return terminate(
        { ...s, listener: 'error' },
        "Pool listener 'dead' state fault.",
        true,
        'listener-dead',
      );
    }
    return done({
      ...s,
      listener: 'dead',
      comment: `${policy.texts.listener} process NOT running, will recheck again.`,
    });
  }
  s = { ...s, listener: 'alive' };
  // S13
  if (!facts.workerLog.present) {
    return terminate(
      s,
      `Missing worker log ${workerLogPath(ctx.name)}.`,
      true,
      'worker-log-missing',
    );
  }
  s = { ...s, started: facts.workerLog.started, finished: facts.workerLog.finished };
  if (!facts.workerLog.registered) s = { ...s, comment: 'Missing registration log entry.' };
  return { kind: 'count-tasks', state: s };
}

/**
 * S14 over the `count-tasks` entries in sorted order: the budget starts at the previous run's
 * `complete alive` count and shrinks with every worker terminated for tasks in this run.
 */
export function applyTaskLimit(
  entries: readonly { readonly name: string; readonly state: EntryState }[],
  prevAlive: number,
  policy: SetupPolicy,
): Map<string, Verdict> {
  const out = new Map<string, Verdict>();
  let terminated = 0;
  for (const e of entries) {
    if (e.state.finished <= policy.maxFinishedTasks) {
      out.set(e.name, done(e.state));
      continue;
    }
    const budget = prevAlive - terminated;
    if (budget > policy.minAliveWorkers) {
      terminated += 1;
      out.set(
        e.name,
        terminate(
          e.state,
          `Instance exceeded ${policy.maxFinishedTasks} apparent ${policy.texts.tasks}.`,
          true,
          'max-tasks',
        ),
      );
    } else {
      out.set(
        e.name,
        done({
          ...e.state,
          comment: `Not enforcing max-${policy.texts.tasks} limit, only ${budget} ${policy.texts.workers} alive last run.`,
        }),
      );
    }
  }
  return out;
}

/**
 * The recycling-timer reduction of `--force` (§4.3): it starts at the stagger, is reset to the
 * stagger before a use when it reached maxLifetime − stagger, and grows after each started setup.
 */
export class TimerReduction {
  private reduction: number;
  constructor(
    private readonly force: boolean,
    private readonly maxLifetimeS: number,
    private readonly staggerS: number,
  ) {
    this.reduction = force ? staggerS : 0;
  }
  /** The timer for the next fresh setup, in seconds. */
  next(): number {
    if (!this.force) return this.maxLifetimeS;
    if (this.reduction >= this.maxLifetimeS - this.staggerS) this.reduction = this.staggerS;
    return this.maxLifetimeS - this.reduction;
  }
  /** Called after step 5 of a fresh setup succeeded. */
  advance(): void {
    if (this.force) this.reduction += this.staggerS;
  }
}

export function timerComment(seconds: number): string {
  return `Starting automatic instance recycling in ${Math.floor(seconds / 3600)} hours`;
}

/**
 * §4.3 recycle cordon: a set-up instance whose recycle deadline is within the drain time of now
 * takes no new work, so the self-shutdown never cuts a job.
 */
export function recycleCordonDue(facts: ProbeFacts, nowS: number, drainS: number): boolean {
  return (
    facts.setupDone &&
    facts.recycleDeadlineS !== undefined &&
    facts.recycleDeadlineS - nowS <= drainS
  );
}
