// pw_status.txt: one line per instance, written by setup-instances (behavior.md §4.7).
import { compareBytewise } from './pool.js';
import { formatUtc, parseIsoStrict } from './time.js';

export const PW_STATUS_FILE = 'pw_status.txt';

export type SetupField = 'error' | 'started' | 'complete' | 'disabled';
export type ListenerField = 'error' | 'dead' | 'alive' | 'disabled';

export interface PwStatusLine {
  readonly name: string;
  readonly setup: SetupField;
  readonly listener: ListenerField;
  readonly started: number;
  readonly finished: number;
  readonly comment: string;
}

/** A comment is one line: control characters become spaces, no trailing whitespace (§4.7). */
export function cleanComment(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x1f\x7f]/g, ' ').trimEnd();
}

export function formatPwStatusLine(line: PwStatusLine): string {
  const base = `${line.name} ${line.setup} ${line.listener} ${line.started} ${line.finished}`;
  const comment = cleanComment(line.comment);
  return comment === '' ? base : `${base} # ${comment}`;
}

/**
 * The whole file: header, entry lines in bytewise name order, then the trailing comments (sweep
 * and invalid-entry lines, each already starting with `# `).
 */
export function formatPwStatus(
  runStartS: number,
  lines: readonly PwStatusLine[],
  trailing: readonly string[],
): string {
  const sorted = [...lines].sort((a, b) => compareBytewise(a.name, b.name));
  const out = [`# SetupInstances.sh run ${formatUtc(runStartS)}`, '#'];
  for (const l of sorted) out.push(formatPwStatusLine(l));
  for (const t of trailing) out.push(cleanComment(t));
  return `${out.join('\n')}\n`;
}

export interface PreviousPwStatus {
  /** The header time, when parseable. */
  readonly timeS: number | undefined;
  /** Each name's listener field. */
  readonly listenerByName: ReadonlyMap<string, string>;
  /** Lines whose fields 2–3 are `complete alive` (Port: the original counted every line). */
  readonly alive: number;
  /** The alive lines' started and finished sums (cron's utilization row). */
  readonly startedSum: number;
  readonly finishedSum: number;
}

/** Reads a previous pw_status.txt by fields (R15), never by substring. */
export function parsePwStatus(text: string): PreviousPwStatus {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  const header = lines[0]?.startsWith('#') ? lines[0] : undefined;
  const timeS = header ? parseIsoStrict(header.split(/\s+/)[3]) : undefined;
  const listenerByName = new Map<string, string>();
  let alive = 0;
  let startedSum = 0;
  let finishedSum = 0;
  for (const line of lines) {
    if (line === '' || line.startsWith('#') || line.startsWith(' ')) continue;
    const [name, setup, listener, started, finished] = line.split(/\s+/);
    if (name === undefined || listener === undefined) continue;
    listenerByName.set(name, listener);
    if (setup === 'complete' && listener === 'alive') {
      alive += 1;
      startedSum += /^\d+$/.test(started ?? '') ? Number(started) : 0;
      finishedSum += /^\d+$/.test(finished ?? '') ? Number(finished) : 0;
    }
  }
  return { timeS, listenerByName, alive, startedSum, finishedSum };
}
