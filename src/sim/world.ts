// The EC2-Mac world model: dedicated hosts, mac2.metal instances and launch templates in virtual
// time. Pure model: no HTTP, no real timers. Every public method first applies all transitions
// that are due at the clock's current virtual time (in time order, each at its own instant), so
// `clock.advance(7200)` followed by any read walks correctly through several transitions.
//
// EC2 operations throw Ec2ApiError (the facade turns it into EC2 error XML); scripting methods
// (the simulator's own control surface) throw SimScriptError.

import type { VirtualClock } from './clock.js';
import {
  Ec2ApiError,
  hostIdNotFound,
  idempotentParameterMismatch,
  insufficientCapacityOnHost,
  instanceIdsNotFound,
  invalidParameterValue,
  launchTemplateIdNotFound,
  launchTemplateNameNotFound,
  malformedHostId,
  malformedInstanceId,
  missingParameter,
} from './ec2-error.js';
import {
  DEFAULT_TIMINGS,
  HOST_STATES,
  INSTANCE_STATES,
  INSTANCE_STATE_CODES,
  type HostState,
  type HostView,
  type InstanceState,
  type InstanceView,
  type LaunchTemplateData,
  type LaunchTemplateView,
  type MetadataOptions,
  type ShutdownBehavior,
  type SimEvent,
  type SimTimings,
  type Tag,
  type TagMap,
} from './model.js';
import { SeededRandom } from './random.js';
import {
  checkTaggableType,
  checkTags,
  checkTimings,
  mergeMetadataOptions,
  normalizeTemplateData,
  parseOnOff,
  parseShutdownBehavior,
} from './validation.js';

export const HOST_ID_PATTERN = /^h-[0-9a-f]{8,17}$/;
export const INSTANCE_ID_PATTERN = /^i-[0-9a-f]{8,17}$/;
const MAX_TAGS_PER_RESOURCE = 50;

/** A scripting request the world cannot honour (unknown host, bad state name, ...). */
export class SimScriptError extends Error {
  readonly status: 400 | 404 | 409;
  constructor(message: string, status: 400 | 404 | 409 = 400) {
    super(message);
    this.name = 'SimScriptError';
    this.status = status;
  }
}

export interface SimWorldOptions {
  clock: VirtualClock;
  timings?: Partial<SimTimings> | undefined;
  /** Seed of every random choice (ids, boot delays, request ids). Default 1. */
  seed?: number | undefined;
  region?: string | undefined;
  ownerId?: string | undefined;
  /** On-Demand price of one host-hour, for costUsd(). Default 0.65 (mac2.metal, us-east-1). */
  hostHourlyPriceUsd?: number | undefined;
  /** Called when an event listener throws; default: process.emitWarning. */
  onListenerError?: (error: unknown, event: SimEvent) => void | undefined;
}

export interface AddHostSpec {
  /** Sets the Name tag (overrides tags.Name). */
  name?: string | undefined;
  tags?: Record<string, string> | undefined;
  state?: HostState | undefined;
  availabilityZone?: string | undefined;
  instanceType?: string | undefined;
  /** Default: now. */
  allocationTime?: Date | undefined;
  /** An explicit id (h- + 8..17 hex); default: a fresh random one. */
  hostId?: string | undefined;
}

export interface HostPatch {
  /** Enter this state now; the model then continues from it (pending → available after the scrub,
   *  released → gone after releasedHostVisibleS) unless `hold` is set. */
  state?: HostState | undefined;
  hold?: boolean | undefined;
  tags?: Record<string, string> | undefined;
  removeTags?: string[] | undefined;
  /** Replaces the computed AvailableInstanceCapacity; null returns to the computed value. */
  availableCapacity?: number | null | undefined;
}

export interface InstancePatch {
  /** Enter this state now, with the same consequences as the natural transition (a `terminated`
   *  instance frees its host, which then hands off and scrubs); the model continues from it
   *  unless `hold` is set. */
  state?: InstanceState | undefined;
  hold?: boolean | undefined;
  tags?: Record<string, string> | undefined;
  removeTags?: string[] | undefined;
  sshReadyAt?: Date | null | undefined;
}

export interface LaunchTemplateSpec {
  name: string;
  /** imageId defaults to DEFAULT_MAC_AMI when the key is absent. */
  data?: LaunchTemplateData | undefined;
  description?: string | undefined;
  tags?: Record<string, string> | undefined;
}

export interface LaunchTemplateRef {
  id?: string | undefined;
  name?: string | undefined;
  /** `$Default` (default), `$Latest` or a version number. */
  version?: string | undefined;
}

export interface RunInstancesInput {
  minCount: number;
  maxCount: number;
  launchTemplate?: LaunchTemplateRef | undefined;
  imageId?: string | undefined;
  instanceType?: string | undefined;
  keyName?: string | undefined;
  hostId?: string | undefined;
  tenancy?: string | undefined;
  tagSpecifications?: { resourceType: string; tags: Tag[] }[] | undefined;
  instanceInitiatedShutdownBehavior?: string | undefined;
  metadataOptions?: { [K in keyof MetadataOptions]?: string | undefined } | undefined;
  clientToken?: string | undefined;
  /** Canonical form of every other parameter: a reused ClientToken with a different request is
   *  IdempotentParameterMismatch. */
  fingerprint?: string | undefined;
}

export interface RunInstancesHooks {
  /** Fault injection: return true to fail this launch onto `host` with InsufficientCapacityOnHost. */
  injectCapacityFailure?: (host: HostView) => boolean;
}

export interface RunInstancesOutput {
  reservationId: string;
  ownerId: string;
  instances: InstanceView[];
}

export interface InstanceStateChange {
  instanceId: string;
  previous: InstanceState;
  current: InstanceState;
}

export interface AllocateHostsInput {
  availabilityZone?: string | undefined;
  instanceType?: string | undefined;
  instanceFamily?: string | undefined;
  quantity?: number | undefined;
  autoPlacement?: string | undefined;
  hostRecovery?: string | undefined;
  hostMaintenance?: string | undefined;
  tagSpecifications?: { resourceType: string; tags: Tag[] }[] | undefined;
  clientToken?: string | undefined;
  fingerprint?: string | undefined;
}

export interface AllocateHostsHooks {
  /** Fault injection: return true to fail with InsufficientHostCapacity. */
  injectCapacityFailure?: () => boolean;
}

export interface ReleaseHostsOutput {
  successful: string[];
  unsuccessful: { resourceId: string; code: string; message: string }[];
}

interface Transition<T> {
  atMs: number;
  seq: number;
  to: T;
}

type HostStep = 'scrub' | 'available' | 'gone';

interface HostRecord {
  hostId: string;
  state: HostState;
  instanceType: string;
  availabilityZone: string;
  allocationTimeMs: number;
  releaseTimeMs: number | undefined;
  autoPlacement: 'on' | 'off';
  hostRecovery: 'on' | 'off';
  hostMaintenance: 'on' | 'off';
  clientToken: string | undefined;
  tags: Map<string, string>;
  occupantId: string | undefined;
  handOff: boolean;
  capacityOverride: number | undefined;
  next: Transition<HostStep> | undefined;
}

