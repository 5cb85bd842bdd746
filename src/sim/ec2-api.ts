// The EC2 Query-API facade over the world model: turns one request's parameters into a world
// operation and the result into EC2's XML, with EC2's validation, filters, pagination and errors.
// Element names follow the @aws-sdk/client-ec2 schemas (ec2QueryName / xmlName traits), e.g.
// `hostSet`, `reservationSet`, `instancesSet`, `instanceState`, `dnsName`, `tagSet`.

import {
  Ec2ApiError,
  invalidParameterValue,
  launchTemplateIdNotFound,
  missingParameter,
} from './ec2-error.js';
import type { FaultInjector } from './faults.js';
import { applyFilters, checkFilters, type FilterTable } from './filters.js';
import type { HostView, InstanceView, LaunchTemplateData, LaunchTemplateView } from './model.js';
import {
  bool,
  checkKnownParameters,
  filters,
  fingerprint,
  int,
  list,
  str,
  struct,
  structs,
  tagSpecifications,
  tags,
  type Params,
} from './query.js';
import { HOST_ID_PATTERN, INSTANCE_ID_PATTERN, type SimWorld } from './world.js';
import { ec2ErrorResponse, ec2Response, items, tagSet, type XmlObject } from './xml.js';

export interface Ec2Request {
  params: Params;
  /** Whether the request carried AWS credentials (an Authorization header or X-Amz-Credential). */
  authenticated: boolean;
  requestId: string;
}

export interface Ec2Answer {
  status: number;
  body: string;
  errorCode?: string;
  errorMessage?: string;
  /** Injected faults that shaped the answer. */
  faults: string[];
}

interface ActionContext {
  world: SimWorld;
  faults: FaultInjector;
  params: Params;
  noteFault: (name: string) => void;
}

interface ActionDefinition {
  /** Top-level parameter names the action defines (anything else is UnknownParameter). */
  params: readonly string[];
  run(ctx: ActionContext): XmlObject;
}

/** Answers one EC2 request. Never throws: every failure becomes an EC2 error answer. */
export function answerEc2Request(
  world: SimWorld,
  faults: FaultInjector,
  request: Ec2Request,
): Ec2Answer {
  const { params, requestId } = request;
  const used: string[] = [];
  try {
    if (!request.authenticated) {
      throw new Ec2ApiError(
        'AuthFailure',
        'AWS was not able to validate the provided access credentials',
        401,
      );
    }
    const action = params.get('Action');
    if (action === undefined || action === '') {
      throw new Ec2ApiError('MissingAction', 'The request must contain the parameter Action');
    }
    if (!params.has('Version')) throw missingParameter('Version');
    const definition = Object.hasOwn(ACTIONS, action) ? ACTIONS[action] : undefined;
    if (definition === undefined) {
      throw new Ec2ApiError(
        'InvalidAction',
        `The action ${action} is not valid for this web service.`,
      );
    }
    const injected = faults.takeError(action);
    if (injected?.kind === 'throttle') {
      used.push('throttle');
      throw new Ec2ApiError('RequestLimitExceeded', 'Request limit exceeded.', 503);
    }
    if (injected?.kind === '5xx' && !injected.after) {
      used.push('5xx');
      throw internalError();
    }
    checkKnownParameters(params, new Set(definition.params));
    if (bool(params, 'DryRun') === true) {
      throw new Ec2ApiError(
        'DryRunOperation',
        'Request would have succeeded, but DryRun flag is set.',
        412,
      );
    }
    const body = definition.run({ world, faults, params, noteFault: (name) => used.push(name) });
    if (injected?.kind === '5xx') {
      used.push('5xx:after');
      throw internalError();
    }
    return { status: 200, body: ec2Response(action, requestId, body), faults: used };
  } catch (error) {
    const e =
      error instanceof Ec2ApiError
        ? error
        : new Ec2ApiError(
            'InternalError',
            `Simulator failure: ${error instanceof Error ? error.message : String(error)}`,
            500,
          );
    return {
      status: e.httpStatus,
      body: ec2ErrorResponse(e.code, e.message, requestId),
      errorCode: e.code,
      errorMessage: e.message,
      faults: used,
    };
  }
}

