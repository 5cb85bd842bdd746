// `pw-pool check` (behavior.md §2): the pre-flight before installing the crontab. Read-only, no lock.
import type { Command } from 'commander';
import { probeWritableDir } from '../../pw-lib/adapters/dir-probe.js';
import { agentIdentityCount, resolveSshAuth } from '../../pw-lib/adapters/ssh-auth.js';
import { createGitHubRunners } from '../../pw-lib/adapters/github.js';
import { runChecks } from '../../pw-lib/app/check.js';
import { validateAgentConfig } from '../../pw-lib/config/index.js';
import { toEpochSeconds } from '../../pw-lib/core/time.js';
import { checkExitCode, fail, formatFinding, ok, warn } from '../../pw-lib/core/check.js';
import { ConfigError, PreconditionError } from '../../pw-lib/errors.js';
import type { CommandResult, GlobalOptions, RunContext } from '../context.js';
import { createContext, stdout } from '../context.js';
import { createAgent } from './setup-instances.js';

export function registerCheck(program: Command, result: CommandResult): void {
  program
    .command('check')
    .description(
      'pre-flight: config, AWS credentials and region, hosts, launch template, ssh-agent, agent secret, state directory',
    )
    .addHelpText(
      'after',
      '\nOne line per check: ok, warn or FAIL. Warnings do not fail the check.\n' +
        'Exit codes: 0 every check passed (warnings allowed), 3 at least one FAIL.',
    )
    .action(async (_opts: unknown, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      let ctx: RunContext;
      try {
        ctx = await createContext(globals, { mutating: false });
      } catch (error) {
        if (!(error instanceof ConfigError) && !(error instanceof PreconditionError)) throw error;
        const problems = error instanceof ConfigError ? error.problems : [error.message];
        const findings = problems.map((p) => fail('config', p));
        for (const f of findings) stdout.line(formatFinding(f));
        result.exitCode = checkExitCode(findings);
        return;
      }
      try {
        result.exitCode = (await runCheckCommand(ctx)).exitCode;
      } finally {
        await ctx.close();
      }
    });
}

async function runCheckCommand(ctx: RunContext): Promise<{ exitCode: number }> {
  const c = ctx.config;
  const uid = process.getuid?.() ?? 0;
  const configOk = ok(
    'config',
    `valid; pool ${c.namePrefix}-* with ${c.purposeTagKey}=${c.purposeValue}, agent ${c.agent.kind}, launch template '${c.launchTemplateName}'`,
  );
  return runChecks(
    { pool: ctx.pool, launchTemplateName: c.launchTemplateName },
    {
      ec2: () => ctx.ec2(),
      sshAccess: async () => {
        const auth = await resolveSshAuth(
          { identityFile: c.ssh.identityFile, agentEnvFile: c.ssh.agentEnvFile },
          ctx.env,
          uid,
        );
        const parts: string[] = [];
        if (auth.agentSocket !== undefined) {
          const keys = await agentIdentityCount(auth.agentSocket);
          parts.push(`ssh-agent at ${auth.agentSocket} holds ${keys} key${keys === 1 ? '' : 's'}`);
        }
        if (auth.privateKey !== undefined && c.ssh.identityFile !== undefined)
          parts.push(`identity file ${c.ssh.identityFile} is an unencrypted private key`);
        return parts.join('; ');
      },
      agentSecret: async () => {
        validateAgentConfig(c, ctx.env, ctx.origins, { requireSecret: true });
        await createAgent(c, ctx.env, {
          log: ctx.log,
          store: ctx.store,
          dryRun: true,
        }).checkSecret();
        if (c.agent.kind === 'cirrus') {
          const where =
            c.cirrus.poolTokenFile !== undefined
              ? `cirrus.poolTokenFile ${c.cirrus.poolTokenFile}`
              : 'POOLTOKEN';
          return `agent cirrus: the secret is present (${where}; not shown)`;
        }
        // github-actions: the credentials work, and the runner group is there or will be made.
        const clock = ctx.clock;
        const gh = await createGitHubRunners(
          c,
          ctx.env,
          ctx.log,
          c.clock === 'sim' ? { nowS: async () => toEpochSeconds(await clock.now()) } : {},
        );
        const groups = await gh.listRunnerGroups();
        const group = c.github.runnerGroup;
        const found = groups.find((g) => g.name === group);
        const shown = found
          ? `runner group '${group}' exists (visibility ${found.visibility}, public repositories ${found.allowsPublicRepositories ? 'allowed' : 'not allowed'})`
          : `runner group '${group}' will be created by the first setup run`;
        return `agent github-actions: GitHub ${c.github.apiUrl} org ${c.github.org ?? '?'} answers with these credentials (not shown); ${shown}`;
      },
      stateDir: () => probeWritableDir(c.stateDir),
      out: ctx.out,
      log: ctx.log,
    },
    [
      configOk,
      ...(c.agent.kind === 'cirrus' && ctx.origins['agent.kind'] === undefined
        ? [CIRRUS_BY_DEFAULT]
        : []),
    ],
  );
}

/** The default agent kind serves a hosted service that is gone; say so before a pool uses it. */
const CIRRUS_BY_DEFAULT = warn(
  'config',
  "agent.kind is 'cirrus' by default, and Cirrus CI's hosted service ended on 2026-06-01: set agent.kind to github-actions for a new pool, or to cirrus explicitly for a self-hosted Cirrus",
);
