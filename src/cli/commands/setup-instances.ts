// `pw-pool setup-instances [--force] [--dry-run]` (behavior.md §4).
import type { Command } from 'commander';
import { KnownHosts } from '../../pw-lib/adapters/ssh.js';
import { resolveSshAuth } from '../../pw-lib/adapters/ssh-auth.js';
import { MacRemote } from '../../pw-lib/adapters/remote-mac.js';
import { createGitHubRunners } from '../../pw-lib/adapters/github.js';
import { CirrusAgent } from '../../pw-lib/agents/cirrus.js';
import { GitHubActionsAgent } from '../../pw-lib/agents/github-actions.js';
import type { CiAgent } from '../../pw-lib/agents/types.js';
import { setupInstances } from '../../pw-lib/app/setup-instances.js';
import type { SetupSettings } from '../../pw-lib/app/setup-instances.js';
import { WORKER_PLACEHOLDER, validateAgentConfig } from '../../pw-lib/config/index.js';
import type { Config } from '../../pw-lib/config/index.js';
import type { PoolId } from '../../pw-lib/core/pool.js';
import type { SshAuth } from '../../pw-lib/adapters/ssh.js';
import type { CommandResult, GlobalOptions, RunContext } from '../context.js';
import { createContext, runMutating } from '../context.js';
import type { Clock, Journal, StateStore } from '../../pw-lib/ports.js';
import { toEpochSeconds } from '../../pw-lib/core/time.js';
import type { Logger } from '../../pw-lib/log.js';
import { NO_JOURNAL } from '../../pw-lib/ports.js';

export const KNOWN_HOSTS_FILE = 'known_hosts';

export interface AgentDeps {
  readonly log: Logger;
  readonly store: StateStore;
  readonly journal?: Journal;
  /** Read-only on the CI service too (no group creation, deletion or move). */
  readonly dryRun?: boolean;
  /** The simulated cloud's clock, when `clock` is `sim`: GitHub App JWTs are signed on it. */
  readonly simClock?: Clock | undefined;
}

export function createAgent(c: Config, env: NodeJS.ProcessEnv, deps: AgentDeps): CiAgent {
  switch (c.agent.kind) {
    case 'cirrus':
      return new CirrusAgent({
        poolTokenFile: c.cirrus.poolTokenFile,
        env,
        purposeTagKey: c.purposeTagKey,
        purposeValue: c.purposeValue,
      });
    case 'github-actions':
      return new GitHubActionsAgent({
        connect: () => {
          const clock = deps.simClock;
          return createGitHubRunners(
            c,
            env,
            deps.log,
            clock === undefined ? {} : { nowS: async () => toEpochSeconds(await clock.now()) },
          );
        },
        org: c.github.org ?? '',
        serverUrl: c.github.serverUrl,
        group: c.github.runnerGroup,
        runnerVersion: c.github.runnerVersion,
        groupVisibility: c.github.groupVisibility,
        allowPublicRepositories: c.github.allowPublicRepositories,
        namePrefix: c.namePrefix,
        labels: [c.purposeValue],
        runnerEnv: c.remote.runnerEnv,
        workerPlaceholder: WORKER_PLACEHOLDER,
        store: deps.store,
        log: deps.log,
        journal: deps.journal,
        dryRun: deps.dryRun,
      });
  }
}

export function setupSettings(c: Config, pool: PoolId, agent: CiAgent): SetupSettings {
  return {
    policy: {
      pool,
      maxLifetimeS: c.maxLifetimeSeconds,
      hardLifetimeS: c.hardLifetimeSeconds,
      setupTimeoutS: c.setupTimeoutSeconds,
      listenerGraceS: c.listenerGraceSeconds,
      maxFinishedTasks: c.maxFinishedTasks,
      minAliveWorkers: c.minAliveWorkers,
      launchStaggerS: c.launchStaggerSeconds,
      sshPort: c.ssh.port,
      sshUser: c.ssh.user,
      texts: agent.texts,
    },
    agent,
    agentDrainSeconds: c.agentDrainSeconds,
    observeConcurrency: c.observeConcurrency,
    connectConcurrency: c.ssh.connectConcurrency,
    runDeadlineSeconds: c.runDeadlineSeconds,
    brewTaps: c.remote.brewTaps,
    brewFormulas: c.remote.brewFormulas,
  };
}