interface InstanceRecord {
  instanceId: string;
  reservationId: string;
  state: InstanceState;
  hostId: string;
  availabilityZone: string;
  instanceType: string;
  imageId: string;
  launchTimeMs: number;
  tags: Map<string, string>;
  address: string;
  privateIpAddress: string;
  stateTransitionReason: string;
  stateReason: { code: string; message: string } | undefined;
  shutdownBehavior: ShutdownBehavior;
  metadataOptions: MetadataOptions;
  clientToken: string | undefined;
  keyName: string | undefined;
  launchTemplate: { id: string; name: string; version: string } | undefined;
  sshReadyAtMs: number | undefined;
  next: Transition<InstanceState | 'gone'> | undefined;
}

interface LaunchSettings {
  imageId: string;
  instanceType: string;
  keyName: string | undefined;
  shutdownBehavior: ShutdownBehavior;
  metadataOptions: MetadataOptions;
  tags: Map<string, string>;
  launchTemplate: InstanceRecord['launchTemplate'];
}

interface LaunchTemplateRecord {
  id: string;
  name: string;
  createTimeMs: number;
  defaultVersion: number;
  tags: Map<string, string>;
  versions: {
    versionNumber: number;
    createTimeMs: number;
    description: string | undefined;
    data: LaunchTemplateData;
  }[];
}

type Listener = (event: SimEvent) => void;

/** Something scheduled with SimWorld.schedule: runs once, in time order with the world's transitions. */
interface ScheduledAction {
  atMs: number;
  seq: number;
  run: (nowMs: number) => void;
  cancelled: boolean;
}

export class SimWorld {
  readonly clock: VirtualClock;
  readonly region: string;
  readonly ownerId: string;
  readonly hostHourlyPriceUsd: number;
  /** Virtual instant the world was created: hosts allocated earlier are billed from here. */
  readonly startedAt: Date;

  readonly #random: SeededRandom;
  readonly #hosts = new Map<string, HostRecord>();
  readonly #instances = new Map<string, InstanceRecord>();
  readonly #templates = new Map<string, LaunchTemplateRecord>();
  readonly #usedIds = new Set<string>();
  readonly #runTokens = new Map<
    string,
    { fingerprint: string; reservationId: string; instanceIds: string[] }
  >();
  readonly #allocateTokens = new Map<string, { fingerprint: string; hostIds: string[] }>();
  readonly #listeners = new Set<Listener>();
  readonly #scheduleListeners = new Set<() => void>();
  /** Min-heap of scheduled actions by (atMs, seq); cancelled ones are dropped lazily. */
  readonly #actions: ScheduledAction[] = [];
  #timings: Readonly<SimTimings>;
  readonly #onListenerError: (error: unknown, event: SimEvent) => void;
  #pendingEvents: SimEvent[] = [];
  #flushing = false;
  #processing = false;
  #seq = 0;
  #nowMs: number;
  #nextAddress = 0;
  #billedMsOfRemovedHosts = 0;

