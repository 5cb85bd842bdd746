// `pw-pool demo` (what `npm start` runs): the simulated cloud with simulated Macs in this process at
// ≥ 60× speed, a temporary state directory, and the cron cadence — launch-instances every 10 and
// setup-instances every 5 virtual minutes — so the pool goes from empty hosts to `complete alive`
// workers, then recycles them as they age. The hosts' table is shown whenever a state changes.
// It can never touch a real pool: the endpoint is its own loopback server, the credentials and the
// pool token are dummies and the SSH key is generated for the run, whatever the environment says.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Option } from 'commander';
import type { Command } from 'commander';
import { SimClock } from '../../pw-lib/adapters/clock.js';
import { StateDir } from '../../pw-lib/adapters/state-dir.js';
import { DH_STATUS_FILE, parseDhStatus } from '../../pw-lib/core/dh-status.js';
import { PW_STATUS_FILE } from '../../pw-lib/core/pw-status.js';
import { formatUtc, toEpochSeconds } from '../../pw-lib/core/time.js';
import { AGENT_KINDS } from '../../pw-lib/config/index.js';
import type { AgentKind } from '../../pw-lib/config/index.js';
import { UsageError } from '../../pw-lib/errors.js';
import type { LogLevel } from '../../pw-lib/log.js';
import type { Output } from '../../pw-lib/ports.js';
import { generateEd25519KeyPair, startSimCloud } from '../../sim/index.js';
import type { SimCloud } from '../../sim/index.js';
import type { CommandResult, GlobalOptions } from '../context.js';
import { createContext, isLoopbackEndpoint, runMutating, stdout } from '../context.js';
import { runCron } from './cron.js';
import { runLaunchInstances } from './launch-instances.js';
import { runSetupInstances } from './setup-instances.js';
import { statusPageSettings } from './status.js';
import { writeStatusPage } from '../../pw-lib/app/status-page.js';
import { startStaticSite } from '../../pw-lib/adapters/static-site.js';
import { SIM_REGION, parseIntArg, parseSpeed, untilSignal } from './sim.js';

interface DemoOptions {
  agent: AgentKind;
  hosts: number;
  speed: number;
  port: number;
  untilFilled?: boolean;
  untilAlive?: boolean;
  keepState?: boolean;
}

const MIN_SPEED = 60;
/** The fake GitHub organisation of `demo --agent github-actions`. */
const DEMO_GITHUB_ORG = 'pw-pool-demo';
/** The demo's crontab interval (virtual seconds), written into its config as cron.intervalSeconds. */
const CRON_INTERVAL_S = 300;

/**
 * The demo's pool policy: the real defaults, but a 4 h recycling timer and a 30 min launch stagger,
 * so a few real minutes show a whole cycle (fill, set up, serve, recycle, scrub, relaunch).
 */
export const DEMO_POLICY = {
  maxLifetimeSeconds: 4 * 3600,
  launchStaggerSeconds: 1800,
  agentDrainSeconds: 1800,
} as const;

interface Row {
  readonly name: string;
  readonly cells: readonly string[];
  readonly signature: string;
}

function fieldsOf(pwText: string | undefined): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of (pwText ?? '').split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const [name, setup, listener, started, finished] = line.split(' ');
    const comment = line.includes(' # ') ? line.slice(line.indexOf(' # ') + 3) : '';
    if (name !== undefined)
      out.set(name, [setup ?? '', listener ?? '', `${started}/${finished}`, comment]);
  }
  return out;
}

/**
 * One line per host: the simulated host and instance, and what the status files say of it. The
 * signature leaves out the clock and the ages, so the table is shown again only when a state changes.
 */
export function renderPoolTable(
  cloud: SimCloud,
  dhText: string | undefined,
  pwText: string | undefined,
): { lines: string[]; signature: string } {
  const now = cloud.clock.now();
  const entries = new Map(parseDhStatus(dhText ?? '').entries.map((e) => [e.name, e]));
  const dhComments = new Map<string, string>();
  for (const line of (dhText ?? '').split('\n')) {
    const m = /^# (\S+) ([A-Z]+ [A-Z]+: .*)$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) dhComments.set(m[1], m[2]);
  }
  const pw = fieldsOf(pwText);
  const rows: Row[] = cloud.world
    .hosts()
    .filter((h) => h.state !== 'released')
    .sort((a, b) => (a.name ?? '').localeCompare(b.name ?? '', 'en', { numeric: true }))
    .map((h) => {
      const inst = cloud.world
        .instances()
        .find((i) => i.hostId === h.hostId && i.state !== 'terminated');
      const name = h.name ?? '?';
      const age = inst
        ? `${((now.getTime() - inst.launchTime.getTime()) / 3_600_000).toFixed(1)}h`
        : '-';
      const entry = entries.get(name);
      const fields =
        entry !== undefined && entry.instanceId === inst?.instanceId ? pw.get(name) : undefined;
      const note = fields?.[3] || (entry ? '' : (dhComments.get(name) ?? ''));
      const cells = [
        name,
        h.state,
        inst?.instanceId ?? '-',
        inst?.state ?? '-',
        age,
        fields?.[0] ?? '-',
        fields?.[1] ?? '-',
        fields?.[2] ?? '-',
        note,
      ];
      const signature = [
        name,
        h.state,
        inst?.instanceId,
        inst?.state,
        ...cells.slice(5, 8),
        note.replace(/\d+/g, '#'),
      ].join(' ');
      return { name, cells, signature };
    });
  const widths = [9, 10, 19, 13, 6, 8, 8, 5];
  const fmt = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i < widths.length ? c.padEnd(widths[i] ?? 0) : c))
      .join(' ')
      .trimEnd();
  const lines = [
    `-- ${formatUtc(now)} (virtual) ${'-'.repeat(70)}`,
    fmt([
      'host',
      'host state',
      'instance',
      'inst. state',
      'age',
      'setup',
      'listener',
      'B/E',
      'comment',
    ]),
    ...rows.map((r) => fmt(r.cells)),
  ];
  return { lines, signature: rows.map((r) => r.signature).join('\n') };
}

