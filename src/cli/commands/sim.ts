// `pw-pool sim serve`: the simulated EC2-Mac cloud in the foreground (behavior.md §10), with a
// fake GitHub for the github-actions agent (`--agent github-actions`).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import { startSimCloud } from '../../sim/index.js';
import type { SimCloud } from '../../sim/index.js';
import { UsageError } from '../../pw-lib/errors.js';
import type { CommandResult } from '../context.js';

export const SIM_REGION = 'us-east-1';

export const SIM_AGENT_KINDS = ['cirrus', 'github-actions'] as const;
export type SimAgentKind = (typeof SIM_AGENT_KINDS)[number];
export const DEFAULT_SIM_GITHUB_ORG = 'pw-pool-sim';

/** What pw-pool needs to reach the simulated cloud's fake GitHub (never the key itself). */
export interface SimGitHubExport {
  org: string;
  /** The fake's URL: both the API URL and the server URL. */
  apiUrl: string;
  appId: number;
  installationId: number;
  /** The file holding the App's private key (0600). */
  appPrivateKeyFile: string;
}

/**
 * The lines a user pastes into another shell to point pw-pool at the simulated cloud; with
 * `github`, also at its fake GitHub (agent.kind, github.org, github.apiUrl, github.serverUrl and
 * the App auth keys).
 */
export function simExportLines(
  endpoint: string,
  sshPort: number,
  github?: SimGitHubExport,
): string[] {
  return [
    `export AWS_ENDPOINT_URL=${endpoint}`,
    'export AWS_ACCESS_KEY_ID=simulated',
    'export AWS_SECRET_ACCESS_KEY=simulated',
    `export AWS_REGION=${SIM_REGION}`,
    'export PW_POOL_CLOCK=sim',
    ...(sshPort > 0 ? [`export PW_POOL_SSH_PORT=${sshPort}`] : []),
    ...(github === undefined
      ? []
      : [
          'export PW_POOL_AGENT_KIND=github-actions',
          `export PW_POOL_GITHUB_ORG=${github.org}`,
          `export PW_POOL_GITHUB_API_URL=${github.apiUrl}`,
          `export PW_POOL_GITHUB_SERVER_URL=${github.apiUrl}`,
          `export PW_POOL_GITHUB_APP_ID=${github.appId}`,
          `export PW_POOL_GITHUB_INSTALLATION_ID=${github.installationId}`,
          `export PW_POOL_GITHUB_APP_PRIVATE_KEY_FILE=${shellWord(github.appPrivateKeyFile)}`,
        ]),
  ];
}

/** The hint after the export lines: what setup-instances still needs for this agent. */
export function simHintLine(agent: SimAgentKind): string {
  return agent === 'github-actions'
    ? '# setup-instances mints registration tokens from the fake GitHub App above (no POOLTOKEN) and ' +
        'needs an ssh-agent with a key (or PW_POOL_SSH_IDENTITY_FILE); the simulated Macs accept any key'
    : '# setup-instances also needs POOLTOKEN (any value works here) and an ssh-agent with a key ' +
        '(or PW_POOL_SSH_IDENTITY_FILE); the simulated Macs accept any key';
}

/** A path as one shell word (quoted only when it needs to be). */
function shellWord(text: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

/**
 * Writes the App's private key to `app-private-key.pem` (0600) in a fresh 0700 directory under
 * `parent`; `remove()` deletes the directory.
 */
export function writeSimAppKey(
  pem: string,
  parent = tmpdir(),
): { file: string; remove: () => void } {
  const dir = mkdtempSync(join(parent, 'pw-pool-sim-github-')); // mode 0700
  const file = join(dir, 'app-private-key.pem');
  try {
    writeFileSync(file, pem, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return { file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function parseIntArg(min: number, max: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`expected an integer, got '${value}'`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`expected ${min}..${max}, got ${n}`);
    return n;
  };
}

export function parseOrg(value: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9-]{0,38}$/.test(value)) {
    throw new InvalidArgumentError(`expected a GitHub organisation login, got '${value}'`);
  }
  return value;
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
  agent: SimAgentKind;
  githubOrg: string;
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
    .addOption(
      new Option(
        '--agent <kind>',
        'the CI agent kind pw-pool will use (github-actions: a fake GitHub too)',
      )
        .choices(SIM_AGENT_KINDS)
        .default('cirrus'),
    )
    .option(
      '--github-org <org>',
      "the fake GitHub's organisation",
      parseOrg,
      DEFAULT_SIM_GITHUB_ORG,
    )
    .action(async (opts: ServeOptions) => {
      let cloud: SimCloud | undefined;
      let key: { file: string; remove: () => void } | undefined;
      try {
        cloud = await startSimCloud({
          port: opts.port,
          sshPort: opts.sshPort,
          hosts: opts.hosts,
          speed: opts.speed,
          seed: opts.seed,
          github: opts.agent === 'github-actions' ? { org: opts.githubOrg } : undefined,
        }).catch((error: unknown) => {
          if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
            const busy = (error as { port?: number }).port ?? opts.port;
            throw new UsageError(`sim serve: port ${busy} on 127.0.0.1 is in use`, {
              cause: error,
            });
          }
          throw error;
        });
        const github = cloud.github;
        if (github !== undefined) key = writeSimAppKey(github.appPrivateKeyPem);
        const out = process.stdout;
        out.write(`EC2 endpoint: ${cloud.endpoint}\n`);
        if (github !== undefined) out.write(`GitHub API: ${github.apiUrl}\n`);
        const lines = simExportLines(
          cloud.endpoint,
          cloud.sshPort,
          github === undefined || key === undefined
            ? undefined
            : {
                org: github.org,
                apiUrl: github.apiUrl,
                appId: github.appId,
                installationId: github.installationId,
                appPrivateKeyFile: key.file,
              },
        );
        for (const line of lines) out.write(`${line}\n`);
        out.write(
          `# ${opts.hosts} hosts, virtual time ${cloud.clock.now().toISOString()} at ${opts.speed}x; ` +
            `control API: ${cloud.endpoint}/_sim/state${github === undefined ? '' : ` and ${cloud.endpoint}/_sim/github/state`} (Ctrl-C stops)\n`,
        );
        out.write(`${simHintLine(opts.agent)}\n`);
        const signal = await untilSignal();
        process.stderr.write(`sim serve: ${signal}, stopping\n`);
        result.exitCode = 0;
      } finally {
        await cloud?.close();
        key?.remove();
      }
    });
}
