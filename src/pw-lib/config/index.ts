// Configuration (behavior.md §2): schema, pure parsing and resolution, the loader, secret files.
export {
  configSchema,
  keyMeta,
  AGENT_KINDS,
  LOG_LEVELS,
  PREFIX_RE,
  PURPOSE_KEY_RE,
  PURPOSE_VALUE_RE,
  SECRET_FILE_NOTE,
  WORKER_PLACEHOLDER,
  type AgentKind,
  type Config,
  type ConfigInput,
  type ConfigValues,
  type KeyMeta,
} from './schema.js';
export {
  configKeys,
  envNameFor,
  findKey,
  findKeyByEnv,
  NON_KEY_ENV,
  renderConfigTable,
  type ConfigKey,
  type KeyKind,
} from './keys.js';
export {
  coerceString,
  envLayers,
  flagLayers,
  mergeLayers,
  parseConfig,
  resolveConfig,
  validateAgentConfig,
  type ConfigContext,
  type ConfigLayer,
  type ParsedConfig,
} from './parse.js';
export { loadConfig, type LoadConfigInput, type LoadedConfig } from './load.js';
export { readSecretFile } from './secret-file.js';
