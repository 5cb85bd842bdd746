// `pw-pool cron`: one tick of the unattended loop (behavior.md §5.2), run by crontab every
// `cron.intervalSeconds`: the lock, launch-instances when due, setup-instances, utilization.csv,
// the status page, the metrics; all in this process, so no child ever holds the lock.
import { performance } from 'node:perf_hooks';
import type { Command } from 'commander';
import { cronTick } from '../../pw-lib/app/cron-tick.js';
import { writeStatusPage } from '../../pw-lib/app/status-page.js';
import { toEpochSeconds } from '../../pw-lib/core/time.js';
import { combineExitCodes, LockBusyError } from '../../pw-lib/errors.js';
import type { CommandResult, GlobalOptions, RunContext } from '../context.js';
import { createContext, recordRuns } from '../context.js';
import { runLaunchInstances } from './launch-instances.js';
import { runSetupInstances } from './setup-instances.js';
import { statusPageSettings } from './status.js';

/** The page from the files as they are, at the clock's now; a failure is logged and reported. */
async function renderPage(ctx: RunContext): Promise<void> {
  const nowS = ctx.nowPinned ? ctx.nowS : toEpochSeconds(await ctx.clock.now());
  await writeStatusPage(ctx.store, statusPageSettings(ctx.config), nowS);
}

/** One tick; the exit code by §5.2 step 9. */
export async function runCron(ctx: RunContext): Promise<number> {
  // Step 1: tickStart is the context's instant, taken before the lock wait.
  const tickStartS = ctx.nowS;
  const startMs = performance.now();
  let handle;
  try {
    handle = await ctx.lock().acquire();
  } catch (error) {
    if (error instanceof LockBusyError) {
      // Still re-render the page from the files, so a stuck lock shows as STALE (§5.2 step 1).
      await renderPage(ctx).catch((e: unknown) =>
        ctx.log.error({ err: (e as Error).message }, 'could not render the status page'),
      );
    }
    throw error;
  }
  try {
    // The sub-runs decide at the instant the lock was taken, not before the wait.
    const runCtx: RunContext = ctx.nowPinned
      ? ctx
      : { ...ctx, nowS: toEpochSeconds(await ctx.clock.now()) };
    const { journal, counts } = ctx.journal('cron', false);
    const c = ctx.config;
    const outcome = await cronTick(
      {
        launchEverySeconds: c.cron.launchEverySeconds,
        intervalSeconds: c.cron.intervalSeconds,
        historySeconds: c.utilization.historySeconds,
      },
      {
        store: ctx.store,
        out: ctx.out,
        log: ctx.log,
        elapsedS: () => performance.now() / 1000,
        phases: {
          launch: () => runLaunchInstances(runCtx, { force: false, dryRun: false }, journal),
          setup: () => runSetupInstances(runCtx, { force: false, dryRun: false }, journal),
          renderPage: () => renderPage(runCtx),
        },
      },
      tickStartS,
    );
    const cronRun = {
      command: 'cron',
      durationSeconds: (performance.now() - startMs) / 1000,
      exitCode: outcome.exitCode,
    };
    const ok = await recordRuns(ctx, [...outcome.runs, cronRun], counts);
    return combineExitCodes([outcome.exitCode, ok ? 0 : 4]);
  } finally {
    await handle.release();
  }
}

export function registerCron(program: Command, result: CommandResult): void {
  program
    .command('cron')
    .description(
      'one tick of the crontab loop: lock, launch when due, setup, utilization row, page, metrics',
    )
    .action(async (_opts: unknown, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const ctx = await createContext(globals, { mutating: true });
      try {
        result.exitCode = await runCron(ctx);
      } finally {
        await ctx.close();
      }
    });
}
