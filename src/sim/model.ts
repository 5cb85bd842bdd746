// Vocabulary of the simulated cloud: states, timings and the read-only views the world hands out.
// The world keeps its own mutable records; callers only ever see these snapshots.

export const HOST_STATES = [
  'available',
  'pending',
  'under-assessment',
  'permanent-failure',
  'released',
  'released-permanent-failure',
] as const;
export type HostState = (typeof HOST_STATES)[number];

export const INSTANCE_STATES = [
  'pending',
  'running',
  'shutting-down',
  'terminated',
  'stopping',
  'stopped',
] as const;
export type InstanceState = (typeof INSTANCE_STATES)[number];

/** EC2's numeric instance state codes (the low byte of InstanceState.Code). */
export const INSTANCE_STATE_CODES: Readonly<Record<InstanceState, number>> = {
  pending: 0,
  running: 16,
  'shutting-down': 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

export type ShutdownBehavior = 'stop' | 'terminate';

/** The AMI of the default launch templates (and of scripted templates that name none). */
export const DEFAULT_MAC_AMI = 'ami-0a1b2c3d4e5f60001';

/** Every duration the model uses, in virtual seconds. */
export interface SimTimings {
  /** RunInstances → `running`. */
  instancePendingS: number;
  /** TerminateInstances (or an instance-initiated terminate) → `terminated`. */
  instanceShuttingDownS: number;
  /** StopInstances → `stopped`. */
  instanceStoppingS: number;
  /** How long a `terminated` instance stays visible to Describe. */
  terminatedVisibleS: number;
  /** After a terminate: capacity 0 with no instance listed, before the host goes `pending`. */
  hostHandOffS: number;
  /** The scrub after an occupant terminates or stops: `pending` → `available`. */
  hostScrubS: number;
  /** AllocateHosts: `pending` → `available`. */
  hostAllocationS: number;
  /** How long a released host stays listed by DescribeHosts. */
  releasedHostVisibleS: number;
  /** Minimum allocation period before ReleaseHosts may release a Mac host. */
  hostMinAllocationS: number;
  /** SSH becomes reachable this long after `running`: uniform in [min, max] from the seeded RNG. */
  bootMinS: number;
  bootMaxS: number;
}

export const DEFAULT_TIMINGS: Readonly<SimTimings> = Object.freeze({
  instancePendingS: 60,
  instanceShuttingDownS: 120,
  instanceStoppingS: 15 * 60,
  terminatedVisibleS: 60 * 60,
  hostHandOffS: 30,
  hostScrubS: 110 * 60,
  hostAllocationS: 5,
  releasedHostVisibleS: 60 * 60,
  hostMinAllocationS: 24 * 60 * 60,
  bootMinS: 5 * 60,
  bootMaxS: 20 * 60,
});

export type TagMap = Readonly<Record<string, string>>;

export interface Tag {
  key: string;
  value: string;
}

export interface HostView {
  hostId: string;
  /** The Name tag, if any. */
  name: string | undefined;
  state: HostState;
  instanceType: string;
  availabilityZone: string;
  allocationTime: Date;
  releaseTime: Date | undefined;
  autoPlacement: 'on' | 'off';
  hostRecovery: 'on' | 'off';
  hostMaintenance: 'on' | 'off';
  clientToken: string | undefined;
  tags: TagMap;
  /** Instances listed in Instances[]: the occupant from `pending` until `terminated`. */
  instanceIds: readonly string[];
  /** AvailableInstanceCapacity for the host's instance type. */
  availableCapacity: number;
  totalCapacity: number;
  /** True during the post-terminate hand-off (capacity 0, no instance listed). */
  inHandOff: boolean;
  /** Set when a scripted capacity replaces the computed one. */
  capacityOverride: number | undefined;
  /** The next automatic transition, if one is scheduled. */
  next: { at: Date; to: HostState | 'scrub' | 'gone' } | undefined;
}

export interface MetadataOptions {
  httpTokens: 'optional' | 'required';
  httpEndpoint: 'enabled' | 'disabled';
  httpPutResponseHopLimit: number;
  instanceMetadataTags: 'enabled' | 'disabled';
}

export interface InstanceView {
  instanceId: string;
  reservationId: string;
  /** The Name tag, if any. */
  name: string | undefined;
  state: InstanceState;
  stateCode: number;
  hostId: string;
  availabilityZone: string;
  instanceType: string;
  imageId: string;
  launchTime: Date;
  tags: TagMap;
  /** Empty unless the instance is running (or stopping / shutting-down, as on EC2). */
  publicDnsName: string;
  publicIpAddress: string | undefined;
  /** The loopback address reserved for this instance for its whole life (127.0.x.y). */
  address: string;
  privateIpAddress: string;
  privateDnsName: string;
  stateTransitionReason: string;
  stateReason: { code: string; message: string } | undefined;
  shutdownBehavior: ShutdownBehavior;
  metadataOptions: MetadataOptions;
  clientToken: string | undefined;
  keyName: string | undefined;
  launchTemplate: { id: string; name: string; version: string } | undefined;
  /** When SSH on the simulated Mac becomes reachable; set when the instance reaches `running`. */
  sshReadyAt: Date | undefined;
  next: { at: Date; to: InstanceState | 'gone' } | undefined;
}

export interface LaunchTemplateData {
  imageId?: string | undefined;
  instanceType?: string | undefined;
  keyName?: string | undefined;
  /** Base64, as EC2 stores and returns it. */
  userData?: string | undefined;
  /** Absent means EC2's default, `stop`. */
  instanceInitiatedShutdownBehavior?: ShutdownBehavior | undefined;
  metadataOptions?: { [K in keyof MetadataOptions]?: MetadataOptions[K] | undefined } | undefined;
  tagSpecifications?: { resourceType: string; tags: TagMap }[] | undefined;
}

export interface LaunchTemplateVersionView {
  versionNumber: number;
  description: string | undefined;
  createTime: Date;
  isDefault: boolean;
  data: LaunchTemplateData;
}

export interface LaunchTemplateView {
  launchTemplateId: string;
  launchTemplateName: string;
  createTime: Date;
  createdBy: string;
  defaultVersionNumber: number;
  latestVersionNumber: number;
  tags: TagMap;
  versions: readonly LaunchTemplateVersionView[];
}

/** Emitted after each change, once the world is consistent again (see SimWorld.subscribe). */
export type SimEvent =
  | {
      type: 'instance-state';
      at: Date;
      instance: InstanceView;
      previous: InstanceState | undefined;
    }
  | { type: 'instance-removed'; at: Date; instanceId: string }
  | { type: 'host-state'; at: Date; host: HostView; previous: HostState | undefined }
  | { type: 'host-removed'; at: Date; hostId: string }
  | { type: 'tags-changed'; at: Date; resourceId: string; tags: TagMap };
