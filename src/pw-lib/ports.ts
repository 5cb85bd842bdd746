// The interfaces between the use cases (app/) and the outside world (adapters/, src/sim).
// Ports speak the domain; no SDK type crosses them.
import type { Logger } from 'pino';
import type { AgentKind, AgentPatterns } from './agents/types.js';
import type { PoolId, Tags } from './core/pool.js';
import type { ProbeFacts } from './core/probe.js';

/** A dedicated host as the pool sees it. Fields EC2 may omit stay optional (rows D1, S1). */
export interface HostView {
  readonly hostId: string | undefined;
  readonly state: string | undefined;
  readonly tags: Tags;
  /** EC2's `Instances[]` list: the occupant from `pending` until `terminated`. */
  readonly instanceIds: readonly string[];
  /** `AvailableInstanceCapacity` for mac2.metal; undefined when EC2 did not say. */
  readonly macCapacity: number | undefined;
  readonly availabilityZone?: string | undefined;
  readonly allocationTime?: string | undefined;
}

/** An instance as the pool sees it. `launchTime` is EC2's value as ISO-8601, or undefined. */
export interface InstanceView {
  readonly instanceId: string | undefined;
  readonly state: string | undefined;
  readonly launchTime: string | undefined;
  readonly hostId: string | undefined;
  readonly publicDnsName: string | undefined;
  readonly tags: Tags;
  readonly stateTransitionReason?: string | undefined;
}

export interface LaunchTemplateSettings {
  readonly name: string;
  readonly version: string | undefined;
  /** Absent in the template data means `stop` (§3.3 a). */
  readonly shutdownBehavior: string | undefined;
  readonly httpTokens: string | undefined;
  readonly instanceMetadataTags: string | undefined;
  readonly hasUserData: boolean;
  /** The user data decoded from base64 (UTF-8); undefined when the template has none. */
  readonly userDataText: string | undefined;
}

export interface LaunchRequest {
  readonly hostId: string;
  readonly launchTemplateName: string;
  readonly tags: Tags;
}

export interface LaunchResult {
  readonly instanceId: string | undefined;
  /** The SDK-generated idempotency token, for the log. */
  readonly clientToken: string | undefined;
}

/** A dedicated host for the test-host helper (§8.2): quantity 1, every automatic setting off. */
export interface AllocateHostRequest {
  readonly availabilityZone: string;
  readonly instanceType: string;
  readonly tags: Tags;
}

/** EC2 as the pool needs it. Implementations throw `AwsError` (errors.ts). */
export interface Ec2 {
  /** Region resolved once for this run. */
  readonly region: string;
  /** Hosts tagged `Name=<prefix>-*` and `<purposeKey>=<value>`, every page (§3.1 step 2). */
  listPoolHosts(pool: PoolId): Promise<HostView[]>;
  /** Every non-terminated instance on the given hosts, in one paginated batch (§3.1 step 3). */
  listInstancesOnHosts(hostIds: readonly string[]): Promise<InstanceView[]>;
  /** Instances by id through the `instance-id` filter (never `InstanceIds`), every state. */
  describeInstancesById(instanceIds: readonly string[]): Promise<InstanceView[]>;
  /** The `$Default` version of a launch template. */
  getLaunchTemplate(name: string): Promise<LaunchTemplateSettings>;
  /** One RunInstances on a dedicated host (§3.3 b). */
  launchOnHost(request: LaunchRequest): Promise<LaunchResult>;
  /** Hosts whose Name tag equals `name` exactly, in every state, every page (§8.2 step 3). */
  findHostsByName(name: string): Promise<HostView[]>;
  /** One AllocateHosts for a single Mac host, auto-placement/recovery/maintenance off (§8.2). */
  allocateHost(request: AllocateHostRequest): Promise<string>;
  /** Pool instances by tag (`Name=<prefix>-*`, purpose) in the given states, every page (§4.6). */
  listPoolInstances(pool: PoolId, states: readonly string[]): Promise<InstanceView[]>;
  /** CreateTags on one resource (instance or host). */
  setTags(resourceId: string, tags: Tags): Promise<void>;
  /** TerminateInstances for one instance. */
  terminateInstance(instanceId: string): Promise<void>;
}

/** The clock port: the system clock or the simulated cloud's virtual clock. */
export interface Clock {
  now(): Promise<Date>;
  /** Waits `seconds` of this clock's time. */
  sleep(seconds: number): Promise<void>;
}

/** The state directory: fixed file names, atomic replacement with a `~` backup (§3.4). */
export interface StateStore {
  readonly dir: string;
  pathOf(name: string): string;
  /** The file's text, or undefined when it does not exist. */
  read(name: string): Promise<string | undefined>;
  writeAtomic(name: string, content: string): Promise<void>;
  /** The file's modification time (epoch seconds), or undefined when it does not exist. */
  stat(name: string): Promise<{ readonly mtimeS: number } | undefined>;
}

/** The pool lock (§5.1). */
export interface PoolLock {
  /** Waits up to the configured time; throws `LockBusyError` when it cannot be taken. */
  acquire(): Promise<LockHandle>;
}
export interface LockHandle {
  release(): Promise<void>;
}

/** What a mutating action did to the pool (behavior.md §5.5). */
export type AuditAction = 'launch' | 'terminate' | 'tag' | 'runner-delete' | 'allocate-host';

