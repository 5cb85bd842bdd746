// Pool identity, tag keys and the validation patterns of behavior.md §1 and §9 R7.

/** Tag keys pw-pool reads and writes. The purpose key is configurable (`purposeTagKey`). */
export const TagKey = {
  name: 'Name',
  ready: 'PWPoolReady',
  automation: 'automation',
} as const;

export const READY_TRUE = 'true';

/** The pair that identifies a pool, with the purpose tag's key. */
export interface PoolId {
  readonly namePrefix: string;
  readonly purposeTagKey: string;
  readonly purposeValue: string;
}

export type Tags = Readonly<Record<string, string>>;

export const INSTANCE_ID_RE = /^i-[0-9a-f]{8,17}$/;
export const HOST_ID_RE = /^h-[0-9a-f]{8,17}$/;
export const DNS_NAME_RE = /^[A-Za-z0-9.-]+$/;

/** `^<prefix>-[0-9]+$`: a well-formed pool member name. */
export function isPoolMemberName(pool: PoolId, name: string | undefined): name is string {
  if (name === undefined || !name.startsWith(`${pool.namePrefix}-`)) return false;
  return /^[0-9]+$/.test(name.slice(pool.namePrefix.length + 1));
}

/**
 * The client-side re-check of the discovery filter with the filter's own semantics (§3.1 step 2):
 * Name matches the glob `<prefix>-*` and the purpose tag equals the pool's value exactly.
 */
export function matchesPoolFilter(pool: PoolId, tags: Tags): boolean {
  const name = tags[TagKey.name];
  return (
    name !== undefined &&
    name.startsWith(`${pool.namePrefix}-`) &&
    tags[pool.purposeTagKey] === pool.purposeValue
  );
}

/** The ready tag as shown in texts: `absent` for a missing or empty tag (§1.5). */
export function readyTagShown(tags: Tags): string {
  const v = tags[TagKey.ready];
  return v === undefined || v === '' ? 'absent' : v;
}

export function isReady(tags: Tags): boolean {
  return tags[TagKey.ready] === READY_TRUE;
}

/** Raw tag text with whitespace and non-printable characters replaced by `?` (§3.4). */
export function sanitizeName(raw: string | undefined): string {
  if (raw === undefined || raw === '') return '?';
  return raw.replace(/[^\x21-\x7e]/g, '?');
}

/** Bytewise (UTF-16 code unit) comparison, independent of locale (§9 R5). */
export function compareBytewise(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
