// Pure configuration handling: merge the sources, validate everything at once, fill in the derived
// defaults. No I/O here; load.ts reads the files and passes the layers in.
import { isAbsolute, join, resolve } from 'node:path';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { configKeys, findKey, findKeyByEnv, NON_KEY_ENV, type ConfigKey } from './keys.js';
import { configSchema, WORKER_PLACEHOLDER, type Config, type ConfigValues } from './schema.js';

/** One source of values, nested as in the config file; `source` names it in problem messages. */
export interface ConfigLayer {
  readonly source: string;
  readonly values: Readonly<Record<string, unknown>>;
}

/** The process facts the derived defaults depend on, passed in so that this module stays pure. */
export interface ConfigContext {
  readonly homeDir: string;
  readonly uid: number;
  readonly cwd: string;
}

export interface ParsedConfig {
  readonly config: Config;
  /** Dotted key → the source that set it (file path, env variable, overlay path, flag). */
  readonly origins: Readonly<Record<string, string>>;
}

type Tree = Record<string, unknown>;

function isPlainObject(value: unknown): value is Tree {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Turns a string from the environment or a flag into the key's type: integers strictly, booleans
 * `true`/`false`, lists whitespace-separated, maps as JSON. Anything else is passed on unchanged so
 * that validation reports it together with every other problem.
 */
export function coerceString(key: ConfigKey, text: string): unknown {
  switch (key.kind) {
    case 'integer':
      return /^[+-]?[0-9]+$/.test(text.trim()) ? Number(text) : text;
    case 'boolean':
      return text === 'true' ? true : text === 'false' ? false : text;
    case 'string-list':
      return text.split(/\s+/).filter((word) => word !== '');
    case 'string-map':
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return text;
      }
    case 'string':
      return text;
  }
}

function nest(dotted: string, value: unknown): Tree {
  const parts = dotted.split('.');
  let tree: unknown = value;
  for (const part of parts.reverse()) tree = { [part]: tree };
  return tree as Tree;
}

/**
 * One layer per `PW_POOL_*` variable (so each problem names its variable). Empty values count as
 * unset. Variables that map to no key are problems, except those in NON_KEY_ENV.
 */
export function envLayers(env: NodeJS.ProcessEnv): { layers: ConfigLayer[]; problems: string[] } {
  const layers: ConfigLayer[] = [];
  const problems: string[] = [];
  for (const name of Object.keys(env).sort()) {
    const text = env[name];
    if (!name.startsWith('PW_POOL_') || NON_KEY_ENV.includes(name)) continue;
    const key = findKeyByEnv(name);
    if (key === undefined) {
      problems.push(`${name} (from environment): no configuration key maps to this variable`);
    } else if (text !== undefined && text !== '') {
      layers.push({ source: name, values: nest(key.key, coerceString(key, text)) });
    }
  }
  return { layers, problems };
}

/** One layer per flag; keys are dotted (`ssh.port`) or top-level (`stateDir`), strings coerced. */
export function flagLayers(flags: Readonly<Record<string, unknown>>): ConfigLayer[] {
  return Object.entries(flags)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => {
      const key = findKey(name);
      const coerced =
        key !== undefined && typeof value === 'string' ? coerceString(key, value) : value;
      const flag = name
        .split('.')
        .map((part) => part.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase())
        .join('.');
      return { source: `--${flag}`, values: nest(name, coerced) };
    });
}

/** Sets an own property, so that a key like `__proto__` is just an unknown key. */
function setOwn<T>(target: Tree, name: string, value: T): T {
  Object.defineProperty(target, name, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
  return value;
}

/**
 * Merges the layers in order (later wins). Config sections deep-merge; values (scalars, lists and
 * the string maps) replace. Records which layer set each path, for problem messages.
 */
export function mergeLayers(layers: readonly ConfigLayer[]): {
  raw: Tree;
  origins: Map<string, string>;
} {
  const raw: Tree = {};
  const origins = new Map<string, string>();
  const mergeInto = (target: Tree, values: Readonly<Tree>, prefix: string, source: string) => {
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined) continue;
      const path = prefix + name;
      const current = Object.hasOwn(target, name) ? target[name] : undefined;
      origins.set(path, source);
      if (isPlainObject(value) && findKey(path) === undefined) {
        const section = isPlainObject(current) ? current : setOwn(target, name, {});
        mergeInto(section, value, `${path}.`, source);
      } else {
        for (const known of origins.keys()) if (known.startsWith(`${path}.`)) origins.delete(known);
        setOwn(target, name, structuredClone(value));
      }
    }
  };
  for (const layer of layers) mergeInto(raw, layer.values, '', layer.source);
  return { raw, origins };
}

function valueAt(tree: unknown, path: readonly PropertyKey[]): unknown {
  let node = tree;
  for (const part of path) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<PropertyKey, unknown>)[part];
  }
  return node;
}

function originOf(origins: ReadonlyMap<string, string>, path: string): string {
  for (let p = path; p !== ''; p = p.includes('.') ? p.slice(0, p.lastIndexOf('.')) : '') {
    const source = origins.get(p);
    if (source !== undefined) return `from ${source}`;
  }
  return 'default';
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

const TYPE_TEXT: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'an object',
  record: 'a JSON object of strings',
  array: 'a list of strings',
};

