// Resolving an operator's target through EC2 (behavior.md §8.1 for ssh, §2 for set-ready).
// The choices are pure (core/targets.ts); this file makes the calls and words the refusals.
import type { PoolId } from '../core/pool.js';
import { TagKey, isPoolMemberName, matchesPoolFilter } from '../core/pool.js';
import type { Target } from '../core/targets.js';
import {
  NAME_STATES,
  currentOccupant,
  describeMatch,
  isPoolInstance,
  printable,
  resolveByName,
} from '../core/targets.js';
import { ExitCode, PwPoolError } from '../errors.js';
import type { Ec2, HostView, InstanceView } from '../ports.js';

/** A target that does not resolve to something of this pool: exit 4 (documented). */
export class TargetError extends PwPoolError {
  constructor(message: string) {
    super(message, ExitCode.partial);
  }
}

const NOT_TERMINATED = ['pending', 'running', 'shutting-down', 'stopping', 'stopped'];

function poolLabel(pool: PoolId): string {
  return `${pool.namePrefix}-* with ${pool.purposeTagKey}=${pool.purposeValue}`;
}

/** §8.1's text for an instance that cannot be reached: absent, or no public DNS name. */
export function noDnsMessage(arg: string): string {
  return `Instance '${printable(arg)}' does not exist, or have a public DNS address allocated (yet).`;
}

/**
 * ssh (§8.1): an `i-…` id is looked up by id; a name among the pool's `pending` and `running`
 * instances. Several matches fail listing them; none, or no DNS name, is the contract's message.
 */
export async function resolveSshTarget(
  ec2: Ec2,
  pool: PoolId,
  target: Extract<Target, { kind: 'name' | 'instance' }>,
  arg: string,
): Promise<InstanceView & { instanceId: string; publicDnsName: string }> {
  let found: InstanceView | undefined;
  if (target.kind === 'instance') {
    found = (await ec2.describeInstancesById([target.instanceId])).find(
      (i) => i.instanceId === target.instanceId,
    );
  } else {
    const r = resolveByName(await ec2.listPoolInstances(pool, NAME_STATES), target.name);
    if (r.kind === 'several') {
      throw new TargetError(
        `Several instances are named '${target.name}': ${r.items.map(describeMatch).join(', ')}. Use the instance id.`,
      );
    }
    if (r.kind === 'found') found = r.item;
  }
  if (
    found?.instanceId === undefined ||
    found.publicDnsName === undefined ||
    found.publicDnsName === ''
  ) {
    throw new TargetError(noDnsMessage(arg));
  }
  return { ...found, instanceId: found.instanceId, publicDnsName: found.publicDnsName };
}

/** What set-ready acts on: the instance, or a host with its current instance (if any). */
export type ReadyTarget =
  | { readonly kind: 'instance'; readonly instance: InstanceView & { instanceId: string } }
  | {
      readonly kind: 'host';
      readonly host: HostView & { hostId: string };
      readonly instance: (InstanceView & { instanceId: string }) | undefined;
    };

/**
 * set-ready (§2): a name or `i-…` addresses the instance (resolved as in §8.1), an `h-…` the host
 * and its current instance. Anything outside this pool is refused with TargetError (exit 4).
 */
export async function resolveReadyTarget(
  ec2: Ec2,
  pool: PoolId,
  target: Target,
): Promise<ReadyTarget> {
  switch (target.kind) {
    case 'name': {
      const r = resolveByName(await ec2.listPoolInstances(pool, NAME_STATES), target.name);
      const inPool =
        r.kind === 'none'
          ? []
          : (r.kind === 'found' ? [r.item] : r.items).filter((i) => isPoolInstance(pool, i));
      if (inPool.length === 0) {
        throw new TargetError(
          `No pending or running instance named '${target.name}' in the pool (${poolLabel(pool)}).`,
        );
      }
      if (inPool.length > 1) {
        throw new TargetError(
          `Several instances are named '${target.name}': ${inPool.map(describeMatch).join(', ')}. Use the instance id.`,
        );
      }
      const inst = inPool[0] as InstanceView;
      return { kind: 'instance', instance: { ...inst, instanceId: inst.instanceId as string } };
    }
    case 'instance': {
      const inst = (await ec2.describeInstancesById([target.instanceId])).find(
        (i) => i.instanceId === target.instanceId,
      );
      if (inst === undefined)
        throw new TargetError(`Instance ${target.instanceId} does not exist.`);
      if (!isPoolInstance(pool, inst)) {
        throw new TargetError(
          `Instance ${target.instanceId} (Name '${printable(inst.tags[TagKey.name] ?? '')}', ` +
            `${pool.purposeTagKey} '${printable(inst.tags[pool.purposeTagKey] ?? '')}') is not in the pool (${poolLabel(pool)}); refusing to change it.`,
        );
      }
      if (inst.state === 'terminated' || inst.state === 'shutting-down') {
        throw new TargetError(`Instance ${target.instanceId} is ${inst.state}.`);
      }
      return { kind: 'instance', instance: { ...inst, instanceId: target.instanceId } };
    }
    case 'host': {
      const host = (await ec2.listPoolHosts(pool)).find((h) => h.hostId === target.hostId);
      if (
        host === undefined ||
        !matchesPoolFilter(pool, host.tags) ||
        !isPoolMemberName(pool, host.tags[TagKey.name])
      ) {
        throw new TargetError(
          `Host ${target.hostId} is not a dedicated host of the pool (${poolLabel(pool)}); refusing to change it.`,
        );
      }
      const candidates = (await ec2.listPoolInstances(pool, NOT_TERMINATED)).filter((i) =>
        isPoolInstance(pool, i),
      );
      const occupant = currentOccupant(target.hostId, host.instanceIds, candidates);
      return {
        kind: 'host',
        host: { ...host, hostId: target.hostId },
        instance:
          occupant?.instanceId === undefined
            ? undefined
            : { ...occupant, instanceId: occupant.instanceId },
      };
    }
  }
}