export function registerDemo(program: Command, result: CommandResult): void {
  program
    .command('demo')
    .description('run pw-pool on a built-in simulated cloud (what `npm start` does); no AWS needed')
    .addOption(
      new Option('--agent <kind>', 'CI agent of the simulated pool')
        .choices(AGENT_KINDS)
        .default('cirrus'),
    )
    .option('--hosts <n>', 'dedicated hosts in the simulated pool', parseIntArg(1, 200), 8)
    .option(
      '--speed <x>',
      `virtual seconds per real second (at least ${MIN_SPEED})`,
      parseSpeed,
      120,
    )
    .option(
      '--port <n>',
      'port of the status page on 127.0.0.1 (0 = a free one)',
      parseIntArg(0, 65535),
      0,
    )
    .option('--until-filled', 'exit 0 as soon as every host has an entry in dh_status.txt')
    .option('--until-alive', 'exit 0 as soon as every worker is `complete alive`')
    .option('--keep-state', 'keep the temporary state directory at exit')
    .action(async (opts: DemoOptions, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      if (opts.speed < MIN_SPEED)
        throw new UsageError(`demo: --speed must be at least ${MIN_SPEED}`);
      const stateDir = await mkdtemp(join(tmpdir(), 'pw-pool-demo-'));
      const cloud = await startSimCloud({
        hosts: opts.hosts,
        speed: opts.speed,
        seed: Date.now() % 2 ** 31,
        ...(opts.agent === 'github-actions' ? { github: { org: DEMO_GITHUB_ORG } } : {}),
      });
      try {
        result.exitCode = await runDemo(
          cloud,
          stateDir,
          opts,
          (globals.logLevel as LogLevel | undefined) ?? 'warn',
        );
      } finally {
        await cloud.close();
        if (opts.keepState !== true) await rm(stateDir, { recursive: true, force: true });
        else process.stdout.write(`state directory kept: ${stateDir}\n`);
      }
    });
}

/** Everything a tick needs to build its run context, as a crontab line would. */
interface DemoPool {
  readonly globals: GlobalOptions;
  readonly env: NodeJS.ProcessEnv;
}

/**
 * One tick in a fresh run context (a crontab line is a fresh process): the first launches with
 * --force and staggers the timers with setup-instances --force, as an operator fills a new pool;
 * every later one is `pw-pool cron`.
 */
async function tick(pool: DemoPool, first: boolean, out: Output): Promise<number> {
  const ctx = await createContext(
    pool.globals,
    { mutating: true, credentials: { accessKeyId: 'simulated', secretAccessKey: 'simulated' } },
    pool.env,
  );
  try {
    if (!first) {
      out.line('$ pw-pool cron');
      return await runCron(ctx);
    }
    out.line('$ pw-pool launch-instances --force');
    const launched = await runMutating(ctx, 'launch-instances', false, (journal) =>
      runLaunchInstances(ctx, { force: true, dryRun: false }, journal),
    );
    out.line(`Exit: ${launched}`);
    out.line('$ pw-pool setup-instances --force');
    const setup = await runMutating(
      ctx,
      'setup-instances',
      false,
      async (journal) =>
        (await runSetupInstances(ctx, { force: true, dryRun: false }, journal)).exitCode,
    );
    out.line(`Exit: ${setup}`);
    await writeStatusPage(
      ctx.store,
      statusPageSettings(ctx.config),
      toEpochSeconds(await ctx.clock.now()),
    );
    return setup;
  } finally {
    await ctx.close();
  }
}

