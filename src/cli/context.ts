// The composition root: turns global options into config, logger, clock and adapters, once per run.
// Commands ask for what they need; no module-level clients.
import { homedir } from 'node:os';
import { performance } from 'node:perf_hooks';
import { AwsEc2, resolveRegion } from '../pw-lib/adapters/aws-ec2.js';
import { SimClock, SystemClock } from '../pw-lib/adapters/clock.js';
import { FileLock, LOCK_FILE } from '../pw-lib/adapters/lock.js';
import { replaceFileAtomic, StateDir } from '../pw-lib/adapters/state-dir.js';
import { AUDIT_FILE, FileJournal } from '../pw-lib/adapters/journal.js';
import type { MetricsDeps } from '../pw-lib/app/metrics.js';
import { writeMetrics } from '../pw-lib/app/metrics.js';
import type { CommandRun } from '../pw-lib/core/metrics.js';
import type { Config } from '../pw-lib/config/index.js';
import { loadConfig } from '../pw-lib/config/index.js';
import type { PoolId } from '../pw-lib/core/pool.js';
import { parseIsoStrict, toEpochSeconds } from '../pw-lib/core/time.js';
import { combineExitCodes, ConfigError, PreconditionError, UsageError } from '../pw-lib/errors.js';
import { createLogger } from '../pw-lib/log.js';
import type { Logger } from '../pw-lib/log.js';
import type { Clock, Journal, Output, PoolLock, StateStore } from '../pw-lib/ports.js';
import { NO_JOURNAL } from '../pw-lib/ports.js';

/** The options every command accepts (commander's optsWithGlobals()). */
export interface GlobalOptions {
  readonly config?: string;
  readonly overlay?: string[];
  readonly stateDir?: string;
  readonly logLevel?: string;
  readonly now?: string;
  readonly dryRun?: boolean;
}

/** Where a command's action leaves its exit code; only main.ts sets process.exitCode. */
export interface CommandResult {
  exitCode: number;
}

export const stdout: Output = { line: (text) => process.stdout.write(`${text}\n`) };

/** The EC2 endpoint the SDK will use from the environment, if any (AWS_ENDPOINT_URL[_EC2]). */
export function endpointFromEnv(env: NodeJS.ProcessEnv): string | undefined {
  const v = env.AWS_ENDPOINT_URL_EC2 ?? env.AWS_ENDPOINT_URL;
  return v === undefined || v === '' ? undefined : v;
}

