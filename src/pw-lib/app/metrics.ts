// Writes the Prometheus textfile after a run (behavior.md §5.5): the pool from the status files,
// plus the persisted action counters and per-command run facts updated with this run's.
import type { Logger } from 'pino';
import { DH_STATUS_FILE } from '../core/dh-status.js';
import {
  formatMetricsState,
  METRICS_STATE_FILE,
  parseMetricsState,
  poolSnapshot,
  renderMetrics,
  updateMetricsState,
} from '../core/metrics.js';
import type { CommandRun } from '../core/metrics.js';
import { PW_STATUS_FILE } from '../core/pw-status.js';
import type { StateStore } from '../ports.js';

export interface MetricsDeps {
  readonly store: StateStore;
  /** Replaces the textfile atomically, through a temp name that does not end in `.prom`. */
  readonly writeTextfile: (text: string) => Promise<void>;
  readonly log: Logger;
}

/**
 * Adds `runs` and `actions` (by `action\treason`) to the persisted state and rewrites the
 * textfile. Returns false, after logging, when anything could not be written.
 */
export async function writeMetrics(
  deps: MetricsDeps,
  runs: readonly CommandRun[],
  actions: ReadonlyMap<string, number>,
): Promise<boolean> {
  const { store, log } = deps;
  try {
    const read = async (name: string) => {
      try {
        return await store.read(name);
      } catch (error) {
        log.warn({ file: name, err: (error as Error).message }, 'unreadable for the metrics');
        return undefined;
      }
    };
    const [stateText, dhText, pwText] = await Promise.all([
      read(METRICS_STATE_FILE),
      read(DH_STATUS_FILE),
      read(PW_STATUS_FILE),
    ]);
    const { state, problem } = parseMetricsState(stateText);
    if (problem !== undefined) {
      log.warn({ file: METRICS_STATE_FILE, problem }, 'metrics state unreadable; counters restart');
    }
    const next = updateMetricsState(state, runs, actions);
    await store.writeAtomic(METRICS_STATE_FILE, formatMetricsState(next));
    await deps.writeTextfile(renderMetrics(poolSnapshot(dhText, pwText), next));
    return true;
  } catch (error) {
    log.error({ err: (error as Error).message }, 'could not write the metrics');
    return false;
  }
}
