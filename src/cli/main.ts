// The process boundary: build the program, parse, map errors to exit codes (behavior.md §2).
import { readFileSync } from 'node:fs';
import { CommanderError } from 'commander';
import { ExitCode, PwPoolError } from '../pw-lib/errors.js';
import type { CommandResult } from './context.js';
import { buildProgram } from './program.js';

function packageVersion(): string {
  try {
    const pkg = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as {
      version?: string;
    };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/**
 * The AWS SDK prints a NodeVersionSupportWarning on every run under Node 20 (its releases after
 * early 2027 need Node 22). The lockfile pins a release that supports Node 20, so on every cron run
 * the warning is noise in the log: pw-pool turns it off, deliberately, before any SDK client exists.
 * Setting AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=false yourself brings it back.
 */
export function silenceSdkNodeWarning(env: NodeJS.ProcessEnv): void {
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}

/** Parses argv, runs the command and returns the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  silenceSdkNodeWarning(process.env);
  const result: CommandResult = { exitCode: ExitCode.ok };
  const program = buildProgram(result, packageVersion());
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return result.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander already printed the message; help and version are not errors
      return error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        error.code === 'commander.help'
        ? ExitCode.ok
        : ExitCode.usage;
    }
    if (error instanceof PwPoolError) {
      process.stderr.write(`pw-pool: ${error.message}\n`);
      return error.exitCode;
    }
    process.stderr.write(
      `pw-pool: internal error (a bug): ${(error as Error)?.stack ?? String(error)}\n`,
    );
    return ExitCode.bug;
  }
}

export async function run(): Promise<void> {
  process.exitCode = await main(process.argv.slice(2));
}
