// utilization.csv: one row per cron tick that rewrote pw_status.txt (behavior.md §5.2 steps 6–7).
// `<ts>,<workers>,<started>,<finished>`, no header, trimmed to the last ⌊history/interval⌋ rows.
import { parsePwStatus } from './pw-status.js';
import { formatUtc, parseIsoStrict } from './time.js';

export const UTILIZATION_FILE = 'utilization.csv';

export interface UtilizationRow {
  /** The pw_status header time, `YYYY-MM-DDTHH:MM:SS+00:00`. */
  readonly ts: string;
  /** The same instant in epoch seconds. */
  readonly timeS: number;
  /** Entry lines whose fields 2–3 are `complete alive`. */
  readonly workers: number;
  /** Sums of fields 4 and 5 over those same lines. */
  readonly started: number;
  readonly finished: number;
}

/**
 * The row for a pw_status.txt text: ts is its header time, workers the `complete alive` lines
 * (parsed as fields), started/finished their sums. Undefined when the header time is missing or
 * unparseable (there is no instant to record).
 */
export function utilizationRow(pwText: string): UtilizationRow | undefined {
  const parsed = parsePwStatus(pwText);
  if (parsed.timeS === undefined) return undefined;
  return {
    ts: formatUtc(parsed.timeS),
    timeS: parsed.timeS,
    workers: parsed.alive,
    started: parsed.startedSum,
    finished: parsed.finishedSum,
  };
}

export function formatUtilizationRow(row: UtilizationRow): string {
  return `${row.ts},${row.workers},${row.started},${row.finished}`;
}

const COUNT = /^\d+$/;

/** One CSV line, or undefined when it is not a well-formed row. */
export function parseUtilizationLine(line: string): UtilizationRow | undefined {
  const fields = line.trim().split(',');
  if (fields.length !== 4) return undefined;
  const [ts, workers, started, finished] = fields as [string, string, string, string];
  const timeS = parseIsoStrict(ts);
  if (timeS === undefined) return undefined;
  if (!COUNT.test(workers) || !COUNT.test(started) || !COUNT.test(finished)) return undefined;
  return {
    ts,
    timeS,
    workers: Number(workers),
    started: Number(started),
    finished: Number(finished),
  };
}

/** Every well-formed row, in file order; blank and malformed lines are skipped. */
export function parseUtilizationCsv(text: string | undefined): UtilizationRow[] {
  if (text === undefined) return [];
  const rows: UtilizationRow[] = [];
  for (const line of text.split('\n')) {
    const row = parseUtilizationLine(line.replace(/\r$/, ''));
    if (row !== undefined) rows.push(row);
  }
  return rows;
}

/** ⌊historySeconds / intervalSeconds⌋, at least 1 (432 with the defaults). */
export function utilizationMaxRows(historySeconds: number, intervalSeconds: number): number {
  if (intervalSeconds <= 0) return 1;
  return Math.max(1, Math.floor(historySeconds / intervalSeconds));
}

/**
 * The new file text: the existing well-formed rows (malformed lines dropped), then `row`, trimmed
 * to the last `maxRows` rows. Always ends with a newline.
 */
export function appendUtilization(
  csvText: string | undefined,
  row: UtilizationRow,
  maxRows: number,
): string {
  const lines = parseUtilizationCsv(csvText).map(formatUtilizationRow);
  lines.push(formatUtilizationRow(row));
  const kept = lines.slice(Math.max(0, lines.length - Math.max(1, maxRows)));
  return `${kept.join('\n')}\n`;
}
