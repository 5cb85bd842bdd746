// dh_status.txt: the host → instance map that launch-instances writes (behavior.md §3.4).
import { compareBytewise, sanitizeName } from './pool.js';
import { formatUtc, parseIsoStrict } from './time.js';

export const DH_STATUS_FILE = 'dh_status.txt';

export type DhLabel =
  | 'HOST ERROR'
  | 'HOST BUSY'
  | 'HOST DISABLED'
  | 'HOST THROTTLE'
  | 'INST ERROR'
  | 'INST BUSY'
  | 'WOULD LAUNCH';

/** One block of the file: an entry line, or a comment line with optional detail lines. */
export type DhBlock =
  | {
      readonly kind: 'entry';
      readonly name: string;
      readonly hostId: string;
      readonly instanceId: string;
      readonly launchTimeS: number;
    }
  | {
      readonly kind: 'comment';
      readonly name: string | undefined;
      readonly hostId: string;
      readonly label: DhLabel;
      readonly text: string;
      /** Detail lines; the first is printed after `aws CLI output: `. */
      readonly details: readonly string[];
    };

export function isErrorBlock(block: DhBlock): boolean {
  return block.kind === 'comment' && (block.label === 'HOST ERROR' || block.label === 'INST ERROR');
}

/** Detail lines for a data error: the object as 2-space-indented JSON, one line each. */
export function jsonDetails(value: unknown): string[] {
  return JSON.stringify(value, null, 2).split('\n');
}

/** Detail lines for any text: every embedded newline starts a new line. */
export function textDetails(text: string): string[] {
  return text.split(/\r?\n/);
}

function sortKey(block: DhBlock): string {
  return `${block.name ?? ''} ${block.hostId}`;
}

/** One-line comment text: control characters become spaces, no trailing whitespace. */
function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x1f\x7f]/g, ' ').trimEnd();
}

export function formatDhBlock(block: DhBlock): string[] {
  if (block.kind === 'entry') {
    return [`${block.name} ${block.instanceId} ${formatUtc(block.launchTimeS)}`];
  }
  const lines = [`# ${sanitizeName(block.name)} ${block.label}: ${oneLine(block.text)}`];
  block.details.forEach((detail, i) => {
    const text = oneLine(detail);
    lines.push(i === 0 ? `#    aws CLI output: ${text}`.trimEnd() : `#    ${text}`.trimEnd());
  });
  return lines;
}

/** The whole file: header, then one block per host sorted bytewise by `"<Name> <HostId>"`. */
export function formatDhStatus(runStartS: number, blocks: readonly DhBlock[]): string {
  const sorted = [...blocks].sort((a, b) => compareBytewise(sortKey(a), sortKey(b)));
  const lines = [`# LaunchInstances.sh run ${formatUtc(runStartS)}`, '#'];
  for (const block of sorted) lines.push(...formatDhBlock(block));
  return `${lines.join('\n')}\n`;
}

export interface DhEntry {
  readonly name: string;
  readonly instanceId: string;
  /** The third field as written; parsed by whoever validates it. */
  readonly launchTime: string;
  readonly lineNumber: number;
}

export interface ParsedDhStatus {
  readonly headerLine: string | undefined;
  /** The time in the header (`# LaunchInstances.sh run <time>`), when parseable. */
  readonly headerTimeS: number | undefined;
  readonly entries: readonly DhEntry[];
  /** Entry-like lines with fewer than three fields. */
  readonly malformed: readonly { readonly line: string; readonly lineNumber: number }[];
}

/**
 * Reads the file as §3.4 "Reading" says: lines that are empty, start with `#` or a space are not
 * entries; entries split on whitespace runs; fields after the third are ignored.
 */
export function parseDhStatus(text: string): ParsedDhStatus {
  const lines = text.split('\n');
  const headerLine = lines[0]?.startsWith('#') ? lines[0] : undefined;
  const headerTimeS = headerLine ? parseIsoStrict(headerLine.split(/\s+/)[3]) : undefined;
  const entries: DhEntry[] = [];
  const malformed: { line: string; lineNumber: number }[] = [];
  lines.forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line === '' || line.startsWith('#') || line.startsWith(' ')) return;
    const fields = line.split(/\s+/).filter((f) => f !== '');
    const [name, instanceId, launchTime] = fields;
    if (name === undefined || instanceId === undefined || launchTime === undefined) {
      malformed.push({ line, lineNumber: i + 1 });
      return;
    }
    entries.push({ name, instanceId, launchTime, lineNumber: i + 1 });
  });
  return { headerLine, headerTimeS, entries, malformed };
}

/** A dh_status comment block (`# <Name> <LABEL>: <text>` and its `#    ` detail lines). */
export interface DhCommentBlock {
  readonly name: string;
  readonly label: DhLabel;
  readonly text: string;
  readonly details: readonly string[];
}

const LABELS: readonly DhLabel[] = [
  'HOST ERROR',
  'HOST BUSY',
  'HOST DISABLED',
  'HOST THROTTLE',
  'INST ERROR',
  'INST BUSY',
  'WOULD LAUNCH',
];
const COMMENT_RE = new RegExp(`^# (\\S+) (${LABELS.join('|')}): ?(.*)$`);
const DETAIL_PREFIX = '#    ';

/** The comment blocks of a dh_status text (§3.4), in file order. */
export function parseDhComments(text: string): DhCommentBlock[] {
  const blocks: { name: string; label: DhLabel; text: string; details: string[] }[] = [];
  let current: (typeof blocks)[number] | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    const m = COMMENT_RE.exec(line);
    if (m) {
      current = { name: m[1] ?? '', label: m[2] as DhLabel, text: m[3] ?? '', details: [] };
      blocks.push(current);
      continue;
    }
    if (current && line.startsWith(DETAIL_PREFIX)) {
      const detail = line.slice(DETAIL_PREFIX.length);
      current.details.push(
        current.details.length === 0 ? detail.replace(/^aws CLI output: ?/, '') : detail,
      );
      continue;
    }
    current = undefined;
  }
  return blocks;
}