function formatIssue(issue: z.core.$ZodIssue, raw: Tree, origins: Map<string, string>): string[] {
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((name) => {
      const full = path === '' ? name : `${path}.${name}`;
      return `${full} (${originOf(origins, full)}): unknown key`;
    });
  }
  const where = `${path === '' ? '(top level)' : path} (${originOf(origins, path)})`;
  if (issue.code === 'invalid_key') {
    return [`${where}: invalid key, ${issue.issues[0]?.message ?? issue.message}`];
  }
  const key = findKey(path);
  const expected =
    key?.expected !== undefined
      ? `expected ${key.expected}`
      : issue.code === 'invalid_type'
        ? `expected ${TYPE_TEXT[issue.expected] ?? issue.expected}`
        : issue.message;
  const value = valueAt(raw, issue.path);
  return [
    value === undefined ? `${where}: ${expected}` : `${where}: ${expected}, got ${show(value)}`,
  ];
}

/** The value of one key in isolation (its default applied), or undefined if it is itself invalid. */
function leafValue(raw: Tree, key: string): unknown {
  const schema = findKey(key)?.schema;
  const result = schema?.safeParse(valueAt(raw, key.split('.')));
  return result?.success === true ? result.data : undefined;
}

/** §2 cross-field rules, checked on each key's own value so they add to, not hide, other problems. */
function crossFieldProblems(raw: Tree, origins: Map<string, string>): string[] {
  const num = (key: string) => {
    const value = leafValue(raw, key);
    return typeof value === 'number' ? value : undefined;
  };
  const from = (key: string) => originOf(origins, key);
  const problems: string[] = [];
  const max = num('maxLifetimeSeconds');
  const drain = num('agentDrainSeconds');
  const stagger = num('launchStaggerSeconds');
  const setHard = valueAt(raw, ['hardLifetimeSeconds']) !== undefined;
  const hard = setHard ? num('hardLifetimeSeconds') : max === undefined ? undefined : 2 * max;
  if (hard !== undefined && max !== undefined && drain !== undefined && !(hard > max + drain)) {
    const hardFrom = setHard ? from('hardLifetimeSeconds') : 'default 2 × maxLifetimeSeconds';
    problems.push(
      `hardLifetimeSeconds (${hardFrom}): must be greater than maxLifetimeSeconds + agentDrainSeconds` +
        ` = ${max} (${from('maxLifetimeSeconds')}) + ${drain} (${from('agentDrainSeconds')})` +
        ` = ${max + drain}, got ${hard}`,
    );
  }
  if (max !== undefined && stagger !== undefined && stagger !== 0 && !(max > 2 * stagger)) {
    problems.push(
      `maxLifetimeSeconds (${from('maxLifetimeSeconds')}): must be greater than` +
        ` 2 × launchStaggerSeconds = 2 × ${stagger} (${from('launchStaggerSeconds')}) = ${2 * stagger}` +
        ` unless the stagger is 0, got ${max}`,
    );
  }
  return problems;
}

/** Default agent-specific remote environments (behavior.md §6.5, §7). */
function agentEnvDefaults(kind: Config['agent']['kind']): {
  runnerEnv: Record<string, string>;
  ciEnv: Record<string, string>;
} {
  const home = `/Users/${WORKER_PLACEHOLDER}`;
  switch (kind) {
    case 'cirrus':
      return {
        runnerEnv: {},
        ciEnv: {
          CIRRUS_SHELL: '/bin/bash',
          CIRRUS_TASK_ID: '0123456789',
          CIRRUS_WORKING_DIR: `${home}/ci/task-0123456789`,
          CONTAINERS_MACHINE_PROVIDER: 'applehv',
        },
      };
    case 'github-actions':
      return {
        runnerEnv: { GOPATH: `${home}/ci/.go`, GOCACHE: `${home}/ci/.go/cache` },
        ciEnv: {},
      };
  }
}

function absolutePath(path: string, ctx: ConfigContext): string {
  const expanded =
    path === '~' ? ctx.homeDir : path.startsWith('~/') ? join(ctx.homeDir, path.slice(2)) : path;
  return isAbsolute(expanded) ? resolve(expanded) : resolve(ctx.cwd, expanded);
}

/**
 * Fills in the defaults that depend on other keys or on the process (after all sources merged)
 * and makes every path absolute (`~` expanded, relative paths against `ctx.cwd`).
 */
