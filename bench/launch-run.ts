// npm run bench: EC2 calls per launch-instances run (by action) and wall time, for 10, 50 and 200
// simulated hosts with 80 ms of injected latency on every EC2 call. Target: the number of Describe
// calls does not grow with the number of hosts (pages aside). Prints medians; asserts nothing timed.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimCloud } from '../src/sim/index.js';
import type { SimCloud } from '../src/sim/index.js';
import { benchConfig, fmtCalls, median, runLaunch, tableRow } from './common.js';

const SIZES = [10, 50, 200];
const LATENCY_MS = 80;
const STEADY_RUNS = 5;
const FILL_RUNS = 3;

// The CLI's defaults: pool MacM1 purpose=prod, template CirrusMacM1PWinstance, stagger 7200 s,
// wait 600 s, polls every 15 s, 3 attempts and a 30 s timeout per EC2 call.
const config = benchConfig();

async function oneRun(
  sim: SimCloud,
  force: boolean,
): Promise<{
  ms: number;
  exitCode: number;
  calls: Map<string, number>;
  errors: Map<string, number>;
}> {
  const dir = await mkdtemp(join(tmpdir(), 'pw-pool-bench-'));
  try {
    const { ms, exitCode, calls, errors } = await runLaunch(sim, config, dir, force);
    return { ms, exitCode, calls, errors };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
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
const row = tableRow([5, 20, 88, 14, 13, 18, 0], (i) => i === 0 || (i >= 3 && i <= 5));
/** Exit codes of the runs, and the EC2 errors of the first one (answers, not retries hidden). */
const outcome = (runs: readonly { exitCode: number; errors: Map<string, number> }[]): string => {
  const errors = runs[0]?.errors ?? new Map<string, number>();
  const codes = runs.map((r) => r.exitCode).join('/');
  return errors.size === 0 ? codes : `${codes}; EC2 errors: ${fmtCalls(errors)}`;
};
console.log(
  row([
    'hosts',
    'scenario',
    'EC2 calls per run (by action)',
    'Describe calls',
    'original 2+3N',
    'wall median (runs)',
    'exit codes',
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
      outcome(steady),
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
      outcome(fills),
    ]),
  );
}
console.log('');
console.log(
  'Describe calls in the full-pool run stay constant as hosts grow (1 DescribeHosts page of',
);
console.log('100 and 1 DescribeInstances page of 500 cover 200 hosts); the original made 2 + 3N.');