  constructor(options: SimWorldOptions) {
    this.clock = options.clock;
    this.#timings = Object.freeze(checkTimings({ ...DEFAULT_TIMINGS, ...options.timings }));
    this.region = options.region ?? 'us-east-1';
    this.ownerId = options.ownerId ?? '123456789012';
    this.hostHourlyPriceUsd = options.hostHourlyPriceUsd ?? 0.65;
    this.#random = new SeededRandom(options.seed ?? 1);
    this.#onListenerError =
      options.onListenerError ??
      ((error) => process.emitWarning(`simulated cloud: event listener failed: ${String(error)}`));
    this.#nowMs = this.clock.nowMs();
    this.startedAt = new Date(this.#nowMs);
  }

  // ---------------------------------------------------------------- time, events, reading

  /** Applies every transition due at the clock's virtual now; returns that instant. */
  sync(): Date {
    return new Date(this.#op((now) => now));
  }

  /** Virtual instant of the next scheduled transition, if any (a driver can sleep until then). */
  nextTransitionAt(): Date | undefined {
    const next = this.#earliestTransition();
    return next === undefined ? undefined : new Date(next.atMs);
  }

  /**
   * Listens to state and tag changes. Events are delivered in order once the operation that caused
   * them is complete, so a listener may call back into the world; by then the world may have moved
   * further (a large advance delivers a whole history), so act on the event's own snapshot.
   */
  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Every duration the model uses (see updateTimings). */
  get timings(): Readonly<SimTimings> {
    return this.#timings;
  }

  /** Changes timings from now on; transitions already scheduled keep their instants. */
  updateTimings(patch: { [K in keyof SimTimings]?: number | undefined }): Readonly<SimTimings> {
    const defined = Object.fromEntries(
      Object.entries(patch).filter(([, value]) => value !== undefined),
    ) as Partial<SimTimings>;
    this.#timings = Object.freeze(checkTimings({ ...this.#timings, ...defined }));
    return this.#timings;
  }

  /**
   * Runs `run` once when virtual time reaches `atMs`, in time order with the world's own
   * transitions (an `advance` walks through both), with the world's virtual now at that instant.
   * `run` may call back into the world. A time in the past runs at the next read. Returns the
   * cancel function. Components built on the world (the simulated Macs) keep their time here.
   */
  schedule(atMs: number, run: (nowMs: number) => void): () => void {
    if (!Number.isFinite(atMs)) throw new RangeError(`schedule needs a finite time, got ${atMs}`);
    const action: ScheduledAction = { atMs, seq: this.#seq++, run, cancelled: false };
    heapPush(this.#actions, action);
    for (const listener of [...this.#scheduleListeners]) listener();
    return () => {
      action.cancelled = true;
    };
  }

  /** Called after each `schedule` (a driver re-arms its timer); returns the unsubscribe function. */
  onSchedule(listener: () => void): () => void {
    this.#scheduleListeners.add(listener);
    return () => this.#scheduleListeners.delete(listener);
  }

  /** A seeded random source for components built on the world (request ids, later the Macs). */
  get random(): SeededRandom {
    return this.#random;
  }

  hosts(): HostView[] {
    return this.#op(() => [...this.#hosts.values()].map((h) => this.#hostView(h)));
  }

  instances(): InstanceView[] {
    return this.#op(() => [...this.#instances.values()].map((i) => this.#instanceView(i)));
  }

  launchTemplates(): LaunchTemplateView[] {
    return this.#op(() => [...this.#templates.values()].map((t) => this.#templateView(t)));
  }

  /** A host by id or by Name tag (undefined when unknown). */
  host(ref: string): HostView | undefined {
    return this.#op(() => {
      const h = this.#findHost(ref);
      return h === undefined ? undefined : this.#hostView(h);
    });
  }

  /** An instance by id or by Name tag; a live instance wins over terminated namesakes. */
  instance(ref: string): InstanceView | undefined {
    return this.#op(() => {
      const i = this.#findInstance(ref);
      return i === undefined ? undefined : this.#instanceView(i);
    });
  }

  /** Host-hours since the world started (or since allocation, if later) × the hourly price. */
  costUsd(): number {
    return this.#op((now) => {
      let billedMs = this.#billedMsOfRemovedHosts;
      for (const h of this.#hosts.values()) billedMs += this.#billedMs(h, now);
      return (billedMs / 3_600_000) * this.hostHourlyPriceUsd;
    });
  }

  // ---------------------------------------------------------------- EC2 operations

  runInstances(input: RunInstancesInput, hooks: RunInstancesHooks = {}): RunInstancesOutput {
    return this.#op((now) => {
      const fingerprint = input.fingerprint ?? '';
      const prior =
        input.clientToken === undefined ? undefined : this.#runTokens.get(input.clientToken);
      if (prior !== undefined) {
        // Same ClientToken: answer with the instances of the first launch, launch nothing.
        if (prior.fingerprint !== fingerprint) throw idempotentParameterMismatch();
        const instances = prior.instanceIds.flatMap((id) => {
          const r = this.#instances.get(id);
          return r === undefined ? [] : [this.#instanceView(r)];
        });
        return { reservationId: prior.reservationId, ownerId: this.ownerId, instances };
      }
      if (!Number.isInteger(input.minCount) || input.minCount < 1) {
        throw invalidParameterValue(`Value (${input.minCount}) for parameter minCount is invalid.`);
      }
      if (!Number.isInteger(input.maxCount) || input.maxCount < input.minCount) {
        throw invalidParameterValue(`Value (${input.maxCount}) for parameter maxCount is invalid.`);
      }
      const settings = this.#launchSettings(input);
      const host = this.#launchHost(input, settings.instanceType, hooks);
      // A Mac host holds one instance: MaxCount > 1 launches one, MinCount > 1 cannot be met.
      if (input.minCount > 1) throw insufficientCapacityOnHost(host.hostId);

      const instance = this.#createInstance(host, settings, input.clientToken, now);
      if (input.clientToken !== undefined) {
        this.#runTokens.set(input.clientToken, {
          fingerprint,
          reservationId: instance.reservationId,
          instanceIds: [instance.instanceId],
        });
      }
      return {
        reservationId: instance.reservationId,
        ownerId: this.ownerId,
        instances: [this.#instanceView(instance)],
      };
    });
  }

  terminateInstances(instanceIds: readonly string[]): InstanceStateChange[] {
    return this.#op((now) => {
      const records = this.#requireInstances(instanceIds);
      return records.map((r) => {
        const previous = r.state;
        if (previous !== 'shutting-down' && previous !== 'terminated') {
          r.stateTransitionReason = userInitiated(now);
          r.stateReason = USER_INITIATED_SHUTDOWN;
          this.#enterInstanceState(r, 'shutting-down', now, false, previous);
        }
        return { instanceId: r.instanceId, previous, current: r.state };
      });
    });
  }

  stopInstances(instanceIds: readonly string[]): InstanceStateChange[] {
    return this.#op((now) => {
      const records = this.#requireInstances(instanceIds);
      for (const r of records) {
        if (r.state === 'pending' || r.state === 'shutting-down' || r.state === 'terminated') {
          throw new Ec2ApiError(
            'IncorrectInstanceState',
            `This instance '${r.instanceId}' is not in a state from which it can be stopped.`,
          );
        }
      }
      return records.map((r) => {
        const previous = r.state;
        if (previous === 'running') {
          r.stateTransitionReason = userInitiated(now);
          r.stateReason = USER_INITIATED_SHUTDOWN;
          this.#enterInstanceState(r, 'stopping', now, false, previous);
        }
        return { instanceId: r.instanceId, previous, current: r.state };
      });
    });
  }

  createTags(resourceIds: readonly string[], tags: readonly Tag[]): void {
    this.#op((now) => {
      if (resourceIds.length === 0) throw missingParameter('ResourceId');
      if (tags.length === 0) throw missingParameter('Tag');
      checkTags(tags);
      const targets = resourceIds.map((id) => this.#taggable(id));
      for (const t of targets) {
        const merged = new Map(t.tags);
        for (const tag of tags) merged.set(tag.key, tag.value);
        if (merged.size > MAX_TAGS_PER_RESOURCE) {
          throw new Ec2ApiError(
            'TagLimitExceeded',
            'The maximum number of Tags for a resource has been reached.',
          );
        }
      }
      for (const t of targets) {
        for (const tag of tags) t.tags.set(tag.key, tag.value);
        this.#emitTags(t.id, t.tags, now);
      }
    });
  }

  /** Deletes the given keys (only where the value matches, when one is given); no tags = all. */
  deleteTags(
    resourceIds: readonly string[],
    tags: readonly { key: string; value?: string }[],
  ): void {
    this.#op((now) => {
      if (resourceIds.length === 0) throw missingParameter('ResourceId');
      const targets = resourceIds.map((id) => this.#taggable(id));
      for (const t of targets) {
        if (tags.length === 0) {
          for (const key of [...t.tags.keys()]) if (!key.startsWith('aws:')) t.tags.delete(key);
        }
        for (const tag of tags) {
          if (tag.value === undefined || t.tags.get(tag.key) === tag.value) t.tags.delete(tag.key);
        }
        this.#emitTags(t.id, t.tags, now);
      }
    });
  }

  allocateHosts(input: AllocateHostsInput, hooks: AllocateHostsHooks = {}): string[] {
    return this.#op((now) => {
      const fingerprint = input.fingerprint ?? '';
      if (input.clientToken !== undefined) {
        const prior = this.#allocateTokens.get(input.clientToken);
        if (prior !== undefined) {
          if (prior.fingerprint !== fingerprint) throw idempotentParameterMismatch();
          return [...prior.hostIds];
        }
      }
      const az = input.availabilityZone;
      if (az === undefined || az === '') throw missingParameter('AvailabilityZone');
      if (!new RegExp(`^${escapeRegExp(this.region)}[a-z]$`).test(az)) {
        throw invalidParameterValue(`Invalid availability zone: [${az}]`);
      }
      let instanceType = input.instanceType;
      if (instanceType === undefined && input.instanceFamily !== undefined) {
        instanceType = `${input.instanceFamily}.metal`;
      }
      if (instanceType === undefined) throw missingParameter('InstanceType');
      if (!/^mac[0-9a-z-]*\.metal$/.test(instanceType)) {
        throw new Ec2ApiError(
          'UnsupportedOperation',
          `The simulated cloud models EC2 Mac dedicated hosts only (mac*.metal), not ${instanceType}.`,
        );
      }
      const quantity = input.quantity ?? 1;
      if (!Number.isInteger(quantity) || quantity < 1 || quantity > 100) {
        throw invalidParameterValue(`Value (${quantity}) for parameter quantity is invalid.`);
      }
      const autoPlacement = parseOnOff('AutoPlacement', input.autoPlacement ?? 'off');
      const hostRecovery = parseOnOff('HostRecovery', input.hostRecovery ?? 'off');
      const hostMaintenance = parseOnOff('HostMaintenance', input.hostMaintenance ?? 'off');
      const tags = new Map<string, string>();
      for (const spec of input.tagSpecifications ?? []) {
        checkTaggableType(spec.resourceType, ['dedicated-host']);
        checkTags(spec.tags);
        for (const t of spec.tags) tags.set(t.key, t.value);
      }
      if (hooks.injectCapacityFailure?.() === true) {
        throw new Ec2ApiError(
          'InsufficientHostCapacity',
          `Insufficient capacity for ${instanceType} dedicated hosts in ${az}.`,
        );
      }
      const hostIds: string[] = [];
      for (let n = 0; n < quantity; n++) {
        const host = this.#createHost({
          hostId: this.#newId('h-'),
          instanceType,
          availabilityZone: az,
          allocationTimeMs: floorToSecond(now),
          tags: new Map(tags),
          autoPlacement,
          hostRecovery,
          hostMaintenance,
          clientToken: input.clientToken,
        });
        this.#enterHostState(host, 'pending', now, { pendingForS: this.timings.hostAllocationS });
        hostIds.push(host.hostId);
      }
      if (input.clientToken !== undefined) {
        this.#allocateTokens.set(input.clientToken, { fingerprint, hostIds: [...hostIds] });
      }
      return hostIds;
    });
  }

  /** Per host, like EC2: failures land in `unsuccessful`, the call itself succeeds. */
  releaseHosts(hostIds: readonly string[]): ReleaseHostsOutput {
    return this.#op((now) => {
      if (hostIds.length === 0) throw missingParameter('HostId');
      const out: ReleaseHostsOutput = { successful: [], unsuccessful: [] };
      const fail = (resourceId: string, code: string, message: string): void => {
        out.unsuccessful.push({ resourceId, code, message });
      };
      for (const id of hostIds) {
        const host = this.#hosts.get(id);
        if (!HOST_ID_PATTERN.test(id)) {
          fail(id, 'Client.InvalidHostID.Malformed', `Invalid id: "${id}" (expecting "h-...")`);
        } else if (host === undefined) {
          fail(id, 'Client.InvalidHostID.NotFound', `The host ID '${id}' does not exist`);
        } else if (host.state === 'released' || host.state === 'released-permanent-failure') {
          fail(id, 'Client.InvalidHostState', `Dedicated host ${id} is already released.`);
        } else if (this.#occupant(host) !== undefined) {
          fail(
            id,
            'Client.InvalidHostState',
            `Dedicated host ${id} has an instance (${host.occupantId}); terminate it before releasing the host.`,
          );
        } else if (now < host.allocationTimeMs + this.timings.hostMinAllocationS * 1000) {
          const earliest = new Date(host.allocationTimeMs + this.timings.hostMinAllocationS * 1000);
          fail(
            id,
            'Client.InvalidHostState',
            `Dedicated host ${id} cannot be released before the minimum allocation period of ${this.timings.hostMinAllocationS / 3600} hours ends (${earliest.toISOString()}).`,
          );
        } else {
          const to: HostState =
            host.state === 'permanent-failure' ? 'released-permanent-failure' : 'released';
          this.#enterHostState(host, to, now, {});
          out.successful.push(id);
        }
      }
      return out;
    });
  }

  /** Resolves a template reference as RunInstances and DescribeLaunchTemplateVersions do. */
  resolveLaunchTemplate(ref: LaunchTemplateRef): {
    template: LaunchTemplateView;
    versionNumber: number;
  } {
    return this.#op(() => {
      const r = this.#resolveTemplate(ref);
      return { template: this.#templateView(r.record), versionNumber: r.versionNumber };
    });
  }

  // ---------------------------------------------------------------- scripting

  addHost(spec: AddHostSpec = {}): HostView {
    return this.#op((now) => {
      const state = spec.state ?? 'available';
      if (!HOST_STATES.includes(state))
        throw new SimScriptError(`unknown host state '${String(state)}'`);
      const tags = new Map(Object.entries(spec.tags ?? {}));
      if (spec.name !== undefined) tags.set('Name', spec.name);
      checkScriptTags(tags);
      const allocationTimeMs = spec.allocationTime?.getTime() ?? now;
      if (!Number.isFinite(allocationTimeMs)) {
        throw new SimScriptError('allocationTime is not a valid date');
      }
      if (spec.hostId !== undefined) {
        if (!HOST_ID_PATTERN.test(spec.hostId)) {
          throw new SimScriptError(`malformed host id '${spec.hostId}'`);
        }
        if (this.#usedIds.has(spec.hostId)) {
          throw new SimScriptError(`host id ${spec.hostId} is taken`, 409);
        }
        this.#usedIds.add(spec.hostId);
      }
      const host = this.#createHost({
        hostId: spec.hostId ?? this.#newId('h-'),
        instanceType: spec.instanceType ?? 'mac2.metal',
        availabilityZone: spec.availabilityZone ?? `${this.region}a`,
        allocationTimeMs: floorToSecond(allocationTimeMs),
        tags,
        autoPlacement: 'off',
        hostRecovery: 'off',
        hostMaintenance: 'off',
        clientToken: undefined,
      });
      this.#enterHostState(host, state, now, {});
      return this.#hostView(host);
    });
  }

  scriptHost(ref: string, patch: HostPatch): HostView {
    return this.#op((now) => {
      const host = this.#findHost(ref);
      if (host === undefined) throw new SimScriptError(`no host '${ref}'`, 404);
      if (patch.state !== undefined && !HOST_STATES.includes(patch.state)) {
        throw new SimScriptError(`unknown host state '${String(patch.state)}'`);
      }
      const capacity = patch.availableCapacity;
      if (
        capacity !== undefined &&
        capacity !== null &&
        (!Number.isInteger(capacity) || capacity < 0)
      ) {
        throw new SimScriptError(
          `availableCapacity must be an integer >= 0 or null, got ${capacity}`,
        );
      }
      const tags = applyTagPatch(host.tags, patch.tags, patch.removeTags);
      if (tags !== undefined) {
        host.tags = tags;
        this.#emitTags(host.hostId, host.tags, now);
      }
      if (capacity !== undefined) host.capacityOverride = capacity ?? undefined;
      if (patch.state !== undefined) {
        host.handOff = false;
        this.#enterHostState(host, patch.state, now, { hold: patch.hold === true });
      } else if (patch.hold === true) {
        host.next = undefined;
      }
      return this.#hostView(host);
    });
  }

  scriptInstance(ref: string, patch: InstancePatch): InstanceView {
    return this.#op((now) => {
      const instance = this.#findInstance(ref);
      if (instance === undefined) throw new SimScriptError(`no instance '${ref}'`, 404);
      if (patch.state !== undefined && !INSTANCE_STATES.includes(patch.state)) {
        throw new SimScriptError(`unknown instance state '${String(patch.state)}'`);
      }
      const sshReadyAtMs = patch.sshReadyAt === null ? undefined : patch.sshReadyAt?.getTime();
      if (sshReadyAtMs !== undefined && !Number.isFinite(sshReadyAtMs)) {
        throw new SimScriptError('sshReadyAt is not a valid date');
      }
      const tags = applyTagPatch(instance.tags, patch.tags, patch.removeTags);
      if (patch.state !== undefined) {
        const previous = instance.state;
        const to = patch.state;
        if (to !== 'terminated') this.#reoccupy(instance); // throws before any change if taken
        if (to === 'pending' || to === 'running') {
          instance.stateReason = undefined;
          instance.stateTransitionReason = '';
        } else if (instance.stateTransitionReason === '') {
          instance.stateTransitionReason = userInitiated(now);
          instance.stateReason = USER_INITIATED_SHUTDOWN;
        }
        this.#enterInstanceState(instance, to, now, patch.hold === true, previous);
      } else if (patch.hold === true) {
        instance.next = undefined;
      }
      if (tags !== undefined) {
        instance.tags = tags;
        this.#emitTags(instance.instanceId, instance.tags, now);
      }
      if (patch.sshReadyAt !== undefined) instance.sshReadyAtMs = sshReadyAtMs;
      return this.#instanceView(instance);
    });
  }

  /**
   * An on-instance `shutdown -h now`: EC2 follows the instance's InstanceInitiatedShutdownBehavior
   * (terminate → shutting-down → terminated; stop → stopping → stopped).
   */
  shutdownFromInstance(ref: string): InstanceView {
    return this.#op((now) => {
      const instance = this.#findInstance(ref);
      if (instance === undefined) throw new SimScriptError(`no instance '${ref}'`, 404);
      if (instance.state !== 'running') {
        throw new SimScriptError(
          `instance ${instance.instanceId} is ${instance.state}, not running`,
          409,
        );
      }
      const previous = instance.state;
      instance.stateTransitionReason = userInitiated(now);
      instance.stateReason = INSTANCE_INITIATED_SHUTDOWN;
      const to = instance.shutdownBehavior === 'terminate' ? 'shutting-down' : 'stopping';
      this.#enterInstanceState(instance, to, now, false, previous);
      return this.#instanceView(instance);
    });
  }

  /** Creates a template, or adds a new version to an existing one and makes it the default. */
  putLaunchTemplate(spec: LaunchTemplateSpec): LaunchTemplateView {
    return this.#op((now) => {
      if (!/^[A-Za-z0-9()./_-]{3,128}$/.test(spec.name)) {
        throw new SimScriptError(
          `launch template name '${spec.name}' is invalid: 3-128 characters of letters, digits and ()./_-`,
        );
      }
      const data = normalizeTemplateData(spec.data);
      if (
        data.instanceInitiatedShutdownBehavior !== undefined &&
        data.instanceInitiatedShutdownBehavior !== 'stop' &&
        data.instanceInitiatedShutdownBehavior !== 'terminate'
      ) {
        throw new SimScriptError(`instanceInitiatedShutdownBehavior must be 'stop' or 'terminate'`);
      }
      const existing = this.#templates.get(spec.name);
      if (existing !== undefined) {
        const versionNumber = Math.max(...existing.versions.map((v) => v.versionNumber)) + 1;
        existing.versions.push({
          versionNumber,
          createTimeMs: floorToSecond(now),
          description: spec.description,
          data,
        });
        existing.defaultVersion = versionNumber;
        for (const [k, v] of Object.entries(spec.tags ?? {})) existing.tags.set(k, v);
        return this.#templateView(existing);
      }
      const record: LaunchTemplateRecord = {
        id: this.#newId('lt-'),
        name: spec.name,
        createTimeMs: floorToSecond(now),
        defaultVersion: 1,
        tags: new Map(Object.entries(spec.tags ?? {})),
        versions: [
          {
            versionNumber: 1,
            createTimeMs: floorToSecond(now),
            description: spec.description,
            data,
          },
        ],
      };
      this.#templates.set(record.name, record);
      return this.#templateView(record);
    });
  }

  // ---------------------------------------------------------------- transitions

  /** Runs `fn` at a consistent virtual now, after due transitions; then delivers events. */
  #op<T>(fn: (nowMs: number) => T): T {
    const now = this.#processUntil(this.clock.nowMs());
    try {
      return fn(now);
    } finally {
      this.#flushEvents();
    }
  }

  #processUntil(targetMs: number): number {
    if (this.#processing) return this.#nowMs;
    this.#processing = true;
    try {
      for (;;) {
        const due = this.#earliestTransition();
        if (due === undefined || due.atMs > targetMs) break;
        this.#nowMs = Math.max(this.#nowMs, due.atMs);
        due.apply();
      }
      this.#nowMs = Math.max(this.#nowMs, targetMs);
      return this.#nowMs;
    } finally {
      this.#processing = false;
    }
  }

  #earliestTransition(): { atMs: number; apply: () => void } | undefined {
    let best: { atMs: number; seq: number; apply: () => void } | undefined;
    const consider = (t: { atMs: number; seq: number }, apply: () => void): void => {
      if (best === undefined || t.atMs < best.atMs || (t.atMs === best.atMs && t.seq < best.seq)) {
        best = { atMs: t.atMs, seq: t.seq, apply };
      }
    };
    for (const h of this.#hosts.values()) {
      const next = h.next;
      if (next !== undefined) consider(next, () => this.#applyHostStep(h, next));
    }
    for (const i of this.#instances.values()) {
      const next = i.next;
      if (next !== undefined) consider(next, () => this.#applyInstanceStep(i, next));
    }
    while (this.#actions[0]?.cancelled === true) heapPop(this.#actions);
    const action = this.#actions[0];
    if (action !== undefined) consider(action, () => this.#runAction());
    return best;
  }

  #runAction(): void {
    const action = heapPop(this.#actions);
    if (action === undefined || action.cancelled) return;
    action.cancelled = true;
    try {
      action.run(this.#nowMs);
    } catch (error) {
      process.emitWarning(`simulated cloud: scheduled action failed: ${String(error)}`);
    }
  }

  #schedule<T>(to: T, atMs: number): Transition<T> {
    return { atMs, seq: this.#seq++, to };
  }

  #applyInstanceStep(instance: InstanceRecord, step: Transition<InstanceState | 'gone'>): void {
    instance.next = undefined;
    if (step.to === 'gone') {
      this.#instances.delete(instance.instanceId);
      this.#emit(() => ({
        type: 'instance-removed',
        at: new Date(step.atMs),
        instanceId: instance.instanceId,
      }));
      return;
    }
    this.#enterInstanceState(instance, step.to, step.atMs, false, instance.state);
  }

  /** Puts an instance into `to` at `atMs` with that state's consequences, then schedules the next. */
  #enterInstanceState(
    instance: InstanceRecord,
    to: InstanceState,
    atMs: number,
    hold: boolean,
    previous: InstanceState | undefined,
  ): void {
    const t = this.timings;
    instance.state = to;
    instance.next = undefined;
    let next: Transition<InstanceState | 'gone'> | undefined;
    switch (to) {
      case 'pending':
        next = this.#schedule('running', atMs + t.instancePendingS * 1000);
        break;
      case 'running':
        instance.stateReason = undefined;
        instance.stateTransitionReason = '';
        instance.sshReadyAtMs = atMs + this.#random.between(t.bootMinS, t.bootMaxS) * 1000;
        break;
      case 'stopping':
        next = this.#schedule('stopped', atMs + t.instanceStoppingS * 1000);
        break;
      case 'stopped': {
        // The host stays occupied by the stopped instance but scrubs, as after a terminate.
        const host = this.#hosts.get(instance.hostId);
        if (host !== undefined && (host.state === 'available' || host.state === 'pending')) {
          host.handOff = false;
          host.next = this.#schedule('scrub', atMs);
        }
        break;
      }
      case 'shutting-down':
        next = this.#schedule('terminated', atMs + t.instanceShuttingDownS * 1000);
        break;
      case 'terminated': {
        next = this.#schedule('gone', atMs + t.terminatedVisibleS * 1000);
        const host = this.#hosts.get(instance.hostId);
        if (host !== undefined && host.occupantId === instance.instanceId) {
          host.occupantId = undefined;
          if (host.state === 'available' || host.state === 'pending') {
            host.handOff = true;
            host.next = this.#schedule('scrub', atMs + t.hostHandOffS * 1000);
          }
        }
        break;
      }
    }
    instance.next = hold ? undefined : next;
    this.#emit(() => ({
      type: 'instance-state',
      at: new Date(atMs),
      instance: this.#instanceView(instance),
      previous,
    }));
  }

  /** A scripted move out of `terminated` puts the instance back on its host, if that is free. */
  #reoccupy(instance: InstanceRecord): void {
    const host = this.#hosts.get(instance.hostId);
    if (host === undefined || host.occupantId === instance.instanceId) return;
    const occupant = this.#occupant(host);
    if (occupant !== undefined) {
      throw new SimScriptError(
        `host ${host.hostId} is occupied by ${occupant.instanceId}; ${instance.instanceId} cannot return to it`,
        409,
      );
    }
    host.occupantId = instance.instanceId;
    if (host.handOff) {
      host.handOff = false;
      if (host.next?.to === 'scrub') host.next = undefined;
    }
  }

  #applyHostStep(host: HostRecord, step: Transition<HostStep>): void {
    host.next = undefined;
    switch (step.to) {
      case 'scrub':
        host.handOff = false;
        this.#enterHostState(host, 'pending', step.atMs, { pendingForS: this.timings.hostScrubS });
        break;
      case 'available':
        this.#enterHostState(host, 'available', step.atMs, {});
        break;
      case 'gone':
        this.#billedMsOfRemovedHosts += this.#billedMs(host, step.atMs);
        this.#hosts.delete(host.hostId);
        this.#emit(() => ({ type: 'host-removed', at: new Date(step.atMs), hostId: host.hostId }));
        break;
    }
  }

  #enterHostState(
    host: HostRecord,
    to: HostState,
    atMs: number,
    options: { pendingForS?: number; hold?: boolean },
  ): void {
    const previous = host.state;
    host.state = to;
    host.next = undefined;
    let next: Transition<HostStep> | undefined;
    if (to === 'pending') {
      next = this.#schedule(
        'available',
        atMs + (options.pendingForS ?? this.timings.hostScrubS) * 1000,
      );
    } else if (to === 'released' || to === 'released-permanent-failure') {
      host.releaseTimeMs ??= floorToSecond(atMs);
      next = this.#schedule('gone', atMs + this.timings.releasedHostVisibleS * 1000);
    } else {
      host.releaseTimeMs = undefined;
    }
    host.next = options.hold === true ? undefined : next;
    this.#emit(() => ({
      type: 'host-state',
      at: new Date(atMs),
      host: this.#hostView(host),
      previous,
    }));
  }

  // ---------------------------------------------------------------- helpers

  /** What a launch will create: the request's values over the template's over EC2's defaults. */
  #launchSettings(input: RunInstancesInput): LaunchSettings {
    const template =
      input.launchTemplate === undefined ? undefined : this.#resolveTemplate(input.launchTemplate);
    const data = template?.data ?? {};
    const imageId = input.imageId ?? data.imageId;
    if (imageId === undefined) throw missingParameter('ImageId');
    const tags = new Map<string, string>();
    for (const spec of data.tagSpecifications ?? []) {
      if (spec.resourceType !== 'instance') continue;
      for (const [key, value] of Object.entries(spec.tags)) tags.set(key, value);
    }
    for (const spec of input.tagSpecifications ?? []) {
      checkTaggableType(spec.resourceType, ['instance', 'volume', 'network-interface']);
      checkTags(spec.tags);
      if (spec.resourceType === 'instance') for (const t of spec.tags) tags.set(t.key, t.value);
    }
    if (template !== undefined) {
      // EC2 tags every instance launched from a template with the template's id and version.
      tags.set('aws:ec2launchtemplate:id', template.record.id);
      tags.set('aws:ec2launchtemplate:version', String(template.versionNumber));
    }
    return {
      imageId,
      instanceType: input.instanceType ?? data.instanceType ?? 'm1.small',
      keyName: input.keyName ?? data.keyName,
      shutdownBehavior: parseShutdownBehavior(
        input.instanceInitiatedShutdownBehavior ?? data.instanceInitiatedShutdownBehavior ?? 'stop',
      ),
      metadataOptions: mergeMetadataOptions(data.metadataOptions, input.metadataOptions),
      tags,
      launchTemplate:
        template === undefined
          ? undefined
          : {
              id: template.record.id,
              name: template.record.name,
              version: String(template.versionNumber),
            },
    };
  }

  /** The target host, if it can take this launch now; otherwise the error EC2 would answer. */
  #launchHost(
    input: RunInstancesInput,
    instanceType: string,
    hooks: RunInstancesHooks,
  ): HostRecord {
    const hostId = input.hostId;
    if (hostId === undefined || hostId === '') {
      throw new Ec2ApiError(
        'InvalidParameterCombination',
        `${instanceType} instances must be placed on a Dedicated Host: specify Placement.HostId (the simulated cloud has no auto-placement).`,
      );
    }
    if (!HOST_ID_PATTERN.test(hostId)) throw malformedHostId(hostId);
    const host = this.#hosts.get(hostId);
    if (host === undefined) throw hostIdNotFound(hostId);
    if (input.tenancy !== undefined && input.tenancy !== 'host') {
      throw new Ec2ApiError(
        'InvalidParameterCombination',
        `Placement.Tenancy '${input.tenancy}' cannot be combined with Placement.HostId; use 'host'.`,
      );
    }
    if (host.state !== 'available' && host.state !== 'pending') {
      throw new Ec2ApiError(
        'InvalidHostState',
        `Dedicated host ${hostId} is in state '${host.state}'; it must be 'available' to launch an instance.`,
      );
    }
    if (instanceType !== host.instanceType) {
      throw invalidParameterValue(
        `The requested instance type (${instanceType}) is not supported by Dedicated Host ${hostId} (${host.instanceType}).`,
      );
    }
    if (hooks.injectCapacityFailure?.(this.#hostView(host)) === true) {
      throw insufficientCapacityOnHost(hostId);
    }
    // Scrubbing (pending), occupied (pending..stopped), in hand-off, or capacity scripted to 0.
    if (
      host.state !== 'available' ||
      this.#occupant(host) !== undefined ||
      this.#capacity(host) < 1
    ) {
      throw insufficientCapacityOnHost(hostId);
    }
    return host;
  }

  #createInstance(
    host: HostRecord,
    settings: LaunchSettings,
    clientToken: string | undefined,
    nowMs: number,
  ): InstanceRecord {
    const address = loopbackAddress(this.#nextAddress++);
    const instance: InstanceRecord = {
      instanceId: this.#newId('i-'),
      reservationId: this.#newId('r-'),
      state: 'pending',
      hostId: host.hostId,
      availabilityZone: host.availabilityZone,
      instanceType: settings.instanceType,
      imageId: settings.imageId,
      launchTimeMs: floorToSecond(nowMs),
      tags: settings.tags,
      address,
      privateIpAddress: address.replace(/^127\./, '10.'),
      stateTransitionReason: '',
      stateReason: undefined,
      shutdownBehavior: settings.shutdownBehavior,
      metadataOptions: settings.metadataOptions,
      clientToken,
      keyName: settings.keyName,
      launchTemplate: settings.launchTemplate,
      sshReadyAtMs: undefined,
      next: undefined,
    };
    this.#instances.set(instance.instanceId, instance);
    host.occupantId = instance.instanceId;
    this.#enterInstanceState(instance, 'pending', nowMs, false, undefined);
    return instance;
  }

  #createHost(
    fields: Omit<
      HostRecord,
      'state' | 'releaseTimeMs' | 'occupantId' | 'handOff' | 'capacityOverride' | 'next'
    >,
  ): HostRecord {
    const host: HostRecord = {
      ...fields,
      state: 'pending',
      releaseTimeMs: undefined,
      occupantId: undefined,
      handOff: false,
      capacityOverride: undefined,
      next: undefined,
    };
    this.#hosts.set(host.hostId, host);
    return host;
  }

  #occupant(host: HostRecord): InstanceRecord | undefined {
    if (host.occupantId === undefined) return undefined;
    const occupant = this.#instances.get(host.occupantId);
    return occupant === undefined || occupant.state === 'terminated' ? undefined : occupant;
  }

  #capacity(host: HostRecord): number {
    if (host.capacityOverride !== undefined) return host.capacityOverride;
    if (host.state !== 'available' || host.handOff || this.#occupant(host) !== undefined) return 0;
    return 1;
  }

  #billedMs(host: HostRecord, nowMs: number): number {
    const from = Math.max(host.allocationTimeMs, this.startedAt.getTime());
    const to = Math.min(host.releaseTimeMs ?? nowMs, nowMs);
    return Math.max(0, to - from);
  }

  #findHost(ref: string): HostRecord | undefined {
    const byId = this.#hosts.get(ref);
    if (byId !== undefined) return byId;
    const named = [...this.#hosts.values()].filter((h) => h.tags.get('Name') === ref);
    const live = named.filter(
      (h) => h.state !== 'released' && h.state !== 'released-permanent-failure',
    );
    const candidates = live.length > 0 ? live : named;
    if (candidates.length > 1) {
      throw new SimScriptError(
        `host name '${ref}' is ambiguous: ${candidates.map((h) => h.hostId).join(', ')}`,
        409,
      );
    }
    return candidates[0];
  }

  #findInstance(ref: string): InstanceRecord | undefined {
    const byId = this.#instances.get(ref);
    if (byId !== undefined) return byId;
    const named = [...this.#instances.values()].filter((i) => i.tags.get('Name') === ref);
    const live = named.filter((i) => i.state !== 'terminated');
    if (live.length > 1) {
      throw new SimScriptError(
        `instance name '${ref}' is ambiguous: ${live.map((i) => i.instanceId).join(', ')}`,
        409,
      );
    }
    if (live.length === 1) return live[0];
    return named.sort((a, b) => b.launchTimeMs - a.launchTimeMs)[0];
  }

  /** All ids must be well-formed and known, or the whole call fails (as EC2 does). */
  #requireInstances(instanceIds: readonly string[]): InstanceRecord[] {
    if (instanceIds.length === 0) throw missingParameter('InstanceId');
    const unique = [...new Set(instanceIds)];
    const malformed = unique.find((id) => !INSTANCE_ID_PATTERN.test(id));
    if (malformed !== undefined) throw malformedInstanceId(malformed);
    const missing = unique.filter((id) => !this.#instances.has(id));
    if (missing.length > 0) throw instanceIdsNotFound(missing);
    return unique.map((id) => this.#instances.get(id) as InstanceRecord);
  }

  #taggable(id: string): { id: string; tags: Map<string, string> } {
    if (id.startsWith('i-')) {
      if (!INSTANCE_ID_PATTERN.test(id)) throw malformedInstanceId(id);
      const r = this.#instances.get(id);
      if (r === undefined) throw instanceIdsNotFound([id]);
      return { id, tags: r.tags };
    }
    if (id.startsWith('h-')) {
      if (!HOST_ID_PATTERN.test(id)) throw malformedHostId(id);
      const r = this.#hosts.get(id);
      if (r === undefined) throw hostIdNotFound(id);
      return { id, tags: r.tags };
    }
    if (id.startsWith('lt-')) {
      const r = [...this.#templates.values()].find((t) => t.id === id);
      if (r === undefined) throw launchTemplateIdNotFound(id);
      return { id, tags: r.tags };
    }
    throw new Ec2ApiError('InvalidID', `The ID '${id}' is not valid`);
  }

  #resolveTemplate(ref: LaunchTemplateRef): {
    record: LaunchTemplateRecord;
    versionNumber: number;
    data: LaunchTemplateData;
  } {
    let record: LaunchTemplateRecord | undefined;
    if (ref.id !== undefined) {
      record = [...this.#templates.values()].find((t) => t.id === ref.id);
      if (record === undefined) throw launchTemplateIdNotFound(ref.id);
    } else if (ref.name !== undefined) {
      record = this.#templates.get(ref.name);
      if (record === undefined) throw launchTemplateNameNotFound(ref.name);
    } else {
      throw new Ec2ApiError(
        'InvalidParameterCombination',
        'A launch template ID or launch template name must be specified.',
      );
    }
    const version = ref.version ?? '$Default';
    let versionNumber: number;
    if (version === '$Default') versionNumber = record.defaultVersion;
    else if (version === '$Latest')
      versionNumber = Math.max(...record.versions.map((v) => v.versionNumber));
    else versionNumber = /^[0-9]+$/.test(version) ? Number(version) : NaN;
    const found = record.versions.find((v) => v.versionNumber === versionNumber);
    if (found === undefined) {
      throw new Ec2ApiError(
        'InvalidLaunchTemplateId.VersionNotFound',
        `Could not find launch template version ${version} for launch template ${record.id}.`,
      );
    }
    return { record, versionNumber, data: found.data };
  }

  #newId(prefix: 'h-' | 'i-' | 'r-' | 'lt-'): string {
    for (;;) {
      const id = prefix + this.#random.hex(17);
      if (!this.#usedIds.has(id)) {
        this.#usedIds.add(id);
        return id;
      }
    }
  }

  /** Queues an event for delivery after the current operation (built only if anyone listens). */
  #emit(make: () => SimEvent): void {
    if (this.#listeners.size > 0) this.#pendingEvents.push(make());
  }

  #emitTags(resourceId: string, tags: Map<string, string>, atMs: number): void {
    this.#emit(() => ({
      type: 'tags-changed',
      at: new Date(atMs),
      resourceId,
      tags: tagObject(tags),
    }));
  }

  #flushEvents(): void {
    if (this.#flushing) return;
    this.#flushing = true;
    try {
      for (
        let event = this.#pendingEvents.shift();
        event !== undefined;
        event = this.#pendingEvents.shift()
      ) {
        for (const listener of [...this.#listeners]) {
          try {
            listener(event);
          } catch (error) {
            this.#onListenerError(error, event);
          }
        }
      }
    } finally {
      this.#flushing = false;
    }
  }

  #hostView(h: HostRecord): HostView {
    const occupant = this.#occupant(h);
    return {
      hostId: h.hostId,
      name: h.tags.get('Name'),
      state: h.state,
      instanceType: h.instanceType,
      availabilityZone: h.availabilityZone,
      allocationTime: new Date(h.allocationTimeMs),
      releaseTime: h.releaseTimeMs === undefined ? undefined : new Date(h.releaseTimeMs),
      autoPlacement: h.autoPlacement,
      hostRecovery: h.hostRecovery,
      hostMaintenance: h.hostMaintenance,
      clientToken: h.clientToken,
      tags: tagObject(h.tags),
      instanceIds: occupant === undefined ? [] : [occupant.instanceId],
      availableCapacity: this.#capacity(h),
      totalCapacity: 1,
      inHandOff: h.handOff,
      capacityOverride: h.capacityOverride,
      next: h.next === undefined ? undefined : { at: new Date(h.next.atMs), to: h.next.to },
    };
  }

  #instanceView(i: InstanceRecord): InstanceView {
    const hasPublicAddress =
      i.state === 'running' || i.state === 'stopping' || i.state === 'shutting-down';
    return {
      instanceId: i.instanceId,
      reservationId: i.reservationId,
      name: i.tags.get('Name'),
      state: i.state,
      stateCode: INSTANCE_STATE_CODES[i.state],
      hostId: i.hostId,
      availabilityZone: i.availabilityZone,
      instanceType: i.instanceType,
      imageId: i.imageId,
      launchTime: new Date(i.launchTimeMs),
      tags: tagObject(i.tags),
      publicDnsName: hasPublicAddress ? i.address : '',
      publicIpAddress: hasPublicAddress ? i.address : undefined,
      address: i.address,
      privateIpAddress: i.privateIpAddress,
      privateDnsName:
        i.state === 'terminated'
          ? ''
          : `ip-${i.privateIpAddress.replaceAll('.', '-')}.ec2.internal`,
      stateTransitionReason: i.stateTransitionReason,
      stateReason: i.stateReason,
      shutdownBehavior: i.shutdownBehavior,
      metadataOptions: { ...i.metadataOptions },
      clientToken: i.clientToken,
      keyName: i.keyName,
      launchTemplate: i.launchTemplate === undefined ? undefined : { ...i.launchTemplate },
      sshReadyAt: i.sshReadyAtMs === undefined ? undefined : new Date(i.sshReadyAtMs),
      next: i.next === undefined ? undefined : { at: new Date(i.next.atMs), to: i.next.to },
    };
  }

  #templateView(t: LaunchTemplateRecord): LaunchTemplateView {
    return {
      launchTemplateId: t.id,
      launchTemplateName: t.name,
      createTime: new Date(t.createTimeMs),
      createdBy: `arn:aws:iam::${this.ownerId}:user/pw-pool-sim`,
      defaultVersionNumber: t.defaultVersion,
      latestVersionNumber: Math.max(...t.versions.map((v) => v.versionNumber)),
      tags: tagObject(t.tags),
      versions: t.versions.map((v) => ({
        versionNumber: v.versionNumber,
        description: v.description,
        createTime: new Date(v.createTimeMs),
        isDefault: v.versionNumber === t.defaultVersion,
        data: structuredClone(v.data),
      })),
    };
  }
}