export function resolveConfig(parsed: ConfigValues, ctx: ConfigContext): Config {
  const values = structuredClone(parsed);
  const prefix = values.namePrefix;
  const kind = values.agent.kind;
  const stateDir = absolutePath(
    values.stateDir ??
      join(ctx.homeDir, '.local/state/pw-pool', `${prefix}-${values.purposeValue}`),
    ctx,
  );
  const agentDefaults = agentEnvDefaults(kind);
  const config: Config = {
    ...values,
    launchTemplateName:
      values.launchTemplateName ??
      (kind === 'cirrus' ? `Cirrus${prefix}PWinstance` : `GHA${prefix}Runner`),
    hardLifetimeSeconds: values.hardLifetimeSeconds ?? 2 * values.maxLifetimeSeconds,
    stateDir,
    ssh: {
      ...values.ssh,
      agentEnvFile: values.ssh.agentEnvFile ?? `/run/user/${ctx.uid}/ssh-agent.env`,
    },
    cron: { ...values.cron, logFile: values.cron.logFile ?? join(stateDir, 'Cron.log') },
    remote: {
      ...values.remote,
      runnerEnv: values.remote.runnerEnv ?? agentDefaults.runnerEnv,
      ciEnv: values.remote.ciEnv ?? agentDefaults.ciEnv,
    },
    github: { ...values.github, runnerGroup: values.github.runnerGroup ?? values.purposeValue },
    metrics: {
      ...values.metrics,
      textfilePath: values.metrics.textfilePath ?? join(stateDir, 'pw-pool.prom'),
    },
  };
  for (const key of configKeys) {
    if (!key.path) continue;
    const parts = key.key.split('.');
    const last = parts.pop() as string;
    const parent = valueAt(config, parts) as Tree;
    const value = parent[last];
    if (typeof value === 'string') parent[last] = absolutePath(value, ctx);
  }
  return config;
}

/**
 * Merges the layers (lowest precedence first), validates every key and the cross-field rules, and
 * resolves the derived defaults. Throws one ConfigError listing every problem.
 */
export function parseConfig(layers: readonly ConfigLayer[], ctx: ConfigContext): ParsedConfig {
  const { raw, origins } = mergeLayers(layers);
  const result = configSchema.safeParse(raw);
  const problems = [
    ...(result.success ? [] : result.error.issues.flatMap((i) => formatIssue(i, raw, origins))),
    ...crossFieldProblems(raw, origins),
  ];
  if (!result.success || problems.length > 0) throw new ConfigError(problems);
  return { config: resolveConfig(result.data, ctx), origins: Object.fromEntries(origins) };
}

/**
 * Agent-specific rules (§2), checked only by the commands that use the agent (setup-instances,
 * cron, check): the agent needs its secret; github-actions needs `github.org`, and GitHub App auth
 * needs all three of its keys and is exclusive with a token (`GITHUB_TOKEN` or `github.tokenFile`).
 * `origins` (from loadConfig/parseConfig) only improves the messages. With `requireSecret: false`
 * a missing secret is left to the agent, which setup-instances reports with the contract's text
 * (`Missing CI secret for agent '<kind>'.`, §4.1).
 */
export function validateAgentConfig(
  config: Config,
  env: NodeJS.ProcessEnv,
  origins: Readonly<Record<string, string>> = {},
  opts: { readonly requireSecret?: boolean } = {},
): void {
  const requireSecret = opts.requireSecret ?? true;
  const from = (key: string) => {
    const source = origins[key];
    return source === undefined ? '' : ` (from ${source})`;
  };
  const hasEnv = (name: string) => (env[name] ?? '') !== '';
  const problems: string[] = [];
  switch (config.agent.kind) {
    case 'cirrus':
      if (requireSecret && config.cirrus.poolTokenFile === undefined && !hasEnv('POOLTOKEN')) {
        problems.push(
          'cirrus.poolTokenFile: agent cirrus needs the pool token; set POOLTOKEN or cirrus.poolTokenFile',
        );
      }
      break;
    case 'github-actions': {
      const gh = config.github;
      if (gh.org === undefined) problems.push('github.org: required for agent github-actions');
      const appKeys = {
        appId: gh.appId,
        appPrivateKeyFile: gh.appPrivateKeyFile,
        installationId: gh.installationId,
      };
      const set = Object.keys(appKeys).filter(
        (k) => appKeys[k as keyof typeof appKeys] !== undefined,
      );
      const unset = Object.keys(appKeys).filter((k) => !set.includes(k));
      if (set.length > 0 && unset.length > 0) {
        problems.push(
          `${set.map((k) => `github.${k}${from(`github.${k}`)}`).join(', ')}: GitHub App auth needs` +
            ` github.appId, github.appPrivateKeyFile and github.installationId; missing` +
            ` ${unset.map((k) => `github.${k}`).join(', ')}`,
        );
      }
      if (set.length > 0 && gh.tokenFile !== undefined) {
        problems.push(
          `github.tokenFile${from('github.tokenFile')}: GitHub App auth is exclusive with a token;` +
            ' set one of them',
        );
      }
      if (set.length > 0 && hasEnv('GITHUB_TOKEN')) {
        problems.push(
          'GITHUB_TOKEN (from environment): GitHub App auth is exclusive with a token; unset one of them',
        );
      }
      if (
        requireSecret &&
        set.length === 0 &&
        gh.tokenFile === undefined &&
        !hasEnv('GITHUB_TOKEN')
      ) {
        problems.push(
          'github.tokenFile: agent github-actions needs credentials; set GITHUB_TOKEN,' +
            ' github.tokenFile, or github.appId, github.appPrivateKeyFile and github.installationId',
        );
      }
      break;
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
}
