// The set-ready use case (behavior.md §1.5, §2): take an instance or a host out of service, or put
// it back, by its PWPoolReady tag. A host target changes the host's tag (launch-instances reads it,
// §3.2 R1/R2) and its current instance's tag (setup-instances reads that one, §4.3 S9).
import type { Logger } from 'pino';
import type { PoolId } from '../core/pool.js';
import { TagKey } from '../core/pool.js';
import type { ReadyChange, Target } from '../core/targets.js';
import { planReadyChange, readyChangeLine } from '../core/targets.js';
import { AwsError } from '../errors.js';
import type { Ec2, Journal, Output } from '../ports.js';
import { resolveReadyTarget } from './resolve-target.js';

export interface SetReadyDeps {
  readonly ec2: Ec2;
  readonly out: Output;
  readonly log: Logger;
  /** Every tag change is recorded here (NO_JOURNAL for a dry run). */
  readonly journal: Journal;
}

export interface SetReadyOptions {
  readonly target: Target;
  readonly value: 'true' | 'false';
  readonly dryRun: boolean;
}

export interface SetReadyOutcome {
  readonly exitCode: 0 | 4;
  readonly changes: readonly ReadyChange[];
  readonly failed: number;
}

export const SET_READY_REASON = 'set-ready';

/** Resolves the target within the pool (TargetError, exit 4, when outside), plans, applies. */
export async function setReady(
  pool: PoolId,
  deps: SetReadyDeps,
  opts: SetReadyOptions,
): Promise<SetReadyOutcome> {
  const resolved = await resolveReadyTarget(deps.ec2, pool, opts.target);
  const changes: ReadyChange[] = [];
  if (resolved.kind === 'host') {
    const { host, instance } = resolved;
    changes.push(
      planReadyChange(
        'host',
        { hostId: host.hostId, instanceId: instance?.instanceId },
        host.tags,
        opts.value,
      ),
    );
    if (instance === undefined) {
      deps.out.line(`host ${host.hostId} (${host.tags[TagKey.name] ?? '?'}) has no instance`);
    } else {
      changes.push(
        planReadyChange(
          'instance',
          { hostId: host.hostId, instanceId: instance.instanceId },
          instance.tags,
          opts.value,
        ),
      );
    }
  } else {
    const i = resolved.instance;
    changes.push(
      planReadyChange(
        'instance',
        { hostId: i.hostId, instanceId: i.instanceId },
        i.tags,
        opts.value,
      ),
    );
  }

  let failed = 0;
  for (const c of changes) {
    if (c.kind === 'unchanged' || opts.dryRun) {
      deps.out.line(readyChangeLine(c, 'planned'));
      continue;
    }
    const log = deps.log.child({ resource: c.resourceId, name: c.name });
    try {
      await deps.ec2.setTags(c.resourceId, { [TagKey.ready]: c.to });
    } catch (error) {
      failed += 1;
      const detail = error instanceof AwsError ? error.detail : String(error);
      log.error({ err: detail }, 'CreateTags failed');
      deps.out.line(readyChangeLine(c, 'failed', detail));
      continue;
    }
    log.info({ from: c.from, to: c.to }, 'PWPoolReady changed');
    deps.out.line(readyChangeLine(c, 'done'));
    await deps.journal.record({
      action: 'tag',
      reason: SET_READY_REASON,
      host: c.hostId,
      instance: c.instanceId,
      name: c.name,
      detail: `${TagKey.ready}=${c.to}`,
    });
  }
  return { exitCode: failed > 0 ? 4 : 0, changes, failed };
}
