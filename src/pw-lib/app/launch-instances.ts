// The launch-instances use case (behavior.md §3): discover, decide per host, launch, wait for
// `running` on the clock port, write dh_status.txt. Decisions come from core/launch-plan.ts.
import type { Logger } from 'pino';
import type { DhBlock } from '../core/dh-status.js';
import {
  DH_STATUS_FILE,
  formatDhStatus,
  isErrorBlock,
  jsonDetails,
  textDetails,
} from '../core/dh-status.js';
import {
  computeLatestLaunch,
  decideHost,
  describeOccupant,
  findDuplicateNames,
  instanceDetailObject,
  recheckPoolHosts,
  shuffle,
} from '../core/launch-plan.js';
import type { LaunchContext } from '../core/launch-plan.js';
import type { PoolId } from '../core/pool.js';
import { READY_TRUE, TagKey } from '../core/pool.js';
import { formatUtc } from '../core/time.js';
import { AwsError } from '../errors.js';
import type { Clock, Ec2, HostView, InstanceView, Journal, Output, StateStore } from '../ports.js';
import { NO_JOURNAL } from '../ports.js';

export interface LaunchSettings {
  readonly pool: PoolId;
  readonly launchTemplateName: string;
  readonly launchStaggerSeconds: number;
  readonly launchWaitSeconds: number;
  readonly launchPollSeconds: number;
}

export interface LaunchDeps {
  readonly ec2: Ec2;
  /** Waits and polls run on this clock, even when the decision instant is fixed by `--now`. */
  readonly clock: Clock;
  readonly store: StateStore;
  readonly out: Output;
  readonly log: Logger;
  readonly rng: () => number;
  /** The audit trail of launches (none when absent). */
  readonly journal?: Journal;
}

export interface LaunchOptions {
  /** The decision instant, epoch seconds. */
  readonly nowS: number;
  readonly force: boolean;
  readonly dryRun: boolean;
}

export type PlannedAction =
  | { readonly kind: 'launch'; readonly name: string; readonly hostId: string }
  | {
      readonly kind: 'skip';
      readonly name: string;
      readonly hostId: string;
      readonly reason: string;
    };

export interface LaunchOutcome {
  readonly exitCode: 0 | 4;
  /** The blocks written (or, with --dry-run, the would-be blocks). */
  readonly blocks: readonly DhBlock[];
  /** Hosts in processing order with what was decided. */
  readonly plan: readonly PlannedAction[];
  readonly launched: readonly {
    readonly name: string;
    readonly hostId: string;
    readonly instanceId: string;
  }[];
  /** The status file text written or, with --dry-run, the would-be text; undefined if none. */
  readonly statusText: string | undefined;
  readonly discoveryFailed: boolean;
}

interface PendingLaunch {
  readonly name: string;
  readonly hostId: string;
  readonly instanceId: string;
  readonly startedMs: number;
  readonly log: Logger;
}

function errorDetail(error: unknown): string {
  return error instanceof AwsError ? error.detail : String((error as Error)?.message ?? error);
}

function printLines(out: Output, text: string): void {
  for (const line of text.trimEnd().split('\n')) out.line(line);
}

function blockReason(block: DhBlock): string {
  return block.kind === 'entry'
    ? `occupied by ${block.instanceId}`
    : `${block.label}: ${block.text}`;
}

