// One `pw-pool cron` tick under the pool lock (behavior.md §5.2 steps 3–9): launch when due by
// elapsed time, setup every time, the utilization row when setup rewrote pw_status.txt, the
// status page, and the metrics. A phase's failure is logged and reflected in the exit code; the
// next phases still run.
import type { Logger } from 'pino';
import { isLaunchDue } from '../core/cron.js';
import { DH_STATUS_FILE, parseDhStatus } from '../core/dh-status.js';
import type { CommandRun } from '../core/metrics.js';
import { PW_STATUS_FILE } from '../core/pw-status.js';
import { formatUtcMinute } from '../core/time.js';
import {
  appendUtilization,
  formatUtilizationRow,
  UTILIZATION_FILE,
  utilizationMaxRows,
  utilizationRow,
} from '../core/utilization.js';
import { combineExitCodes, PwPoolError } from '../errors.js';
import type { Output, StateStore } from '../ports.js';

export interface CronSettings {
  readonly launchEverySeconds: number;
  readonly intervalSeconds: number;
  readonly historySeconds: number;
}

export interface CronPhases {
  /** launch-instances in process; its exit code. */
  launch(): Promise<number>;
  /** setup-instances in process; its exit code and whether it rewrote pw_status.txt. */
  setup(): Promise<{ exitCode: number; wrote: boolean }>;
  /** Renders html/ from the files. */
  renderPage(): Promise<void>;
}

export interface CronDeps {
  readonly store: StateStore;
  readonly out: Output;
  readonly log: Logger;
  readonly phases: CronPhases;
  /** Real seconds elapsed since an arbitrary origin (run durations). */
  readonly elapsedS: () => number;
}

export interface CronOutcome {
  readonly exitCode: number;
  readonly launched: boolean;
  /** The sub-runs, for the metrics file. */
  readonly runs: readonly Omit<CommandRun, 'endS'>[];
}

function errText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Steps 3–8 and the exit code of step 9; the caller holds the lock and writes the metrics. */
export async function cronTick(
  settings: CronSettings,
  deps: CronDeps,
  tickStartS: number,
): Promise<CronOutcome> {
  const { store, out, log, phases } = deps;
  const codes: number[] = [];
  const runs: Omit<CommandRun, 'endS'>[] = [];
  /** Runs one sub-run: a throw is logged and becomes its exit code; prints `Exit: <rc>`. */
  const runPhase = async <T>(
    command: string,
    fn: () => Promise<T>,
    failed: (exitCode: number) => T,
    exitCodeOfResult: (r: T) => number,
  ): Promise<T> => {
    const t0 = deps.elapsedS();
    let r: T;
    try {
      r = await fn();
    } catch (error) {
      log.error({ err: errText(error), phase: command }, 'phase failed');
      r = failed(exitCodeOf(error));
    }
    const exitCode = exitCodeOfResult(r);
    runs.push({ command, durationSeconds: deps.elapsedS() - t0, exitCode });
    out.line(`Exit: ${exitCode}`);
    codes.push(exitCode);
    return r;
  };

  // Step 3
  out.line(formatUtcMinute(tickStartS));

  // Step 4: launch if due, by elapsed time since the dh_status header.
  let dhText: string | undefined;
  try {
    dhText = await store.read(DH_STATUS_FILE);
  } catch (error) {
    log.warn({ err: errText(error) }, 'dh_status.txt unreadable; launch is due');
  }
  const headerTimeS = dhText === undefined ? undefined : parseDhStatus(dhText).headerTimeS;
  const launched = isLaunchDue(
    headerTimeS,
    tickStartS,
    settings.launchEverySeconds,
    settings.intervalSeconds,
  );
  if (launched) {
    await runPhase(
      'launch-instances',
      () => phases.launch(),
      (c) => c,
      (c) => c,
    );
  } else {
    log.debug({ headerTimeS, tickStartS }, 'launch not due');
  }

  // Step 5
  const setup = await runPhase(
    'setup-instances',
    () => phases.setup(),
    (exitCode) => ({ exitCode, wrote: false }),
    (r) => r.exitCode,
  );

  // Steps 6–7: the utilization row, only when this tick rewrote pw_status.txt.
  if (setup.wrote) {
    try {
      const pwText = await store.read(PW_STATUS_FILE);
      const row = pwText === undefined ? undefined : utilizationRow(pwText);
      if (row === undefined) throw new Error('pw_status.txt has no header time');
      const csv = (await store.read(UTILIZATION_FILE)) ?? '';
      const rowsKept = utilizationMaxRows(settings.historySeconds, settings.intervalSeconds);
      await store.writeAtomic(UTILIZATION_FILE, appendUtilization(csv, row, rowsKept));
      out.line(formatUtilizationRow(row));
    } catch (error) {
      log.error({ err: errText(error) }, 'could not update utilization.csv');
      codes.push(4);
    }
  }

  // Step 8
  try {
    await phases.renderPage();
  } catch (error) {
    log.error({ err: errText(error) }, 'could not render the status page');
    codes.push(4);
  }
  return { exitCode: combineExitCodes(codes), launched, runs };
}

/** A typed error's own code (a config error is 3); anything else is a bug (1). */
function exitCodeOf(error: unknown): number {
  return error instanceof PwPoolError ? error.exitCode : 1;
}