function internalError(): Ec2ApiError {
  return new Ec2ApiError('InternalError', 'An internal error has occurred', 500);
}

// ---------------------------------------------------------------- filters

const HOST_FILTERS: FilterTable<HostView> = {
  fields: {
    'auto-placement': (h) => h.autoPlacement,
    'availability-zone': (h) => h.availabilityZone,
    'client-token': (h) => h.clientToken,
    'host-reservation-id': () => undefined,
    'instance-type': (h) => h.instanceType,
    state: (h) => h.state,
  },
  tags: (h) => h.tags,
};

const INSTANCE_FILTERS: FilterTable<InstanceView> = {
  fields: {
    'availability-zone': (i) => i.availabilityZone,
    'client-token': (i) => i.clientToken,
    'dns-name': (i) => (i.publicDnsName === '' ? undefined : i.publicDnsName),
    'host-id': (i) => i.hostId,
    'image-id': (i) => i.imageId,
    'instance-id': (i) => i.instanceId,
    'instance-state-code': (i) => String(i.stateCode),
    'instance-state-name': (i) => i.state,
    'instance-type': (i) => i.instanceType,
    'ip-address': (i) => i.publicIpAddress,
    'key-name': (i) => i.keyName,
    'launch-time': (i) => i.launchTime.toISOString(),
    'metadata-options.http-tokens': (i) => i.metadataOptions.httpTokens,
    'metadata-options.instance-metadata-tags': (i) => i.metadataOptions.instanceMetadataTags,
    'owner-id': () => undefined,
    'private-dns-name': (i) => i.privateDnsName,
    'private-ip-address': (i) => i.privateIpAddress,
    'reservation-id': (i) => i.reservationId,
    tenancy: () => 'host',
  },
  tags: (i) => i.tags,
};

const TEMPLATE_FILTERS: FilterTable<LaunchTemplateView> = {
  fields: {
    'create-time': (t) => t.createTime.toISOString(),
    'launch-template-name': (t) => t.launchTemplateName,
  },
  tags: (t) => t.tags,
};

const NO_FILTERS: FilterTable<unknown> = { fields: {}, tags: () => ({}) };

// ---------------------------------------------------------------- pagination

interface Page<T> {
  items: T[];
  nextToken: string | undefined;
}

/**
 * Keyset pagination over items sorted by a unique key: the token holds the last key returned, so
 * pages never skip or repeat an item even when items come and go between calls.
 */
function paginate<T>(
  scope: string,
  sorted: readonly T[],
  key: (item: T) => string,
  maxResults: number | undefined,
  nextToken: string | undefined,
): Page<T> {
  let start = 0;
  if (nextToken !== undefined && nextToken !== '') {
    const last = decodeToken(scope, nextToken);
    start = sorted.findIndex((item) => key(item) > last);
    if (start < 0) start = sorted.length;
  }
  if (maxResults === undefined) return { items: sorted.slice(start), nextToken: undefined };
  const page = sorted.slice(start, start + maxResults);
  const more = start + maxResults < sorted.length;
  const lastItem = page.at(-1);
  return {
    items: page,
    nextToken: more && lastItem !== undefined ? encodeToken(scope, key(lastItem)) : undefined,
  };
}

function encodeToken(scope: string, lastKey: string): string {
  return Buffer.from(JSON.stringify({ scope, lastKey }), 'utf8').toString('base64url');
}

function decodeToken(scope: string, token: string): string {
  try {
    const decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown;
    if (
      typeof decoded === 'object' &&
      decoded !== null &&
      (decoded as { scope?: unknown }).scope === scope &&
      typeof (decoded as { lastKey?: unknown }).lastKey === 'string'
    ) {
      return (decoded as { lastKey: string }).lastKey;
    }
  } catch {
    // fall through to the EC2 error
  }
  throw new Ec2ApiError(
    'InvalidPaginationToken',
    `The specified pagination token is not valid: ${token}`,
  );
}

function maxResultsParam(params: Params, min: number, max: number): number | undefined {
  const value = int(params, 'MaxResults');
  if (value !== undefined && (value < min || value > max)) {
    throw invalidParameterValue(
      `Value ( ${value} ) for parameter maxResults is invalid. Expecting a value between ${min} and ${max}.`,
    );
  }
  return value;
}

