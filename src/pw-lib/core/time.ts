// UTC time arithmetic on epoch seconds (behavior.md R10). Pure: no clock is read here.

const STRICT_ISO =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/** Parses an ISO-8601 timestamp with an explicit offset; returns epoch milliseconds or undefined. */
export function parseIsoStrictMs(text: string | undefined | null): number | undefined {
  if (text === undefined || text === null) return undefined;
  const m = STRICT_ISO.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, off] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) {
    return undefined;
  }
  const base = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(base);
  if (check.getUTCDate() !== day || check.getUTCMonth() !== month - 1) return undefined;
  const ms = frac === undefined ? 0 : Math.floor(Number(`0.${frac}`) * 1000);
  let offsetMin = 0;
  if (off !== undefined && off !== 'Z') {
    const sign = off.startsWith('-') ? -1 : 1;
    offsetMin = sign * (Number(off.slice(1, 3)) * 60 + Number(off.slice(4, 6)));
  }
  return base + ms - offsetMin * 60_000;
}

/** Parses an ISO-8601 timestamp to whole epoch seconds (fraction truncated). */
export function parseIsoStrict(text: string | undefined | null): number | undefined {
  const ms = parseIsoStrictMs(text);
  return ms === undefined ? undefined : Math.floor(ms / 1000);
}

/** Formats epoch seconds (or a Date) as `YYYY-MM-DDTHH:MM:SS+00:00`. */
export function formatUtc(at: number | Date): string {
  const ms = typeof at === 'number' ? at * 1000 : at.getTime();
  return `${new Date(ms).toISOString().slice(0, 19)}+00:00`;
}

/** Formats epoch seconds as `YYYY-MM-DDTHH:MM+00:00` (cron's tick line). */
export function formatUtcMinute(epochS: number): string {
  return `${new Date(epochS * 1000).toISOString().slice(0, 16)}+00:00`;
}

/** Whole UTC minutes since the epoch (the stagger compares these, §3.2). */
export function epochMinute(epochS: number): number {
  return Math.floor(epochS / 60);
}

export function toEpochSeconds(d: Date): number {
  return Math.floor(d.getTime() / 1000);
}
