// nightly's pure selections (behavior.md §5.4): which log and audit lines to keep, which
// known_hosts entries to prune, which temp files are leftovers. Takes text and times; no I/O.
import { INSTANCE_ID_RE } from './pool.js';
import { parseIsoStrictMs } from './time.js';

/** audit.jsonl keeps this many seconds of records (§5.5). */
export const AUDIT_KEEP_SECONDS = 30 * 24 * 60 * 60;
/** `*.tmp` files older than this are leftovers of a crashed write (§5.4 step 6). */
export const TMP_MAX_AGE_SECONDS = 24 * 60 * 60;

/** A text line that starts with a time: `2024-08-06T14:10+00:00`, `…T14:10:42+00:00`, `…Z` … */
const LEADING_ISO =
  /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})(:\d{2}(?:\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})(?=$|[\s,;|\]])/;

/**
 * The time of one line of pw-pool's log or audit file, epoch milliseconds, or undefined:
 * - a JSON object line (pino, audit.jsonl) gives its `time` field: a number is epoch ms, a string
 *   must be ISO-8601 with an offset;
 * - any other line gives the ISO-8601 time it starts with (cron's tick line `2024-08-06T14:10+00:00`,
 *   a utilization row `2024-08-06T14:10:42+00:00,3,12,10`), minutes or seconds, with an offset;
 * - anything else (result lines such as `Exit: 0`, pino-pretty continuation lines) has none.
 */
export function lineTimeMs(line: string): number | undefined {
  const text = line.replace(/\r$/, '');
  if (text.startsWith('{')) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return undefined;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
    const time = (value as Record<string, unknown>).time;
    if (typeof time === 'number') return Number.isFinite(time) ? time : undefined;
    if (typeof time === 'string') return parseIsoStrictMs(time);
    return undefined;
  }
  const m = LEADING_ISO.exec(text);
  if (!m) return undefined;
  return parseIsoStrictMs(`${m[1]}${m[2] ?? ':00'}${m[3]}`);
}

export interface KeepSelection {
  /** Character offset of the first kept character (the text's length when nothing is kept). */
  readonly keepFrom: number;
  readonly droppedLines: number;
  readonly keptLines: number;
}

/**
 * Keeps the recent end of an append-ordered line file: everything from the first line whose time
 * is at or after `cutoffMs`. A line without a time goes with the line before it; lines before the
 * first timed line go with that line. A file with no timed line at all is kept whole (nothing
 * says it is old). A last line without a newline counts as a line.
 */
export function selectRecent(text: string, cutoffMs: number): KeepSelection {
  const starts: number[] = [];
  const times: (number | undefined)[] = [];
  let at = 0;
  while (at < text.length) {
    const nl = text.indexOf('\n', at);
    const end = nl === -1 ? text.length : nl;
    starts.push(at);
    times.push(lineTimeMs(text.slice(at, end)));
    at = end + 1;
  }
  const total = starts.length;
  if (times.every((t) => t === undefined))
    return { keepFrom: 0, droppedLines: 0, keptLines: total };
  // Each timed line opens a group; the group of the first timed line starts at line 0.
  let firstTimed = true;
  for (let i = 0; i < total; i++) {
    const t = times[i];
    if (t === undefined) continue;
    if (t >= cutoffMs) {
      const from = firstTimed ? 0 : i;
      return { keepFrom: starts[from] ?? 0, droppedLines: from, keptLines: total - from };
    }
    firstTimed = false;
  }
  return { keepFrom: text.length, droppedLines: total, keptLines: 0 };
}

/** The instance ids a known_hosts text pins keys for (host fields that look like `i-…`). */
export function knownHostsInstanceIds(text: string): string[] {
  const ids = new Set<string>();
  for (const line of text.split('\n')) {
    const fields = entryFields(line);
    if (fields === undefined) continue;
    for (const alias of fields.hosts.split(',')) if (INSTANCE_ID_RE.test(alias)) ids.add(alias);
  }
  return [...ids].sort();
}

function entryFields(line: string): { hosts: string; rest: string } | undefined {
  const trimmed = line.replace(/\r$/, '');
  // Comments, blank lines and marker lines (@cert-authority, @revoked) are never pruned.
  if (trimmed === '' || /^\s*[#@]/.test(trimmed)) return undefined;
  const m = /^(\S+)(\s+\S+\s+\S+.*)$/.exec(trimmed);
  if (!m) return undefined;
  return { hosts: m[1] as string, rest: m[2] as string };
}

/**
 * Which of the pinned instance ids no longer exist: absent from DescribeInstances (gone for good)
 * or `terminated`. Every other state, `shutting-down` and `stopped` included, still exists.
 */
export function goneInstanceIds(
  pinned: readonly string[],
  described: readonly {
    readonly instanceId: string | undefined;
    readonly state: string | undefined;
  }[],
): Set<string> {
  const alive = new Set<string>();
  for (const i of described) {
    if (i.instanceId !== undefined && i.state !== 'terminated') alive.add(i.instanceId);
  }
  return new Set(pinned.filter((id) => !alive.has(id)));
}

/**
 * Removes the given aliases from a known_hosts text. A line whose every alias is removed goes; a
 * line with other aliases keeps them. Every other line is kept byte for byte.
 */
export function pruneKnownHosts(
  text: string,
  gone: ReadonlySet<string>,
): { readonly text: string; readonly removed: readonly string[] } {
  const removed = new Set<string>();
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const fields = entryFields(line);
    if (fields === undefined) {
      out.push(line);
      continue;
    }
    const aliases = fields.hosts.split(',');
    const left = aliases.filter((a) => !gone.has(a));
    for (const a of aliases) if (gone.has(a)) removed.add(a);
    if (left.length === aliases.length) out.push(line);
    else if (left.length > 0) out.push(`${left.join(',')}${fields.rest}`);
  }
  return { text: out.join('\n'), removed: [...removed].sort() };
}

export interface DirEntryInfo {
  readonly name: string;
  readonly isFile: boolean;
  readonly mtimeMs: number;
}

/**
 * Temp leftovers to delete: regular files named `*.tmp` whose mtime is more than a day before
 * `nowMs`. Backups (`<f>~`, including `x.tmp~`) never match.
 */
export function selectTmpLeftovers(
  entries: readonly DirEntryInfo[],
  nowMs: number,
  maxAgeSeconds = TMP_MAX_AGE_SECONDS,
): string[] {
  return entries
    .filter((e) => e.isFile && e.name.endsWith('.tmp') && e.mtimeMs < nowMs - maxAgeSeconds * 1000)
    .map((e) => e.name)
    .sort();
}
