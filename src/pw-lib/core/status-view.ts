// One merged view of the status files for a person (behavior.md §5.3, §8.3): what the status page
// renders and what `pw-pool status` prints. Pure: takes the files' texts, their mtimes and `now`.
import type { DhCommentBlock, DhLabel } from './dh-status.js';
import { DH_STATUS_FILE, parseDhComments, parseDhStatus } from './dh-status.js';
import { compareBytewise, HOST_ID_RE } from './pool.js';
import { PW_STATUS_FILE, parsePwStatus } from './pw-status.js';
import { formatUtc, parseIsoStrict } from './time.js';
import type { UtilizationRow } from './utilization.js';
import { UTILIZATION_FILE, parseUtilizationCsv } from './utilization.js';

const HOST_ID_IN_TEXT = /\bh-[0-9a-f]{8,17}\b/;

export interface StatusSettings {
  /** `cron.launchEverySeconds`: dh_status is STALE when older than twice this. */
  readonly launchEverySeconds: number;
  /** `cron.intervalSeconds`: pw_status is STALE when older than twice this. */
  readonly intervalSeconds: number;
  readonly maxLifetimeSeconds: number;
  readonly hardLifetimeSeconds: number;
  readonly minAliveWorkers: number;
}

/** One status file as read: its text (undefined when missing), its mtime, or the read error. */
export interface StatusFileInput {
  readonly text: string | undefined;
  readonly mtimeS: number | undefined;
  /** Set when the file exists but could not be read. */
  readonly error?: string | undefined;
}

export interface StatusInput {
  readonly dh: StatusFileInput;
  readonly pw: StatusFileInput;
  readonly csv: StatusFileInput;
  readonly nowS: number;
  readonly settings: StatusSettings;
}

export interface FileStatus {
  readonly file: string;
  readonly present: boolean;
  /** The read error, when the file exists but could not be read. */
  readonly error: string | null;
  readonly mtime: string | null;
  /**
   * What the age is measured from: the header time of dh_status / pw_status (the run that wrote
   * it, on the decision clock), the last row's time of utilization.csv, else the file's mtime.
   * The decision clock may be the simulated cloud's, where mtimes mean nothing.
   */
  readonly writtenAt: string | null;
  /** now − writtenAt. */
  readonly ageSeconds: number | null;
  /** Older than this is STALE; null when the file has no limit (utilization.csv). */
  readonly staleAfterSeconds: number | null;
  /** Missing, unreadable, or older than the limit. */
  readonly stale: boolean;
}

export type BlockKind = 'entry' | DhLabel;

export interface StatusRow {
  readonly name: string;
  /** The dedicated host id when the files name it (detail lines); usually null. */
  readonly hostId: string | null;
  /** `entry`, the dh comment label, or null when only pw_status names this host. */
  readonly block: BlockKind | null;
  /** The dh comment block's text (`pending`, `Inst. creation delayed until …`). */
  readonly blockText: string | null;
  readonly instanceId: string | null;
  readonly launchTime: string | null;
  readonly launchAgeSeconds: number | null;
  readonly setup: string | null;
  readonly listener: string | null;
  readonly started: number | null;
  readonly finished: number | null;
  /** maxLifetimeSeconds − launch age: when the on-instance recycling should end it (may be < 0). */
  readonly lifetimeLeftSeconds: number | null;
  /** hardLifetimeSeconds − launch age: when the manager force-terminates it (may be < 0). */
  readonly hardLifetimeLeftSeconds: number | null;
  /** The pw_status comment, else the dh block's text. */
  readonly comment: string | null;
}

export interface StatusView {
  readonly now: string;
  readonly nowS: number;
  readonly rows: readonly StatusRow[];
  readonly comments: readonly DhCommentBlock[];
  /** pw_status trailing comments (sweep and invalid-entry lines), without the leading `# `. */
  readonly notes: readonly string[];
  readonly totals: {
    readonly hosts: number;
    readonly entries: number;
    readonly aliveWorkers: number;
    /** prevAlive > minAliveWorkers: the next setup-instances enforces the task limit. */
    readonly taskLimitEnforced: boolean;
    readonly minAliveWorkers: number;
  };
  readonly files: {
    readonly dhStatus: FileStatus;
    readonly pwStatus: FileStatus;
    readonly utilization: FileStatus;
  };
  /** dh_status or pw_status is missing, unreadable or too old. */
  readonly stale: boolean;
  /** One line per stale reason, for the banner. */
  readonly staleReasons: readonly string[];
  /** Some status file is missing or unreadable (`pw-pool status` exits 4). */
  readonly incomplete: boolean;
  readonly dhHeaderTime: string | null;
  readonly pwHeaderTime: string | null;
  /** dh header time + launchEverySeconds: when cron next runs launch-instances. */
  readonly nextLaunchRun: string | null;
  /** The earliest `HOST THROTTLE` time: no non-forced launch before it. */
  readonly throttledUntil: string | null;
  readonly lastUtilization: {
    readonly ts: string;
    readonly workers: number;
    readonly started: number;
    readonly finished: number;
  } | null;
  /** Every well-formed CSV row (for the chart). */
  readonly utilizationRows: readonly UtilizationRow[];
  /** dh_status entry count (the chart's axis). */
  readonly dhEntryCount: number;
}

