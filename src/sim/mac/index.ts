// The simulated Macs: each running instance of the simulated cloud answers pw-pool's remote
// protocol (src/mac/PROTOCOL.md) over real SSH, modelling the Mac in virtual time.

export { MacFileSystem, EC2_HOME, type FileView, type FsNode } from './filesystem.js';
export { SimMacFleet, type MacStateView, type SimMacFleetOptions } from './fleet.js';
export {
  SimMac,
  type MacGitHubLink,
  type MacPower,
  type MacProcess,
  type MacView,
  type ProcessRole,
  type SftpRecord,
  type WallMessage,
} from './mac.js';
export {
  OPERATIONS,
  type CommandRecord,
  type ExecRequest,
  type ExecResult,
  type Operation,
} from './operations.js';
export { AGENTS, INSTALLED_SET, type AgentKind } from './paths.js';
export { ereToRegExp, EreSyntaxError } from './posix-ere.js';
export {
  checkMacSettingsPatch,
  DEFAULT_MAC_SETTINGS,
  macSettingsPatchSchema,
  type MacSettings,
} from './settings.js';
export {
  fingerprint,
  generateEd25519KeyPair,
  type EndpointStats,
  type EndpointView,
} from './ssh-endpoint.js';
export { parseBashCommand, scriptOperation, shellQuote, splitShellWords } from './shell-words.js';
