// Reads the status files (with their mtimes) into one view, and renders the status page from it
// (behavior.md §5.3, §8.3). Used by `pw-pool status`, cron (every tick, even without the lock) and
// the demo.
import { renderUtilizationSvg } from '../core/chart.js';
import { DH_STATUS_FILE } from '../core/dh-status.js';
import { PW_STATUS_FILE } from '../core/pw-status.js';
import { CHART_FILE, STATUS_PAGE_FILE, renderStatusPage } from '../core/status-page.js';
import type { StatusFileInput, StatusSettings, StatusView } from '../core/status-view.js';
import { buildStatusView } from '../core/status-view.js';
import { UTILIZATION_FILE } from '../core/utilization.js';
import type { StateStore } from '../ports.js';

export interface StatusPageSettings extends StatusSettings {
  /** `chart.windowSeconds`: the chart's time span. */
  readonly chartWindowSeconds: number;
  /** `statusPage.link`. */
  readonly link: string | undefined;
}

function errorText(error: unknown): string {
  const err = error as NodeJS.ErrnoException;
  return err.code ?? (err.message || String(error));
}

async function readInput(store: StateStore, name: string): Promise<StatusFileInput> {
  let text: string | undefined;
  try {
    text = await store.read(name);
  } catch (error) {
    let mtimeS: number | undefined;
    try {
      mtimeS = (await store.stat(name))?.mtimeS;
    } catch {
      mtimeS = undefined;
    }
    return { text: undefined, mtimeS, error: errorText(error) };
  }
  if (text === undefined) return { text: undefined, mtimeS: undefined };
  try {
    return { text, mtimeS: (await store.stat(name))?.mtimeS };
  } catch (error) {
    return { text, mtimeS: undefined, error: errorText(error) };
  }
}

/** The merged view of dh_status.txt, pw_status.txt and utilization.csv at `nowS`. Never throws for a file. */
export async function readStatusView(
  store: StateStore,
  settings: StatusSettings,
  nowS: number,
): Promise<StatusView> {
  const [dh, pw, csv] = await Promise.all([
    readInput(store, DH_STATUS_FILE),
    readInput(store, PW_STATUS_FILE),
    readInput(store, UTILIZATION_FILE),
  ]);
  return buildStatusView({ dh, pw, csv, nowS, settings });
}

/**
 * Renders `html/utilization.svg`, then `html/index.html`, each replaced atomically, from the files
 * as they are now. Throws only when a write fails (cron counts that as exit 4).
 */
export async function writeStatusPage(
  store: StateStore,
  settings: StatusPageSettings,
  nowS: number,
): Promise<void> {
  const view = await readStatusView(store, settings, nowS);
  const svg = renderUtilizationSvg(view.utilizationRows, {
    nowS,
    windowS: settings.chartWindowSeconds,
    dhEntryCount: view.dhEntryCount,
  });
  await store.writeAtomic(CHART_FILE, svg);
  await store.writeAtomic(
    STATUS_PAGE_FILE,
    renderStatusPage(view, {
      generatedAtS: nowS,
      link: settings.link,
      intervalSeconds: settings.intervalSeconds,
    }),
  );
}