// ---------------------------------------------------------------- module helpers

const USER_INITIATED_SHUTDOWN = {
  code: 'Client.UserInitiatedShutdown',
  message: 'Client.UserInitiatedShutdown: User initiated shutdown',
};
const INSTANCE_INITIATED_SHUTDOWN = {
  code: 'Client.InstanceInitiatedShutdown',
  message: 'Client.InstanceInitiatedShutdown: Instance initiated shutdown',
};

/** EC2's StateTransitionReason text: `User initiated (YYYY-MM-DD HH:MM:SS GMT)`. */
export function userInitiated(atMs: number): string {
  const iso = new Date(atMs).toISOString();
  return `User initiated (${iso.slice(0, 10)} ${iso.slice(11, 19)} GMT)`;
}

/** The n-th instance's loopback address: 127.0.1.1, 127.0.1.2, ... 127.0.1.254, 127.0.2.1, ... */
export function loopbackAddress(n: number): string {
  const x = 1 + Math.floor(n / 254);
  const y = 1 + (n % 254);
  if (x > 255)
    throw new Ec2ApiError(
      'InstanceLimitExceeded',
      'The simulated cloud ran out of loopback addresses.',
    );
  return `127.0.${x}.${y}`;
}

function heapBefore(a: ScheduledAction, b: ScheduledAction): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
}

