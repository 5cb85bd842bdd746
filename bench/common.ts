// Shared by the benchmarks (npm run bench): the pool's configuration as the CLI resolves it (every
// default, plus the few keys a benchmark sets), the EC2 adapter pointed at a simulated cloud, an
// in-process launch-instances run, EC2 calls by action from the sim's request log, and a median.
import { performance } from 'node:perf_hooks';
import { tmpdir } from 'node:os';
import pino from 'pino';
import type { Logger } from 'pino';
import { launchSettings } from '../src/cli/commands/launch-instances.js';
import { poolOf } from '../src/cli/context.js';
import { AwsEc2 } from '../src/pw-lib/adapters/aws-ec2.js';
import { SimClock } from '../src/pw-lib/adapters/clock.js';
import { StateDir } from '../src/pw-lib/adapters/state-dir.js';
import { launchInstances } from '../src/pw-lib/app/launch-instances.js';
import { parseConfig } from '../src/pw-lib/config/index.js';
import type { Config } from '../src/pw-lib/config/index.js';
import { toEpochSeconds } from '../src/pw-lib/core/time.js';
import type { SimCloud } from '../src/sim/index.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

export const silentLog: Logger = pino({ level: 'silent' });

/**
 * The configuration the CLI would resolve with no config file and no environment, plus the layers
 * of `values` (nested like a config file: `{ stateDir, ssh: { port } }`; later layers win, key by
 * key). The defaults are the product's.
 */
export function benchConfig(...values: readonly Readonly<Record<string, unknown>>[]): Config {
  return parseConfig(
    values.map((v, i) => ({ source: `bench layer ${i + 1}`, values: v })),
    {
      homeDir: tmpdir(),
      uid: process.getuid?.() ?? 0,
      cwd: process.cwd(),
    },
  ).config;
}

/** The EC2 adapter as the CLI builds it (config's attempts and timeout), on the simulated cloud. */
export function simEc2(sim: SimCloud, config: Config, log: Logger = silentLog): AwsEc2 {
  return new AwsEc2({
    region: 'us-east-1',
    endpoint: sim.endpoint,
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    maxAttempts: config.aws.maxAttempts,
    requestTimeoutSeconds: config.aws.requestTimeoutSeconds,
    log,
  });
}

/** The virtual now as the CLI reads it with clock "sim", in epoch seconds. */
export async function simNowS(sim: SimCloud): Promise<number> {
  return toEpochSeconds(await new SimClock(sim.endpoint).now());
}

/** One launch-instances run in process, in `dir` (it writes dh_status.txt there). */
export async function runLaunch(
  sim: SimCloud,
  config: Config,
  dir: string,
  force: boolean,
): Promise<{
  ms: number;
  exitCode: number;
  launched: number;
  calls: Map<string, number>;
  errors: Map<string, number>;
}> {
  const ec2 = simEc2(sim, config);
  const clock = new SimClock(sim.endpoint);
  const nowS = toEpochSeconds(await clock.now());
  sim.requestLog.clear();
  const t0 = performance.now();
  try {
    const outcome = await launchInstances(
      launchSettings(config, poolOf(config)),
      {
        ec2,
        clock,
        store: new StateDir(dir),
        out: { line: () => undefined },
        log: silentLog,
        rng: Math.random,
      },
      { nowS, force, dryRun: false },
    );
    const ms = performance.now() - t0;
    return {
      ms,
      exitCode: outcome.exitCode,
      launched: outcome.launched.length,
      calls: callsByAction(sim),
      errors: errorsByAction(sim),
    };
  } finally {
    ec2.destroy();
  }
}

/** The EC2 requests in the sim's log, counted by action. */
export function callsByAction(sim: SimCloud): Map<string, number> {
  const calls = new Map<string, number>();
  for (const r of sim.requestLog.list()) calls.set(r.action, (calls.get(r.action) ?? 0) + 1);
  return calls;
}

/** The EC2 error answers in the sim's log, counted by `Action:ErrorCode`. */
export function errorsByAction(sim: SimCloud): Map<string, number> {
  const errors = new Map<string, number>();
  for (const r of sim.requestLog.list()) {
    if (r.errorCode === undefined) continue;
    const key = `${r.action}:${r.errorCode}`;
    errors.set(key, (errors.get(key) ?? 0) + 1);
  }
  return errors;
}

/** `Action=n Action=n` in action order. */
export function fmtCalls(calls: ReadonlyMap<string, number>): string {
  return [...calls]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

/** A table row: cells padded to `widths`, right-aligned where `right` says so. */
export function tableRow(
  widths: readonly number[],
  right: (column: number) => boolean,
): (cells: readonly string[]) => string {
  return (cells) =>
    cells
      .map((c, i) => (right(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join(' | ');
}
