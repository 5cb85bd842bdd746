// `pw-pool launch-instances [--force] [--dry-run]` (behavior.md §3).
import type { Command } from 'commander';
import { launchInstances } from '../../pw-lib/app/launch-instances.js';
import type { LaunchSettings } from '../../pw-lib/app/launch-instances.js';
import type { Config } from '../../pw-lib/config/index.js';
import type { PoolId } from '../../pw-lib/core/pool.js';
import type { RunContext } from '../context.js';
import { createContext, runMutating } from '../context.js';
import type { Journal } from '../../pw-lib/ports.js';
import { NO_JOURNAL } from '../../pw-lib/ports.js';
import type { CommandResult, GlobalOptions } from '../context.js';

export function launchSettings(c: Config, pool: PoolId): LaunchSettings {
  return {
    pool,
    launchTemplateName: c.launchTemplateName,
    launchStaggerSeconds: c.launchStaggerSeconds,
    launchWaitSeconds: c.launchWaitSeconds,
    launchPollSeconds: c.launchPollSeconds,
  };
}

/** Runs launch-instances in this process; the caller holds the lock when it is not a dry run. */
export async function runLaunchInstances(
  ctx: RunContext,
  opts: { force: boolean; dryRun: boolean },
  journal: Journal = NO_JOURNAL,
): Promise<number> {
  const outcome = await launchInstances(
    launchSettings(ctx.config, ctx.pool),
    {
      ec2: await ctx.ec2(),
      clock: ctx.clock,
      store: ctx.store,
      out: ctx.out,
      log: ctx.log,
      rng: Math.random,
      journal,
    },
    { nowS: ctx.nowS, force: opts.force, dryRun: opts.dryRun },
  );
  return outcome.exitCode;
}

export function registerLaunchInstances(program: Command, result: CommandResult): void {
  program
    .command('launch-instances')
    .description('launch instances onto empty pool hosts, staggered; write dh_status.txt')
    .option('--force', 'ignore the launch stagger (fills a new pool)')
    .option(
      '--dry-run',
      'print the plan and the would-be dh_status.txt; change nothing, take no lock',
    )
    .action(async (_opts: unknown, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions & { force?: boolean }>();
      const dryRun = globals.dryRun === true;
      const ctx = await createContext(globals, { mutating: true });
      try {
        result.exitCode = await runMutating(ctx, 'launch-instances', dryRun, (journal) =>
          runLaunchInstances(ctx, { force: globals.force === true, dryRun }, journal),
        );
      } finally {
        await ctx.close();
      }
    });
}
