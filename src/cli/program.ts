// Builds the commander program: global options, and one module per command.
import { Command, Option } from 'commander';
import { registerDemo } from './commands/demo.js';
import { registerLaunchInstances } from './commands/launch-instances.js';
import { registerSetupInstances } from './commands/setup-instances.js';
import { registerSim } from './commands/sim.js';
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
  registerLaunchInstances(program, result);
  registerSetupInstances(program, result);
  registerSim(program, result);
  registerDemo(program, result);
  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
