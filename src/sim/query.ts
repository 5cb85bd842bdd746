// Reading EC2 Query-API parameters: flat `Name=value` pairs where lists are `Name.1`, `Name.2`, ...
// and structures nest with dots (`Filter.1.Value.2`, `Placement.HostId`).

import { Ec2ApiError, invalidParameterValue } from './ec2-error.js';
import type { Filter } from './filters.js';
import type { Tag } from './model.js';

/** The parameters of one request, in the order they were sent. */
export type Params = ReadonlyMap<string, string>;

export function parseQuery(text: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const [key, value] of new URLSearchParams(text)) params.set(key, value);
  return params;
}

/** Rejects any parameter whose first segment the action does not define (EC2: UnknownParameter). */
export function checkKnownParameters(params: Params, known: ReadonlySet<string>): void {
  for (const key of params.keys()) {
    const head = key.split('.', 1)[0] as string;
    if (head === 'Action' || head === 'Version' || head.startsWith('X-Amz-')) continue;
    if (!known.has(head)) {
      throw new Ec2ApiError('UnknownParameter', `The parameter ${head} is not recognized`);
    }
  }
}

export function str(params: Params, name: string): string | undefined {
  return params.get(name);
}

export function int(params: Params, name: string): number | undefined {
  const raw = params.get(name);
  if (raw === undefined) return undefined;
  if (!/^-?[0-9]+$/.test(raw)) throw invalidParameterValue(`Invalid value '${raw}' for ${name}`);
  return Number(raw);
}

export function bool(params: Params, name: string): boolean | undefined {
  const raw = params.get(name);
  if (raw === undefined) return undefined;
  if (raw !== 'true' && raw !== 'false') {
    throw invalidParameterValue(`Invalid value '${raw}' for ${name}: expected true or false`);
  }
  return raw === 'true';
}

/** `Name.1`, `Name.2`, ... in index order. */
export function list(params: Params, name: string): string[] {
  const found: [number, string][] = [];
  const pattern = new RegExp(`^${escape(name)}\\.([0-9]+)$`);
  for (const [key, value] of params) {
    const m = pattern.exec(key);
    if (m) found.push([Number(m[1]), value]);
  }
  return found.sort((a, b) => a[0] - b[0]).map(([, v]) => v);
}

/** `Name.N.<member>` groups as maps of member → value, in index order. */
export function structs(params: Params, name: string): Map<string, string>[] {
  const groups = new Map<number, Map<string, string>>();
  const pattern = new RegExp(`^${escape(name)}\\.([0-9]+)\\.(.+)$`);
  for (const [key, value] of params) {
    const m = pattern.exec(key);
    if (!m) continue;
    const index = Number(m[1]);
    let group = groups.get(index);
    if (group === undefined) groups.set(index, (group = new Map<string, string>()));
    group.set(m[2] as string, value);
  }
  return [...groups.entries()].sort((a, b) => a[0] - b[0]).map(([, g]) => g);
}

/** `Name.<member>` as a map of member → value (a structure parameter such as `Placement`). */
export function struct(params: Params, name: string): Map<string, string> {
  const out = new Map<string, string>();
  const prefix = `${name}.`;
  for (const [key, value] of params)
    if (key.startsWith(prefix)) out.set(key.slice(prefix.length), value);
  return out;
}

export function filters(params: Params, name = 'Filter'): Filter[] {
  return structs(params, name).map((group) => {
    const filterName = group.get('Name');
    if (filterName === undefined) throw invalidParameterValue(`${name} is missing its Name`);
    return { name: filterName, values: list(group, 'Value') };
  });
}

/** `Tag.N.Key` / `Tag.N.Value` (a missing value is the empty string). */
export function tags(params: Params, name = 'Tag'): Tag[] {
  return structs(params, name).map((group) => {
    const key = group.get('Key');
    if (key === undefined) throw invalidParameterValue(`${name} is missing its Key`);
    return { key, value: group.get('Value') ?? '' };
  });
}

/** `TagSpecification.N.ResourceType` with `TagSpecification.N.Tag.M.Key/Value`. */
export function tagSpecifications(params: Params): { resourceType: string; tags: Tag[] }[] {
  return structs(params, 'TagSpecification').map((group) => {
    const resourceType = group.get('ResourceType');
    if (resourceType === undefined)
      throw invalidParameterValue('TagSpecification is missing its ResourceType');
    return { resourceType, tags: tags(group) };
  });
}

/** Every parameter but the ones named, as one canonical string (for ClientToken idempotency). */
export function fingerprint(params: Params, exclude: readonly string[]): string {
  return [...params.entries()]
    .filter(([key]) => !exclude.includes(key))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => `${key}=${value}`)
    .join('&');
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