function byKey<T>(key: (item: T) => string): (a: T, b: T) => number {
  return (a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
}

// ---------------------------------------------------------------- XML shapes

function stateXml(name: string, code: number): XmlObject {
  return { code, name };
}

function availabilityZoneId(region: string, az: string): string {
  const parts = region.split('-');
  const short = `${parts[0] ?? ''}${parts
    .slice(1, -1)
    .map((p) => p[0] ?? '')
    .join('')}${parts.at(-1) ?? ''}`;
  return `${short}-az${az.charCodeAt(az.length - 1) - 96}`;
}

function hostXml(world: SimWorld, h: HostView): XmlObject {
  const vcpus = 8;
  return {
    autoPlacement: h.autoPlacement,
    availabilityZone: h.availabilityZone,
    availableCapacity: {
      availableInstanceCapacity: items([h], () => ({
        availableCapacity: h.availableCapacity,
        instanceType: h.instanceType,
        totalCapacity: h.totalCapacity,
      })),
      availableVCpus: h.availableCapacity * vcpus,
    },
    clientToken: h.clientToken,
    hostId: h.hostId,
    hostProperties: { cores: vcpus, instanceType: h.instanceType, sockets: 1, totalVCpus: vcpus },
    instances: items(h.instanceIds, (instanceId) => ({
      instanceId,
      instanceType: h.instanceType,
      ownerId: world.ownerId,
    })),
    state: h.state,
    allocationTime: h.allocationTime,
    releaseTime: h.releaseTime,
    tagSet: tagSet(h.tags),
    hostRecovery: h.hostRecovery,
    allowsMultipleInstanceTypes: 'off',
    ownerId: world.ownerId,
    availabilityZoneId: availabilityZoneId(world.region, h.availabilityZone),
    memberOfServiceLinkedResourceGroup: false,
    hostMaintenance: h.hostMaintenance,
  };
}

function instanceXml(i: InstanceView): XmlObject {
  return {
    instanceId: i.instanceId,
    imageId: i.imageId,
    instanceState: stateXml(i.state, i.stateCode),
    privateDnsName: i.privateDnsName,
    dnsName: i.publicDnsName,
    reason: i.stateTransitionReason,
    keyName: i.keyName,
    amiLaunchIndex: 0,
    productCodes: items([], () => undefined),
    instanceType: i.instanceType,
    launchTime: i.launchTime,
    placement: {
      availabilityZone: i.availabilityZone,
      groupName: '',
      tenancy: 'host',
      hostId: i.hostId,
    },
    monitoring: { state: 'disabled' },
    privateIpAddress: i.privateIpAddress,
    ipAddress: i.publicIpAddress,
    groupSet: items([], () => undefined),
    stateReason: i.stateReason,
    architecture: 'arm64_mac',
    rootDeviceType: 'ebs',
    rootDeviceName: '/dev/sda1',
    blockDeviceMapping: items([], () => undefined),
    virtualizationType: 'hvm',
    clientToken: i.clientToken ?? '',
    tagSet: tagSet(i.tags),
    hypervisor: 'xen',
    networkInterfaceSet: items([], () => undefined),
    ebsOptimized: true,
    enaSupport: true,
    sourceDestCheck: true,
    metadataOptions: {
      state: 'applied',
      httpTokens: i.metadataOptions.httpTokens,
      httpPutResponseHopLimit: i.metadataOptions.httpPutResponseHopLimit,
      httpEndpoint: i.metadataOptions.httpEndpoint,
      httpProtocolIpv6: 'disabled',
      instanceMetadataTags: i.metadataOptions.instanceMetadataTags,
    },
    platformDetails: 'Linux/UNIX',
    bootMode: 'uefi',
    currentInstanceBootMode: 'uefi',
  };
}

function templateXml(t: LaunchTemplateView): XmlObject {
  return {
    launchTemplateId: t.launchTemplateId,
    launchTemplateName: t.launchTemplateName,
    createTime: t.createTime,
    createdBy: t.createdBy,
    defaultVersionNumber: t.defaultVersionNumber,
    latestVersionNumber: t.latestVersionNumber,
    tagSet: tagSet(t.tags),
  };
}

function templateDataXml(d: LaunchTemplateData): XmlObject {
  const m = d.metadataOptions;
  return {
    imageId: d.imageId,
    instanceType: d.instanceType,
    keyName: d.keyName,
    userData: d.userData,
    instanceInitiatedShutdownBehavior: d.instanceInitiatedShutdownBehavior,
    metadataOptions:
      m === undefined
        ? undefined
        : {
            httpTokens: m.httpTokens,
            httpPutResponseHopLimit: m.httpPutResponseHopLimit,
            httpEndpoint: m.httpEndpoint,
            instanceMetadataTags: m.instanceMetadataTags,
          },
    tagSpecificationSet:
      d.tagSpecifications === undefined || d.tagSpecifications.length === 0
        ? undefined
        : items(d.tagSpecifications, (s) => ({
            resourceType: s.resourceType,
            tagSet: tagSet(s.tags),
          })),
  };
}

function stateChangesXml(
  changes: readonly {
    instanceId: string;
    previous: InstanceView['state'];
    current: InstanceView['state'];
  }[],
): XmlObject {
  return {
    instancesSet: items(changes, (c) => ({
      instanceId: c.instanceId,
      currentState: stateXml(c.current, STATE_CODE[c.current]),
      previousState: stateXml(c.previous, STATE_CODE[c.previous]),
    })),
  };
}

const STATE_CODE: Readonly<Record<InstanceView['state'], number>> = {
  pending: 0,
  running: 16,
  'shutting-down': 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

// ---------------------------------------------------------------- actions

const RUN_INSTANCES_PARAMS = [
  'MaxCount',
  'MinCount',
  'BlockDeviceMapping',
  'ImageId',
  'InstanceType',
  'Ipv6AddressCount',
  'Ipv6Address',
  'KernelId',
  'KeyName',
  'Monitoring',
  'Placement',
  'RamdiskId',
  'SecurityGroupId',
  'SecurityGroup',
  'SubnetId',
  'UserData',
  'ElasticGpuSpecification',
  'ElasticInferenceAccelerator',
  'TagSpecification',
  'LaunchTemplate',
  'InstanceMarketOptions',
  'CreditSpecification',
  'CpuOptions',
  'CapacityReservationSpecification',
  'HibernationOptions',
  'LicenseSpecification',
  'MetadataOptions',
  'EnclaveOptions',
  'PrivateDnsNameOptions',
  'MaintenanceOptions',
  'DisableApiStop',
  'EnablePrimaryIpv6',
  'NetworkPerformanceOptions',
  'Operator',
  'SecondaryInterface',
  'DryRun',
  'DisableApiTermination',
  'InstanceInitiatedShutdownBehavior',
  'PrivateIpAddress',
  'ClientToken',
  'AdditionalInfo',
  'NetworkInterface',
  'IamInstanceProfile',
  'EbsOptimized',
] as const;

const ACTIONS: Readonly<Record<string, ActionDefinition>> = {
  DescribeHosts: {
    params: ['HostId', 'NextToken', 'MaxResults', 'Filter'],
    run({ world, params }) {
      const hostIds = list(params, 'HostId');
      const maxResults = maxResultsParam(params, 5, 500);
      if (maxResults !== undefined && hostIds.length > 0) {
        throw new Ec2ApiError(
          'InvalidParameterCombination',
          'The parameter hostSet cannot be used with the parameter maxResults',
        );
      }
      const fs = filters(params);
      checkFilters(fs, HOST_FILTERS);
      let hosts = world.hosts().sort(byKey((h) => h.hostId));
      if (hostIds.length > 0) {
        const malformed = hostIds.find((id) => !HOST_ID_PATTERN.test(id));
        if (malformed !== undefined) {
          throw new Ec2ApiError(
            'InvalidHostID.Malformed',
            `Invalid id: "${malformed}" (expecting "h-...")`,
          );
        }
        const known = new Set(hosts.map((h) => h.hostId));
        const missing = hostIds.filter((id) => !known.has(id));
        if (missing.length > 0) {
          throw new Ec2ApiError(
            'InvalidHostID.NotFound',
            `The host ID '${missing.join(', ')}' does not exist`,
          );
        }
        hosts = hosts.filter((h) => hostIds.includes(h.hostId));
      }
      hosts = applyFilters(hosts, fs, HOST_FILTERS);
      const page = paginate(
        'DescribeHosts',
        hosts,
        (h) => h.hostId,
        maxResults,
        str(params, 'NextToken'),
      );
      return { hostSet: items(page.items, (h) => hostXml(world, h)), nextToken: page.nextToken };
    },
  },

  DescribeInstances: {
    params: [
      'InstanceId',
      'IncludeManagedResources',
      'DryRun',
      'Filter',
      'NextToken',
      'MaxResults',
    ],
    run({ world, params }) {
      const instanceIds = list(params, 'InstanceId');
      const maxResults = maxResultsParam(params, 5, 1000);
      if (maxResults !== undefined && instanceIds.length > 0) {
        throw new Ec2ApiError(
          'InvalidParameterCombination',
          'The parameter instancesSet cannot be used with the parameter maxResults',
        );
      }
      const fs = filters(params);
      checkFilters(fs, INSTANCE_FILTERS);
      let instances = world.instances().sort(byKey((i) => i.instanceId));
      if (instanceIds.length > 0) {
        const malformed = instanceIds.find((id) => !INSTANCE_ID_PATTERN.test(id));
        if (malformed !== undefined) {
          throw new Ec2ApiError('InvalidInstanceID.Malformed', `Invalid id: "${malformed}"`);
        }
        const known = new Set(instances.map((i) => i.instanceId));
        const missing = [...new Set(instanceIds.filter((id) => !known.has(id)))];
        if (missing.length === 1) {
          throw new Ec2ApiError(
            'InvalidInstanceID.NotFound',
            `The instance ID '${missing[0]}' does not exist`,
          );
        }
        if (missing.length > 1) {
          throw new Ec2ApiError(
            'InvalidInstanceID.NotFound',
            `The instance IDs '${missing.join(', ')}' do not exist`,
          );
        }
        instances = instances.filter((i) => instanceIds.includes(i.instanceId));
      }
      instances = applyFilters(instances, fs, INSTANCE_FILTERS);
      const page = paginate(
        'DescribeInstances',
        instances,
        (i) => i.instanceId,
        maxResults,
        str(params, 'NextToken'),
      );
      const reservations = new Map<string, InstanceView[]>();
      for (const i of page.items) {
        const group = reservations.get(i.reservationId);
        if (group === undefined) reservations.set(i.reservationId, [i]);
        else group.push(i);
      }
      return {
        reservationSet: items([...reservations.entries()], ([reservationId, members]) => ({
          reservationId,
          ownerId: world.ownerId,
          groupSet: items([], () => undefined),
          instancesSet: items(members, instanceXml),
        })),
        nextToken: page.nextToken,
      };
    },
  },

  RunInstances: {
    params: RUN_INSTANCES_PARAMS,
    run({ world, faults, params, noteFault }) {
      const minCount = int(params, 'MinCount');
      const maxCount = int(params, 'MaxCount');
      if (minCount === undefined) throw missingParameter('MinCount');
      if (maxCount === undefined) throw missingParameter('MaxCount');
      const lt = struct(params, 'LaunchTemplate');
      const placement = struct(params, 'Placement');
      const metadata = struct(params, 'MetadataOptions');
      const result = world.runInstances(
        {
          minCount,
          maxCount,
          launchTemplate:
            lt.size === 0
              ? undefined
              : {
                  id: lt.get('LaunchTemplateId'),
                  name: lt.get('LaunchTemplateName'),
                  version: lt.get('Version'),
                },
          imageId: str(params, 'ImageId'),
          instanceType: str(params, 'InstanceType'),
          keyName: str(params, 'KeyName'),
          hostId: placement.get('HostId'),
          tenancy: placement.get('Tenancy'),
          tagSpecifications: tagSpecifications(params),
          instanceInitiatedShutdownBehavior: str(params, 'InstanceInitiatedShutdownBehavior'),
          metadataOptions: {
            httpTokens: metadata.get('HttpTokens'),
            httpEndpoint: metadata.get('HttpEndpoint'),
            httpPutResponseHopLimit: metadata.get('HttpPutResponseHopLimit'),
            instanceMetadataTags: metadata.get('InstanceMetadataTags'),
          },
          clientToken: str(params, 'ClientToken'),
          fingerprint: fingerprint(params, ['Action', 'Version', 'ClientToken']),
        },
        {
          injectCapacityFailure: (host) => {
            const hit = faults.takeRunCapacity(host);
            if (hit) noteFault('capacity');
            return hit;
          },
        },
      );
      return {
        reservationId: result.reservationId,
        ownerId: result.ownerId,
        groupSet: items([], () => undefined),
        instancesSet: items(result.instances, instanceXml),
      };
    },
  },

  TerminateInstances: {
    params: ['InstanceId', 'Force', 'SkipOsShutdown', 'DryRun'],
    run({ world, params }) {
      return stateChangesXml(world.terminateInstances(list(params, 'InstanceId')));
    },
  },

  StopInstances: {
    params: ['InstanceId', 'Hibernate', 'SkipOsShutdown', 'DryRun', 'Force'],
    run({ world, params }) {
      return stateChangesXml(world.stopInstances(list(params, 'InstanceId')));
    },
  },

  CreateTags: {
    params: ['ResourceId', 'Tag', 'DryRun'],
    run({ world, params }) {
      world.createTags(list(params, 'ResourceId'), tags(params));
      return { return: true };
    },
  },

  DeleteTags: {
    params: ['ResourceId', 'DryRun', 'Tag'],
    run({ world, params }) {
      const toDelete = structs(params, 'Tag').map((group) => {
        const key = group.get('Key');
        if (key === undefined) throw invalidParameterValue('Tag is missing its Key');
        const value = group.get('Value');
        return value === undefined ? { key } : { key, value };
      });
      world.deleteTags(list(params, 'ResourceId'), toDelete);
      return { return: true };
    },
  },

  DescribeLaunchTemplates: {
    params: [
      'DryRun',
      'LaunchTemplateId',
      'LaunchTemplateName',
      'Filter',
      'NextToken',
      'MaxResults',
      'IncludeManagedResources',
    ],
    run({ world, params }) {
      const ids = list(params, 'LaunchTemplateId');
      const names = list(params, 'LaunchTemplateName');
      const maxResults = maxResultsParam(params, 1, 200);
      const fs = filters(params);
      checkFilters(fs, TEMPLATE_FILTERS);
      let templates = world.launchTemplates().sort(byKey((t) => t.launchTemplateId));
      if (ids.length > 0) {
        const missing = ids.find((id) => !templates.some((t) => t.launchTemplateId === id));
        if (missing !== undefined) throw launchTemplateIdNotFound(missing);
        templates = templates.filter((t) => ids.includes(t.launchTemplateId));
      }
      if (names.length > 0) {
        if (names.some((n) => !templates.some((t) => t.launchTemplateName === n))) {
          throw new Ec2ApiError(
            'InvalidLaunchTemplateName.NotFoundException',
            'At least one of the launch templates specified in the request does not exist.',
          );
        }
        templates = templates.filter((t) => names.includes(t.launchTemplateName));
      }
      templates = applyFilters(templates, fs, TEMPLATE_FILTERS);
      const page = paginate(
        'DescribeLaunchTemplates',
        templates,
        (t) => t.launchTemplateId,
        maxResults,
        str(params, 'NextToken'),
      );
      return { launchTemplates: items(page.items, templateXml), nextToken: page.nextToken };
    },
  },

  DescribeLaunchTemplateVersions: {
    params: [
      'DryRun',
      'LaunchTemplateId',
      'LaunchTemplateName',
      'LaunchTemplateVersion',
      'MinVersion',
      'MaxVersion',
      'NextToken',
      'MaxResults',
      'Filter',
      'ResolveAlias',
      'IncludeManagedResources',
    ],
    run({ world, params }) {
      checkFilters(filters(params), NO_FILTERS);
      const id = str(params, 'LaunchTemplateId');
      const name = str(params, 'LaunchTemplateName');
      const requested = list(params, 'LaunchTemplateVersion');
      const minVersion = int(params, 'MinVersion');
      const maxVersion = int(params, 'MaxVersion');
      const maxResults = maxResultsParam(params, 1, 200);
      if (id !== undefined && name !== undefined) {
        throw new Ec2ApiError(
          'InvalidParameterCombination',
          'Specify either the launch template ID or the launch template name, not both.',
        );
      }
      let templates: LaunchTemplateView[];
      if (id === undefined && name === undefined) {
        if (requested.length === 0 || requested.some((v) => v !== '$Latest' && v !== '$Default')) {
          throw missingParameter('LaunchTemplateId or LaunchTemplateName');
        }
        templates = world.launchTemplates();
      } else {
        templates = [world.resolveLaunchTemplate({ id, name }).template];
      }
      const rows: { template: LaunchTemplateView; versionNumber: number }[] = [];
      for (const template of templates) {
        let numbers: number[];
        if (requested.length > 0) {
          numbers = requested.map(
            (v) =>
              world.resolveLaunchTemplate({ id: template.launchTemplateId, version: v })
                .versionNumber,
          );
        } else {
          numbers = template.versions.map((v) => v.versionNumber);
        }
        for (const versionNumber of [...new Set(numbers)].sort((a, b) => a - b)) {
          if (minVersion !== undefined && versionNumber < minVersion) continue;
          if (maxVersion !== undefined && versionNumber > maxVersion) continue;
          rows.push({ template, versionNumber });
        }
      }
      const key = (r: { template: LaunchTemplateView; versionNumber: number }): string =>
        `${r.template.launchTemplateId}/${String(r.versionNumber).padStart(10, '0')}`;
      const page = paginate(
        'DescribeLaunchTemplateVersions',
        rows.sort(byKey(key)),
        key,
        maxResults,
        str(params, 'NextToken'),
      );
      return {
        launchTemplateVersionSet: items(page.items, ({ template, versionNumber }) => {
          const v = template.versions.find((x) => x.versionNumber === versionNumber);
          return {
            launchTemplateId: template.launchTemplateId,
            launchTemplateName: template.launchTemplateName,
            versionNumber,
            versionDescription: v?.description,
            createTime: v?.createTime,
            createdBy: template.createdBy,
            defaultVersion: v?.isDefault ?? false,
            launchTemplateData: templateDataXml(v?.data ?? {}),
          };
        }),
        nextToken: page.nextToken,
      };
    },
  },

  AllocateHosts: {
    params: [
      'InstanceFamily',
      'TagSpecification',
      'HostRecovery',
      'OutpostArn',
      'HostMaintenance',
      'AssetId',
      'AvailabilityZoneId',
      'CpuOptions',
      'AutoPlacement',
      'ClientToken',
      'InstanceType',
      'Quantity',
      'AvailabilityZone',
    ],
    run({ world, faults, params, noteFault }) {
      const hostIds = world.allocateHosts(
        {
          availabilityZone: str(params, 'AvailabilityZone'),
          instanceType: str(params, 'InstanceType'),
          instanceFamily: str(params, 'InstanceFamily'),
          quantity: int(params, 'Quantity'),
          autoPlacement: str(params, 'AutoPlacement'),
          hostRecovery: str(params, 'HostRecovery'),
          hostMaintenance: str(params, 'HostMaintenance'),
          tagSpecifications: tagSpecifications(params),
          clientToken: str(params, 'ClientToken'),
          fingerprint: fingerprint(params, ['Action', 'Version', 'ClientToken']),
        },
        {
          injectCapacityFailure: () => {
            const hit = faults.takeAllocateCapacity();
            if (hit) noteFault('capacity');
            return hit;
          },
        },
      );
      return { hostIdSet: items(hostIds, (id) => id) };
    },
  },

  ReleaseHosts: {
    params: ['HostId'],
    run({ world, params }) {
      const result = world.releaseHosts(list(params, 'HostId'));
      return {
        successful: items(result.successful, (id) => id),
        unsuccessful: items(result.unsuccessful, (u) => ({
          error: { code: u.code, message: u.message },
          resourceId: u.resourceId,
        })),
      };
    },
  },
};

/** Every EC2 action the simulated cloud implements. */
export const SUPPORTED_ACTIONS: readonly string[] = Object.freeze(Object.keys(ACTIONS));
