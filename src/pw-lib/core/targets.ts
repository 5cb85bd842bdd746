// Operator targets (behavior.md §2 set-ready, §8.1 ssh, §9 R7): what an argument names, and which
// instance or host of the pool it resolves to. Pure: the app passes in what EC2 answered.
import type { PoolId, Tags } from './pool.js';
import { HOST_ID_RE, INSTANCE_ID_RE, TagKey, isPoolMemberName, matchesPoolFilter } from './pool.js';

/** What a command-line target names, after the R7 pattern check. */
export type Target =
  | { readonly kind: 'name'; readonly name: string }
  | { readonly kind: 'instance'; readonly instanceId: string }
  | { readonly kind: 'host'; readonly hostId: string };

export type TargetKinds = 'instance-or-host' | 'instance';

/**
 * Classifies an argument: `i-…` an instance id, `h-…` a host id (only where hosts are allowed),
 * else a pool name `<prefix>-<n>`. Returns the problem text when the argument matches no pattern.
 */
export function parseTarget(
  pool: PoolId,
  arg: string,
  allowed: TargetKinds,
): { ok: true; target: Target } | { ok: false; problem: string } {
  if (arg.startsWith('i-')) {
    return INSTANCE_ID_RE.test(arg)
      ? { ok: true, target: { kind: 'instance', instanceId: arg } }
      : { ok: false, problem: `'${printable(arg)}' is not an instance id (i-[0-9a-f]{8,17})` };
  }
  if (arg.startsWith('h-')) {
    if (allowed === 'instance')
      return { ok: false, problem: `'${printable(arg)}': expected an instance name or id` };
    return HOST_ID_RE.test(arg)
      ? { ok: true, target: { kind: 'host', hostId: arg } }
      : { ok: false, problem: `'${printable(arg)}' is not a host id (h-[0-9a-f]{8,17})` };
  }
  if (isPoolMemberName(pool, arg)) return { ok: true, target: { kind: 'name', name: arg } };
  const expected =
    allowed === 'instance'
      ? `an instance name '${pool.namePrefix}-<number>' or id 'i-…'`
      : `an instance name '${pool.namePrefix}-<number>', an instance id 'i-…' or a host id 'h-…'`;
  return { ok: false, problem: `'${printable(arg)}' is not ${expected}` };
}

/** `true` / `false`, exactly (set-ready's value). */
export function parseReadyValue(arg: string): 'true' | 'false' | undefined {
  return arg === 'true' || arg === 'false' ? arg : undefined;
}

/** The argument as it may appear in a message: printable ASCII, at most 80 characters. */
export function printable(arg: string): string {
  const clean = arg.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 80 ? `${clean.slice(0, 77)}...` : clean;
}

/** The instance fields resolution needs (a subset of the port's InstanceView). */
export interface InstanceFacts {
  readonly instanceId: string | undefined;
  readonly state: string | undefined;
  readonly hostId: string | undefined;
  readonly publicDnsName: string | undefined;
  readonly tags: Tags;
}

/** States in which a Name resolves to an instance (§8.1: never a terminated twin). */
export const NAME_STATES = ['pending', 'running'] as const;

export type Resolution<T> =
  | { readonly kind: 'found'; readonly item: T }
  | { readonly kind: 'none' }
  | { readonly kind: 'several'; readonly items: readonly T[] };

/** Instances whose Name tag equals `name` and whose state is pending or running. */
export function resolveByName<T extends InstanceFacts>(
  instances: readonly T[],
  name: string,
): Resolution<T> {
  const hits = instances.filter(
    (i) =>
      i.tags[TagKey.name] === name &&
      i.state !== undefined &&
      (NAME_STATES as readonly string[]).includes(i.state),
  );
  if (hits.length === 0) return { kind: 'none' };
  if (hits.length === 1) return { kind: 'found', item: hits[0] as T };
  return { kind: 'several', items: hits };
}

/** An instance belongs to the pool when it carries the pool's tags and a member name. */
export function isPoolInstance(pool: PoolId, i: InstanceFacts): boolean {
  return matchesPoolFilter(pool, i.tags) && isPoolMemberName(pool, i.tags[TagKey.name]);
}

/** The host's current occupant: not terminated, listed by the host or placed on it (§3.2). */
export function currentOccupant<T extends InstanceFacts>(
  hostId: string,
  listedIds: readonly string[],
  instances: readonly T[],
): T | undefined {
  const live = instances.filter((i) => i.state !== 'terminated' && i.state !== undefined);
  return (
    live.find((i) => i.instanceId !== undefined && listedIds.includes(i.instanceId)) ??
    live.find((i) => i.hostId === hostId)
  );
}

/** `<id> (<Name>, <state>)` for lists of several matches. */
export function describeMatch(i: InstanceFacts): string {
  return `${i.instanceId ?? '?'} (${printable(i.tags[TagKey.name] ?? '?')}, ${i.state ?? '?'})`;
}

/** One PWPoolReady change that set-ready plans: `tag` changes it, `unchanged` finds it set. */
export interface ReadyChange {
  readonly kind: 'tag' | 'unchanged';
  readonly resource: 'host' | 'instance';
  readonly resourceId: string;
  readonly name: string | undefined;
  readonly hostId: string | undefined;
  readonly instanceId: string | undefined;
  /** The tag's value before, as shown in texts (`absent` when missing or empty). */
  readonly from: string;
  readonly to: 'true' | 'false';
}

export function planReadyChange(
  resource: ReadyChange['resource'],
  ids: { readonly hostId: string | undefined; readonly instanceId: string | undefined },
  tags: Tags,
  to: 'true' | 'false',
): ReadyChange {
  const resourceId = (resource === 'host' ? ids.hostId : ids.instanceId) ?? '?';
  const current = tags[TagKey.ready];
  return {
    kind: current === to ? 'unchanged' : 'tag',
    resource,
    resourceId,
    name: tags[TagKey.name],
    hostId: ids.hostId,
    instanceId: ids.instanceId,
    from: current === undefined || current === '' ? 'absent' : printable(current),
    to,
  };
}

/** The stdout line for a change: planned (dry run), done, failed or unchanged. */
export function readyChangeLine(
  c: ReadyChange,
  outcome: 'planned' | 'done' | 'failed',
  error?: string,
): string {
  const what = `${c.resource} ${c.resourceId} (${printable(c.name ?? '?')})`;
  if (c.kind === 'unchanged') return `PWPoolReady is already ${c.to} on ${what}`;
  switch (outcome) {
    case 'planned':
      return `would set PWPoolReady=${c.to} on ${what}, now ${c.from}`;
    case 'done':
      return `set PWPoolReady=${c.to} on ${what}, was ${c.from}`;
    case 'failed':
      return `could not set PWPoolReady=${c.to} on ${what}: ${error ?? 'unknown error'}`;
  }
}
