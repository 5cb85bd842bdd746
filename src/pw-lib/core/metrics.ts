// The Prometheus textfile (behavior.md §5.5): the pool's state read from the status files, and the
// counters and per-command run facts that persist from run to run in a small JSON state file.
import { parseDhComments, parseDhStatus } from './dh-status.js';
import type { DhLabel } from './dh-status.js';

/** Where the counters and run facts persist between runs (inside the state directory). */
export const METRICS_STATE_FILE = 'metrics-state.json';

/** `pwpool_workers{state}`: each pw_status line in exactly one state. */
export const WORKER_STATES = ['alive', 'dead', 'setup', 'disabled', 'error'] as const;
export type WorkerState = (typeof WORKER_STATES)[number];

/** `pwpool_hosts{state}`: each dh_status host block in exactly one state. */
export const HOST_STATES = ['occupied', 'busy', 'throttled', 'disabled', 'error'] as const;
export type HostState = (typeof HOST_STATES)[number];

const HOST_STATE_OF: Readonly<Record<DhLabel, HostState | undefined>> = {
  'HOST ERROR': 'error',
  'INST ERROR': 'error',
  'HOST BUSY': 'busy',
  'INST BUSY': 'busy',
  'HOST DISABLED': 'disabled',
  'HOST THROTTLE': 'throttled',
  'WOULD LAUNCH': undefined, // dry runs only; never written to the file
};

/** One command's last run, as the metrics file reports it. */
export interface RunFacts {
  readonly durationSeconds: number;
  readonly exitCode: number;
  /** Epoch seconds of its last run that exited 0. */
  readonly lastSuccessS: number | undefined;
}

export interface MetricsState {
  /** `pwpool_actions_total` by `action\treason`. */
  readonly actions: Readonly<Record<string, number>>;
  readonly runs: Readonly<Record<string, RunFacts>>;
}

export const EMPTY_METRICS_STATE: MetricsState = { actions: {}, runs: {} };

const nonNegative = (v: unknown): v is number =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0;

/**
 * Reads the persisted state; anything unreadable starts from zero rather than failing the run
 * (counters then reset, which Prometheus' rate() tolerates). Returns why it was discarded.
 */
export function parseMetricsState(text: string | undefined): {
  state: MetricsState;
  problem: string | undefined;
} {
  if (text === undefined) return { state: EMPTY_METRICS_STATE, problem: undefined };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { state: EMPTY_METRICS_STATE, problem: 'not JSON' };
  }
  if (typeof raw !== 'object' || raw === null) {
    return { state: EMPTY_METRICS_STATE, problem: 'not an object' };
  }
  const obj = raw as { actions?: unknown; runs?: unknown };
  const actions: Record<string, number> = {};
  if (typeof obj.actions === 'object' && obj.actions !== null) {
    for (const [k, v] of Object.entries(obj.actions)) {
      if (/^[a-z-]+\t[a-z0-9-]+$/.test(k) && nonNegative(v)) actions[k] = Math.floor(v);
    }
  }
  const runs: Record<string, RunFacts> = {};
  if (typeof obj.runs === 'object' && obj.runs !== null) {
    for (const [k, v] of Object.entries(obj.runs)) {
      const r = v as Partial<RunFacts> | null;
      if (!/^[a-z-]+$/.test(k) || r === null || typeof r !== 'object') continue;
      if (!nonNegative(r.durationSeconds) || typeof r.exitCode !== 'number') continue;
      runs[k] = {
        durationSeconds: r.durationSeconds,
        exitCode: r.exitCode,
        lastSuccessS: nonNegative(r.lastSuccessS) ? r.lastSuccessS : undefined,
      };
    }
  }
  return { state: { actions, runs }, problem: undefined };
}

export function formatMetricsState(state: MetricsState): string {
  return `${JSON.stringify(state, null, 2)}\n`;
}

export interface CommandRun {
  readonly command: string;
  readonly durationSeconds: number;
  readonly exitCode: number;
  /** When it ended, epoch seconds. */
  readonly endS: number;
}

/** Adds this process's actions and runs to the persisted state. */
export function updateMetricsState(
  state: MetricsState,
  runs: readonly CommandRun[],
  actions: ReadonlyMap<string, number>,
): MetricsState {
  const nextActions: Record<string, number> = { ...state.actions };
  for (const [key, n] of actions) nextActions[key] = (nextActions[key] ?? 0) + n;
  const nextRuns: Record<string, RunFacts> = { ...state.runs };
  for (const r of runs) {
    nextRuns[r.command] = {
      durationSeconds: Math.round(r.durationSeconds * 1000) / 1000,
      exitCode: r.exitCode,
      lastSuccessS: r.exitCode === 0 ? r.endS : state.runs[r.command]?.lastSuccessS,
    };
  }
  return { actions: nextActions, runs: nextRuns };
}

