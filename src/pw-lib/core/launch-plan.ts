// launch-instances decisions (behavior.md §3): the last launch, the per-host decision table (§3.2)
// and the description of an occupant (§3.3 d). Pure: data and `now` in, verdicts out.
import type { HostView, InstanceView } from '../ports.js';
import type { DhBlock } from './dh-status.js';
import { jsonDetails, textDetails } from './dh-status.js';
import type { PoolId, Tags } from './pool.js';
import { TagKey, isPoolMemberName, isReady, matchesPoolFilter, readyTagShown } from './pool.js';
import { epochMinute, formatUtc, parseIsoStrict } from './time.js';

export const EPOCH_ZERO_S = 0;

/** States that hold a host, as the batch sees them (everything but `terminated`). */
const LIVE_FOR_STAGGER = new Set(['pending', 'running']);
const BUSY_HOST_STATES = new Set(['pending', 'under-assessment', 'released']);

export interface LatestLaunch {
  /** Epoch seconds of the newest counted launch; 0 when none was found. */
  readonly latestS: number;
  readonly noneFound: boolean;
  /** How many counted instances had an empty, null or unparseable LaunchTime. */
  readonly ignoredEmpty: number;
}

/**
 * latest (§3.1 step 3): the maximum LaunchTime among instances that pass the pool's tag re-check,
 * carry `PWPoolReady=true` and are `pending` or `running`.
 */
export function computeLatestLaunch(
  pool: PoolId,
  instances: readonly InstanceView[],
): LatestLaunch {
  let latestS: number | undefined;
  let ignoredEmpty = 0;
  for (const inst of instances) {
    if (!matchesPoolFilter(pool, inst.tags) || !isReady(inst.tags)) continue;
    if (inst.state === undefined || !LIVE_FOR_STAGGER.has(inst.state)) continue;
    const t = parseIsoStrict(inst.launchTime);
    if (t === undefined) {
      ignoredEmpty += 1;
      continue;
    }
    if (latestS === undefined || t > latestS) latestS = t;
  }
  return { latestS: latestS ?? EPOCH_ZERO_S, noneFound: latestS === undefined, ignoredEmpty };
}

/** Hosts that survive the client-side re-check of the discovery filter (§3.1 step 2). */
export function recheckPoolHosts(pool: PoolId, hosts: readonly HostView[]): HostView[] {
  return hosts.filter((h) => matchesPoolFilter(pool, h.tags));
}

export interface LaunchContext {
  readonly pool: PoolId;
  readonly nowS: number;
  readonly force: boolean;
  readonly staggerS: number;
  /** undefined when the DescribeInstances batch failed (row T2). */
  readonly latestS: number | undefined;
  /** The batch, or undefined when it failed; its error text goes into detail lines. */
  readonly batch: readonly InstanceView[] | undefined;
  readonly batchError: string | undefined;
  /** Names carried by more than one pool host (row N2). */
  readonly duplicateNames: ReadonlySet<string>;
}

export type HostVerdict =
  | { readonly kind: 'block'; readonly block: DhBlock }
  | { readonly kind: 'launch'; readonly hostId: string; readonly name: string };

export function findDuplicateNames(hosts: readonly HostView[]): Set<string> {
  const seen = new Map<string, number>();
  for (const h of hosts) {
    const name = h.tags[TagKey.name];
    if (name !== undefined) seen.set(name, (seen.get(name) ?? 0) + 1);
  }
  return new Set([...seen].filter(([, n]) => n > 1).map(([name]) => name));
}

function tagList(tags: Tags): { Key: string; Value: string }[] {
  return Object.keys(tags)
    .sort()
    .map((Key) => ({ Key, Value: tags[Key] ?? '' }));
}

/** The host as shown in detail lines (the AWS field names operators know). */
export function hostDetailObject(host: HostView): Record<string, unknown> {
  return {
    HostId: host.hostId ?? null,
    State: host.state ?? null,
    Instances: host.instanceIds.map((InstanceId) => ({ InstanceId })),
    Tags: tagList(host.tags),
  };
}

/** The instance as shown in detail lines. */
export function instanceDetailObject(inst: InstanceView): Record<string, unknown> {
  return {
    InstanceId: inst.instanceId ?? null,
    State: { Name: inst.state ?? null },
    LaunchTime: inst.launchTime ?? null,
    Placement: { HostId: inst.hostId ?? null },
    Tags: tagList(inst.tags),
  };
}

/** A tag value shown in a comment (§9 R7): printable ASCII, at most 64 characters. */
export function showTagValue(value: string | undefined): string {
  if (value === undefined) return '';
  const printable = value.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > 64 ? `${printable.slice(0, 64)}?` : printable;
}

function hostBlock(
  host: HostView,
  label: 'HOST ERROR' | 'HOST BUSY' | 'HOST DISABLED' | 'HOST THROTTLE',
  text: string,
): DhBlock {
  return {
    kind: 'comment',
    name: host.tags[TagKey.name],
    hostId: host.hostId ?? '',
    label,
    text,
    details: label === 'HOST ERROR' ? jsonDetails(hostDetailObject(host)) : [],
  };
}