export function isLoopbackEndpoint(endpoint: string | undefined): boolean {
  if (endpoint === undefined) return false;
  let host: string;
  try {
    host = new URL(endpoint).hostname;
  } catch {
    return false;
  }
  return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export function poolOf(config: Config): PoolId {
  return {
    namePrefix: config.namePrefix,
    purposeTagKey: config.purposeTagKey,
    purposeValue: config.purposeValue,
  };
}

export interface RunContext {
  readonly config: Config;
  /** Dotted key → the source that set it (for messages). */
  readonly origins: Readonly<Record<string, string>>;
  readonly log: Logger;
  readonly pool: PoolId;
  readonly store: StateStore;
  readonly endpoint: string | undefined;
  readonly env: NodeJS.ProcessEnv;
  /** The clock port: waits and polls always run on it. */
  readonly clock: Clock;
  /** The decision instant: `--now`, else the clock's now. Epoch seconds. */
  readonly nowS: number;
  /** Whether `--now` fixed nowS (then it stays fixed for the whole run). */
  readonly nowPinned: boolean;
  readonly out: Output;
  ec2(): Promise<AwsEc2>;
  lock(): PoolLock;
  /** The audit trail for `command` (`<stateDir>/audit.jsonl`); a no-op one for dry runs. */
  journal(command: string, dryRun: boolean): RunJournal;
  /** Where the metrics go: the state dir and `metrics.textfilePath`. */
  readonly metrics: MetricsDeps;
  /** Releases clients (sockets) so the process can exit. */
  close(): Promise<void>;
}

/** A run's audit trail and the actions it counted (for `pwpool_actions_total`). */
export interface RunJournal {
  readonly journal: Journal;
  readonly counts: ReadonlyMap<string, number>;
  /** Audit records that could not be appended (each is logged). */
  readonly failures: () => number;
}

export interface ContextOptions {
  /** Whether this run changes anything (affects the `--now` rule). */
  readonly mutating: boolean;
  /** Explicit AWS credentials (the demo's dummy ones); default: the SDK's credential chain. */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

export async function createContext(
  globals: GlobalOptions,
  opts: ContextOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RunContext> {
  const nowFlag = globals.now === undefined ? undefined : parseIsoStrict(globals.now);
  if (globals.now !== undefined && nowFlag === undefined) {
    throw new UsageError(
      `--now: '${globals.now}' is not an ISO-8601 time with an offset (e.g. 2024-08-06T14:10:03Z)`,
    );
  }
  const endpoint = endpointFromEnv(env);
  if (
    nowFlag !== undefined &&
    opts.mutating &&
    globals.dryRun !== true &&
    !isLoopbackEndpoint(endpoint)
  ) {
    throw new UsageError(
      '--now is accepted with --dry-run, or for a mutating run only against a loopback EC2 endpoint (the simulated cloud)',
    );
  }
  const { config, sources } = await loadConfig({
    configPath: globals.config,
    overlays: globals.overlay ?? [],
    flags: { stateDir: globals.stateDir, logLevel: globals.logLevel },
    env,
    homeDir: homedir(),
    uid: process.getuid?.() ?? 0,
    cwd: process.cwd(),
  });
  const log = createLogger({ level: config.logLevel });
  let clock: Clock;
  if (config.clock === 'sim') {
    if (endpoint === undefined) {
      throw new ConfigError([
        'clock: "sim" needs AWS_ENDPOINT_URL pointing at `pw-pool sim serve`',
      ]);
    }
    clock = new SimClock(endpoint);
  } else {
    clock = new SystemClock();
  }
  let nowS: number;
  try {
    nowS = nowFlag ?? toEpochSeconds(await clock.now());
  } catch (error) {
    throw new PreconditionError(`${(error as Error).message} (config clock: "sim")`, {
      cause: error,
    });
  }
  const pool = poolOf(config);
  const store = new StateDir(config.stateDir);
  let ec2: Promise<AwsEc2> | undefined;
  return {
    config,
    origins: sources.origins,
    log,
    pool,
    store,
    endpoint,
    env,
    clock,
    nowS,
    nowPinned: nowFlag !== undefined,
    out: stdout,
    ec2: () => {
      ec2 ??= (async () => {
        const { region, source } = await resolveRegion(config.region);
        log.info(
          { region, regionSource: source, endpoint: endpoint ?? 'default' },
          'AWS region resolved',
        );
        return new AwsEc2({
          region,
          endpoint,
          ...(opts.credentials !== undefined ? { credentials: opts.credentials } : {}),
          maxAttempts: config.aws.maxAttempts,
          requestTimeoutSeconds: config.aws.requestTimeoutSeconds,
          log,
        });
      })();
      return ec2;
    },
    journal: (command, dryRun) =>
      dryRun
        ? { journal: NO_JOURNAL, counts: new Map(), failures: () => 0 }
        : (() => {
            const j = new FileJournal({ path: store.pathOf(AUDIT_FILE), command, clock, log });
            return { journal: j, counts: j.counts, failures: () => j.failures };
          })(),
    metrics: {
      store,
      log,
      writeTextfile: (text) =>
        replaceFileAtomic(config.metrics.textfilePath, text, { backup: false }),
    },
    lock: () =>
      new FileLock({
        path: store.pathOf(LOCK_FILE),
        waitSeconds: config.cron.lockWaitSeconds,
        log,
      }),
    close: async () => {
      if (ec2 !== undefined) (await ec2).destroy();
    },
  };
}

/** Runs `fn` under the pool lock unless this is a dry run (which takes no lock). */
export async function withPoolLock<T>(
  ctx: RunContext,
  dryRun: boolean,
  fn: () => Promise<T>,
): Promise<T> {
  if (dryRun) return fn();
  const handle = await ctx.lock().acquire();
  try {
    return await fn();
  } finally {
    await handle.release();
  }
}

/**
 * A mutating command's run: under the pool lock (none for a dry run), with its audit trail, then
 * the metrics textfile with this run's duration and actions (none for a dry run). A metrics or
 * audit-log write failure turns exit 0 into 4.
 */
export async function runMutating(
  ctx: RunContext,
  command: string,
  dryRun: boolean,
  body: (journal: Journal) => Promise<number>,
): Promise<number> {
  return withPoolLock(ctx, dryRun, async () => {
    const startMs = performance.now();
    const { journal, counts, failures } = ctx.journal(command, dryRun);
    const exitCode = await body(journal);
    if (dryRun) return exitCode;
    const durationSeconds = (performance.now() - startMs) / 1000;
    const ok = await recordRuns(ctx, [{ command, durationSeconds, exitCode }], counts);
    // The audit record is part of the contract: an unwritable audit log is a failure too.
    return combineExitCodes([exitCode, ok ? 0 : 4, failures() > 0 ? 4 : 0]);
  });
}

/** Writes the metrics of this process's runs, ended now; false (logged) when that failed. */
export async function recordRuns(
  ctx: RunContext,
  runs: readonly Omit<CommandRun, 'endS'>[],
  actions: ReadonlyMap<string, number>,
): Promise<boolean> {
  const endS = toEpochSeconds(await ctx.clock.now().catch(() => new Date()));
  return writeMetrics(
    ctx.metrics,
    runs.map((r) => ({ ...r, endS })),
    actions,
  );
}
