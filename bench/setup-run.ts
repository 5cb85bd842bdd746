// npm run bench, second part: one setup-instances run in a steady state (every worker `complete
// alive`) for 10, 50 and 200 simulated instances, with real-time latency injected in the simulated
// cloud: 300 ms before each SSH handshake completes, 80 ms before each command's answer, 80 ms on
// every EC2 call, and 5 % of the instances unreachable (TCP accepted, no SSH banner ever). The run
// is driven in process as `pw-pool setup-instances` drives it (src/cli/commands/setup-instances.ts)
// with the CLI's default configuration: observeConcurrency 16, ssh.connectConcurrency 256,
// ssh.connectTimeoutSeconds 13.
// Prints the wall time (median of 3 runs), SSH connections and commands per instance (from the
// sim's per-Mac state), EC2 calls by action, and checks the targets by printing PASS / FAIL (it
// asserts nothing): 200 instances in <= 15 s; <= 1 connection and <= 2 commands per healthy
// instance. The what-if rows after the table change one setting each on the same 200-instance
// pool, to show where the time goes; they are not the headline.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createAgent, setupSettings, setupSsh } from '../src/cli/commands/setup-instances.js';
import { poolOf } from '../src/cli/context.js';
import { StateDir } from '../src/pw-lib/adapters/state-dir.js';
import { setupInstances } from '../src/pw-lib/app/setup-instances.js';
import type { Config } from '../src/pw-lib/config/index.js';
import { compareBytewise } from '../src/pw-lib/core/pool.js';
import type { PwStatusLine } from '../src/pw-lib/core/pw-status.js';
import type { Remote } from '../src/pw-lib/ports.js';
import { generateEd25519KeyPair, startSimCloud } from '../src/sim/index.js';
import type { SimCloud } from '../src/sim/index.js';
import {
  benchConfig,
  callsByAction,
  errorsByAction,
  fmtCalls,
  median,
  runLaunch,
  silentLog,
  simEc2,
  simNowS,
  tableRow,
} from './common.js';

const SIZES = [10, 50, 200];
const RUNS = 3;
const HANDSHAKE_MS = 300;
const COMMAND_MS = 80;
const EC2_LATENCY_MS = 80;
const UNREACHABLE_SHARE = 0.05;
/** Virtual seconds between two measured runs: cron's default interval. */
const CRON_INTERVAL_S = 300;
const TARGET_HOSTS = 200;
const TARGET_WALL_S = 15;
const TARGET_CONNECTIONS = 1;
const TARGET_COMMANDS = 2;

/** One setting changed on the 200-instance pool after the headline runs (diagnosis only). */
interface WhatIf {
  label: string;
  /** Config keys changed from the defaults (nested as in a config file). */
  values?: Readonly<Record<string, unknown>>;
  /** Remove the unreachable faults first. */
  allReachable?: boolean;
}

const WHAT_IFS: readonly WhatIf[] = [
  { label: 'observeConcurrency 64 (default 16)', values: { observeConcurrency: 64 } },
  {
    label: 'ssh.connectConcurrency 16 (default 256)',
    values: { ssh: { connectConcurrency: 16 } },
  },
  {
    label: 'ssh.connectTimeoutSeconds 5 (default 13)',
    values: { ssh: { connectTimeoutSeconds: 5 } },
  },
  { label: 'no unreachable instance (0 %)', allReachable: true },
];

type Counters = Map<string, { connections: number; commands: number }>;

/** Remarks printed after the tables. */
const notes: string[] = [];

/** A pool on a simulated cloud, taken to the steady state; its state dir and configuration. */
interface Pool {
  sim: SimCloud;
  dir: string;
  /** The config keys every run sets (state dir, SSH port, identity file). */
  values: Readonly<Record<string, unknown>>;
  config: Config;
  env: NodeJS.ProcessEnv;
  /** Names in the order setup-instances processes them (dh_status entries sorted bytewise). */
  names: string[];
}

interface RunResult {
  ms: number;
  exitCode: number;
  lines: readonly PwStatusLine[];
  calls: Map<string, number>;
  errors: Map<string, number>;
  /** Per instance Name: SSH connections accepted and commands run during this run. */
  perMac: Counters;
  /** Per instance Name: ms into the run when setup-instances began to connect. */
  connectStartMs: Map<string, number>;
}