function heapPush(heap: ScheduledAction[], item: ScheduledAction): void {
  heap.push(item);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    const p = heap[parent] as ScheduledAction;
    if (!heapBefore(item, p)) break;
    heap[i] = p;
    i = parent;
  }
  heap[i] = item;
}

function heapPop(heap: ScheduledAction[]): ScheduledAction | undefined {
  const top = heap[0];
  const last = heap.pop();
  if (top === undefined || last === undefined || heap.length === 0) return top;
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= heap.length) break;
    const r = l + 1;
    const child =
      r < heap.length && heapBefore(heap[r] as ScheduledAction, heap[l] as ScheduledAction) ? r : l;
    const c = heap[child] as ScheduledAction;
    if (!heapBefore(c, last)) break;
    heap[i] = c;
    i = child;
  }
  heap[i] = last;
  return top;
}

function tagObject(tags: Map<string, string>): TagMap {
  return Object.fromEntries(tags);
}

function floorToSecond(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function checkScriptTags(tags: Map<string, string>): void {
  for (const [key, value] of tags) {
    if (typeof value !== 'string')
      throw new SimScriptError(`tag '${key}' must have a string value`);
  }
}

function applyTagPatch(
  current: Map<string, string>,
  set: Record<string, string> | undefined,
  remove: string[] | undefined,
): Map<string, string> | undefined {
  if (set === undefined && remove === undefined) return undefined;
  const next = new Map(current);
  for (const key of remove ?? []) next.delete(key);
  for (const [key, value] of Object.entries(set ?? {})) next.set(key, value);
  checkScriptTags(next);
  return next;
}