export async function launchInstances(
  settings: LaunchSettings,
  deps: LaunchDeps,
  opts: LaunchOptions,
): Promise<LaunchOutcome> {
  const { ec2, out, log, store } = deps;
  const { pool } = settings;
  const runStartS = opts.nowS;
  log.info(
    { region: ec2.region, pool: `${pool.namePrefix}-${pool.purposeValue}` },
    'launch-instances starting',
  );

  // Discovery (§3.1 step 2)
  let discovered: HostView[];
  try {
    discovered = await ec2.listPoolHosts(pool);
  } catch (error) {
    log.error(
      { err: errorDetail(error) },
      'dedicated host discovery failed; dh_status.txt left untouched',
    );
    return {
      exitCode: 4,
      blocks: [],
      plan: [],
      launched: [],
      statusText: undefined,
      discoveryFailed: true,
    };
  }
  const hosts = recheckPoolHosts(pool, discovered);
  if (discovered.length !== hosts.length) {
    log.debug({ dropped: discovered.length - hosts.length }, 'hosts dropped by the tag re-check');
  }
  if (hosts.length === 0) {
    out.line('No dedicated hosts found');
    const text = formatDhStatus(runStartS, []);
    if (!opts.dryRun) await store.writeAtomic(DH_STATUS_FILE, text);
    else printLines(out, text);
    return {
      exitCode: 0,
      blocks: [],
      plan: [],
      launched: [],
      statusText: text,
      discoveryFailed: false,
    };
  }

  // Batch read and last launch (§3.1 step 3)
  let batch: InstanceView[] | undefined;
  let batchError: string | undefined;
  const hostIds = hosts.flatMap((h) => (h.hostId ? [h.hostId] : []));
  try {
    batch = await ec2.listInstancesOnHosts(hostIds);
  } catch (error) {
    batchError = errorDetail(error);
    log.error({ err: batchError }, 'DescribeInstances batch failed');
  }
  let latestS: number | undefined;
  if (batch !== undefined) {
    const latest = computeLatestLaunch(pool, batch);
    for (let i = 0; i < latest.ignoredEmpty; i += 1)
      log.warn('Ignoring empty/null instance launch time.');
    if (latest.noneFound) log.warn('Found no running instances, this should not happen.');
    latestS = latest.latestS;
  }
  out.line(`Operating on ${hosts.length} dedicated hosts at ${formatUtc(runStartS)}`);
  out.line(
    `Last instance launch on ${latestS === undefined ? 'unknown (query failed)' : formatUtc(latestS)}`,
  );
  if (opts.force) log.warn('Forcing instance creation: Ignoring staggered creation limits.');

  // Process (§3.1 step 5): a uniformly shuffled order, so no host always waits longest.
  const ctxBase: Omit<LaunchContext, 'latestS'> = {
    pool,
    nowS: opts.nowS,
    force: opts.force,
    staggerS: settings.launchStaggerSeconds,
    batch,
    batchError,
    duplicateNames: findDuplicateNames(hosts),
  };
  const blocks: DhBlock[] = [];
  const plan: PlannedAction[] = [];
  const pending: PendingLaunch[] = [];
  let templateChecked = false;
  for (const host of shuffle(hosts, deps.rng)) {
    const name = host.tags[TagKey.name] ?? '';
    const hlog = log.child({ host: name, hostId: host.hostId });
    const verdict = decideHost(host, { ...ctxBase, latestS });
    if (verdict.kind === 'block') {
      blocks.push(verdict.block);
      plan.push({
        kind: 'skip',
        name,
        hostId: host.hostId ?? '',
        reason: blockReason(verdict.block),
      });
      hlog.debug({ reason: blockReason(verdict.block) }, 'host not launched');
      continue;
    }
    plan.push({ kind: 'launch', name: verdict.name, hostId: verdict.hostId });
    if (opts.dryRun) {
      blocks.push({
        kind: 'comment',
        name: verdict.name,
        hostId: verdict.hostId,
        label: 'WOULD LAUNCH',
        text: `RunInstances on ${verdict.hostId} from launch template '${settings.launchTemplateName}'.`,
        details: [],
      });
      latestS = opts.nowS;
      continue;
    }
    if (!templateChecked) {
      templateChecked = true;
      await checkLaunchTemplate(ec2, settings.launchTemplateName, log);
    }
    const launched = await launchOne(ec2, settings, verdict, hlog, deps.clock);
    if (launched.kind === 'failed') {
      blocks.push(launched.block);
      continue;
    }
    // After a launch, latest := now, so a non-forced run launches at most one instance.
    latestS = opts.nowS;
    await (deps.journal ?? NO_JOURNAL).record({
      action: 'launch',
      reason: opts.force ? 'forced-fill' : 'empty-host',
      host: verdict.hostId,
      instance: launched.kind === 'ok' ? launched.pending.instanceId : undefined,
      name: verdict.name,
      detail: `launch template '${settings.launchTemplateName}'`,
    });
    if (launched.kind === 'no-id') blocks.push(launched.block);
    else pending.push(launched.pending);
  }

  // Wait for `running` (§3.3 c), all pending launches together.
  const launchedOk: { name: string; hostId: string; instanceId: string }[] = [];
  if (pending.length > 0) {
    const results = await waitForRunning(pending, settings, deps);
    for (const p of pending) {
      const result = results.get(p.instanceId);
      if (result?.kind === 'running') {
        const block = describeOccupant(
          p.name,
          p.hostId,
          result.instance,
          `Instance ${p.instanceId} missing from its last poll.`,
        );
        blocks.push(block);
        if (block.kind === 'entry')
          launchedOk.push({ name: p.name, hostId: p.hostId, instanceId: p.instanceId });
      } else {
        const last = result?.instance;
        blocks.push({
          kind: 'comment',
          name: p.name,
          hostId: p.hostId,
          label: 'INST ERROR',
          text: 'Running-state timeout.',
          details: [
            ...(last
              ? jsonDetails(instanceDetailObject(last))
              : textDetails(result?.lastError ?? 'no answer')),
            `Last state '${last?.state ?? 'unknown'}' after ${result?.elapsedS ?? 0}s.`,
          ],
        });
      }
    }
  }

  // Write (§3.1 step 6)
  const text = formatDhStatus(runStartS, blocks);
  const failed = batch === undefined || blocks.some(isErrorBlock);
  if (opts.dryRun) {
    out.line('Plan (dry run, nothing changed):');
    for (const p of plan) {
      out.line(
        p.kind === 'launch'
          ? `  launch ${p.name} on ${p.hostId}`
          : `  skip ${p.name || '?'}: ${p.reason}`,
      );
    }
    out.line('Would write dh_status.txt:');
    printLines(out, text);
    return {
      exitCode: failed ? 4 : 0,
      blocks,
      plan,
      launched: [],
      statusText: text,
      discoveryFailed: false,
    };
  }
  try {
    await store.writeAtomic(DH_STATUS_FILE, text);
  } catch (error) {
    log.error(
      { err: String(error), path: store.pathOf(DH_STATUS_FILE) },
      'could not write dh_status.txt',
    );
    return {
      exitCode: 4,
      blocks,
      plan,
      launched: launchedOk,
      statusText: undefined,
      discoveryFailed: false,
    };
  }
  log.info(
    { path: store.pathOf(DH_STATUS_FILE), launched: launchedOk.length, hosts: hosts.length },
    'dh_status.txt written',
  );
  return {
    exitCode: failed ? 4 : 0,
    blocks,
    plan,
    launched: launchedOk,
    statusText: text,
    discoveryFailed: false,
  };
}

