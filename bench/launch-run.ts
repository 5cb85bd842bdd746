// npm run bench: EC2 calls per launch-instances run (by action) and wall time, for 10, 50 and 200
// simulated hosts with 80 ms of injected latency on every EC2 call. Target: the number of Describe
// calls does not grow with the number of hosts (pages aside). Prints medians; asserts nothing timed.
import { performance } from 'node:perf_hooks';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { AwsEc2 } from '../src/pw-lib/adapters/aws-ec2.js';
import { SimClock } from '../src/pw-lib/adapters/clock.js';
import { StateDir } from '../src/pw-lib/adapters/state-dir.js';
import { launchInstances } from '../src/pw-lib/app/launch-instances.js';
import type { LaunchSettings } from '../src/pw-lib/app/launch-instances.js';
import { toEpochSeconds } from '../src/pw-lib/core/time.js';
import { startSimCloud } from '../src/sim/index.js';
import type { SimCloud } from '../src/sim/index.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const SIZES = [10, 50, 200];
const LATENCY_MS = 80;
const STEADY_RUNS = 5;
const FILL_RUNS = 3;

const settings: LaunchSettings = {
  pool: { namePrefix: 'MacM1', purposeTagKey: 'purpose', purposeValue: 'prod' },
  launchTemplateName: 'CirrusMacM1PWinstance',
  launchStaggerSeconds: 7200,
  launchWaitSeconds: 600,
  launchPollSeconds: 15,
};

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
};

async function oneRun(
  sim: SimCloud,
  force: boolean,
): Promise<{ ms: number; calls: Map<string, number> }> {
  const dir = await mkdtemp(join(tmpdir(), 'pw-pool-bench-'));
  const log = pino({ level: 'silent' });
  const ec2 = new AwsEc2({
    region: 'us-east-1',
    endpoint: sim.endpoint,
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    maxAttempts: 3,
    requestTimeoutSeconds: 30,
    log,
  });
  const clock = new SimClock(sim.endpoint);
  sim.requestLog.clear();
  const t0 = performance.now();
  await launchInstances(
    settings,
    { ec2, clock, store: new StateDir(dir), out: { line: () => undefined }, log, rng: Math.random },
    { nowS: toEpochSeconds(await clock.now()), force, dryRun: false },
  );
  const ms = performance.now() - t0;
  ec2.destroy();
  await rm(dir, { recursive: true, force: true });
  const calls = new Map<string, number>();
  for (const r of sim.requestLog.list()) calls.set(r.action, (calls.get(r.action) ?? 0) + 1);
  return { ms, calls };
}

function fmtCalls(calls: Map<string, number>): string {
  return [...calls]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

async function withSim<T>(hosts: number, fn: (sim: SimCloud) => Promise<T>): Promise<T> {
  // Fast virtual time so the launch wait (60 s pending, 15 s polls) costs little real time.
  const sim = await startSimCloud({ hosts, speed: 600 });
  sim.faults.add({ action: '*', kind: 'latencyMs', value: LATENCY_MS });
  try {
    return await fn(sim);
  } finally {
    await sim.close();
  }
}

console.log(
  `launch-instances benchmark: ${LATENCY_MS} ms injected latency per EC2 call, real SDK over HTTP`,
);
console.log('');
const WIDTHS = [5, 20, 88, 14, 13, 18];
const row = (cells: string[]): string =>
  cells
    .map((c, i) => (i === 0 || i >= 3 ? c.padStart(WIDTHS[i] ?? 0) : c.padEnd(WIDTHS[i] ?? 0)))
    .join(' | ');
console.log(
  row([
    'hosts',
    'scenario',
    'EC2 calls per run (by action)',
    'Describe calls',
    'original 2+3N',
    'wall median (runs)',
  ]),
);
for (const n of SIZES) {
  // Steady state: a full pool, nothing to launch (the run every 10 minutes looks like this).
  const steady = await withSim(n, async (sim) => {
    await oneRun(sim, true); // fill
    const runs = [];
    for (let i = 0; i < STEADY_RUNS; i += 1) runs.push(await oneRun(sim, false));
    return runs;
  });
  const sCalls = steady[0]?.calls ?? new Map<string, number>();
  const sDescribe = [...sCalls]
    .filter(([k]) => k.startsWith('Describe'))
    .reduce((a, [, v]) => a + v, 0);
  console.log(
    row([
      String(n),
      'full pool, no launch',
      fmtCalls(sCalls),
      String(sDescribe),
      String(2 + 3 * n),
      `${median(steady.map((r) => r.ms)).toFixed(0)} ms (${STEADY_RUNS})`,
    ]),
  );
  // Filling an empty pool with --force: N launches, then the batched running-state polls.
  const fills = [];
  for (let i = 0; i < FILL_RUNS; i += 1) fills.push(await withSim(n, (sim) => oneRun(sim, true)));
  const fCalls = fills[0]?.calls ?? new Map<string, number>();
  const fDescribe = [...fCalls]
    .filter(([k]) => k.startsWith('Describe'))
    .reduce((a, [, v]) => a + v, 0);
  console.log(
    row([
      String(n),
      '--force fill',
      fmtCalls(fCalls),
      String(fDescribe),
      '-',
      `${median(fills.map((r) => r.ms)).toFixed(0)} ms (${FILL_RUNS})`,
    ]),
  );
}
console.log('');
console.log(
  'Describe calls in the full-pool run stay constant as hosts grow (1 DescribeHosts page of',
);
console.log('100 and 1 DescribeInstances page of 500 cover 200 hosts); the original made 2 + 3N.');
