// `pw-pool set-ready <name|instance-id|host-id> true|false [--dry-run]` (behavior.md §1.5, §2).
import type { Command } from 'commander';
import { setReady } from '../../pw-lib/app/set-ready.js';
import { parseReadyValue, parseTarget, printable } from '../../pw-lib/core/targets.js';
import { UsageError } from '../../pw-lib/errors.js';
import type { CommandResult, GlobalOptions } from '../context.js';
import { createContext, poolOf, runMutating } from '../context.js';

export function registerSetReady(program: Command, result: CommandResult): void {
  program
    .command('set-ready')
    .description(
      'take an instance or host of this pool out of service (false) or back (true) by its PWPoolReady tag; audited, takes the pool lock',
    )
    .argument('<target>', 'an instance name (MacM1-3), an instance id (i-…) or a host id (h-…)')
    .argument('<value>', 'true or false')
    .option(
      '--dry-run',
      'resolve the target and print the tag changes; change nothing, take no lock',
    )
    .addHelpText(
      'after',
      '\nA host id changes the host (no launches there) and its current instance (maintenance mode).\n' +
        'Exit codes: 0 done, 2 bad argument, 4 the target is not in this pool or a tag change failed, 5 lock busy.',
    )
    .action(async (targetArg: string, valueArg: string, _opts: unknown, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const dryRun = globals.dryRun === true;
      const ctx = await createContext(globals, { mutating: true });
      try {
        // Every problem of the arguments at once, before any EC2 call.
        const problems: string[] = [];
        const parsed = parseTarget(poolOf(ctx.config), targetArg, 'instance-or-host');
        if (!parsed.ok) problems.push(`target ${parsed.problem}`);
        const value = parseReadyValue(valueArg);
        if (value === undefined)
          problems.push(`value '${printable(valueArg)}' must be exactly 'true' or 'false'`);
        if (problems.length > 0 || !parsed.ok || value === undefined)
          throw new UsageError(`set-ready: ${problems.join('; ')}`);
        result.exitCode = await runMutating(ctx, 'set-ready', dryRun, async (journal) => {
          const outcome = await setReady(
            ctx.pool,
            { ec2: await ctx.ec2(), out: ctx.out, log: ctx.log, journal },
            { target: parsed.target, value, dryRun },
          );
          return outcome.exitCode;
        });
      } finally {
        await ctx.close();
      }
    });
}
