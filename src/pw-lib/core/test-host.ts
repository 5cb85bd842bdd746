// The test-host helper's pure decisions (behavior.md §8.2): the test id, the config overlay, which
// existing host to reuse, and the report. Takes data, returns data; no I/O.
import type { Tags } from './pool.js';
import { READY_TRUE, TagKey } from './pool.js';
import { formatUtc } from './time.js';

export const TEST_HOST_INSTANCE_TYPE = 'mac2.metal';
/** Launch attempts on the test host before giving up (§8.2 step 4). */
export const TEST_LAUNCH_ATTEMPTS = 10;
/** The test pool's state directories live in this folder of the production state directory. */
export const TEST_POOLS_DIR = 'test-pools';
export const OVERLAY_FILE = 'overlay.json';
/** EC2's minimum allocation period of a Mac dedicated host (§10). */
export const MIN_ALLOCATION_SECONDS = 24 * 60 * 60;
/** On-demand price of one mac2.metal host-hour in us-east-1, for the report (§10). */
export const HOST_HOUR_USD = '0.65';
/** The test pool's relaxed limits (§8.2 step 2). */
export const TEST_MAX_LIFETIME_SECONDS = 259_200;
export const TEST_HARD_LIFETIME_SECONDS = 518_400;
export const TEST_MAX_FINISHED_TASKS = 9999;

const SUFFIX = 'Testing';
/** purposeValue allows 63 characters (§2), so the user part keeps at most 56. */
const MAX_ID_LENGTH = 63;

export type TestIdResult =
  { readonly ok: true; readonly id: string } | { readonly ok: false; readonly problem: string };

/**
 * `<user>Testing`, `<user>` being `--user` or else `$USER` with every character outside
 * `[A-Za-z0-9]` removed. An empty user part, or an id too long for a purpose tag value, is refused.
 */
export function testIdOf(flagUser: string | undefined, envUser: string | undefined): TestIdResult {
  const source = flagUser !== undefined ? '--user' : '$USER';
  const raw = flagUser ?? envUser ?? '';
  const user = raw.replace(/[^A-Za-z0-9]/g, '');
  if (user === '') {
    return {
      ok: false,
      problem:
        raw === ''
          ? `${source} is empty or unset: the test id needs a user name (pass --user <id>)`
          : `${source} '${raw}' has no letters or digits: the test id needs some (pass --user <id>)`,
    };
  }
  const id = `${user}${SUFFIX}`;
  if (id.length > MAX_ID_LENGTH) {
    return {
      ok: false,
      problem: `test id '${id}' is longer than ${MAX_ID_LENGTH} characters (a purpose tag value); pass a shorter --user`,
    };
  }
  return { ok: true, id };
}

/** The test host's Name tag. */
export function testHostName(id: string): string {
  return `${id}-0`;
}

/** `<stateDir>/test-pools/<id>`: inside the production state directory, apart from its files. */
export function testStateDirOf(prodStateDir: string, id: string): string {
  return `${prodStateDir.replace(/\/+$/, '')}/${TEST_POOLS_DIR}/${id}`;
}

export interface TestOverlay {
  readonly namePrefix: string;
  readonly purposeValue: string;
  readonly launchTemplateName: string;
  readonly maxLifetimeSeconds: number;
  readonly hardLifetimeSeconds: number;
  readonly maxFinishedTasks: number;
  readonly stateDir: string;
  readonly cron: { readonly logFile: string };
  readonly metrics: { readonly textfilePath: string };
  readonly github: { readonly runnerGroup: string };
}

/**
 * The overlay of §8.2 step 2. Besides the listed keys it pins the three settings that derive from
 * `stateDir` or `purposeValue` — the log file, the metrics file and the runner group — so a
 * production config that sets them explicitly can never make the test pool write into production's
 * files or register its runners in production's group.
 */
export function buildTestOverlay(input: {
  readonly id: string;
  /** The production launch template, resolved before the overlay applies. */
  readonly launchTemplateName: string;
  readonly testStateDir: string;
}): TestOverlay {
  const dir = input.testStateDir;
  return {
    namePrefix: input.id,
    purposeValue: input.id,
    launchTemplateName: input.launchTemplateName,
    maxLifetimeSeconds: TEST_MAX_LIFETIME_SECONDS,
    hardLifetimeSeconds: TEST_HARD_LIFETIME_SECONDS,
    maxFinishedTasks: TEST_MAX_FINISHED_TASKS,
    stateDir: dir,
    cron: { logFile: `${dir}/Cron.log` },
    metrics: { textfilePath: `${dir}/pw-pool.prom` },
    github: { runnerGroup: input.id },
  };
}

export function formatOverlay(overlay: TestOverlay): string {
  return `${JSON.stringify(overlay, null, 2)}\n`;
}