/** One mutating action: a line of `audit.jsonl` and one step of `pwpool_actions_total`. */
export interface AuditEvent {
  readonly action: AuditAction;
  /** Why, as a short stable key (`empty-host`, `hard-lifetime`, `max-tasks`, `set-ready` …). */
  readonly reason: string;
  /** The dedicated host id, when known. */
  readonly host?: string | undefined;
  readonly instance?: string | undefined;
  /** The pool name (`MacM1-3`), when known. */
  readonly name?: string | undefined;
  /** Free text for a person (the status-file comment, the tag set); never a secret. */
  readonly detail?: string | undefined;
}

/** The audit trail and action counters. Recording never throws: an unwritable audit log is logged. */
export interface Journal {
  record(event: AuditEvent): Promise<void>;
}

/** Records nothing: dry runs (§5.5) and callers without an audit trail. */
export const NO_JOURNAL: Journal = { record: () => Promise.resolve() };

/** Result lines and compatibility lines go to stdout through this. */
export interface Output {
  line(text: string): void;
}

/** An instance to reach over SSH; the instance id is the host-key alias. */
export interface RemoteTarget {
  readonly instanceId: string;
  readonly name: string;
  readonly host: string;
}

/**
 * How a remote operation failed: `tcp` (port not reachable), `ssh` (handshake, host key or auth),
 * `lost` (transport error, timeout, incomplete reply: every fact unknown), `refused` (the remote side
 * refused: exit 3), `failed` (the remote side failed otherwise).
 */
export type RemoteFailure = 'tcp' | 'ssh' | 'lost' | 'refused' | 'failed';

export class RemoteError extends Error {
  constructor(
    readonly kind: RemoteFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RemoteError';
  }
}

export interface ProbeRequest {
  readonly kind: AgentKind;
  readonly name: string;
  readonly patterns: AgentPatterns;
}

export interface SetupRequest {
  readonly kind: AgentKind;
  readonly name: string;
  /** setup.sh's `key=value` arguments (no secret). */
  readonly args: readonly string[];
}

export interface TimerOutcome {
  readonly started: boolean;
  readonly deadlineS: number | undefined;
}

export interface MaintenanceRequest extends ProbeRequest {
  readonly drainSeconds: number;
}

export interface MaintenanceOutcome {
  readonly drain: 'waiting' | 'done' | 'none';
  readonly drainStartedS: number | undefined;
}

export interface ForceStopRequest extends ProbeRequest {
  readonly message: string;
}

/** The remote side of one instance for one run: one connection, reused for every operation. */
export interface RemoteSession {
  probe(req: ProbeRequest): Promise<ProbeFacts>;
  uploadScripts(): Promise<void>;
  installScripts(): Promise<void>;
  startTimer(seconds: number, drainSeconds: number, jobPattern: string): Promise<TimerOutcome>;
  /** The secret goes to the channel's stdin only. */
  startSetup(req: SetupRequest, secret: string): Promise<void>;
  maintenance(req: MaintenanceRequest): Promise<MaintenanceOutcome>;
  forceStop(req: ForceStopRequest): Promise<void>;
  close(): Promise<void>;
}

export interface Remote {
  /** Throws RemoteError `tcp` or `ssh`. */
  connect(target: RemoteTarget, log: Logger): Promise<RemoteSession>;
}

/** A self-hosted runner as GitHub reports it (organization scope). */
export interface GitHubRunner {
  readonly id: number;
  readonly name: string;
  readonly status: 'online' | 'offline';
  readonly busy: boolean;
  readonly labels: readonly string[];
}

/** An organization runner group. */
export interface RunnerGroup {
  readonly id: number;
  readonly name: string;
  readonly visibility: 'all' | 'selected' | 'private';
  readonly allowsPublicRepositories: boolean;
  readonly isDefault: boolean;
}

/** A registration token for `config.sh` (valid one hour). A secret: never logged. */
export interface RegistrationToken {
  readonly token: string;
  /** ISO-8601. */
  readonly expiresAt: string;
}

/**
 * GitHub Actions as the github-actions agent needs it, for one organization. Implementations
 * throw `GitHubError` (errors.ts) and read every page.
 */
export interface GitHubRunners {
  listRunners(): Promise<GitHubRunner[]>;
  /** The runners of one name (`GET …/runners?name=`). */
  runnersNamed(name: string): Promise<GitHubRunner[]>;
  listRunnerGroups(): Promise<RunnerGroup[]>;
  /** The group by name, created when missing (idempotent); `created` says which. */
  ensureRunnerGroup(
    name: string,
    opts: {
      readonly visibility: RunnerGroup['visibility'];
      readonly allowsPublicRepositories: boolean;
    },
  ): Promise<RunnerGroup & { readonly created: boolean }>;
  listGroupRunners(groupId: number): Promise<GitHubRunner[]>;
  /** Moves a runner into a group (a runner is in exactly one group). */
  moveRunnerToGroup(groupId: number, runnerId: number): Promise<void>;
  deleteRunner(runnerId: number): Promise<void>;
  createRegistrationToken(): Promise<RegistrationToken>;
  /** The newest actions/runner release: `x.y.z` and the osx-arm64 tarball's SHA-256 when published. */
  latestRunnerRelease(): Promise<{
    readonly version: string;
    readonly osxArm64Sha256: string | undefined;
  }>;
}