/** The occupant of a host: its `Instances[]` entry, or else a batch instance placed on it. */
export function findOccupant(
  host: HostView,
  batch: readonly InstanceView[] | undefined,
): { readonly listedId: string | undefined; readonly instance: InstanceView | undefined } {
  const listedId = host.instanceIds[0];
  if (listedId !== undefined) {
    return { listedId, instance: batch?.find((i) => i.instanceId === listedId) };
  }
  const placed = batch?.find(
    (i) => i.hostId !== undefined && i.hostId === host.hostId && i.state !== 'terminated',
  );
  return { listedId: placed?.instanceId, instance: placed };
}

/**
 * Describes an occupant, new or existing (§3.3 d). `missingDetail` is the detail text when the
 * instance could not be described (the batch error, or why it is missing).
 */
export function describeOccupant(
  name: string,
  hostId: string,
  instance: InstanceView | undefined,
  missingDetail: string,
): DhBlock {
  const instError = (text: string, details: readonly string[]): DhBlock => ({
    kind: 'comment',
    name,
    hostId,
    label: 'INST ERROR',
    text,
    details,
  });
  if (instance === undefined) {
    return instError('Failed to describe host instance.', textDetails(missingDetail));
  }
  const details = jsonDetails(instanceDetailObject(instance));
  if (instance.instanceId === undefined || instance.instanceId === '') {
    return instError('Empty/null/failed JSON query of InstanceId', details);
  }
  const instName = instance.tags[TagKey.name];
  if (instName !== name) {
    return instError(`Inst. name '${showTagValue(instName)}' != DH name '${name}'`, details);
  }
  const launchTimeS = parseIsoStrict(instance.launchTime);
  if (launchTimeS === undefined) {
    return instError('Empty/null/failed JSON query of LaunchTime', details);
  }
  return { kind: 'entry', name, hostId, instanceId: instance.instanceId, launchTimeS };
}

/** The §3.2 decision table for one host; rows are checked in order and the first match wins. */
export function decideHost(host: HostView, ctx: LaunchContext): HostVerdict {
  const block = (b: DhBlock): HostVerdict => ({ kind: 'block', block: b });
  const name = host.tags[TagKey.name];
  // N1
  if (!isPoolMemberName(ctx.pool, name)) {
    return block(
      hostBlock(host, 'HOST ERROR', `Host name does not match '${ctx.pool.namePrefix}-<number>'.`),
    );
  }
  // N2
  if (ctx.duplicateNames.has(name))
    return block(hostBlock(host, 'HOST ERROR', 'Duplicate host name.'));
  // D1
  if (host.hostId === undefined || host.hostId === '') {
    return block(hostBlock(host, 'HOST ERROR', 'Failed to look up dedicated host.'));
  }
  // R1, R2
  if (!isReady(host.tags)) {
    return block(
      hostBlock(host, 'HOST DISABLED', `PWPoolReady==${showTagValue(readyTagShown(host.tags))}`),
    );
  }
  // S1, S2, S3
  if (host.state === undefined || host.state === '') {
    return block(
      hostBlock(host, 'HOST ERROR', 'Empty/null/failed JSON query of dedicated host state.'),
    );
  }
  if (BUSY_HOST_STATES.has(host.state)) return block(hostBlock(host, 'HOST BUSY', host.state));
  if (host.state !== 'available') {
    return block(
      hostBlock(
        host,
        'HOST ERROR',
        `Unsupported dedicated host state '${showTagValue(host.state)}'.`,
      ),
    );
  }
  // O1, O2
  const occupant = findOccupant(host, ctx.batch);
  if (occupant.listedId !== undefined) {
    if (occupant.instance?.state === 'shutting-down') {
      return block({
        kind: 'comment',
        name,
        hostId: host.hostId,
        label: 'INST BUSY',
        text: `${occupant.listedId} shutting-down`,
        details: [],
      });
    }
    const missing =
      ctx.batchError ??
      `Instance ${occupant.listedId} is listed on host ${host.hostId} but missing from DescribeInstances.`;
    return block(describeOccupant(name, host.hostId, occupant.instance, missing));
  }
  // C1
  if (host.macCapacity === 0) return block(hostBlock(host, 'HOST BUSY', 'no capacity'));
  // T1, T2
  if (!ctx.force) {
    if (ctx.latestS === undefined) {
      return block(
        hostBlock(host, 'HOST THROTTLE', 'Last-launch query failed; creation deferred.'),
      );
    }
    const until = ctx.latestS + ctx.staggerS;
    if (ctx.staggerS > 0 && epochMinute(ctx.nowS) < epochMinute(until)) {
      return block(
        hostBlock(host, 'HOST THROTTLE', `Inst. creation delayed until ${formatUtc(until)}`),
      );
    }
  }
  // L
  return { kind: 'launch', hostId: host.hostId, name };
}

/** Uniform Fisher–Yates shuffle with an injectable RNG returning values in [0, 1). */
export function shuffle<T>(items: readonly T[], rng: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i -= 1) {
    const j = Math.floor(rng() * (i + 1));
    const a = out[i] as T;
    out[i] = out[j] as T;
    out[j] = a;
  }
  return out;
}