/**
 * The SSH side of a setup run: the state dir's known_hosts, and a MacRemote whose credentials
 * `checkSshAccess` resolves (§4.1 precondition 3) before the first connection.
 */
export async function setupSsh(
  c: Config,
  store: StateStore,
  env: NodeJS.ProcessEnv,
  log: Logger,
): Promise<{ remote: MacRemote; knownHosts: KnownHosts; checkSshAccess: () => Promise<void> }> {
  const knownHosts = await KnownHosts.load(
    store.pathOf(KNOWN_HOSTS_FILE),
    c.ssh.hostKeyPolicy,
    log,
  );
  let auth: SshAuth = { agentSocket: undefined, privateKey: undefined };
  const remote = new MacRemote({
    user: c.ssh.user,
    port: c.ssh.port,
    connectTimeoutSeconds: c.ssh.connectTimeoutSeconds,
    commandTimeoutSeconds: c.ssh.commandTimeoutSeconds,
    auth: () => auth,
    knownHosts,
    log,
  });
  const checkSshAccess = async () => {
    auth = await resolveSshAuth(
      { identityFile: c.ssh.identityFile, agentEnvFile: c.ssh.agentEnvFile },
      env,
      process.getuid?.() ?? 0,
    );
  };
  return { remote, knownHosts, checkSshAccess };
}

/** Runs setup-instances in this process; the caller holds the lock when it is not a dry run. */
export async function runSetupInstances(
  ctx: RunContext,
  opts: { force: boolean; dryRun: boolean },
  journal: Journal = NO_JOURNAL,
): Promise<{ exitCode: number; wrote: boolean }> {
  const c = ctx.config;
  validateAgentConfig(c, ctx.env, ctx.origins, { requireSecret: false });
  const agent = createAgent(c, ctx.env, {
    log: ctx.log,
    store: ctx.store,
    journal,
    dryRun: opts.dryRun,
    simClock: c.clock === 'sim' ? ctx.clock : undefined,
  });
  const ssh = await setupSsh(c, ctx.store, ctx.env, ctx.log);
  const outcome = await setupInstances(
    setupSettings(c, ctx.pool, agent),
    {
      ec2: await ctx.ec2(),
      remote: ssh.remote,
      store: ctx.store,
      out: ctx.out,
      log: ctx.log,
      journal,
      checkSshAccess: ssh.checkSshAccess,
    },
    { nowS: ctx.nowS, force: opts.force, dryRun: opts.dryRun },
  );
  if (!opts.dryRun) await ssh.knownHosts.save();
  return { exitCode: outcome.exitCode, wrote: outcome.wrote };
}

export function registerSetupInstances(program: Command, result: CommandResult): void {
  program
    .command('setup-instances')
    .description('set up fresh instances over SSH and police the running ones; write pw_status.txt')
    .option('--force', 'stagger the recycling timers of the instances set up in this run')
    .option(
      '--dry-run',
      'observe and print the plan and the would-be pw_status.txt; change nothing, take no lock',
    )
    .action(async (_opts: unknown, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions & { force?: boolean }>();
      const dryRun = globals.dryRun === true;
      const ctx = await createContext(globals, { mutating: true });
      try {
        result.exitCode = await runMutating(
          ctx,
          'setup-instances',
          dryRun,
          async (journal) =>
            (await runSetupInstances(ctx, { force: globals.force === true, dryRun }, journal))
              .exitCode,
        );
      } finally {
        await ctx.close();
      }
    });
}