async function checkLaunchTemplate(ec2: Ec2, name: string, log: Logger): Promise<void> {
  try {
    const t = await ec2.getLaunchTemplate(name);
    const shutdown = t.shutdownBehavior ?? 'stop';
    if (shutdown !== 'terminate') {
      log.warn(
        { launchTemplate: name, value: shutdown },
        "launch template's InstanceInitiatedShutdownBehavior is not 'terminate'; RunInstances overrides it",
      );
    }
    if (t.instanceMetadataTags !== 'enabled') {
      log.warn(
        { launchTemplate: name, value: t.instanceMetadataTags ?? null },
        "launch template's InstanceMetadataTags is not 'enabled'; RunInstances overrides it",
      );
    }
    if (t.httpTokens !== 'required') {
      log.warn(
        { launchTemplate: name, value: t.httpTokens ?? null },
        "launch template's HttpTokens is not 'required'; RunInstances overrides it",
      );
    }
  } catch (error) {
    log.warn({ launchTemplate: name, err: errorDetail(error) }, 'launch template lookup failed');
  }
}

type LaunchOneResult =
  | { readonly kind: 'failed'; readonly block: DhBlock }
  | { readonly kind: 'no-id'; readonly block: DhBlock }
  | { readonly kind: 'ok'; readonly pending: PendingLaunch };

