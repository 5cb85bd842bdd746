// The interfaces between the use cases (app/) and the outside world (adapters/, src/sim).
// Ports speak the domain; no SDK type crosses them.
import type { PoolId, Tags } from './core/pool.js';

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
}

/** The pool lock (§5.1). */
export interface PoolLock {
  /** Waits up to the configured time; throws `LockBusyError` when it cannot be taken. */
  acquire(): Promise<LockHandle>;
}
export interface LockHandle {
  release(): Promise<void>;
}

/** Result lines and compatibility lines go to stdout through this. */
export interface Output {
  line(text: string): void;
}
