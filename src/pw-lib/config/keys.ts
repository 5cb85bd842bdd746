// The key table derived from the schema: dotted keys, their PW_POOL_* variables, defaults, meanings
// and kinds.
// The README's config table is rendered from it (renderConfigTable), never written by hand.
import { z } from 'zod';
import { configSchema, keyMeta, type KeyMeta } from './schema.js';

/** How a string from the environment (or a string flag) is turned into the key's value. */
export type KeyKind = 'integer' | 'boolean' | 'string' | 'string-list' | 'string-map';

export interface ConfigKey {
  /** Dotted key, e.g. `ssh.connectTimeoutSeconds`. */
  readonly key: string;
  /** Environment variable, e.g. `PW_POOL_SSH_CONNECT_TIMEOUT_SECONDS`. */
  readonly env: string;
  /** The static default in env syntax (lists space-separated), or undefined when there is none. */
  readonly default: string | undefined;
  /** Markdown describing a derived or external default, when there is no static one. */
  readonly defaultNote: string | undefined;
  /**
   * One line for operators on what the key does (KeyMeta.meaning). Undefined only for a leaf added
   * without metadata, which test/config/keys.test.ts rejects.
   */
  readonly meaning: string | undefined;
  /** The key names a secret file (the config itself never holds a secret value). */
  readonly secret: boolean;
  /** The value is a path, expanded (`~`) and made absolute at resolution. */
  readonly path: boolean;
  readonly kind: KeyKind;
  /** What a valid value looks like, for problem messages (integers, enums, booleans). */
  readonly expected: string | undefined;
  /** The key's own schema, default included: validates one value in isolation. */
  readonly schema: z.ZodType;
}

/**
 * `PW_POOL_` + the dotted key in upper snake case: camelCase words split, dots become `_`.
 * `ssh.connectTimeoutSeconds` → `PW_POOL_SSH_CONNECT_TIMEOUT_SECONDS`.
 */
export function envNameFor(key: string): string {
  const words = key.split('.').map((part) => part.replace(/([a-z0-9])([A-Z])/g, '$1_$2'));
  return `PW_POOL_${words.join('_').toUpperCase()}`;
}

/**
 * `PW_POOL_*` variables that are not configuration keys. `PW_POOL_CONFIG` names the config file;
 * `PW_POOL_ROOT` and `PW_POOL_IMDS_URL` belong to the on-instance test sandbox (`paths.sh`, §6)
 * and may be exported in the same shell as the manager, so they are ignored rather than rejected.
 */
export const NON_KEY_ENV: readonly string[] = [
  'PW_POOL_CONFIG',
  'PW_POOL_ROOT',
  'PW_POOL_IMDS_URL',
];

function unwrap(schema: z.ZodType): { inner: z.ZodType; defaultValue: unknown } {
  let inner = schema;
  let defaultValue: unknown;
  for (;;) {
    if (inner instanceof z.ZodDefault) {
      defaultValue ??= inner.def.defaultValue;
      inner = inner.unwrap() as z.ZodType;
    } else if (inner instanceof z.ZodOptional || inner instanceof z.ZodPrefault) {
      inner = inner.unwrap() as z.ZodType;
    } else {
      return { inner, defaultValue };
    }
  }
}

function describeLeaf(inner: z.ZodType): { kind: KeyKind; expected: string | undefined } {
  if (inner instanceof z.ZodNumber) {
    const min = inner.minValue ?? Number.MIN_SAFE_INTEGER;
    const max = inner.maxValue ?? Number.MAX_SAFE_INTEGER;
    const expected =
      max < Number.MAX_SAFE_INTEGER ? `an integer from ${min} to ${max}` : `an integer ≥ ${min}`;
    return { kind: 'integer', expected };
  }
  if (inner instanceof z.ZodBoolean) return { kind: 'boolean', expected: 'true or false' };
  if (inner instanceof z.ZodEnum) {
    return { kind: 'string', expected: `one of ${inner.options.map(String).join(', ')}` };
  }
  if (inner instanceof z.ZodArray) return { kind: 'string-list', expected: undefined };
  if (inner instanceof z.ZodRecord) return { kind: 'string-map', expected: undefined };
  if (inner.type === 'string') return { kind: 'string', expected: undefined };
  throw new Error(`config schema: unsupported leaf type ${inner.type}`);
}

function showDefault(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) return value.join(' ');
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function walk(shape: z.core.$ZodLooseShape, prefix: string, out: ConfigKey[]): void {
  for (const [name, field] of Object.entries(shape)) {
    const schema = field as z.ZodType;
    const key = prefix + name;
    const { inner, defaultValue } = unwrap(schema);
    if (inner instanceof z.ZodObject) {
      walk(inner.shape, `${key}.`, out);
      continue;
    }
    const meta: Partial<KeyMeta> = keyMeta.get(schema) ?? {};
    out.push({
      key,
      env: envNameFor(key),
      default: showDefault(defaultValue),
      defaultNote: meta.defaultNote,
      meaning: meta.meaning,
      secret: meta.secret === true,
      path: meta.path === true,
      ...describeLeaf(inner),
      schema,
    });
  }
}

function collectKeys(): readonly ConfigKey[] {
  const out: ConfigKey[] = [];
  walk(configSchema.shape, '', out);
  return out;
}

/** Every configuration key (leaf of the schema), in schema order. */
export const configKeys: readonly ConfigKey[] = collectKeys();

const byKey = new Map(configKeys.map((k) => [k.key, k]));
const byEnv = new Map(configKeys.map((k) => [k.env, k]));

export function findKey(key: string): ConfigKey | undefined {
  return byKey.get(key);
}

export function findKeyByEnv(name: string): ConfigKey | undefined {
  return byEnv.get(name);
}

/** The README's config table (key, env var, default, meaning, secret) as Markdown. */
export function renderConfigTable(): string {
  const rows = configKeys.map((k) => {
    const shown = k.default !== undefined ? `\`${k.default}\`` : (k.defaultNote ?? '—');
    const cells = [
      `\`${k.key}\``,
      `\`${k.env}\``,
      shown,
      k.meaning ?? '',
      k.secret ? 'yes (file)' : '',
    ];
    return `| ${cells.join(' | ')} |`;
  });
  const header = ['key', 'env var', 'default', 'meaning', 'secret'];
  return [`| ${header.join(' | ')} |`, `|${'---|'.repeat(header.length)}`, ...rows, ''].join('\n');
}