async function launchOne(
  ec2: Ec2,
  settings: LaunchSettings,
  target: { readonly name: string; readonly hostId: string },
  log: Logger,
  clock: Clock,
): Promise<LaunchOneResult> {
  const { pool } = settings;
  const tags = {
    [TagKey.name]: target.name,
    [pool.purposeTagKey]: pool.purposeValue,
    [TagKey.ready]: READY_TRUE,
    [TagKey.automation]: 'true',
  };
  try {
    const result = await ec2.launchOnHost({
      hostId: target.hostId,
      launchTemplateName: settings.launchTemplateName,
      tags,
    });
    if (result.instanceId === undefined || result.instanceId === '') {
      log.error({ clientToken: result.clientToken }, 'RunInstances answered without an InstanceId');
      return {
        kind: 'no-id',
        block: {
          kind: 'comment',
          name: target.name,
          hostId: target.hostId,
          label: 'INST ERROR',
          text: 'Empty/null/failed JSON query of brand-new InstanceId',
          details: jsonDetails({ Instances: [], ClientToken: result.clientToken ?? null }),
        },
      };
    }
    const startedMs = (await clock.now()).getTime();
    log.info(
      { instanceId: result.instanceId, clientToken: result.clientToken },
      'instance launched',
    );
    return {
      kind: 'ok',
      pending: {
        ...target,
        instanceId: result.instanceId,
        startedMs,
        log: log.child({ instanceId: result.instanceId }),
      },
    };
  } catch (error) {
    log.error({ err: errorDetail(error) }, 'RunInstances failed');
    return {
      kind: 'failed',
      block: {
        kind: 'comment',
        name: target.name,
        hostId: target.hostId,
        label: 'INST ERROR',
        text: 'Failed to create new instance on available host.',
        details: textDetails(errorDetail(error)),
      },
    };
  }
}

type WaitResult =
  | { readonly kind: 'running'; readonly instance: InstanceView }
  | {
      readonly kind: 'gave-up';
      readonly instance: InstanceView | undefined;
      readonly elapsedS: number;
      readonly lastError: string | undefined;
    };

/**
 * pw-pool's own poll loop (§3.3 c): every `launchPollSeconds` on the clock port, one batched
 * DescribeInstances for all pending launches. NotFound or a missing id means "not yet"; each launch
 * waits at most `launchWaitSeconds`; `shutting-down`/`terminated` ends its wait.
 */
async function waitForRunning(
  launches: readonly PendingLaunch[],
  settings: LaunchSettings,
  deps: LaunchDeps,
): Promise<Map<string, WaitResult>> {
  const results = new Map<string, WaitResult>();
  const last = new Map<string, InstanceView>();
  let lastError: string | undefined;
  const waiting = new Map(launches.map((l) => [l.instanceId, l]));
  while (waiting.size > 0) {
    let nowMs: number;
    try {
      await deps.clock.sleep(settings.launchPollSeconds);
      nowMs = (await deps.clock.now()).getTime();
    } catch (error) {
      // Without a clock no wait can be measured: every remaining launch gives up now.
      const detail = `clock: ${(error as Error).message}`;
      deps.log.error({ err: detail }, 'the clock failed while waiting for running');
      for (const [id, launch] of waiting) {
        results.set(id, {
          kind: 'gave-up',
          instance: last.get(id),
          elapsedS: 0,
          lastError: detail,
        });
        launch.log.error({ state: last.get(id)?.state ?? null }, 'Running-state timeout');
      }
      break;
    }
    try {
      for (const view of await deps.ec2.describeInstancesById([...waiting.keys()])) {
        if (view.instanceId !== undefined) last.set(view.instanceId, view);
      }
      lastError = undefined;
    } catch (error) {
      lastError = errorDetail(error);
      const notYet = error instanceof AwsError && error.kind === 'not-found';
      deps.log[notYet ? 'debug' : 'warn']({ err: lastError }, 'polling launched instances failed');
    }
    for (const [id, launch] of waiting) {
      const view = last.get(id);
      const elapsedS = Math.floor((nowMs - launch.startedMs) / 1000);
      if (view?.state === 'running') {
        launch.log.info({ elapsedS }, 'instance running');
        results.set(id, { kind: 'running', instance: view });
        waiting.delete(id);
      } else if (
        view?.state === 'shutting-down' ||
        view?.state === 'terminated' ||
        elapsedS >= settings.launchWaitSeconds
      ) {
        launch.log.error({ state: view?.state ?? null, elapsedS }, 'Running-state timeout');
        results.set(id, { kind: 'gave-up', instance: view, elapsedS, lastError });
        waiting.delete(id);
      }
    }
  }
  return results;
}