/** One setup-instances run in process, wired as runSetupInstances (src/cli) wires it. */
async function setupOnce(pool: Pool, c: Config = pool.config): Promise<RunResult> {
  const { sim, env } = pool;
  const before = macCounters(sim);
  const nowS = await simNowS(sim); // the CLI reads the decision instant before the run
  const ec2 = simEc2(sim, c);
  const store = new StateDir(c.stateDir);
  sim.requestLog.clear();
  const t0 = performance.now();
  const agent = createAgent(c, env, { log: silentLog, store });
  const { remote, knownHosts, checkSshAccess } = await setupSsh(c, store, env, silentLog);
  // Only notes when each connection attempt starts, then hands it to the product's MacRemote.
  const connectStartMs = new Map<string, number>();
  const observed: Remote = {
    connect: (target, log) => {
      connectStartMs.set(target.name, performance.now() - t0);
      return remote.connect(target, log);
    },
  };
  const outcome = await setupInstances(
    setupSettings(c, poolOf(c), agent),
    {
      ec2,
      remote: observed,
      store,
      out: { line: () => undefined },
      log: silentLog,
      checkSshAccess,
    },
    { nowS, force: false, dryRun: false },
  );
  await knownHosts.save();
  const ms = performance.now() - t0;
  ec2.destroy();
  const calls = callsByAction(sim);
  const errors = errorsByAction(sim);
  const after = macCounters(sim);
  const perMac: Counters = new Map();
  for (const [name, a] of after) {
    const b = before.get(name) ?? { connections: 0, commands: 0 };
    perMac.set(name, {
      connections: a.connections - b.connections,
      commands: a.commands - b.commands,
    });
  }
  return {
    ms,
    exitCode: outcome.exitCode,
    lines: outcome.lines,
    calls,
    errors,
    perMac,
    connectStartMs,
  };
}

/** Cumulative SSH connections and commands of every Mac, by Name (the sim's per-Mac state). */
function macCounters(sim: SimCloud): Counters {
  const out: Counters = new Map();
  for (const m of sim.macs?.list() ?? []) {
    out.set(m.name ?? m.instanceId, {
      connections: m.ssh.connections,
      commands: m.commands.length,
    });
  }
  return out;
}

const isCompleteAlive = (l: PwStatusLine): boolean =>
  l.setup === 'complete' && l.listener === 'alive';

/**
 * Launches n instances with launch-instances --force (which writes dh_status.txt), then with a
 * paused clock boots them and runs setup-instances, advancing through the setup, until every line
 * is `complete alive`. No latency is injected yet.
 */
async function steadyPool(n: number): Promise<Pool> {
  const sim = await startSimCloud({
    hosts: n,
    speed: 600, // fast virtual time while launch-instances waits for `running`
    timings: { bootMinS: 60, bootMaxS: 60 },
    macs: { taskRatePerHour: 0 }, // no CI tasks: every line stays `complete alive 0 0`
  });
  const dir = await mkdtemp(join(tmpdir(), 'pw-pool-bench-setup-'));
  const identityFile = join(dir, 'id_ed25519');
  await writeFile(identityFile, generateEd25519KeyPair().private, { mode: 0o600 });
  const values = {
    stateDir: dir,
    ssh: { port: sim.sshPort, identityFile, agentEnvFile: join(dir, 'no-ssh-agent.env') },
  };
  // The pool token setup-instances hands to the cirrus setup; no ssh-agent.
  const env: NodeJS.ProcessEnv = { POOLTOKEN: 'bench-pool-token-0123456789' };
  const pool: Pool = { sim, dir, values, config: benchConfig(values), env, names: [] };
  try {
    const launch = await runLaunch(sim, pool.config, dir, true);
    if (launch.launched !== n) {
      throw new Error(
        `launch-instances launched ${launch.launched} of ${n} (exit ${launch.exitCode})`,
      );
    }
    if (launch.exitCode !== 0) {
      notes.push(
        `${n} instances: the filling launch-instances --force launched all ${n} and wrote ` +
          `dh_status.txt, but exited ${launch.exitCode} (its EC2 calls: ${fmtCalls(launch.calls)})`,
      );
    }
    sim.world.sync();
    sim.clock.setSpeed(0);
    await sim.advance(90); // every instance `running` → SSH up after its 60 s boot
    for (let attempt = 1; ; attempt++) {
      const r = await setupOnce(pool);
      if (r.lines.length === n && r.lines.every(isCompleteAlive)) {
        pool.names = r.lines.map((l) => l.name).sort(compareBytewise);
        return pool;
      }
      if (attempt === 4) {
        throw new Error(`no steady state after ${attempt} setup runs: ${countStates(r.lines)}`);
      }
      await sim.advance(900); // setup takes 600 ± 60 s
    }
  } catch (error) {
    await closePool(pool);
    throw error;
  }
}

