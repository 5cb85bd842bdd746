// `pw-pool sim serve`: the simulated EC2-Mac cloud in the foreground (behavior.md §10).
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { startSimCloud } from '../../sim/index.js';
import type { SimCloud } from '../../sim/index.js';
import { UsageError } from '../../pw-lib/errors.js';
import type { CommandResult } from '../context.js';

export const SIM_REGION = 'us-east-1';

/** The lines a user pastes into another shell to point pw-pool at the simulated cloud. */
export function simExportLines(endpoint: string, sshPort: number): string[] {
  return [
    `export AWS_ENDPOINT_URL=${endpoint}`,
    'export AWS_ACCESS_KEY_ID=simulated',
    'export AWS_SECRET_ACCESS_KEY=simulated',
    `export AWS_REGION=${SIM_REGION}`,
    'export PW_POOL_CLOCK=sim',
    ...(sshPort > 0 ? [`export PW_POOL_SSH_PORT=${sshPort}`] : []),
  ];
}

export function parseIntArg(min: number, max: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`expected an integer, got '${value}'`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`expected ${min}..${max}, got ${n}`);
    return n;
  };
}

export function parseSpeed(value: string): number {
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !Number.isFinite(n) || n <= 0 || n > 100_000) {
    throw new InvalidArgumentError(
      `expected a positive number of virtual seconds per real second, got '${value}'`,
    );
  }
  return n;
}

/** Resolves when the process is asked to stop (SIGINT/SIGTERM). */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

interface ServeOptions {
  port: number;
  sshPort: number;
  hosts: number;
  speed: number;
  seed: number;
}

export function registerSim(program: Command, result: CommandResult): void {
  const sim = program.command('sim').description('the simulated EC2-Mac cloud');
  sim
    .command('serve')
    .description('serve the simulated cloud over the EC2 Query API on 127.0.0.1 until interrupted')
    .option('--port <n>', 'port (0 = pick a free one)', parseIntArg(0, 65535), 0)
    .option(
      '--ssh-port <n>',
      "the simulated Macs' SSH port on each 127.0.x.y (0 = pick a free one)",
      parseIntArg(0, 65535),
      0,
    )
    .option('--hosts <n>', 'dedicated hosts MacM1-1..n', parseIntArg(0, 5000), 10)
    .option('--speed <x>', 'virtual seconds per real second', parseSpeed, 1)
    .option('--seed <n>', 'seed of every random choice', parseIntArg(0, 2 ** 31), 1)
    .action(async (opts: ServeOptions) => {
      let cloud: SimCloud | undefined;
      try {
        cloud = await startSimCloud({
          port: opts.port,
          sshPort: opts.sshPort,
          hosts: opts.hosts,
          speed: opts.speed,
          seed: opts.seed,
        }).catch((error: unknown) => {
          if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
            const busy = (error as { port?: number }).port ?? opts.port;
            throw new UsageError(`sim serve: port ${busy} on 127.0.0.1 is in use`, {
              cause: error,
            });
          }
          throw error;
        });
        const out = process.stdout;
        out.write(`EC2 endpoint: ${cloud.endpoint}\n`);
        for (const line of simExportLines(cloud.endpoint, cloud.sshPort)) out.write(`${line}\n`);
        out.write(
          `# ${opts.hosts} hosts, virtual time ${cloud.clock.now().toISOString()} at ${opts.speed}x; ` +
            `control API: ${cloud.endpoint}/_sim/state (Ctrl-C stops)\n`,
        );
        out.write(
          '# setup-instances also needs POOLTOKEN (any value works here) and an ssh-agent with a key ' +
            '(or PW_POOL_SSH_IDENTITY_FILE); the simulated Macs accept any key\n',
        );
        const signal = await untilSignal();
        process.stderr.write(`sim serve: ${signal}, stopping\n`);
        result.exitCode = 0;
      } finally {
        await cloud?.close();
      }
    });
}
