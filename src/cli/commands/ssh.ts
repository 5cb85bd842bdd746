// `pw-pool ssh <name|instance-id> [--vnc] [-- command…]` (behavior.md §8.1): the system ssh with the
// pinned host key (HostKeyAlias = instance id, the state directory's known_hosts). Takes no lock.
import type { Command } from 'commander';
import { isLocalPortFree, runSystemSsh } from '../../pw-lib/adapters/system-ssh.js';
import { resolveSshTarget } from '../../pw-lib/app/resolve-target.js';
import { DNS_NAME_RE } from '../../pw-lib/core/pool.js';
import { VNC_PORT, buildSshArgv, sshTraceLine } from '../../pw-lib/core/ssh-argv.js';
import { parseTarget, printable } from '../../pw-lib/core/targets.js';
import { ExitCode, PwPoolError, UsageError } from '../../pw-lib/errors.js';
import type { CommandResult, GlobalOptions } from '../context.js';
import { createContext, poolOf } from '../context.js';
import { KNOWN_HOSTS_FILE } from './setup-instances.js';

export function registerSsh(program: Command, result: CommandResult): void {
  program
    .command('ssh')
    .description(
      'open an SSH session (or run one command) on a pool instance through the system ssh, with its pinned host key',
    )
    .argument('<target>', 'an instance name (MacM1-3) or an instance id (i-…)')
    .argument('[command...]', 'the remote command, after `--`')
    .option('--vnc', `also forward local port ${VNC_PORT} to the Mac's screen sharing`)
    .addHelpText(
      'after',
      '\nExample: pw-pool ssh MacM1-3 -- tail -n 50 setup.log\n' +
        "Exit codes: ssh's own; 2 bad argument, 4 no such instance or no public DNS name yet.",
    )
    .action(async (targetArg: string, words: string[], _opts: unknown, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions & { vnc?: boolean }>();
      const ctx = await createContext(globals, { mutating: false });
      let argv: string[];
      try {
        const c = ctx.config;
        const parsed = parseTarget(poolOf(c), targetArg, 'instance');
        if (!parsed.ok || parsed.target.kind === 'host')
          throw new UsageError(`ssh: target ${parsed.ok ? printable(targetArg) : parsed.problem}`);
        const inst = await resolveSshTarget(await ctx.ec2(), ctx.pool, parsed.target, targetArg);
        if (!DNS_NAME_RE.test(inst.publicDnsName)) {
          throw new PwPoolError(
            `Instance ${inst.instanceId} has an invalid public DNS name '${printable(inst.publicDnsName)}'.`,
            ExitCode.partial,
          );
        }
        let vncForward = globals.vnc === true;
        if (vncForward && !(await isLocalPortFree(VNC_PORT))) {
          vncForward = false;
          ctx.log.warn({ port: VNC_PORT }, 'local VNC port busy; connecting without the forward');
          process.stderr.write(
            `pw-pool: warning: local port ${VNC_PORT} is busy; connecting without the VNC forward\n`,
          );
        }
        argv = buildSshArgv({
          user: c.ssh.user,
          port: c.ssh.port,
          identityFile: c.ssh.identityFile,
          connectTimeoutSeconds: c.ssh.connectTimeoutSeconds,
          hostKeyPolicy: c.ssh.hostKeyPolicy,
          instanceId: inst.instanceId,
          knownHostsPath: ctx.store.pathOf(KNOWN_HOSTS_FILE),
          dnsName: inst.publicDnsName,
          vncForward,
          command: words,
        });
      } finally {
        await ctx.close();
      }
      process.stderr.write(`${sshTraceLine(argv)}\n`);
      result.exitCode = await runSystemSsh(argv);
    });
}
