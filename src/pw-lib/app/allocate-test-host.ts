// The allocate-test-host use case (behavior.md §8.2): write the test pool's overlay, reuse or
// allocate its dedicated host, launch onto it with launch-instances --force (up to 10 attempts on
// the clock port), and print the report. Decisions and texts come from core/test-host.ts.
import type { Logger } from 'pino';
import { parseIsoStrict } from '../core/time.js';
import type { TestOverlay } from '../core/test-host.js';
import {
  OVERLAY_FILE,
  TEST_HOST_INSTANCE_TYPE,
  TEST_LAUNCH_ATTEMPTS,
  allocationFailedMessage,
  checkExistingOverlay,
  decideTestHost,
  formatOverlay,
  formatTestHostReport,
  launchFailedMessage,
  pendingHostMessage,
  testHostName,
  testHostTags,
} from '../core/test-host.js';
import { AwsError, PreconditionError } from '../errors.js';
import type { Clock, Ec2, HostView, Journal, Output, StateStore } from '../ports.js';

export interface AllocateTestHostSettings {
  readonly id: string;
  readonly purposeTagKey: string;
  readonly availabilityZone: string;
  readonly retrySeconds: number;
  readonly overlay: TestOverlay;
}

/** What one in-process launch-instances --force run of the test pool found for the test host. */
export interface TestLaunchAttempt {
  readonly exitCode: number;
  /** The dh_status entry of `<id>-0` this run wrote, if any. */
  readonly instanceId: string | undefined;
}

export interface AllocateTestHostDeps {
  readonly ec2: Ec2;
  /** Waits between attempts run on this clock. */
  readonly clock: Clock;
  /** The test pool's state directory (overlay.json lives there). */
  readonly testStore: StateStore;
  readonly out: Output;
  readonly log: Logger;
  /** The test pool's audit trail. */
  readonly journal: Journal;
  /** Runs launch-instances --force for the test pool in process (the overlay is on disk by then). */
  readonly launch: () => Promise<TestLaunchAttempt>;
}

export interface AllocateTestHostOptions {
  readonly dryRun: boolean;
}

export interface AllocateTestHostOutcome {
  readonly exitCode: 0 | 4;
  readonly hostId: string | undefined;
  readonly instanceId: string | undefined;
  readonly allocated: boolean;
  readonly attempts: number;
}

function fail(
  out: Output,
  message: string,
  extra: Partial<AllocateTestHostOutcome> = {},
): AllocateTestHostOutcome {
  out.line(message);
  return {
    exitCode: 4,
    hostId: undefined,
    instanceId: undefined,
    allocated: false,
    attempts: 0,
    ...extra,
  };
}

