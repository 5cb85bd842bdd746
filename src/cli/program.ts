// Builds the commander program: global options, and one module per command.
import { Command, Option } from 'commander';
import { registerAllocateTestHost } from './commands/allocate-test-host.js';
import { registerCheck } from './commands/check.js';
import { registerCron } from './commands/cron.js';
import { registerDemo } from './commands/demo.js';
import { registerLaunchInstances } from './commands/launch-instances.js';
import { registerNightly } from './commands/nightly.js';
import { registerReap } from './commands/reap.js';
import { registerServe } from './commands/serve.js';
import { registerSetReady } from './commands/set-ready.js';
import { registerSetupInstances } from './commands/setup-instances.js';
import { registerSim } from './commands/sim.js';
import { registerSsh } from './commands/ssh.js';
import { registerStatus } from './commands/status.js';
import type { CommandResult } from './context.js';

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function buildProgram(result: CommandResult, version: string): Command {
  const program = new Command('pw-pool')
    .description('Keeps a pool of EC2 Mac dedicated hosts serving as CI workers.')
    .version(version)
    .showSuggestionAfterError(true)
    .option(
      '--config <file>',
      'config file (default: $PW_POOL_CONFIG or ~/.config/pw-pool/config.json)',
    )
    .option(
      '--overlay <file>',
      'config overlay, applied after the environment (repeatable)',
      collect,
      [],
    )
    .option('--state-dir <dir>', 'state directory (status files, lock, known_hosts)')
    .addOption(new Option('--log-level <level>', 'log level').choices(LEVELS))
    .option(
      '--now <iso8601>',
      'evaluate every decision at this instant (dry runs, or the simulated cloud)',
    )
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text) });
  registerCron(program, result);
  registerLaunchInstances(program, result);
  registerSetupInstances(program, result);
  registerStatus(program, result);
  registerServe(program, result);
  registerSetReady(program, result);
  registerReap(program, result);
  registerSsh(program, result);
  registerCheck(program, result);
  registerSim(program, result);
  registerDemo(program, result);
  registerNightly(program, result);
  registerAllocateTestHost(program, result);
  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
