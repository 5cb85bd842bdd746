// The setup-instances use case (behavior.md §4): observe every instance (one EC2 batch, one SSH
// connection and one probe each, concurrently), decide with core/setup-plan.ts, act (fresh setup,
// maintenance, force-terminate), sweep, and write pw_status.txt.
import { performance } from 'node:perf_hooks';
import pLimit from 'p-limit';
import type { Logger } from 'pino';
import type { CiAgent } from '../agents/types.js';
import { DH_STATUS_FILE, parseDhStatus } from '../core/dh-status.js';
import type { DhEntry } from '../core/dh-status.js';
import {
  INSTANCE_ID_RE,
  TagKey,
  compareBytewise,
  isPoolMemberName,
  matchesPoolFilter,
  sanitizeName,
} from '../core/pool.js';
import type { PwStatusLine } from '../core/pw-status.js';
import { PW_STATUS_FILE, formatPwStatus, parsePwStatus } from '../core/pw-status.js';
import type { EntryState, SetupPolicy, Verdict } from '../core/setup-plan.js';
import {
  INITIAL_STATE,
  TimerReduction,
  applyTaskLimit,
  checkLifetime,
  connectFailure,
  decideBeforeRemote,
  decideFromProbe,
  hardLimitMessage,
  maintenanceComment,
  probeFailure,
  recycleCordonDue,
  stoppedMessage,
  terminatingComment,
  timerComment,
  toLine,
} from '../core/setup-plan.js';
import { parseIsoStrict } from '../core/time.js';
import { AwsError, ConfigError, PreconditionError } from '../errors.js';
import type {
  Ec2,
  InstanceView,
  Journal,
  Output,
  Remote,
  RemoteSession,
  StateStore,
} from '../ports.js';
import { NO_JOURNAL, RemoteError } from '../ports.js';

export interface SetupSettings {
  readonly policy: SetupPolicy;
  readonly agent: CiAgent;
  readonly agentDrainSeconds: number;
  /** Remote commands (probes, setups, maintenance) in flight at once. */
  readonly observeConcurrency: number;
  /** Connection attempts (TCP + SSH handshake) in flight at once, apart from the above: an
   *  unreachable instance waits out its connect timeout without stalling the observation of the
   *  reachable ones. */
  readonly connectConcurrency: number;
  readonly runDeadlineSeconds: number;
  readonly brewTaps: readonly string[];
  readonly brewFormulas: readonly string[];
}

export interface SetupDeps {
  readonly ec2: Ec2;
  readonly remote: Remote;
  readonly store: StateStore;
  readonly out: Output;
  readonly log: Logger;
  /** §4.1 precondition 3 (ssh-agent or identity file); throws PreconditionError. */
  readonly checkSshAccess: () => Promise<void>;
  /** Elapsed real milliseconds since an arbitrary origin, for the run deadline (R1). */
  readonly elapsedMs?: () => number;
  /** The audit trail of tag changes and terminations (none when absent). */
  readonly journal?: Journal;
}

export interface SetupOptions {
  readonly nowS: number;
  readonly force: boolean;
  readonly dryRun: boolean;
}

export interface SetupOutcome {
  readonly exitCode: 0 | 3 | 4;
  readonly lines: readonly PwStatusLine[];
  readonly trailing: readonly string[];
  readonly statusText: string | undefined;
  /** Planned or executed actions, for --dry-run and tests. */
  readonly actions: readonly string[];
  /** True when pw_status.txt was rewritten in this run (cron's utilization row depends on it). */
  readonly wrote: boolean;
}

const SWEEP_STATES = ['pending', 'running', 'stopping', 'stopped'];

interface Entry {
  readonly name: string;
  readonly instanceId: string;
  readonly log: Logger;
  instance: InstanceView | undefined;
  verdict: Verdict;
  session: RemoteSession | undefined;
  dns: string | undefined;
  /** The recycle deadline is near: stop new work reaching the agent (§4.3 recycle cordon). */
  recycleCordon: boolean;
}

function errText(error: unknown): string {
  if (error instanceof AwsError) return error.detail;
  return String((error as Error)?.message ?? error);
}

