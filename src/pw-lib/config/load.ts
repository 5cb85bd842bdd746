// The configuration loader: reads the config file and the overlays, then hands every source to the
// pure parseConfig (defaults < file < env < overlays < flags, behavior.md §2).
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import {
  envLayers,
  flagLayers,
  parseConfig,
  type ConfigContext,
  type ConfigLayer,
} from './parse.js';
import type { Config } from './schema.js';

export interface LoadConfigInput extends ConfigContext {
  /** `--config`; else `env.PW_POOL_CONFIG`; else `~/.config/pw-pool/config.json` (may be absent). */
  readonly configPath?: string | undefined;
  /** `--overlay` files, applied in order; each must exist. */
  readonly overlays: readonly string[];
  /** Flag values by dotted (`ssh.port`) or top-level (`stateDir`) key; undefined ones are skipped. */
  readonly flags: Readonly<Record<string, unknown>>;
  readonly env: NodeJS.ProcessEnv;
}

export interface LoadedConfig {
  readonly config: Config;
  readonly sources: {
    /** The files read, lowest precedence first: the config file (if any), then the overlays. */
    readonly files: readonly string[];
    /** Dotted key → the source that set it; keys not listed have their (derived) default. */
    readonly origins: Readonly<Record<string, string>>;
  };
}

/** Where the first syntax error of a text JSON.parse rejected is, as a character offset. */
function jsonErrorOffset(text: string): number {
  let i = 0;
  const fail = (): never => {
    throw new JsonSyntaxAt(i);
  };
  const space = () => {
    while (i < text.length && ' \t\n\r'.includes(text.charAt(i))) i++;
  };
  const literal = (re: RegExp) => {
    re.lastIndex = i;
    if (!re.test(text)) fail();
    i = re.lastIndex;
  };
  const value = (): void => {
    space();
    const c = text.charAt(i);
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      space();
      if (text.charAt(i) === close) return void i++;
      for (;;) {
        if (c === '{') {
          space();
          if (text.charAt(i) !== '"') fail();
          literal(STRING);
          space();
          if (text.charAt(i) !== ':') fail();
          i++;
        }
        value();
        space();
        if (text.charAt(i) === ',') i++;
        else if (text.charAt(i) === close) return void i++;
        else fail();
      }
    }
    literal(
      c === '"' ? STRING : /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null/y,
    );
  };
  try {
    value();
    space();
    if (i < text.length) fail();
  } catch (error) {
    if (error instanceof JsonSyntaxAt) return error.offset;
    throw error;
  }
  return text.length;
}
class JsonSyntaxAt extends Error {
  constructor(readonly offset: number) {
    super(`JSON syntax error at offset ${offset}`);
  }
}
// eslint-disable-next-line no-control-regex -- JSON strings must not contain raw control characters
const STRING = /"(?:[^"\\\u0000-\u001f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"/y;

function lineAndColumn(text: string, offset: number): string {
  const before = text.slice(0, offset).split('\n');
  return `line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1}`;
}

/** Reads a JSON object file; a problem is recorded (never thrown) so that all are reported. */
async function readJsonObject(
  path: string,
  what: string,
  problems: string[],
  missingIsFine = false,
): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = (await readFile(path, 'utf8')).replace(/^\uFEFF/, '');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && missingIsFine) return undefined;
    problems.push(
      code === 'ENOENT'
        ? `${path}: ${what} not found`
        : `${path}: cannot read ${what}: ${(error as Error).message}`,
    );
    return undefined;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    const at = lineAndColumn(text, jsonErrorOffset(text));
    problems.push(`${path}: invalid JSON at ${at}: ${(error as Error).message}`);
    return undefined;
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    problems.push(`${path}: ${what} must hold a JSON object`);
    return undefined;
  }
  return data as Record<string, unknown>;
}

/**
 * Loads the configuration from every source and validates it. Throws one ConfigError (exit 3)
 * listing every problem: unreadable or invalid files, unknown keys and `PW_POOL_*` variables, bad
 * values and broken cross-field rules. Agent-specific rules are left to validateAgentConfig.
 */
export async function loadConfig(input: LoadConfigInput): Promise<LoadedConfig> {
  const { env, cwd } = input;
  const problems: string[] = [];
  const layers: ConfigLayer[] = [];
  const files: string[] = [];

  const fromEnv = env.PW_POOL_CONFIG !== '' ? env.PW_POOL_CONFIG : undefined;
  const named = input.configPath ?? fromEnv;
  const configFile =
    named === undefined
      ? join(input.homeDir, '.config/pw-pool/config.json')
      : resolve(cwd, named.startsWith('~/') ? join(input.homeDir, named.slice(2)) : named);
  const what =
    input.configPath !== undefined
      ? 'config file (--config)'
      : named !== undefined
        ? 'config file (PW_POOL_CONFIG)'
        : 'config file';
  const fileValues = await readJsonObject(configFile, what, problems, named === undefined);
  if (fileValues !== undefined) {
    layers.push({ source: configFile, values: fileValues });
    files.push(configFile);
  }

  const fromVariables = envLayers(env);
  layers.push(...fromVariables.layers);
  problems.push(...fromVariables.problems);

  for (const overlay of input.overlays) {
    const path = resolve(cwd, overlay);
    const values = await readJsonObject(path, 'overlay (--overlay)', problems);
    if (values !== undefined) {
      layers.push({ source: path, values });
      files.push(path);
    }
  }

  layers.push(...flagLayers(input.flags));

  let parsed;
  try {
    parsed = parseConfig(layers, input);
  } catch (error) {
    if (error instanceof ConfigError) {
      throw new ConfigError([...problems, ...error.problems], { cause: error });
    }
    throw error;
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { config: parsed.config, sources: { files, origins: parsed.origins } };
}
