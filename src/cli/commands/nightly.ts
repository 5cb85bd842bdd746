// `pw-pool nightly` (behavior.md §5.4): housekeeping under the pool lock. No git, no self-update.
import type { Command } from 'commander';
import { AUDIT_FILE } from '../../pw-lib/adapters/journal.js';
import { listDir, removeFile, trimFileInPlace } from '../../pw-lib/adapters/trim-file.js';
import { runNightly } from '../../pw-lib/app/nightly.js';
import type { NightlyFiles } from '../../pw-lib/app/nightly.js';
import type { RunContext } from '../context.js';
import { createContext, runMutating } from '../context.js';
import type { CommandResult, GlobalOptions } from '../context.js';
import { KNOWN_HOSTS_FILE } from './setup-instances.js';

const files: NightlyFiles = {
  trimInPlace: trimFileInPlace,
  listDir,
  remove: removeFile,
  fsNowMs: () => Date.now(),
};

/** Runs nightly in this process; the caller holds the pool lock. */
export async function runNightlyCommand(ctx: RunContext): Promise<number> {
  const outcome = await runNightly(
    {
      logFile: ctx.config.cron.logFile,
      keepLogSeconds: ctx.config.nightly.keepLogSeconds,
      auditFile: AUDIT_FILE,
      knownHostsFile: KNOWN_HOSTS_FILE,
      tmpDirs: [ctx.store.dir, ctx.store.pathOf('html')],
    },
    { ec2: () => ctx.ec2(), store: ctx.store, files, out: ctx.out, log: ctx.log },
    { nowS: ctx.nowS },
  );
  return outcome.exitCode;
}

export function registerNightly(program: Command, result: CommandResult): void {
  program
    .command('nightly')
    .description(
      'housekeeping under the pool lock: trim the cron log, rotate the audit log, prune known_hosts, remove old temp files',
    )
    .action(async (_opts: unknown, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const ctx = await createContext(globals, { mutating: true });
      try {
        // The pool lock, and the metrics file every nightly run rewrites (§5.5).
        result.exitCode = await runMutating(ctx, 'nightly', false, () => runNightlyCommand(ctx));
      } finally {
        await ctx.close();
      }
    });
}