async function closePool(pool: Pool): Promise<void> {
  await pool.sim.close();
  await rm(pool.dir, { recursive: true, force: true });
}

function countStates(lines: readonly PwStatusLine[]): string {
  const counts = new Map<string, number>();
  for (const l of lines) {
    const k = `${l.setup} ${l.listener}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts].map(([k, v]) => `${v}× ${k}`).join(', ');
}

/** ceil(5 %) of the instances, spread evenly over the processing order (not bunched first). */
function pickUnreachable(names: readonly string[]): string[] {
  const k = Math.ceil(names.length * UNREACHABLE_SHARE);
  return Array.from(
    { length: k },
    (_, j) => names[Math.floor(((j + 0.5) * names.length) / k)],
  ).filter((x): x is string => x !== undefined);
}

/** Injects the latency and the unreachable instances; returns the unreachable faults' ids. */
function injectLatency(sim: SimCloud, unreachable: readonly string[]): number[] {
  sim.faults.add({ action: '*', kind: 'latencyMs', value: EC2_LATENCY_MS });
  sim.macs?.configure({ sshHandshakeMs: HANDSHAKE_MS, sshCommandMs: COMMAND_MS });
  return unreachable.map((target) => sim.faults.add({ kind: 'unreachable', target }).id);
}

interface Row {
  label: string;
  unreachable: string[];
  runs: RunResult[];
  wallMedianMs: number;
  /** Over the healthy instances of every run. */
  maxConnHealthy: number;
  maxCmdHealthy: number;
  meanConnHealthy: number;
  meanCmdHealthy: number;
  maxConnUnreachable: number;
  /** The fewest healthy instances `complete alive` in a run, of the healthy ones. */
  healthyAlive: string;
  /** Median over the runs of when the last unreachable instance's connect began (ms). */
  lastUnreachableStartMs: number | undefined;
}

/** RUNS setup-instances runs, CRON_INTERVAL_S virtual seconds apart, summarised. */
async function measure(
  pool: Pool,
  label: string,
  unreachable: readonly string[],
  config: Config = pool.config,
): Promise<Row> {
  const runs: RunResult[] = [];
  for (let i = 0; i < RUNS; i++) {
    await pool.sim.advance(CRON_INTERVAL_S);
    runs.push(await setupOnce(pool, config));
  }
  const bad = new Set(unreachable);
  const of = (healthy: boolean) =>
    runs.flatMap((r) =>
      [...r.perMac].filter(([name]) => bad.has(name) !== healthy).map(([, v]) => v),
    );
  const hs = of(true);
  const us = of(false);
  for (const [i, r] of runs.entries()) {
    if (r.errors.size > 0) notes.push(`${label}, run ${i + 1}: EC2 errors ${fmtCalls(r.errors)}`);
  }
  const lastStarts = runs.map((r) =>
    Math.max(...unreachable.map((name) => r.connectStartMs.get(name) ?? Number.NaN)),
  );
  const alive = runs.map(
    (r) => r.lines.filter((l) => !bad.has(l.name) && isCompleteAlive(l)).length,
  );
  return {
    label,
    unreachable: [...unreachable],
    runs,
    wallMedianMs: median(runs.map((r) => r.ms)),
    maxConnHealthy: Math.max(...hs.map((v) => v.connections)),
    maxCmdHealthy: Math.max(...hs.map((v) => v.commands)),
    meanConnHealthy: hs.reduce((a, v) => a + v.connections, 0) / hs.length,
    meanCmdHealthy: hs.reduce((a, v) => a + v.commands, 0) / hs.length,
    maxConnUnreachable: Math.max(0, ...us.map((v) => v.connections)),
    healthyAlive: `${Math.min(...alive)}/${pool.names.length - unreachable.length}`,
    lastUnreachableStartMs: unreachable.length === 0 ? undefined : median(lastStarts),
  };
}

const sec = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const verdict = (ok: boolean): string => (ok ? 'PASS' : 'FAIL');

const defaults = benchConfig();
console.log('');
console.log(
  `setup-instances benchmark, steady state (every worker complete alive): ` +
    `${HANDSHAKE_MS} ms per SSH handshake, ${COMMAND_MS} ms per command, ` +
    `${EC2_LATENCY_MS} ms per EC2 call, ${UNREACHABLE_SHARE * 100} % of the instances ` +
    `unreachable (TCP accepted, no banner)`,
);
console.log(
  `in process, CLI defaults: observeConcurrency ${defaults.observeConcurrency}, ` +
    `ssh.connectConcurrency ${defaults.ssh.connectConcurrency}, ` +
    `ssh.connectTimeoutSeconds ${defaults.ssh.connectTimeoutSeconds}, ` +
    `ssh.commandTimeoutSeconds ${defaults.ssh.commandTimeoutSeconds}; ${RUNS} runs per row, ` +
    `${CRON_INTERVAL_S} virtual seconds apart`,
);
console.log('');
const row = tableRow([46, 11, 28, 17, 22, 22, 13, 13, 20, 5], (i) => i >= 1 && i <= 7);
const header = row([
  'instances',
  'unreachable',
  `wall median (${RUNS} runs)`,
  'last unreach. at',
  'SSH conn/healthy max/avg',
  'commands/healthy max/avg',
  'conn/unreach.',
  'healthy alive',
  'EC2 calls per run',
  'exit',
]);
const cells = (r: Row): string[] => [
  r.label,
  String(r.unreachable.length),
  `${sec(r.wallMedianMs)} (${r.runs.map((x) => (x.ms / 1000).toFixed(2)).join('/')})`,
  r.lastUnreachableStartMs === undefined ? '-' : sec(r.lastUnreachableStartMs),
  `${r.maxConnHealthy} / ${r.meanConnHealthy.toFixed(2)}`,
  `${r.maxCmdHealthy} / ${r.meanCmdHealthy.toFixed(2)}`,
  String(r.maxConnUnreachable),
  r.healthyAlive,
  fmtCalls(r.runs[0]?.calls ?? new Map<string, number>()),
  r.runs.map((x) => x.exitCode).join('/'),
];

const rows: { n: number; row: Row }[] = [];
const whatIfRows: Row[] = [];
console.log(header);
for (const n of SIZES) {
  const pool = await steadyPool(n);
  try {
    const unreachable = pickUnreachable(pool.names);
    const faultIds = injectLatency(pool.sim, unreachable);
    const r = await measure(pool, String(n), unreachable);
    rows.push({ n, row: r });
    console.log(row(cells(r)));
    if (n === TARGET_HOSTS) {
      for (const w of WHAT_IFS) {
        const reachable = w.allReachable === true;
        if (reachable) for (const id of faultIds) pool.sim.faults.remove(id);
        const config = benchConfig(pool.values, w.values ?? {});
        const r = await measure(pool, `${n}, ${w.label}`, reachable ? [] : unreachable, config);
        whatIfRows.push(r);
      }
    }
  } finally {
    await closePool(pool);
  }
}
console.log('');
console.log('what-if rows (one setting changed on the same 200-instance pool; not the headline):');
console.log(header);
for (const r of whatIfRows) console.log(row(cells(r)));
console.log('');
if (notes.length > 0) {
  console.log('notes:');
  for (const note of notes) console.log(`  ${note}`);
  console.log('');
}
console.log(
  '"last unreach. at": when setup-instances began connecting to the last unreachable instance ' +
    '(median); the run cannot end before that plus ssh.connectTimeoutSeconds.',
);
console.log('unreachable instances (spread evenly over the processing order, bytewise by name):');
for (const { n, row: r } of rows) console.log(`  ${n}: ${r.unreachable.join(' ')}`);
console.log('');
console.log('targets (headline rows):');
const big = rows.find((r) => r.n === TARGET_HOSTS)?.row;
if (big !== undefined) {
  console.log(
    `  ${verdict(big.wallMedianMs <= TARGET_WALL_S * 1000)}  ${TARGET_HOSTS} instances in ` +
      `<= ${TARGET_WALL_S} s: median ${sec(big.wallMedianMs)}`,
  );
}
const maxConn = Math.max(...rows.map((r) => r.row.maxConnHealthy));
const maxCmd = Math.max(...rows.map((r) => r.row.maxCmdHealthy));
console.log(
  `  ${verdict(maxConn <= TARGET_CONNECTIONS)}  <= ${TARGET_CONNECTIONS} SSH connection per ` +
    `healthy instance: max ${maxConn} (every size, every run)`,
);
console.log(
  `  ${verdict(maxCmd <= TARGET_COMMANDS)}  <= ${TARGET_COMMANDS} commands per healthy ` +
    `instance: max ${maxCmd} (every size, every run)`,
);