/** The pool as the status files describe it. */
export interface PoolSnapshot {
  readonly workers: Readonly<Record<WorkerState, number>>;
  readonly hosts: Readonly<Record<HostState, number>>;
  readonly tasksStarted: number;
  readonly tasksFinished: number;
}

function workerState(setup: string | undefined, listener: string | undefined): WorkerState {
  if (setup === 'complete' && listener === 'alive') return 'alive';
  if (setup === 'complete' && listener === 'dead') return 'dead';
  if (setup === 'started') return 'setup';
  if (setup === 'disabled') return 'disabled';
  return 'error';
}

/** Reads dh_status.txt and pw_status.txt by fields (an absent file counts nothing). */
export function poolSnapshot(dhText: string | undefined, pwText: string | undefined): PoolSnapshot {
  const workers = Object.fromEntries(WORKER_STATES.map((s) => [s, 0])) as Record<
    WorkerState,
    number
  >;
  const hosts = Object.fromEntries(HOST_STATES.map((s) => [s, 0])) as Record<HostState, number>;
  let tasksStarted = 0;
  let tasksFinished = 0;
  for (const raw of (pwText ?? '').split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line === '' || line.startsWith('#') || line.startsWith(' ')) continue;
    const [, setup, listener, started, finished] = line.split(/\s+/);
    workers[workerState(setup, listener)] += 1;
    if (/^\d+$/.test(started ?? '')) tasksStarted += Number(started);
    if (/^\d+$/.test(finished ?? '')) tasksFinished += Number(finished);
  }
  if (dhText !== undefined) {
    hosts.occupied = parseDhStatus(dhText).entries.length;
    for (const c of parseDhComments(dhText)) {
      const state = HOST_STATE_OF[c.label];
      if (state !== undefined) hosts[state] += 1;
    }
  }
  return { workers, hosts, tasksStarted, tasksFinished };
}

/** A label value in the exposition format: backslash, double quote and newline escaped. */
function labelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function family(name: string, type: string, help: string, samples: readonly string[]): string[] {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples];
}

/** The whole textfile, deterministic (series sorted). */
export function renderMetrics(pool: PoolSnapshot, state: MetricsState): string {
  const lines: string[] = [];
  lines.push(
    ...family(
      'pwpool_workers',
      'gauge',
      'Instances in pw_status.txt by state (alive = complete alive).',
      WORKER_STATES.map((s) => `pwpool_workers{state="${s}"} ${pool.workers[s]}`),
    ),
    ...family(
      'pwpool_hosts',
      'gauge',
      'Dedicated hosts in dh_status.txt by state (occupied = has an instance entry).',
      HOST_STATES.map((s) => `pwpool_hosts{state="${s}"} ${pool.hosts[s]}`),
    ),
    ...family(
      'pwpool_tasks_started',
      'gauge',
      "CI tasks started on the current instances, from their worker logs' counts.",
      [`pwpool_tasks_started ${pool.tasksStarted}`],
    ),
    ...family(
      'pwpool_tasks_finished',
      'gauge',
      "CI tasks finished on the current instances, from their worker logs' counts.",
      [`pwpool_tasks_finished ${pool.tasksFinished}`],
    ),
  );
  const actionKeys = Object.keys(state.actions).sort();
  lines.push(
    ...family(
      'pwpool_actions_total',
      'counter',
      'Launches, terminations, tag changes and runner deletions, by reason, since the state began.',
      actionKeys.map((k) => {
        const [action = '', reason = ''] = k.split('\t');
        return `pwpool_actions_total{action="${labelValue(action)}",reason="${labelValue(reason)}"} ${state.actions[k]}`;
      }),
    ),
  );
  const commands = Object.keys(state.runs).sort();
  const perCommand = (pick: (r: RunFacts) => number | undefined) =>
    commands.flatMap((c) => {
      const v = pick(state.runs[c] as RunFacts);
      return v === undefined ? [] : [`{command="${labelValue(c)}"} ${v}`];
    });
  lines.push(
    ...family(
      'pwpool_run_duration_seconds',
      'gauge',
      "Wall time of each command's last run.",
      perCommand((r) => r.durationSeconds).map((s) => `pwpool_run_duration_seconds${s}`),
    ),
    ...family(
      'pwpool_last_exit_code',
      'gauge',
      "Exit code of each command's last run (0 ok, 3 config or precondition, 4 some failed, 5 lock).",
      perCommand((r) => r.exitCode).map((s) => `pwpool_last_exit_code${s}`),
    ),
    ...family(
      'pwpool_last_success_timestamp_seconds',
      'gauge',
      'When each command last exited 0 (epoch seconds).',
      perCommand((r) => r.lastSuccessS).map((s) => `pwpool_last_success_timestamp_seconds${s}`),
    ),
  );
  return `${lines.join('\n')}\n`;
}