/** JSON with object keys sorted at every level: equal values give equal strings. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export type OverlayCheck =
  | { readonly kind: 'absent' }
  | { readonly kind: 'same' }
  | { readonly kind: 'different'; readonly reason: string };

/** Compares an existing overlay file's text with the wanted overlay, as JSON values. */
export function checkExistingOverlay(
  existing: string | undefined,
  wanted: TestOverlay,
): OverlayCheck {
  if (existing === undefined) return { kind: 'absent' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(existing);
  } catch {
    return { kind: 'different', reason: 'it is not valid JSON' };
  }
  return canonical(parsed) === canonical(wanted)
    ? { kind: 'same' }
    : { kind: 'different', reason: 'its content differs from the overlay this run would write' };
}

/** The host the helper works with, in the shape EC2 reports it. */
export interface TestHostCandidate {
  readonly hostId: string | undefined;
  readonly state: string | undefined;
  readonly tags: Tags;
  readonly allocationTime?: string | undefined;
}

const RELEASED = new Set(['released', 'released-permanent-failure']);

export type TestHostDecision<H extends TestHostCandidate> =
  | { readonly kind: 'allocate' }
  | { readonly kind: 'pending'; readonly host: H }
  | { readonly kind: 'reuse'; readonly host: H };

/**
 * §8.2 step 3: reuse a host named `<id>-0` that is not released. An `available` one wins; failing
 * that, a `pending` one (scrubbing or allocating) means "retry later"; any other unreleased state
 * is reused as is (the launch attempts then report what blocks it). No such host: allocate.
 */
export function decideTestHost<H extends TestHostCandidate>(
  hosts: readonly H[],
  name: string,
): TestHostDecision<H> {
  const usable = hosts.filter(
    (h) =>
      h.tags[TagKey.name] === name &&
      h.hostId !== undefined &&
      h.hostId !== '' &&
      !RELEASED.has(h.state ?? ''),
  );
  const available = usable.find((h) => h.state === 'available');
  if (available) return { kind: 'reuse', host: available };
  const pending = usable.find((h) => h.state === 'pending');
  if (pending) return { kind: 'pending', host: pending };
  const other = usable[0];
  return other ? { kind: 'reuse', host: other } : { kind: 'allocate' };
}

/** The dedicated-host tags of §8.2 step 3. */
export function testHostTags(id: string, purposeTagKey: string): Tags {
  return {
    [TagKey.name]: testHostName(id),
    [purposeTagKey]: id,
    [TagKey.ready]: READY_TRUE,
    [TagKey.automation]: 'false',
  };
}

export function pendingHostMessage(id: string): string {
  return `Dedicated host ${testHostName(id)} is pending: host scrubbing, retry later.`;
}

export function allocationFailedMessage(id: string): string {
  return `Provisioning new dedicated host ${testHostName(id)} failed. Manual debugging & cleanup required.`;
}

export function launchFailedMessage(id: string): string {
  return `Failed to launch an instance on ${testHostName(id)}. Manual debugging & cleanup required.`;
}

export interface TestHostReport {
  readonly id: string;
  readonly overlayPath: string;
  readonly testStateDir: string;
  readonly hostId: string;
  readonly instanceId: string;
  readonly region: string;
  /** The host's AllocationTime, epoch seconds. */
  readonly allocationTimeS: number;
}

/** §8.2 step 5: what to run next, how CI targets the pool, and the manual clean-up. */
export function formatTestHostReport(r: TestHostReport): string[] {
  const name = testHostName(r.id);
  const p = r.overlayPath;
  const aws = `aws ec2 --region ${r.region}`;
  return [
    `Test pool ${r.id}: instance ${r.instanceId} launched on dedicated host ${name} (${r.hostId}).`,
    `Config overlay: ${p}`,
    '',
    `Next (setup is not run by this helper): repeat setup-instances until the ${name} line of pw_status.txt reads 'complete alive' (20+ min), then log in:`,
    `  pw-pool --overlay ${p} setup-instances`,
    `  pw-pool --overlay ${p} ssh ${name}`,
    '',
    'Target CI at the test pool:',
    `  Cirrus CI: label 'purpose: ${r.id}'`,
    `  GitHub Actions: runs-on: { group: ${r.id} }`,
    '',
    `Clean-up, by hand (the host bills about $${HOST_HOUR_USD}/h until it is released):`,
    `  1. Terminate the instance and wait until it is 'terminated':`,
    `       ${aws} terminate-instances --instance-ids ${r.instanceId}`,
    `       ${aws} wait instance-terminated --instance-ids ${r.instanceId}`,
    `  2. Release the host after its 24 h minimum allocation, not before ${formatUtc(r.allocationTimeS + MIN_ALLOCATION_SECONDS)}:`,
    `       ${aws} release-hosts --host-ids ${r.hostId}`,
    `  3. github-actions only: delete the runner groups ${r.id} and ${r.id}-draining.`,
    `     Finally remove the test state directory: rm -r '${r.testStateDir}'`,
  ];
}
