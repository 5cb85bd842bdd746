// The EC2 adapter: the only code that knows @aws-sdk/client-ec2. It owns pagination, tag mapping
// and the classification of AWS errors (behavior.md §3, §9 R20).
import {
  AllocateHostsCommand,
  CreateTagsCommand,
  DescribeLaunchTemplateVersionsCommand,
  TerminateInstancesCommand,
  EC2Client,
  RunInstancesCommand,
  paginateDescribeHosts,
  paginateDescribeInstances,
} from '@aws-sdk/client-ec2';
import type { Filter, Host, Instance, Tag } from '@aws-sdk/client-ec2';
import type { Logger } from 'pino';
import type { PoolId, Tags } from '../core/pool.js';
import { AwsError } from '../errors.js';
import type { AwsErrorKind } from '../errors.js';
import type {
  AllocateHostRequest,
  Ec2,
  HostView,
  InstanceView,
  LaunchRequest,
  LaunchResult,
  LaunchTemplateSettings,
} from '../ports.js';

export const DEFAULT_REGION = 'us-east-1';
/** EC2 refuses a call with more filter values than this, all filters together (FilterLimitExceeded). */
export const MAX_FILTER_VALUES = 200;
const NON_TERMINATED = ['pending', 'running', 'shutting-down', 'stopping', 'stopped'];

const THROTTLING = new Set([
  'RequestLimitExceeded',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'SlowDown',
]);
const CAPACITY = new Set([
  'InsufficientCapacityOnHost',
  'InsufficientInstanceCapacity',
  'InsufficientHostCapacity',
  'InsufficientCapacity',
  'HostLimitExceeded',
]);
const AUTH = new Set([
  'AuthFailure',
  'UnauthorizedOperation',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'RequestExpired',
  'OptInRequired',
  'CredentialsProviderError',
  'InvalidAccessKeyId',
]);

/** The one place that classifies AWS errors: throttling, capacity, not found, auth, other. */
export function classifyAwsError(error: unknown): AwsError {
  if (error instanceof AwsError) return error;
  const e = error as { name?: unknown; Code?: unknown; code?: unknown; message?: unknown };
  const code =
    typeof e.Code === 'string'
      ? e.Code
      : typeof e.name === 'string' && e.name !== 'Error'
        ? e.name
        : typeof e.code === 'string'
          ? e.code
          : 'UnknownError';
  const message = typeof e.message === 'string' && e.message !== '' ? e.message : String(error);
  let kind: AwsErrorKind = 'other';
  if (THROTTLING.has(code)) kind = 'throttling';
  else if (CAPACITY.has(code)) kind = 'capacity';
  else if (AUTH.has(code)) kind = 'auth';
  else if (/NotFound/.test(code)) kind = 'not-found';
  return new AwsError(kind, code, message.replace(/\s+/g, ' ').trim(), { cause: error });
}

function tagsOf(list: readonly Tag[] | undefined): Tags {
  const out: Record<string, string> = {};
  for (const t of list ?? []) if (t.Key !== undefined) out[t.Key] = t.Value ?? '';
  return out;
}

function toTagList(tags: Tags): Tag[] {
  return Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
}

function isoOf(d: Date | undefined): string | undefined {
  return d instanceof Date && !Number.isNaN(d.getTime()) ? d.toISOString() : undefined;
}

export function toHostView(h: Host): HostView {
  const mac = h.AvailableCapacity?.AvailableInstanceCapacity?.find(
    (c) => c.InstanceType === 'mac2.metal' || c.InstanceType === h.HostProperties?.InstanceType,
  );
  return {
    hostId: h.HostId,
    state: h.State,
    tags: tagsOf(h.Tags),
    instanceIds: (h.Instances ?? []).flatMap((i) => (i.InstanceId ? [i.InstanceId] : [])),
    macCapacity: mac?.AvailableCapacity,
    availabilityZone: h.AvailabilityZone,
    allocationTime: isoOf(h.AllocationTime),
  };
}

export function toInstanceView(i: Instance): InstanceView {
  return {
    instanceId: i.InstanceId,
    state: i.State?.Name,
    launchTime: isoOf(i.LaunchTime),
    hostId: i.Placement?.HostId,
    publicDnsName: i.PublicDnsName === '' ? undefined : i.PublicDnsName,
    tags: tagsOf(i.Tags),
    stateTransitionReason: i.StateTransitionReason,
  };
}