/** Validates the dh_status entries (§4.2); invalid ones become trailing comments. */
export function validateEntries(
  entries: readonly DhEntry[],
  prefix: string,
): { valid: { name: string; instanceId: string }[]; invalid: string[] } {
  const valid: { name: string; instanceId: string }[] = [];
  const invalid: string[] = [];
  for (const e of entries) {
    const ok =
      isPoolMemberName({ namePrefix: prefix, purposeTagKey: '', purposeValue: '' }, e.name) &&
      INSTANCE_ID_RE.test(e.instanceId) &&
      parseIsoStrict(e.launchTime) !== undefined;
    if (ok) valid.push({ name: e.name, instanceId: e.instanceId });
    else
      invalid.push(
        `# invalid dh_status entry: ${sanitizeName(`${e.name} ${e.instanceId} ${e.launchTime}`)}`,
      );
  }
  valid.sort((a, b) => compareBytewise(a.name, b.name));
  return { valid, invalid };
}

export async function setupInstances(
  settings: SetupSettings,
  deps: SetupDeps,
  opts: SetupOptions,
): Promise<SetupOutcome> {
  const { policy, agent } = settings;
  const { ec2, store, out, log } = deps;
  const journal = deps.journal ?? NO_JOURNAL;
  const elapsedMs = deps.elapsedMs ?? (() => performance.now());
  const runStartMs = elapsedMs();
  const actions: string[] = [];
  const dryRun = opts.dryRun;
  const handled = new Set<string>();
  const terminated = new Set<string>();
  let exitWarn = false;

  const result = (
    exitCode: 0 | 3 | 4,
    lines: PwStatusLine[],
    trailing: string[],
    statusText: string | undefined,
    wrote: boolean,
  ): SetupOutcome => ({
    exitCode,
    lines,
    trailing,
    statusText,
    actions,
    wrote,
  });

  // §4.1 preconditions, in order; on failure the sweep still runs.
  let dhText: string | undefined;
  try {
    await agent.checkSecret();
    try {
      dhText = await store.read(DH_STATUS_FILE);
    } catch {
      dhText = undefined;
    }
    if (dhText === undefined)
      throw new PreconditionError(`Can't read from state file: ${store.pathOf(DH_STATUS_FILE)}`);
    await deps.checkSshAccess();
  } catch (error) {
    if (!(error instanceof PreconditionError || error instanceof ConfigError)) throw error;
    out.line(error.message);
    const sweep = await runSweep();
    for (const c of sweep.comments) out.line(c);
    return result(3, [], sweep.comments, undefined, false);
  }

  // §4.2 run start
  const dh = parseDhStatus(dhText);
  const { valid, invalid } = validateEntries(dh.entries, policy.pool.namePrefix);
  for (const m of dh.malformed) invalid.push(`# invalid dh_status entry: ${sanitizeName(m.line)}`);
  for (const line of invalid) log.error({ line }, 'invalid dh_status entry');
  if (invalid.length > 0) exitWarn = true;
  if (valid.length === 0) {
    out.line(`No operable hosts found in ${store.pathOf(DH_STATUS_FILE)}`);
  } else {
    out.line(`Operating on ${valid.length} instances from ${dh.headerLine ?? '(no header)'}`);
  }
  let prevText: string | undefined;
  try {
    prevText = await store.read(PW_STATUS_FILE);
  } catch (error) {
    log.warn({ err: errText(error) }, 'previous pw_status.txt unreadable');
  }
  const prev = parsePwStatus(prevText ?? '');
  let preflightOk = true;
  if (valid.length > 0) {
    try {
      await agent.preflight();
    } catch (error) {
      preflightOk = false;
      exitWarn = true;
      log.error({ err: errText(error) }, 'agent preflight failed; fresh setups deferred');
    }
  }
  if (opts.force) log.warn('Forcing instance creation w/ staggered existence limits.');

  // S1: one batch for every entry, by the instance-id filter.
  let batch: InstanceView[] | undefined;
  if (valid.length > 0) {
    try {
      batch = await ec2.describeInstancesById(valid.map((e) => e.instanceId));
    } catch (error) {
      log.error({ err: errText(error) }, 'DescribeInstances for the entries failed');
    }
  }
  const entries: Entry[] = valid.map((e) => {
    const instance = batch?.find((i) => i.instanceId === e.instanceId);
    const elog = log.child({ host: e.name, instanceId: e.instanceId });
    const verdict = decideBeforeRemote(e, instance, batch === undefined, opts.nowS, policy);
    if (batch !== undefined) handled.add(e.instanceId);
    return {
      ...e,
      log: elog,
      instance,
      verdict,
      session: undefined,
      dns: undefined,
      recycleCordon: false,
    };
  });

  const deadlinePassed = () => elapsedMs() - runStartMs > settings.runDeadlineSeconds * 1000;
  const notProcessed = (e: Entry) => {
    e.verdict = {
      kind: 'done',
      state: { ...e.verdict.state, comment: 'Not processed: run deadline exceeded.', warn: true },
    };
  };

  // R3: one entry's unexpected failure is that entry's result; it never aborts the run.
  const isolate = (e: Entry, work: () => Promise<void>) => async () => {
    try {
      await work();
    } catch (error) {
      e.log.error(
        { err: (error as Error)?.stack ?? String(error) },
        'internal error while processing the instance',
      );
      e.verdict = {
        kind: 'done',
        state: {
          ...e.verdict.state,
          comment: `Internal error while processing instance ${e.instanceId}; see the log.`,
          warn: true,
        },
      };
    }
  };

  // Phase 1: reach and probe, concurrently (S7, S8, then S9–S13). Connecting and commanding have
  // separate limits, so instances that never answer only delay themselves.
  const limit = pLimit(Math.max(1, settings.observeConcurrency));
  const connectLimit = pLimit(Math.max(1, settings.connectConcurrency));
  await Promise.all(
    entries.map((e) =>
      isolate(e, async () => {
        if (e.verdict.kind !== 'connect') return;
        const dns = e.verdict.dns;
        const start = e.verdict.state;
        let session: RemoteSession | undefined;
        try {
          session = await connectLimit(() =>
            deadlinePassed()
              ? undefined
              : deps.remote.connect({ instanceId: e.instanceId, name: e.name, host: dns }, e.log),
          );
        } catch (error) {
          const kind = error instanceof RemoteError && error.kind === 'tcp' ? 'tcp' : 'ssh';
          e.log.warn({ err: errText(error) }, 'unreachable');
          e.verdict = {
            kind: 'done',
            state: { ...start, comment: connectFailure(kind, dns, policy), warn: true },
          };
          return;
        }
        if (session === undefined) return notProcessed(e);
        e.session = session;
        e.dns = dns;
        const opened = session;
        let facts;
        try {
          facts = await limit(() =>
            opened.probe({ kind: agent.kind, name: e.name, patterns: agent.patterns }),
          );
        } catch (error) {
          e.log.warn({ err: errText(error) }, 'probe failed');
          e.verdict = {
            kind: 'done',
            state: { ...start, comment: probeFailure(dns), warn: true },
          };
          return;
        }
        if (facts.setupStarted && !facts.setupDone) {
          e.log.info({ lastLine: facts.setupLogLast }, 'setup in progress');
        }
        // Outside the probe's try: a bug here is an internal error (isolate), not "lost contact".
        e.verdict = decideFromProbe(
          facts,
          start,
          {
            name: e.name,
            instance: e.instance as InstanceView,
            nowS: opts.nowS,
            prevListener: prev.listenerByName.get(e.name),
            prevTimeS: prev.timeS,
          },
          policy,
        );
        e.recycleCordon = recycleCordonDue(facts, opts.nowS, settings.agentDrainSeconds);
      })(),
    ),
  );

  // Phase 2: order-dependent decisions in sorted order (S14's budget).
  const counted = entries
    .filter((e) => e.verdict.kind === 'count-tasks')
    .map((e) => ({ name: e.name, state: e.verdict.state }));
  const limited = applyTaskLimit(counted, prev.alive, policy);
  for (const e of entries) {
    const v = limited.get(e.name);
    if (v !== undefined && e.verdict.kind === 'count-tasks') e.verdict = v;
  }

  // Phase 3: act. Fresh setups run in sorted order when --force staggers their timers.
  const reduction = new TimerReduction(opts.force, policy.maxLifetimeS, policy.launchStaggerS);
  const setupOne = (e: Entry) =>
    isolate(e, async () => {
      if (e.verdict.kind !== 'fresh-setup' || e.session === undefined) return;
      if (deadlinePassed()) return notProcessed(e);
      e.verdict = await freshSetup(e, e.session, e.verdict.state, e.verdict.setupLogFound);
    })();
  if (opts.force) {
    for (const e of entries) await setupOne(e);
  } else {
    await Promise.all(entries.map((e) => limit(() => setupOne(e))));
  }
  await Promise.all(
    entries.map((e) =>
      limit(
        isolate(e, async () => {
          if (e.verdict.kind === 'maintenance') {
            if (deadlinePassed()) return notProcessed(e);
            e.verdict = await maintenance(e, e.verdict.state);
          }
          if (e.verdict.kind === 'terminate') {
            const state = await forceTerminate(
              e.name,
              e.instanceId,
              e.instance?.hostId,
              e.verdict,
              e.log,
              e.session,
            );
            e.verdict = { kind: 'done', state };
          }
        }),
      ),
    ),
  );
  // §4.3 recycle cordon: runners whose self-shutdown is near take no new job.
  await Promise.all(
    entries.map((e) =>
      limit(async () => {
        if (!e.recycleCordon || e.verdict.kind === 'terminate') return;
        if (e.verdict.kind === 'done' && e.verdict.state.setup !== 'complete') return;
        await cordon(e, 'recycle deadline near');
      }),
    ),
  );
  await Promise.all(
    entries.flatMap((e) => (e.session ? [e.session.close().catch(() => undefined)] : [])),
  );

  // §4.6: the sweep, then the agent's sweep (§7), then the file.
  const sweep = await runSweep();
  if (sweep.live !== undefined) {
    try {
      const swept = await agent.sweep(sweep.live, opts.nowS);
      for (const n of swept.deleted) actions.push(`deleted orphaned runner ${n}`);
      for (const n of swept.recorded) actions.push(`recorded offline runner ${n} for the sweep`);
      if (swept.failed.length > 0) exitWarn = true;
    } catch (error) {
      exitWarn = true;
      log.error({ err: errText(error) }, 'agent sweep failed; retried next run');
    }
  }
  const lines = entries.map((e) => {
    if (e.verdict.state.warn) exitWarn = true;
    return toLine(e.name, e.verdict.state);
  });
  const trailing = [...sweep.comments, ...invalid];
  out.line('Processing all persistent worker states.');
  const text = formatPwStatus(opts.nowS, lines, trailing);
  const exitCode = exitWarn || sweep.failed ? 4 : 0;
  if (dryRun) {
    out.line('Plan (dry run, nothing changed):');
    for (const a of actions) out.line(`  ${a}`);
    out.line('Would write pw_status.txt:');
    for (const l of text.trimEnd().split('\n')) out.line(l);
    return result(exitCode, lines, trailing, text, false);
  }
  try {
    await store.writeAtomic(PW_STATUS_FILE, text);
  } catch (error) {
    log.error(
      { err: errText(error), path: store.pathOf(PW_STATUS_FILE) },
      'could not write pw_status.txt',
    );
    return result(4, lines, trailing, undefined, false);
  }
  log.info({ path: store.pathOf(PW_STATUS_FILE), entries: lines.length }, 'pw_status.txt written');
  return result(exitCode, lines, trailing, text, true);

  // ---- steps -------------------------------------------------------------------------------

  async function freshSetup(
    e: Entry,
    session: RemoteSession,
    start: EntryState,
    setupLogFound: boolean,
  ): Promise<Verdict> {
    const fail = (comment: string): Verdict => ({
      kind: 'done',
      state: { ...s, comment, warn: true },
    });
    let s = start;
    if (setupLogFound) e.log.warn('Setup log found, prior executions may have failed.');
    // Step 0: agent preparation, before any remote change.
    if (!preflightOk) return fail('Could not obtain CI registration token; setup deferred.');
    const prepared = await agent.prepare(e.name).catch((error: unknown) => ({
      ok: false as const,
      reason: 'token' as const,
      detail: errText(error),
    }));
    if (!prepared.ok) {
      e.log.error({ err: prepared.detail }, 'agent preparation failed');
      return fail(
        prepared.reason === 'conflict'
          ? `Runner group conflict detected for '${e.name}'. Skipping this instance.`
          : 'Could not obtain CI registration token; setup deferred.',
      );
    }
    const seconds = reduction.next();
    if (dryRun) {
      actions.push(
        `set up ${e.name} (${e.instanceId}): upload and install scripts, recycling timer ${seconds}s, start setup.sh`,
      );
      reduction.advance();
      return {
        kind: 'done',
        state: { ...s, setup: 'started', comment: 'Executing setup script.' },
      };
    }
    let secret: string;
    try {
      secret = await agent.secretFor(e.name);
    } catch (error) {
      e.log.error({ err: errText(error) }, 'could not obtain the CI secret');
      return fail('Could not obtain CI registration token; setup deferred.');
    }
    // Step 1
    s = { ...s, comment: 'Setting up new instance' };
    e.log.info('setting up new instance');
    // Step 2
    try {
      await session.uploadScripts();
    } catch (error) {
      e.log.error({ err: errText(error) }, 'upload failed');
      return fail('Could not copy scripts to instance.');
    }
    try {
      await session.installScripts();
    } catch (error) {
      e.log.error({ err: errText(error) }, 'install failed');
      return fail('Could not install scripts.');
    }
    // Step 3
    s = { ...s, comment: timerComment(seconds) };
    try {
      const timer = await session.startTimer(
        seconds,
        settings.agentDrainSeconds,
        agent.patterns.job,
      );
      e.log.info({ seconds, started: timer.started, deadline: timer.deadlineS }, 'recycling timer');
    } catch (error) {
      e.log.error({ err: errText(error) }, 'timer failed');
      return fail('Could not start automatic instance recycling.');
    }
    // Step 4
    const args = [
      ...agent.setupArgs(e.name),
      `taps=${[...settings.brewTaps, ...agent.brewTaps].join(' ')}`,
      `formulas=${[...settings.brewFormulas, ...agent.brewFormulas].join(' ')}`,
      `drain=${settings.agentDrainSeconds}`,
    ];
    try {
      await session.startSetup({ kind: agent.kind, name: e.name, args }, secret);
    } catch (error) {
      e.log.error({ err: errText(error) }, 'starting setup.sh failed');
      if (error instanceof RemoteError && (error.kind === 'refused' || error.kind === 'failed')) {
        return {
          kind: 'terminate',
          state: {
            ...s,
            comment: terminatingComment('Failed to start background setup script.'),
            warn: true,
          },
          message: 'Failed to start background setup script.',
          ssh: true,
          reason: 'setup-start-failed',
        };
      }
      return fail('Could not start setup script; will retry next run.');
    }
    // Step 5
    reduction.advance();
    actions.push(`set up ${e.name} (${e.instanceId}) with a ${seconds}s recycling timer`);
    return { kind: 'done', state: { ...s, setup: 'started', comment: 'Executing setup script.' } };
  }

  /** Best effort: a failed cordon is logged and retried next run. */
  async function cordon(e: Entry, why: string): Promise<void> {
    try {
      if (await agent.cordon(e.name)) actions.push(`cordoned ${e.name} (${why})`);
    } catch (error) {
      e.log.warn({ err: errText(error) }, `cordon (${why}) failed; retried next run`);
    }
  }

  async function maintenance(e: Entry, state: EntryState): Promise<Verdict> {
    // §4.5 step 1: new work is stopped first.
    await cordon(e, 'maintenance');
    if (dryRun || e.session === undefined || e.instance === undefined) {
      actions.push(`maintenance mode on ${e.name} (${e.instanceId})`);
      return { kind: 'done', state };
    }
    try {
      const m = await e.session.maintenance({
        kind: agent.kind,
        name: e.name,
        patterns: agent.patterns,
        drainSeconds: settings.agentDrainSeconds,
      });
      actions.push(`maintenance mode on ${e.name} (${e.instanceId}): drain ${m.drain}`);
      if (m.drain === 'waiting') {
        return {
          kind: 'done',
          state: {
            ...state,
            comment: maintenanceComment(e.instance, m.drainStartedS ?? opts.nowS),
          },
        };
      }
    } catch (error) {
      e.log.warn({ err: errText(error) }, 'maintenance step failed; retried next run');
    }
    return { kind: 'done', state };
  }

  /** §4.4, in its order; every step best effort. Returns the entry's final state. */
  async function forceTerminate(
    name: string,
    instanceId: string,
    hostId: string | undefined,
    v: Extract<Verdict, { kind: 'terminate' }>,
    elog: Logger,
    session: RemoteSession | undefined,
  ): Promise<EntryState> {
    let state = v.state;
    const comment = terminatingComment(v.message);
    handled.add(instanceId);
    terminated.add(instanceId);
    if (dryRun) {
      actions.push(`force-terminate ${name} (${instanceId}): ${comment}`);
      return state;
    }
    elog.warn({ reason: v.message }, comment);
    if (session !== undefined && v.ssh) {
      try {
        await session.forceStop({
          kind: agent.kind,
          name,
          patterns: agent.patterns,
          message: comment,
        });
      } catch (error) {
        elog.warn({ err: errText(error) }, 'stopping the listener failed');
      }
    }
    const audit = { reason: v.reason, host: hostId, instance: instanceId, name };
    try {
      await ec2.setTags(instanceId, { [TagKey.ready]: 'false' });
      await journal.record({ action: 'tag', ...audit, detail: `${TagKey.ready}=false` });
    } catch (error) {
      elog.warn({ err: errText(error) }, 'could not set PWPoolReady=false');
    }
    try {
      await ec2.terminateInstance(instanceId);
      actions.push(`terminated ${name} (${instanceId}): ${v.message}`);
      await journal.record({ action: 'terminate', ...audit, detail: comment });
    } catch (error) {
      elog.warn(`Could not terminate instance ${instanceId}: ${errText(error)}`);
      state = { ...state, warn: true };
    }
    try {
      await agent.onTerminate(name);
    } catch (error) {
      elog.warn({ err: errText(error) }, 'agent deregistration failed; the sweep retries');
    }
    return state;
  }

  /** §4.6: every pool instance past the hard lifetime, or stopped too long, that no entry handled. */
  async function runSweep(): Promise<{
    comments: string[];
    failed: boolean;
    /** Names of the pool's instances still alive after the sweep (undefined: query failed). */
    live: Set<string> | undefined;
  }> {
    let instances: InstanceView[];
    try {
      instances = await ec2.listPoolInstances(policy.pool, SWEEP_STATES);
    } catch (error) {
      log.error({ err: errText(error) }, 'lifetime sweep query failed');
      return { comments: [], failed: true, live: undefined };
    }
    const live = new Set<string>();
    const comments: string[] = [];
    const sorted = instances
      .filter(
        (i) =>
          i.instanceId !== undefined &&
          matchesPoolFilter(policy.pool, i.tags) &&
          !handled.has(i.instanceId),
      )
      .sort((a, b) =>
        compareBytewise(
          `${a.tags[TagKey.name]} ${a.instanceId}`,
          `${b.tags[TagKey.name]} ${b.instanceId}`,
        ),
      );
    for (const inst of sorted) {
      const id = inst.instanceId as string;
      const name = inst.tags[TagKey.name] ?? '?';
      const life = checkLifetime(inst, opts.nowS, policy);
      const message =
        life.kind === 'hard'
          ? hardLimitMessage(life.pastHardMin)
          : life.kind === 'stopped'
            ? stoppedMessage(id)
            : undefined;
      if (message === undefined) {
        live.add(name);
        continue;
      }
      const slog = log.child({ host: name, instanceId: id, sweep: true });
      await forceTerminate(
        name,
        id,
        inst.hostId,
        {
          kind: 'terminate',
          state: INITIAL_STATE,
          message,
          ssh: false,
          reason: life.kind === 'hard' ? 'hard-lifetime' : 'stopped',
        },
        slog,
        undefined,
      );
      comments.push(`# ${sanitizeName(name)} ${id} SWEEP: ${terminatingComment(message)}`);
    }
    for (const inst of instances) {
      const id = inst.instanceId ?? '';
      const name = inst.tags[TagKey.name];
      if (name !== undefined && handled.has(id) && !terminated.has(id)) live.add(name);
    }
    return { comments, failed: false, live };
  }
}
