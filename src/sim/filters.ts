// EC2 Describe* filters: `Filter.N.Name` / `Filter.N.Value.M`. Values of one filter are OR-ed,
// filters are AND-ed; values may use the wildcards `*` (any run) and `?` (one character), `\`
// escapes them. Each action accepts a fixed set of filter names; any other is rejected exactly as
// EC2 does ("The filter 'x' is invalid").

import { Ec2ApiError, invalidParameterValue } from './ec2-error.js';
import type { TagMap } from './model.js';

export interface Filter {
  name: string;
  values: string[];
}

/** What a filter name reads from an item: one value, several, or nothing (never matches). */
export type FilterField<T> = (item: T) => string | readonly string[] | undefined;

export interface FilterTable<T> {
  fields: Readonly<Record<string, FilterField<T>>>;
  /** The item's tags, for `tag:<key>`, `tag-key` and `tag-value`. */
  tags: (item: T) => TagMap;
}

/** EC2 refuses requests with more filter values than this in total. */
export const MAX_FILTER_VALUES = 200;

export function globToRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string;
    if (ch === '\\' && i + 1 < pattern.length) {
      source += escapeChar(pattern[++i] as string);
    } else if (ch === '*') {
      source += '[\\s\\S]*';
    } else if (ch === '?') {
      source += '[\\s\\S]';
    } else {
      source += escapeChar(ch);
    }
  }
  return new RegExp(`^${source}$`, 'u');
}

function escapeChar(ch: string): string {
  return /[.*+?^${}()|[\]\\/]/.test(ch) ? `\\${ch}` : ch;
}

/** Validates every filter name against the table first, so a bad name fails the whole call. */
export function checkFilters<T>(filters: readonly Filter[], table: FilterTable<T>): void {
  let total = 0;
  for (const f of filters) {
    const known =
      Object.hasOwn(table.fields, f.name) ||
      f.name === 'tag-key' ||
      f.name === 'tag-value' ||
      (f.name.startsWith('tag:') && f.name.length > 4);
    if (!known) throw invalidParameterValue(`The filter '${f.name}' is invalid`);
    if (f.values.length === 0) {
      throw invalidParameterValue(`The filter '${f.name}' requires at least one value`);
    }
    total += f.values.length;
  }
  if (total > MAX_FILTER_VALUES) {
    throw new Ec2ApiError(
      'FilterLimitExceeded',
      `The maximum number of filter values specified on a single call is ${MAX_FILTER_VALUES}`,
    );
  }
}

export function applyFilters<T>(
  items: readonly T[],
  filters: readonly Filter[],
  table: FilterTable<T>,
): T[] {
  checkFilters(filters, table);
  const compiled = filters.map((f) => ({
    read: reader(f.name, table),
    patterns: f.values.map(globToRegExp),
  }));
  return items.filter((item) =>
    compiled.every(({ read, patterns }) => read(item).some((v) => patterns.some((p) => p.test(v)))),
  );
}

function reader<T>(name: string, table: FilterTable<T>): (item: T) => readonly string[] {
  if (name === 'tag-key') return (item) => Object.keys(table.tags(item));
  if (name === 'tag-value') return (item) => Object.values(table.tags(item));
  const field = table.fields[name];
  if (field !== undefined) return (item) => asList(field(item));
  const key = name.slice('tag:'.length);
  return (item) => {
    const tags = table.tags(item);
    return Object.hasOwn(tags, key) ? [tags[key] as string] : [];
  };
}

function asList(value: string | readonly string[] | undefined): readonly string[] {
  if (value === undefined) return [];
  return typeof value === 'string' ? [value] : value;
}