/** Launch template user data is base64 text; undefined when absent or empty. */
export function decodeUserData(base64: string | undefined): string | undefined {
  if (base64 === undefined || base64 === '') return undefined;
  return Buffer.from(base64, 'base64').toString('utf8');
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export interface AwsEc2Options {
  readonly region: string;
  readonly endpoint: string | undefined;
  readonly maxAttempts: number;
  readonly requestTimeoutSeconds: number;
  /** Explicit credentials (the demo's dummy ones); default: the SDK's credential chain. */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** Page sizes; small values exercise pagination in tests. */
  readonly hostPageSize?: number;
  readonly instancePageSize?: number;
  readonly log: Logger;
}

/**
 * Resolves the region once: the configured one, else the SDK's own resolution (`AWS_REGION`, the
 * profile in ~/.aws/config), else us-east-1 (behavior.md §2).
 */
export async function resolveRegion(
  configured: string | undefined,
): Promise<{ region: string; source: string }> {
  if (configured !== undefined && configured !== '')
    return { region: configured, source: 'config' };
  const probe = new EC2Client({});
  try {
    const region = await probe.config.region();
    if (typeof region === 'string' && region !== '') return { region, source: 'sdk' };
  } catch {
    // the SDK found none
  } finally {
    probe.destroy();
  }
  return { region: DEFAULT_REGION, source: 'default' };
}

export class AwsEc2 implements Ec2 {
  readonly region: string;
  private readonly client: EC2Client;
  private readonly hostPageSize: number;
  private readonly instancePageSize: number;
  private readonly log: Logger;

  constructor(opts: AwsEc2Options) {
    this.region = opts.region;
    this.log = opts.log;
    this.hostPageSize = opts.hostPageSize ?? 100;
    this.instancePageSize = opts.instancePageSize ?? 500;
    this.client = new EC2Client({
      region: opts.region,
      ...(opts.endpoint !== undefined ? { endpoint: opts.endpoint } : {}),
      ...(opts.credentials !== undefined ? { credentials: { ...opts.credentials } } : {}),
      retryMode: 'adaptive',
      maxAttempts: opts.maxAttempts,
      requestHandler: {
        requestTimeout: opts.requestTimeoutSeconds * 1000,
        connectionTimeout: opts.requestTimeoutSeconds * 1000,
      },
    });
  }

  destroy(): void {
    this.client.destroy();
  }

  private async call<T>(action: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      const aws = classifyAwsError(error);
      this.log.debug({ action, code: aws.code, kind: aws.kind }, 'EC2 call failed');
      throw aws;
    }
  }

  async listPoolHosts(pool: PoolId): Promise<HostView[]> {
    const Filter: Filter[] = [
      { Name: 'tag:Name', Values: [`${pool.namePrefix}-*`] },
      { Name: `tag:${pool.purposeTagKey}`, Values: [pool.purposeValue] },
    ];
    return this.call('DescribeHosts', async () => {
      const hosts: HostView[] = [];
      for await (const page of paginateDescribeHosts(
        { client: this.client, pageSize: this.hostPageSize },
        { Filter },
      )) {
        for (const h of page.Hosts ?? []) hosts.push(toHostView(h));
      }
      return hosts;
    });
  }

  async findHostsByName(name: string): Promise<HostView[]> {
    const Filter: Filter[] = [{ Name: 'tag:Name', Values: [name] }];
    return this.call('DescribeHosts', async () => {
      const hosts: HostView[] = [];
      for await (const page of paginateDescribeHosts(
        { client: this.client, pageSize: this.hostPageSize },
        { Filter },
      )) {
        for (const h of page.Hosts ?? []) {
          const view = toHostView(h);
          // Re-check on the client: the filter's value is a glob, the name is meant literally.
          if (view.tags.Name === name) hosts.push(view);
        }
      }
      return hosts;
    });
  }

  async allocateHost(request: AllocateHostRequest): Promise<string> {
    return this.call('AllocateHosts', async () => {
      const res = await this.client.send(
        new AllocateHostsCommand({
          AvailabilityZone: request.availabilityZone,
          InstanceType: request.instanceType,
          Quantity: 1,
          AutoPlacement: 'off',
          HostRecovery: 'off',
          HostMaintenance: 'off',
          TagSpecifications: [{ ResourceType: 'dedicated-host', Tags: toTagList(request.tags) }],
        }),
      );
      const hostId = res.HostIds?.[0];
      if (hostId === undefined || hostId === '') {
        throw new AwsError('other', 'EmptyResponse', 'AllocateHosts returned no host id');
      }
      return hostId;
    });
  }

  private async describeByFilter(filterName: string, values: readonly string[], states?: string[]) {
    const out: InstanceView[] = [];
    // The id list shares the call's value budget with the state filter.
    const chunkSize = MAX_FILTER_VALUES - (states?.length ?? 0);
    for (const chunk of chunks(values, chunkSize)) {
      const Filters: Filter[] = [{ Name: filterName, Values: chunk }];
      if (states) Filters.push({ Name: 'instance-state-name', Values: states });
      for await (const page of paginateDescribeInstances(
        { client: this.client, pageSize: this.instancePageSize },
        { Filters },
      )) {
        for (const r of page.Reservations ?? []) {
          for (const i of r.Instances ?? []) out.push(toInstanceView(i));
        }
      }
    }
    return out;
  }

  async listInstancesOnHosts(hostIds: readonly string[]): Promise<InstanceView[]> {
    if (hostIds.length === 0) return [];
    return this.call('DescribeInstances', () =>
      this.describeByFilter('host-id', hostIds, NON_TERMINATED),
    );
  }

  async listPoolInstances(pool: PoolId, states: readonly string[]): Promise<InstanceView[]> {
    return this.call('DescribeInstances', async () => {
      const out: InstanceView[] = [];
      const Filters: Filter[] = [
        { Name: 'tag:Name', Values: [`${pool.namePrefix}-*`] },
        { Name: `tag:${pool.purposeTagKey}`, Values: [pool.purposeValue] },
        { Name: 'instance-state-name', Values: [...states] },
      ];
      for await (const page of paginateDescribeInstances(
        { client: this.client, pageSize: this.instancePageSize },
        { Filters },
      )) {
        for (const r of page.Reservations ?? []) {
          for (const i of r.Instances ?? []) out.push(toInstanceView(i));
        }
      }
      return out;
    });
  }

  async setTags(resourceId: string, tags: Tags): Promise<void> {
    await this.call('CreateTags', () =>
      this.client.send(new CreateTagsCommand({ Resources: [resourceId], Tags: toTagList(tags) })),
    );
  }

  async terminateInstance(instanceId: string): Promise<void> {
    await this.call('TerminateInstances', () =>
      this.client.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] })),
    );
  }

  async describeInstancesById(instanceIds: readonly string[]): Promise<InstanceView[]> {
    if (instanceIds.length === 0) return [];
    return this.call('DescribeInstances', () => this.describeByFilter('instance-id', instanceIds));
  }

  async getLaunchTemplate(name: string): Promise<LaunchTemplateSettings> {
    return this.call('DescribeLaunchTemplateVersions', async () => {
      const res = await this.client.send(
        new DescribeLaunchTemplateVersionsCommand({
          LaunchTemplateName: name,
          Versions: ['$Default'],
        }),
      );
      const v = res.LaunchTemplateVersions?.[0];
      const data = v?.LaunchTemplateData;
      return {
        name,
        version: v?.VersionNumber === undefined ? undefined : String(v.VersionNumber),
        shutdownBehavior: data?.InstanceInitiatedShutdownBehavior,
        httpTokens: data?.MetadataOptions?.HttpTokens,
        instanceMetadataTags: data?.MetadataOptions?.InstanceMetadataTags,
        hasUserData: data?.UserData !== undefined && data.UserData !== '',
        userDataText: decodeUserData(data?.UserData),
      };
    });
  }

  async launchOnHost(request: LaunchRequest): Promise<LaunchResult> {
    const command = new RunInstancesCommand({
      LaunchTemplate: { LaunchTemplateName: request.launchTemplateName, Version: '$Default' },
      MinCount: 1,
      MaxCount: 1,
      Placement: { HostId: request.hostId, Tenancy: 'host' },
      InstanceInitiatedShutdownBehavior: 'terminate',
      MetadataOptions: { HttpTokens: 'required', InstanceMetadataTags: 'enabled' },
      TagSpecifications: [{ ResourceType: 'instance', Tags: toTagList(request.tags) }],
    });
    // The SDK fills in ClientToken while serialising, once per send, so it is stable across its
    // own retries. Read it back from the serialised request for the log.
    let clientToken: string | undefined;
    command.middlewareStack.add(
      (next) => async (args) => {
        const body = (args.request as { body?: unknown }).body;
        if (typeof body === 'string')
          clientToken = new URLSearchParams(body).get('ClientToken') ?? undefined;
        return next(args);
      },
      { step: 'build', name: 'pwPoolCaptureClientToken' },
    );
    return this.call('RunInstances', async () => {
      try {
        const res = await this.client.send(command);
        return { instanceId: res.Instances?.[0]?.InstanceId, clientToken };
      } catch (error) {
        this.log.debug({ clientToken }, 'RunInstances failed');
        throw error;
      }
    });
  }
}
