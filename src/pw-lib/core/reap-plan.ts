// The reap selection (behavior.md §2 `pw-pool reap`): the independent outer lifetime layer. Every
// pool instance older than the limit, by EC2 LaunchTime, is to be terminated. Pure: data + now.
import type { PoolId, Tags } from './pool.js';
import { TagKey, compareBytewise, matchesPoolFilter } from './pool.js';
import { formatUtc, parseIsoStrict } from './time.js';

/** 3 days: the original's daily CI job terminated instances older than this. */
export const DEFAULT_REAP_MAX_AGE_SECONDS = 259_200;

/** Instance states reap looks at (shutting-down and terminated are already going). */
export const REAP_STATES = ['pending', 'running', 'stopping', 'stopped'] as const;

export const REAP_REASON = 'max-age';

export interface ReapInstance {
  readonly instanceId: string | undefined;
  readonly state: string | undefined;
  readonly launchTime: string | undefined;
  readonly hostId: string | undefined;
  readonly tags: Tags;
}

export type ReapDecision =
  | {
      readonly kind: 'terminate';
      readonly instanceId: string;
      readonly name: string | undefined;
      readonly hostId: string | undefined;
      /** `YYYY-MM-DDTHH:MM:SS+00:00`. */
      readonly launchTime: string;
      readonly ageSeconds: number;
    }
  | {
      readonly kind: 'keep';
      readonly instanceId: string | undefined;
      readonly name: string | undefined;
      readonly reason: 'young' | 'not-in-pool' | 'state' | 'no-launch-time' | 'no-id';
      readonly ageSeconds?: number;
    };

/**
 * Decides for each instance, in bytewise order of name then id: terminate when it carries the
 * pool's tags (re-checked with the filter's semantics, R20), is in a REAP_STATES state, and its age
 * since LaunchTime is strictly greater than `maxAgeSeconds`.
 */
export function planReap(
  pool: PoolId,
  instances: readonly ReapInstance[],
  nowS: number,
  maxAgeSeconds: number,
): ReapDecision[] {
  const sorted = [...instances].sort(
    (a, b) =>
      compareBytewise(a.tags[TagKey.name] ?? '', b.tags[TagKey.name] ?? '') ||
      compareBytewise(a.instanceId ?? '', b.instanceId ?? ''),
  );
  return sorted.map((i): ReapDecision => {
    const name = i.tags[TagKey.name];
    const base = { instanceId: i.instanceId, name };
    if (i.instanceId === undefined || i.instanceId === '')
      return { ...base, kind: 'keep', reason: 'no-id' };
    if (!matchesPoolFilter(pool, i.tags)) return { ...base, kind: 'keep', reason: 'not-in-pool' };
    if (i.state === undefined || !(REAP_STATES as readonly string[]).includes(i.state))
      return { ...base, kind: 'keep', reason: 'state' };
    const launchS = parseIsoStrict(i.launchTime);
    if (launchS === undefined) return { ...base, kind: 'keep', reason: 'no-launch-time' };
    const ageSeconds = nowS - launchS;
    if (ageSeconds <= maxAgeSeconds) return { ...base, kind: 'keep', reason: 'young', ageSeconds };
    return {
      kind: 'terminate',
      instanceId: i.instanceId,
      name,
      hostId: i.hostId,
      launchTime: formatUtc(launchS),
      ageSeconds,
    };
  });
}

/** One stdout line per termination (or would-be termination with --dry-run). */
export interface ReapRecord {
  readonly time: string;
  readonly action: 'terminate';
  readonly outcome: 'terminated' | 'failed' | 'dry-run';
  readonly instance: string;
  readonly name: string | null;
  readonly host: string | null;
  readonly launchTime: string;
  readonly ageSeconds: number;
  readonly maxAgeSeconds: number;
  readonly reason: string;
  readonly error?: string;
}

export function reapRecord(
  d: Extract<ReapDecision, { kind: 'terminate' }>,
  nowS: number,
  maxAgeSeconds: number,
  outcome: ReapRecord['outcome'],
  error?: string,
): ReapRecord {
  return {
    time: formatUtc(nowS),
    action: 'terminate',
    outcome,
    instance: d.instanceId,
    name: d.name ?? null,
    host: d.hostId ?? null,
    launchTime: d.launchTime,
    ageSeconds: d.ageSeconds,
    maxAgeSeconds,
    reason: REAP_REASON,
    ...(error === undefined ? {} : { error }),
  };
}