async function runDemo(
  cloud: SimCloud,
  stateDir: string,
  opts: DemoOptions,
  logLevel: LogLevel,
): Promise<number> {
  if (!isLoopbackEndpoint(cloud.endpoint)) {
    throw new UsageError(`demo: refusing a non-loopback EC2 endpoint ${cloud.endpoint}`);
  }
  // A key for this run only, used as ssh.identityFile (mode 0600, like any secret file).
  const identityFile = join(stateDir, 'demo-ssh-key');
  await writeFile(identityFile, generateEd25519KeyPair().private, { mode: 0o600 });
  // github-actions: the simulated cloud's fake GitHub, with the App key in a 0600 file.
  let github: Record<string, unknown> = {};
  if (opts.agent === 'github-actions') {
    const gh = cloud.github;
    if (gh === undefined) throw new Error('demo: the simulated cloud runs no fake GitHub');
    if (!isLoopbackEndpoint(gh.apiUrl)) {
      throw new UsageError(`demo: refusing a non-loopback GitHub API ${gh.apiUrl}`);
    }
    const appPrivateKeyFile = join(stateDir, 'demo-github-app.pem');
    await writeFile(appPrivateKeyFile, gh.appPrivateKeyPem, { mode: 0o600 });
    github = {
      github: {
        org: gh.org,
        apiUrl: gh.apiUrl,
        serverUrl: gh.apiUrl,
        appId: gh.appId,
        installationId: gh.installationId,
        appPrivateKeyFile,
      },
    };
  }
  // The whole configuration is this file: the operator's own config and PW_POOL_* never apply.
  const configFile = join(stateDir, 'demo-config.json');
  await writeFile(
    configFile,
    `${JSON.stringify(
      {
        stateDir,
        region: SIM_REGION,
        clock: 'sim',
        logLevel,
        agent: { kind: opts.agent },
        ...github,
        ...DEMO_POLICY,
        cron: { intervalSeconds: CRON_INTERVAL_S },
        ssh: { port: cloud.sshPort, identityFile, agentEnvFile: join(stateDir, 'no-agent.env') },
      },
      null,
      2,
    )}\n`,
  );
  const pool: DemoPool = {
    globals: { config: configFile },
    env: {
      AWS_ENDPOINT_URL: cloud.endpoint,
      AWS_ACCESS_KEY_ID: 'simulated',
      AWS_SECRET_ACCESS_KEY: 'simulated',
      AWS_REGION: SIM_REGION,
      AWS_CONFIG_FILE: join(stateDir, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(stateDir, 'no-aws-credentials'),
      ...(opts.agent === 'cirrus' ? { POOLTOKEN: `demo-${randomBytes(12).toString('hex')}` } : {}),
    },
  };
  const out = stdout;
  const store = new StateDir(stateDir);
  const clock = new SimClock(cloud.endpoint);
  const site = await startStaticSite({ dir: join(stateDir, 'html'), port: opts.port });
  out.line(
    `pw-pool demo: ${opts.hosts} simulated hosts at ${opts.speed}x, EC2 endpoint ${cloud.endpoint}, SSH port ${cloud.sshPort}`,
  );
  if (cloud.github !== undefined) {
    out.line(
      `agent github-actions: fake GitHub API ${cloud.github.apiUrl}, org ${cloud.github.org}; ` +
        `runners and groups: ${cloud.endpoint}/_sim/github/state`,
    );
  }
  out.line(
    `policy: recycle after ${DEMO_POLICY.maxLifetimeSeconds / 3600} h, one launch per ${DEMO_POLICY.launchStaggerSeconds / 60} min, ` +
      `hosts scrub for 110 min after a terminate; state directory ${stateDir} (Ctrl-C stops)`,
  );
  out.line(`status page: ${site.url}  (metrics: ${join(stateDir, 'pw-pool.prom')})`);

  const stop = untilSignal();
  let stopped = false;
  void stop.then(() => {
    stopped = true;
  });
  let lastShown = '';
  const show = async () => {
    const table = renderPoolTable(
      cloud,
      await store.read(DH_STATUS_FILE),
      await store.read(PW_STATUS_FILE),
    );
    if (table.signature !== lastShown) {
      lastShown = table.signature;
      for (const line of table.lines) out.line(line);
    }
  };
  // The table is refreshed every real second, also while a tick is running.
  let showing = Promise.resolve();
  const ticker = setInterval(() => {
    showing = showing.then(show).catch((error: unknown) => {
      process.stderr.write(`demo display failed: ${String(error)}\n`);
    });
  }, 1000);
  const done = async (): Promise<string | undefined> => {
    if (
      opts.untilFilled === true &&
      parseDhStatus((await store.read(DH_STATUS_FILE)) ?? '').entries.length >= opts.hosts
    ) {
      return `every host has an entry in ${DH_STATUS_FILE}`;
    }
    if (opts.untilAlive === true) {
      const alive = [...fieldsOf(await store.read(PW_STATUS_FILE)).values()].filter(
        (f) => f[0] === 'complete' && f[1] === 'alive',
      );
      if (alive.length >= opts.hosts) return `every worker is complete alive in ${PW_STATUS_FILE}`;
    }
    return undefined;
  };
  try {
    let first = true;
    for (;;) {
      await tick(pool, first, out);
      first = false;
      await showing;
      await show();
      const reason = await done();
      if (reason !== undefined) {
        out.line(reason);
        return 0;
      }
      if (stopped) return 0;
      await Promise.race([clock.sleep(CRON_INTERVAL_S), stop]);
      if (stopped) return 0;
    }
  } finally {
    clearInterval(ticker);
    await showing;
    await site.close();
  }
}
