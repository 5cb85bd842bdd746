// `pw-pool reap [--max-age-seconds <n>] [--dry-run]` (behavior.md §2): the outer lifetime layer.
import type { Command } from 'commander';
import { reap } from '../../pw-lib/app/reap.js';
import { DEFAULT_REAP_MAX_AGE_SECONDS } from '../../pw-lib/core/reap-plan.js';
import { printable } from '../../pw-lib/core/targets.js';
import { UsageError } from '../../pw-lib/errors.js';
import type { CommandResult, GlobalOptions } from '../context.js';
import { createContext } from '../context.js';

/** A positive whole number of seconds, else a usage error. */
export function parseMaxAge(text: string | undefined): number {
  if (text === undefined) return DEFAULT_REAP_MAX_AGE_SECONDS;
  if (!/^[0-9]+$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text)))
    throw new UsageError(
      `--max-age-seconds: '${printable(text)}' is not a whole number of seconds (at least 1)`,
    );
  return Number(text);
}

export function registerReap(program: Command, result: CommandResult): void {
  program
    .command('reap')
    .description(
      'terminate every pool instance older than the limit, using EC2 alone (no SSH, no state directory, no lock)',
    )
    .option(
      '--max-age-seconds <n>',
      `age since EC2 LaunchTime above which an instance is terminated (default ${DEFAULT_REAP_MAX_AGE_SECONDS}, 3 days)`,
    )
    .option('--dry-run', 'print the instances that would be terminated; change nothing')
    .addHelpText(
      'after',
      '\nPrints one JSON line per termination on stdout. It writes no file, so no audit.jsonl record:\n' +
        'the JSON lines are the record. Exit codes: 0 ok, 2 bad argument, 4 a query or a termination failed.',
    )
    .action(async (_opts: unknown, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions & { maxAgeSeconds?: string }>();
      const dryRun = globals.dryRun === true;
      const maxAgeSeconds = parseMaxAge(globals.maxAgeSeconds);
      const ctx = await createContext(globals, { mutating: true });
      try {
        const outcome = await reap(
          ctx.pool,
          { ec2: await ctx.ec2(), out: ctx.out, log: ctx.log },
          { nowS: ctx.nowS, maxAgeSeconds, dryRun },
        );
        result.exitCode = outcome.exitCode;
      } finally {
        await ctx.close();
      }
    });
}
