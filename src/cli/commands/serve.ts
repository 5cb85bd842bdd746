// `pw-pool serve [--port <n>] [--host <addr>]` (behavior.md §5.3): serves `<stateDir>/html/`
// read-only over HTTP until SIGINT/SIGTERM. Takes no lock and makes no AWS call.
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { startStaticSite } from '../../pw-lib/adapters/static-site.js';
import type { StaticSite } from '../../pw-lib/adapters/static-site.js';
import { PreconditionError, UsageError } from '../../pw-lib/errors.js';
import { createContext } from '../context.js';
import type { CommandResult, GlobalOptions } from '../context.js';
import { untilSignal } from './sim.js';

export const DEFAULT_SERVE_PORT = 8080;

function parsePort(text: string | undefined): number {
  if (text === undefined) return DEFAULT_SERVE_PORT;
  if (!/^\d+$/.test(text) || Number(text) > 65535) {
    throw new UsageError(`--port: '${text}' is not a port number (0–65535; 0 picks a free port)`);
  }
  return Number(text);
}

export function registerServe(program: Command, result: CommandResult): void {
  program
    .command('serve')
    .description('serve the status page (<stateDir>/html/) read-only over HTTP until interrupted')
    .option('--port <n>', `TCP port (default ${DEFAULT_SERVE_PORT}; 0 picks a free port)`)
    .option('--host <addr>', 'address to bind (default 127.0.0.1; 0.0.0.0 exposes the page)')
    .action(async (_opts: unknown, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions & { port?: string; host?: string }>();
      const port = parsePort(globals.port);
      const host = globals.host ?? '127.0.0.1';
      if (host === '') throw new UsageError('--host: empty address');
      const ctx = await createContext(globals, { mutating: false });
      const dir = ctx.store.pathOf('html');
      const stopped = untilSignal();
      let site: StaticSite;
      try {
        site = await startStaticSite({ dir, port, host });
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
        throw new PreconditionError(`Cannot serve on ${host}:${port}: ${code}`, { cause: error });
      } finally {
        await ctx.close();
      }
      ctx.out.line(`Serving ${dir} at ${site.url} (Ctrl-C stops)`);
      if (!existsSync(dir)) {
        ctx.out.line('# no page yet: pw-pool cron writes html/index.html on every tick');
      }
      ctx.log.info({ url: site.url, dir }, 'status page served');
      const signal = await stopped;
      await site.close();
      ctx.log.info({ signal }, 'stopped serving');
      result.exitCode = 0;
    });
}