export interface PwEntryLine {
  readonly name: string;
  readonly setup: string;
  readonly listener: string;
  readonly started: number;
  readonly finished: number;
  readonly comment: string;
}

/** pw_status entry lines with their comments (§4.7), and the trailing comment lines. */
export function parsePwLines(text: string): { entries: PwEntryLine[]; notes: string[] } {
  const entries: PwEntryLine[] = [];
  const notes: string[] = [];
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  lines.forEach((line, i) => {
    if (line === '') return;
    if (line.startsWith('#')) {
      // lines 1–2 are the header; later `# …` lines are sweep / invalid-entry notes
      if (i >= 2 && line.length > 1) notes.push(line.replace(/^# ?/, ''));
      return;
    }
    if (line.startsWith(' ')) return;
    const hash = line.indexOf(' # ');
    const fieldsPart = hash === -1 ? line : line.slice(0, hash);
    const comment = hash === -1 ? '' : line.slice(hash + 3);
    const [name, setup, listener, started, finished] = fieldsPart.split(/\s+/);
    if (name === undefined || setup === undefined || listener === undefined) return;
    entries.push({
      name,
      setup,
      listener,
      started: /^\d+$/.test(started ?? '') ? Number(started) : 0,
      finished: /^\d+$/.test(finished ?? '') ? Number(finished) : 0,
      comment,
    });
  });
  return { entries, notes };
}

function fileStatus(
  file: string,
  input: StatusFileInput,
  contentTimeS: number | undefined,
  nowS: number,
  staleAfterSeconds: number | null,
): FileStatus {
  const present = input.text !== undefined;
  const writtenS = input.error === undefined ? (contentTimeS ?? input.mtimeS) : input.mtimeS;
  const ageSeconds = writtenS === undefined ? null : Math.max(0, nowS - writtenS);
  const tooOld =
    staleAfterSeconds !== null && ageSeconds !== null && ageSeconds > staleAfterSeconds;
  return {
    file,
    present,
    error: input.error ?? null,
    mtime: input.mtimeS === undefined ? null : formatUtc(input.mtimeS),
    writtenAt: writtenS === undefined ? null : formatUtc(writtenS),
    ageSeconds,
    staleAfterSeconds,
    stale: staleAfterSeconds !== null && (!present || input.error !== undefined || tooOld),
  };
}

/** `3h05m`, `12m`, `45s`, `2d04h`; negative durations get a leading `-`. */
export function formatDuration(seconds: number): string {
  const sign = seconds < 0 ? '-' : '';
  let s = Math.floor(Math.abs(seconds));
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const p = (n: number) => String(n).padStart(2, '0');
  if (d > 0) return `${sign}${d}d${p(h)}h`;
  if (h > 0) return `${sign}${h}h${p(m)}m`;
  if (m > 0) return `${sign}${m}m`;
  return `${sign}${s}s`;
}

function staleReason(f: FileStatus): string | undefined {
  if (!f.stale) return undefined;
  if (f.error !== null) return `${f.file} is unreadable: ${f.error}`;
  if (!f.present) return `${f.file} is missing`;
  return `${f.file} is ${formatDuration(f.ageSeconds ?? 0)} old (limit ${formatDuration(f.staleAfterSeconds ?? 0)})`;
}

export function buildStatusView(input: StatusInput): StatusView {
  const { nowS, settings } = input;
  const dhText = input.dh.error === undefined ? (input.dh.text ?? '') : '';
  const pwText = input.pw.error === undefined ? (input.pw.text ?? '') : '';
  const dh = parseDhStatus(dhText);
  const comments = parseDhComments(dhText);
  const pwLines = parsePwLines(pwText);
  const pwParsed = parsePwStatus(pwText);
  const csvRows = input.csv.error === undefined ? parseUtilizationCsv(input.csv.text) : [];

  interface Draft {
    name: string;
    hostId: string | null;
    block: BlockKind | null;
    blockText: string | null;
    instanceId: string | null;
    launchTimeS: number | null;
  }
  const byName = new Map<string, Draft>();
  const draft = (name: string): Draft => {
    let d = byName.get(name);
    if (!d) {
      d = { name, hostId: null, block: null, blockText: null, instanceId: null, launchTimeS: null };
      byName.set(name, d);
    }
    return d;
  };
  for (const e of dh.entries) {
    const d = draft(e.name);
    d.block = 'entry';
    d.blockText = null;
    d.instanceId = e.instanceId;
    d.launchTimeS = parseIsoStrict(e.launchTime) ?? null;
  }
  for (const c of comments) {
    const d = draft(c.name);
    if (d.block === null) {
      d.block = c.label;
      d.blockText = c.text;
    }
    const hostId = [c.text, ...c.details].join(' ').match(HOST_ID_IN_TEXT)?.[0];
    if (d.hostId === null && hostId !== undefined && HOST_ID_RE.test(hostId)) d.hostId = hostId;
    if (d.instanceId === null && c.label === 'INST BUSY') {
      d.instanceId = /^(i-[0-9a-f]{8,17})\b/.exec(c.text)?.[1] ?? null;
    }
  }
  const pwByName = new Map(pwLines.entries.map((l) => [l.name, l]));
  for (const l of pwLines.entries) draft(l.name);

  const rows: StatusRow[] = [...byName.values()]
    .sort((a, b) => compareBytewise(a.name, b.name))
    .map((d) => {
      const pw = pwByName.get(d.name);
      const age = d.launchTimeS === null ? null : nowS - d.launchTimeS;
      const comment = pw && pw.comment !== '' ? pw.comment : d.blockText;
      return {
        name: d.name,
        hostId: d.hostId,
        block: d.block,
        blockText: d.blockText,
        instanceId: d.instanceId,
        launchTime: d.launchTimeS === null ? null : formatUtc(d.launchTimeS),
        launchAgeSeconds: age,
        setup: pw?.setup ?? null,
        listener: pw?.listener ?? null,
        started: pw ? pw.started : null,
        finished: pw ? pw.finished : null,
        lifetimeLeftSeconds: age === null ? null : settings.maxLifetimeSeconds - age,
        hardLifetimeLeftSeconds: age === null ? null : settings.hardLifetimeSeconds - age,
        comment: comment === null || comment === '' ? null : comment,
      };
    });

  const last = csvRows[csvRows.length - 1];
  const files = {
    dhStatus: fileStatus(
      DH_STATUS_FILE,
      input.dh,
      dh.headerTimeS,
      nowS,
      2 * settings.launchEverySeconds,
    ),
    pwStatus: fileStatus(
      PW_STATUS_FILE,
      input.pw,
      pwParsed.timeS,
      nowS,
      2 * settings.intervalSeconds,
    ),
    utilization: fileStatus(UTILIZATION_FILE, input.csv, last?.timeS, nowS, null),
  };
  const staleReasons = [staleReason(files.dhStatus), staleReason(files.pwStatus)].filter(
    (r): r is string => r !== undefined,
  );
  const throttles = comments
    .filter((c) => c.label === 'HOST THROTTLE')
    .map((c) => parseIsoStrict(/(\d{4}-\S+)$/.exec(c.text)?.[1]))
    .filter((t): t is number => t !== undefined)
    .sort((a, b) => a - b);
  const hostNames = new Set([...dh.entries.map((e) => e.name), ...comments.map((c) => c.name)]);
  const incomplete = [input.dh, input.pw, input.csv].some(
    (f) => f.text === undefined || f.error !== undefined,
  );
  return {
    now: formatUtc(nowS),
    nowS,
    rows,
    comments,
    notes: pwLines.notes,
    totals: {
      hosts: hostNames.size,
      entries: dh.entries.length,
      aliveWorkers: pwParsed.alive,
      taskLimitEnforced: pwParsed.alive > settings.minAliveWorkers,
      minAliveWorkers: settings.minAliveWorkers,
    },
    files,
    stale: staleReasons.length > 0,
    staleReasons,
    incomplete,
    dhHeaderTime: dh.headerTimeS === undefined ? null : formatUtc(dh.headerTimeS),
    pwHeaderTime: pwParsed.timeS === undefined ? null : formatUtc(pwParsed.timeS),
    nextLaunchRun:
      dh.headerTimeS === undefined ? null : formatUtc(dh.headerTimeS + settings.launchEverySeconds),
    throttledUntil: throttles[0] === undefined ? null : formatUtc(throttles[0]),
    lastUtilization: last
      ? { ts: last.ts, workers: last.workers, started: last.started, finished: last.finished }
      : null,
    utilizationRows: csvRows,
    dhEntryCount: dh.entries.length,
  };
}
