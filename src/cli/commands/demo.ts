// `pw-pool demo` (what `npm start` runs): the simulated cloud in this process at ≥ 60× speed, a
// temporary state directory, the pool filled with launch-instances --force, then the ordinary
// launch cadence, with the hosts' status shown as it changes. It can never touch a real pool: the
// endpoint is its own loopback server and the credentials are dummies, whatever the environment says.
import { mkdtemp, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { AwsEc2 } from '../../pw-lib/adapters/aws-ec2.js';
import { SimClock } from '../../pw-lib/adapters/clock.js';
import { StateDir } from '../../pw-lib/adapters/state-dir.js';
import { launchInstances } from '../../pw-lib/app/launch-instances.js';
import { parseConfig } from '../../pw-lib/config/index.js';
import { DH_STATUS_FILE, parseDhStatus } from '../../pw-lib/core/dh-status.js';
import { formatUtc, toEpochSeconds } from '../../pw-lib/core/time.js';
import { UsageError } from '../../pw-lib/errors.js';
import { createLogger } from '../../pw-lib/log.js';
import type { LogLevel } from '../../pw-lib/log.js';
import { startSimCloud } from '../../sim/index.js';
import type { SimCloud } from '../../sim/index.js';
import type { CommandResult, GlobalOptions } from '../context.js';
import { isLoopbackEndpoint, poolOf, stdout } from '../context.js';
import { launchSettings } from './launch-instances.js';
import { SIM_REGION, parseIntArg, parseSpeed, untilSignal } from './sim.js';

interface DemoOptions {
  hosts: number;
  speed: number;
  untilFilled?: boolean;
  keepState?: boolean;
}

const MIN_SPEED = 60;

/**
 * One line per host: the simulated host and instance, and what dh_status.txt says of it. The
 * signature leaves out the clock and the ages, so the table is shown again only when a state changes.
 */
export function renderPoolTable(
  cloud: SimCloud,
  dhText: string | undefined,
): { lines: string[]; signature: string } {
  const now = cloud.clock.now();
  const entries = new Map(parseDhStatus(dhText ?? '').entries.map((e) => [e.name, e]));
  const comments = new Map<string, string>();
  for (const line of (dhText ?? '').split('\n')) {
    const m = /^# (\S+) ([A-Z]+ [A-Z]+: .*)$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) comments.set(m[1], m[2]);
  }
  const rows = cloud.world
    .hosts()
    .filter((h) => h.state !== 'released')
    .sort((a, b) => (a.name ?? '').localeCompare(b.name ?? '', 'en', { numeric: true }));
  const lines = [`-- ${formatUtc(now)} (virtual) ${'-'.repeat(60)}`];
  const signature: string[] = [];
  lines.push(
    `${'host'.padEnd(10)} ${'host state'.padEnd(11)} ${'instance'.padEnd(20)} ${'inst. state'.padEnd(13)} ${'age'.padStart(6)}  dh_status`,
  );
  for (const h of rows) {
    const inst = cloud.world
      .instances()
      .find((i) => i.hostId === h.hostId && i.state !== 'terminated');
    const ageMin = inst
      ? Math.floor((now.getTime() - inst.launchTime.getTime()) / 60_000)
      : undefined;
    const name = h.name ?? '?';
    const entry = entries.get(name);
    const status = entry ? `entry ${entry.instanceId}` : (comments.get(name) ?? '-');
    signature.push(`${name} ${h.state} ${inst?.instanceId} ${inst?.state} ${status}`);
    lines.push(
      `${name.padEnd(10)} ${h.state.padEnd(11)} ${(inst?.instanceId ?? '-').padEnd(20)} ${(inst?.state ?? '-').padEnd(13)} ${(ageMin === undefined ? '-' : `${ageMin}m`).padStart(6)}  ${status}`,
    );
  }
  return { lines, signature: signature.join('\n') };
}

export function registerDemo(program: Command, result: CommandResult): void {
  program
    .command('demo')
    .description('run pw-pool on a built-in simulated cloud (what `npm start` does); no AWS needed')
    .option('--hosts <n>', 'dedicated hosts in the simulated pool', parseIntArg(1, 500), 8)
    .option(
      '--speed <x>',
      `virtual seconds per real second (at least ${MIN_SPEED})`,
      parseSpeed,
      60,
    )
    .option('--until-filled', 'exit 0 as soon as every host has an entry in dh_status.txt')
    .option('--keep-state', 'keep the temporary state directory at exit')
    .action(async (opts: DemoOptions, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      if (opts.speed < MIN_SPEED)
        throw new UsageError(`demo: --speed must be at least ${MIN_SPEED}`);
      const stateDir = await mkdtemp(join(tmpdir(), 'pw-pool-demo-'));
      const cloud = await startSimCloud({ hosts: opts.hosts, speed: opts.speed });
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

async function runDemo(
  cloud: SimCloud,
  stateDir: string,
  opts: DemoOptions,
  logLevel: LogLevel,
): Promise<number> {
  if (!isLoopbackEndpoint(cloud.endpoint)) {
    throw new UsageError(`demo: refusing a non-loopback EC2 endpoint ${cloud.endpoint}`);
  }
  const { config } = parseConfig(
    [{ source: 'demo', values: { stateDir, clock: 'sim', logLevel } }],
    {
      homeDir: homedir(),
      uid: process.getuid?.() ?? 0,
      cwd: process.cwd(),
    },
  );
  const log = createLogger({ level: config.logLevel });
  const ec2 = new AwsEc2({
    region: SIM_REGION,
    endpoint: cloud.endpoint,
    credentials: { accessKeyId: 'simulated', secretAccessKey: 'simulated' },
    maxAttempts: config.aws.maxAttempts,
    requestTimeoutSeconds: config.aws.requestTimeoutSeconds,
    log,
  });
  const clock = new SimClock(cloud.endpoint);
  const store = new StateDir(stateDir);
  const settings = launchSettings(config, poolOf(config));
  const out = stdout;
  out.line(
    `pw-pool demo: ${opts.hosts} simulated hosts at ${opts.speed}x, EC2 endpoint ${cloud.endpoint}`,
  );
  out.line(`state directory: ${stateDir}  (Ctrl-C stops)`);

  const stop = untilSignal();
  let stopped = false;
  void stop.then(() => {
    stopped = true;
  });
  let lastShown = '';
  const show = async () => {
    const table = renderPoolTable(cloud, await store.read(DH_STATUS_FILE));
    if (table.signature !== lastShown) {
      lastShown = table.signature;
      for (const line of table.lines) out.line(line);
    }
  };
  const launch = async (force: boolean) => {
    const nowS = toEpochSeconds(await clock.now());
    out.line(`$ pw-pool launch-instances${force ? ' --force' : ''}`);
    const outcome = await launchInstances(
      settings,
      { ec2, clock, store, out, log, rng: Math.random },
      { nowS, force, dryRun: false },
    );
    out.line(`Exit: ${outcome.exitCode}`);
  };
  // The table is refreshed every real second, also while a launch waits for `running`.
  let showing = Promise.resolve();
  const ticker = setInterval(() => {
    showing = showing
      .then(show)
      .catch((error: unknown) => log.warn({ err: String(error) }, 'demo display failed'));
  }, 1000);
  try {
    await launch(true);
    let nextLaunchMs = (await clock.now()).getTime() + config.cron.launchEverySeconds * 1000;
    for (;;) {
      await showing;
      await show();
      if (opts.untilFilled === true) {
        const dh = parseDhStatus((await store.read(DH_STATUS_FILE)) ?? '');
        if (dh.entries.length >= opts.hosts) {
          out.line(`every host has an entry in ${DH_STATUS_FILE}`);
          return 0;
        }
      }
      if (stopped) return 0;
      await Promise.race([clock.sleep(Math.max(1, opts.speed)), stop]);
      if (stopped) return 0;
      if ((await clock.now()).getTime() >= nextLaunchMs) {
        await launch(false);
        nextLaunchMs += config.cron.launchEverySeconds * 1000;
      }
    }
  } finally {
    clearInterval(ticker);
    await showing;
    ec2.destroy();
  }
}
