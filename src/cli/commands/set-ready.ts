// `pw-pool set-ready <name|instance-id|host-id> true|false [--dry-run]` (behavior.md §1.5, §2).
import type { Command } from 'commander';
import { AUDIT_FILE, FileJournal } from '../../pw-lib/adapters/journal.js';
import { setReady } from '../../pw-lib/app/set-ready.js';
import { parseReadyValue, parseTarget, printable } from '../../pw-lib/core/targets.js';
import { UsageError } from '../../pw-lib/errors.js';
import { NO_JOURNAL } from '../../pw-lib/ports.js';
import type { CommandResult, GlobalOptions } from '../context.js';
import { createContext, poolOf, withPoolLock } from '../context.js';

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
        const journal = dryRun
          ? NO_JOURNAL
          : new FileJournal({
              path: ctx.store.pathOf(AUDIT_FILE),
              command: 'set-ready',
              clock: ctx.clock,
              log: ctx.log,
            });
        const outcome = await withPoolLock(ctx, dryRun, async () =>
          setReady(
            ctx.pool,
            { ec2: await ctx.ec2(), out: ctx.out, log: ctx.log, journal },
            { target: parsed.target, value, dryRun },
          ),
        );
        // The audit record is part of the contract: an unwritable audit log is a failure too.
        const auditFailed = journal instanceof FileJournal && journal.failures > 0;
        result.exitCode = auditFailed ? Math.max(outcome.exitCode, 4) : outcome.exitCode;
      } finally {
        await ctx.close();
      }
    });
}
