// Validation and interpretation of EC2 request values shared by the world's operations:
// shutdown behaviour, on/off switches, metadata options, tags, template data and timings.

import { invalidParameterValue } from './ec2-error.js';
import {
  DEFAULT_MAC_AMI,
  type LaunchTemplateData,
  type MetadataOptions,
  type ShutdownBehavior,
  type SimTimings,
  type Tag,
} from './model.js';

export function parseShutdownBehavior(value: string): ShutdownBehavior {
  if (value === 'stop' || value === 'terminate') return value;
  throw invalidParameterValue(
    `Value (${value}) for parameter instanceInitiatedShutdownBehavior is invalid. Expected: 'stop', 'terminate'.`,
  );
}

export function parseOnOff(name: string, value: string): 'on' | 'off' {
  if (value === 'on' || value === 'off') return value;
  throw invalidParameterValue(
    `Value (${value}) for parameter ${name} is invalid. Expected: 'on', 'off'.`,
  );
}

export function mergeMetadataOptions(
  fromTemplate: LaunchTemplateData['metadataOptions'],
  fromRequest: { [K in keyof MetadataOptions]?: string | undefined } | undefined,
): MetadataOptions {
  const pick = <T extends string>(
    name: string,
    value: string | undefined,
    allowed: readonly T[],
    fallback: T,
  ): T => {
    if (value === undefined) return fallback;
    if ((allowed as readonly string[]).includes(value)) return value as T;
    throw invalidParameterValue(`Value (${value}) for parameter ${name} is invalid.`);
  };
  const hop = fromRequest?.httpPutResponseHopLimit ?? fromTemplate?.httpPutResponseHopLimit;
  const hopLimit = hop === undefined ? 2 : Number(hop);
  if (!Number.isInteger(hopLimit) || hopLimit < 1 || hopLimit > 64) {
    throw invalidParameterValue(
      `Value (${String(hop)}) for parameter httpPutResponseHopLimit is invalid.`,
    );
  }
  return {
    httpTokens: pick(
      'httpTokens',
      fromRequest?.httpTokens ?? fromTemplate?.httpTokens,
      ['optional', 'required'],
      'optional',
    ),
    httpEndpoint: pick(
      'httpEndpoint',
      fromRequest?.httpEndpoint ?? fromTemplate?.httpEndpoint,
      ['enabled', 'disabled'],
      'enabled',
    ),
    httpPutResponseHopLimit: hopLimit,
    instanceMetadataTags: pick(
      'instanceMetadataTags',
      fromRequest?.instanceMetadataTags ?? fromTemplate?.instanceMetadataTags,
      ['enabled', 'disabled'],
      'disabled',
    ),
  };
}

/** A template's data without undefined members; imageId defaults to DEFAULT_MAC_AMI. */
export function normalizeTemplateData(data: LaunchTemplateData | undefined): LaunchTemplateData {
  const d = data ?? {};
  const out: LaunchTemplateData = { imageId: d.imageId ?? DEFAULT_MAC_AMI };
  if (d.instanceType !== undefined) out.instanceType = d.instanceType;
  if (d.keyName !== undefined) out.keyName = d.keyName;
  if (d.userData !== undefined) out.userData = d.userData;
  if (d.instanceInitiatedShutdownBehavior !== undefined) {
    out.instanceInitiatedShutdownBehavior = d.instanceInitiatedShutdownBehavior;
  }
  if (d.metadataOptions !== undefined) {
    out.metadataOptions = Object.fromEntries(
      Object.entries(d.metadataOptions).filter(([, v]) => v !== undefined),
    );
  }
  if (d.tagSpecifications !== undefined) {
    out.tagSpecifications = d.tagSpecifications.map((spec) => ({
      resourceType: spec.resourceType,
      tags: { ...spec.tags },
    }));
  }
  return out;
}

export function checkTaggableType(resourceType: string, allowed: readonly string[]): void {
  if (!allowed.includes(resourceType)) {
    throw invalidParameterValue(
      `'${resourceType}' is not a valid taggable resource type for this operation.`,
    );
  }
}

export function checkTags(tags: readonly Tag[]): void {
  for (const { key, value } of tags) {
    if (key.length < 1 || key.length > 128) {
      throw invalidParameterValue(`Tag key '${key}' must be 1 to 128 characters long.`);
    }
    if (value.length > 256)
      throw invalidParameterValue(`Tag value for key '${key}' exceeds 256 characters.`);
    if (key.toLowerCase().startsWith('aws:')) {
      throw invalidParameterValue(`Tag keys starting with 'aws:' are reserved for internal use`);
    }
  }
}

export function checkTimings(t: SimTimings): SimTimings {
  for (const [key, value] of Object.entries(t)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new RangeError(
        `timing ${key} must be a finite number of seconds >= 0, got ${String(value)}`,
      );
    }
  }
  if (t.bootMaxS < t.bootMinS) throw new RangeError('timing bootMaxS must be >= bootMinS');
  return t;
}