export async function allocateTestHost(
  settings: AllocateTestHostSettings,
  deps: AllocateTestHostDeps,
  opts: AllocateTestHostOptions,
): Promise<AllocateTestHostOutcome> {
  const { id } = settings;
  const { ec2, out, log } = deps;
  const name = testHostName(id);
  const overlayPath = deps.testStore.pathOf(OVERLAY_FILE);

  // Step 2: the overlay; a different one already there is refused before anything changes.
  const check = checkExistingOverlay(await deps.testStore.read(OVERLAY_FILE), settings.overlay);
  if (check.kind === 'different') {
    throw new PreconditionError(
      `${overlayPath} already exists and ${check.reason}; remove it (or pass another --user) to start a new test pool`,
    );
  }
  const overlayText = formatOverlay(settings.overlay);
  if (opts.dryRun) {
    out.line(
      check.kind === 'same'
        ? `Would keep the config overlay ${overlayPath}:`
        : `Would write the config overlay ${overlayPath}:`,
    );
    for (const line of overlayText.trimEnd().split('\n')) out.line(`  ${line}`);
  } else if (check.kind === 'absent') {
    await deps.testStore.writeAtomic(OVERLAY_FILE, overlayText);
    log.info({ overlay: overlayPath }, 'test pool overlay written');
  }

  // Step 3: reuse or allocate the host.
  let host: HostView | undefined;
  let allocated = false;
  try {
    const decision = decideTestHost(await ec2.findHostsByName(name), name);
    if (decision.kind === 'pending') return fail(out, pendingHostMessage(id));
    if (decision.kind === 'reuse') {
      host = decision.host;
      log.info({ hostId: host.hostId, state: host.state }, 'reusing the test host');
      if (opts.dryRun)
        out.line(`Would reuse dedicated host ${name} (${host.hostId}, ${host.state}).`);
    }
  } catch (error) {
    if (!(error instanceof AwsError)) throw error;
    log.error({ err: error.detail }, 'looking up the test host failed');
    out.line(`Could not look up dedicated host ${name}: ${error.detail}`);
    return fail(out, allocationFailedMessage(id));
  }
  if (opts.dryRun) {
    if (host === undefined) {
      out.line(
        `Would allocate dedicated host ${name} (${TEST_HOST_INSTANCE_TYPE}, ${settings.availabilityZone}, auto-placement, host recovery and host maintenance off).`,
      );
    }
    out.line(
      `Would run launch-instances --force for pool ${id} up to ${TEST_LAUNCH_ATTEMPTS} times, ${settings.retrySeconds}s apart.`,
    );
    return {
      exitCode: 0,
      hostId: host?.hostId,
      instanceId: undefined,
      allocated: false,
      attempts: 0,
    };
  }
  let hostId = host?.hostId;
  let allocationTimeS = parseIsoStrict(host?.allocationTime);
  if (hostId === undefined) {
    const tags = testHostTags(id, settings.purposeTagKey);
    try {
      const requestedS = Math.floor((await deps.clock.now()).getTime() / 1000);
      hostId = await ec2.allocateHost({
        availabilityZone: settings.availabilityZone,
        instanceType: TEST_HOST_INSTANCE_TYPE,
        tags,
      });
      allocated = true;
      allocationTimeS = requestedS;
    } catch (error) {
      if (!(error instanceof AwsError)) throw error;
      log.error({ err: error.detail }, 'AllocateHosts failed');
      out.line(`AllocateHosts: ${error.detail}`);
      return fail(out, allocationFailedMessage(id));
    }
    log.info({ hostId, availabilityZone: settings.availabilityZone }, 'test host allocated');
    await deps.journal.record({
      action: 'allocate-host',
      reason: 'test-host',
      host: hostId,
      name,
      detail: `${TEST_HOST_INSTANCE_TYPE} in ${settings.availabilityZone}`,
    });
  }

  // Step 4: up to 10 forced launch runs until dh_status has an entry for the host.
  let instanceId: string | undefined;
  let attempts = 0;
  while (attempts < TEST_LAUNCH_ATTEMPTS && instanceId === undefined) {
    if (attempts > 0) await deps.clock.sleep(settings.retrySeconds);
    attempts += 1;
    const attempt = await deps.launch();
    instanceId = attempt.instanceId;
    log.info({ attempt: attempts, exitCode: attempt.exitCode, instanceId }, 'test launch attempt');
  }
  if (instanceId === undefined) {
    return fail(out, launchFailedMessage(id), { hostId, allocated, attempts });
  }

  // Step 5: the report; AllocationTime from EC2 when it says, else the allocation request's time.
  try {
    const again = (await ec2.findHostsByName(name)).find((h) => h.hostId === hostId);
    allocationTimeS = parseIsoStrict(again?.allocationTime) ?? allocationTimeS;
  } catch (error) {
    if (!(error instanceof AwsError)) throw error;
    log.warn({ err: error.detail }, 'could not read the test host allocation time');
  }
  if (allocationTimeS === undefined) {
    allocationTimeS = Math.floor((await deps.clock.now()).getTime() / 1000);
  }
  for (const line of formatTestHostReport({
    id,
    overlayPath,
    testStateDir: deps.testStore.dir,
    hostId,
    instanceId,
    region: ec2.region,
    allocationTimeS,
  })) {
    out.line(line);
  }
  return { exitCode: 0, hostId, instanceId, allocated, attempts };
}
