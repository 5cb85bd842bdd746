// The reap use case (behavior.md §2): the independent outer lifetime layer. EC2 alone: no SSH, no
// state directory, no lock, no audit file, so it runs from another scheduler on another machine.
import type { Logger } from 'pino';
import type { PoolId } from '../core/pool.js';
import type { ReapDecision, ReapRecord } from '../core/reap-plan.js';
import { REAP_STATES, planReap, reapRecord } from '../core/reap-plan.js';
import { AwsError } from '../errors.js';
import type { Ec2, Output } from '../ports.js';

export interface ReapDeps {
  readonly ec2: Ec2;
  readonly out: Output;
  readonly log: Logger;
}

export interface ReapOptions {
  /** The decision instant, epoch seconds. */
  readonly nowS: number;
  readonly maxAgeSeconds: number;
  readonly dryRun: boolean;
}

export interface ReapOutcome {
  readonly exitCode: 0 | 4;
  readonly decisions: readonly ReapDecision[];
  readonly records: readonly ReapRecord[];
}

/**
 * Lists the pool's instances by tag (pending, running, stopping, stopped), terminates each one
 * older than the limit and prints one JSON line per termination. A failed query throws (exit 4);
 * a failed termination is its line's `outcome: "failed"` and makes the exit code 4.
 */
export async function reap(pool: PoolId, deps: ReapDeps, opts: ReapOptions): Promise<ReapOutcome> {
  const instances = await deps.ec2.listPoolInstances(pool, REAP_STATES);
  const decisions = planReap(pool, instances, opts.nowS, opts.maxAgeSeconds);
  const records: ReapRecord[] = [];
  let failed = 0;
  for (const d of decisions) {
    if (d.kind === 'keep') {
      if (d.reason === 'no-launch-time' || d.reason === 'no-id')
        deps.log.warn(
          { instanceId: d.instanceId, name: d.name, reason: d.reason },
          'instance skipped',
        );
      continue;
    }
    const log = deps.log.child({ instanceId: d.instanceId, name: d.name });
    let record: ReapRecord;
    if (opts.dryRun) {
      record = reapRecord(d, opts.nowS, opts.maxAgeSeconds, 'dry-run');
    } else {
      try {
        await deps.ec2.terminateInstance(d.instanceId);
        log.warn(
          { ageSeconds: d.ageSeconds, maxAgeSeconds: opts.maxAgeSeconds },
          'instance reaped',
        );
        record = reapRecord(d, opts.nowS, opts.maxAgeSeconds, 'terminated');
      } catch (error) {
        failed += 1;
        const detail = error instanceof AwsError ? error.detail : String(error);
        log.error({ err: detail }, 'could not terminate instance');
        record = reapRecord(d, opts.nowS, opts.maxAgeSeconds, 'failed', detail);
      }
    }
    records.push(record);
    deps.out.line(JSON.stringify(record));
  }
  deps.log.info(
    {
      instances: instances.length,
      selected: records.length,
      failed,
      maxAgeSeconds: opts.maxAgeSeconds,
      dryRun: opts.dryRun,
    },
    'reap finished',
  );
  return { exitCode: failed > 0 ? 4 : 0, decisions, records };
}
