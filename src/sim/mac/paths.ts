// The absolute paths of a Mac (src/mac/PROTOCOL.md, "Paths") and the fixed facts of the two CI
// agent kinds (behavior.md §7) that the simulated Mac needs.

import { EC2_HOME } from './filesystem.js';

export { EC2_HOME };
export const LIBEXEC = '/usr/local/libexec/pw-pool';
export const PRIV = `${EC2_HOME}/.pw-pool`;
export const STAGE = `${PRIV}/stage`;
export const SECRET = `${PRIV}/secret`;
export const CIRRUS_CFG = `${PRIV}/cirrus-worker.yml`;
export const AGENT_ENV = `${PRIV}/agent.env`;
export const SUPERVISOR_PID = `${PRIV}/supervisor.pid`;
export const LISTENER_PID = `${PRIV}/listener.pid`;
export const RECYCLE_PID = `${PRIV}/recycle.pid`;
export const RECYCLE_DEADLINE = `${PRIV}/recycle.deadline`;
export const DRAIN_STARTED = `${PRIV}/drain.started`;
export const SETUP_PID = `${PRIV}/setup.pid`;
export const SETUP_STARTED = `${EC2_HOME}/.setup.started`;
export const SETUP_DONE = `${EC2_HOME}/.setup.done`;
export const SETUP_FAILED = `${EC2_HOME}/.setup.failed`;
export const SETUP_LOG = `${EC2_HOME}/setup.log`;
export const CI_ENV_COPY = `${EC2_HOME}/ci_env.sh`;
export const TMP = '/private/tmp';
export const CI_TMP = '/private/tmp/ci';

/** The installed set (PROTOCOL.md "The installed set"), in upload order. */
export const INSTALLED_SET = [
  'paths.sh',
  'lib.sh',
  'setup.sh',
  'service_pool.sh',
  'shutdown.sh',
  'ci_env.sh',
  'cleanup_hook.sh',
] as const;

export type AgentKind = 'cirrus' | 'github-actions';

export const NAME_PATTERN = /^[A-Za-z0-9]+-[0-9]+$/;

export function isAgentKind(value: string): value is AgentKind {
  return value === 'cirrus' || value === 'github-actions';
}

export function workerUser(name: string): string {
  return `${name}-worker`;
}

export function workerLog(name: string): string {
  return `${TMP}/${name}-worker.log`;
}

export function workerHome(name: string): string {
  return `/Users/${workerUser(name)}`;
}

export function runnerDir(name: string): string {
  return `${workerHome(name)}/actions-runner`;
}

/** The files whose presence is `agent.config=present` (and that stop and maintenance remove). */
export function agentConfigPaths(kind: AgentKind, name: string): string[] {
  return kind === 'cirrus'
    ? [CIRRUS_CFG]
    : [`${runnerDir(name)}/.runner`, `${runnerDir(name)}/.credentials`];
}

export interface AgentFacts {
  /** `<L>` of behavior.md §7. */
  listenerLabel: string;
  /** The kind's pgrep patterns (what the manager passes; the supervisor and shutdown.sh use them). */
  listenerPattern: string;
  jobPattern: string;
  listenerCommand: (name: string) => string;
  jobCommand: (name: string, task: string) => string;
}

export const AGENTS: Readonly<Record<AgentKind, AgentFacts>> = {
  cirrus: {
    listenerLabel: 'Cirrus worker listener',
    listenerPattern: 'cirrus worker run',
    jobPattern: 'cirrus-[0-9][^ ]*-darwin-arm64 agent ',
    listenerCommand: () => '/opt/homebrew/bin/cirrus worker run --file /dev/stdin',
    jobCommand: (name, task) =>
      `${workerHome(name)}/Library/Caches/cirrus/agent/cirrus-0.135.0-darwin-arm64 agent -api-endpoint grpc.cirrus-ci.com:443 -task-id ${task}`,
  },
  'github-actions': {
    listenerLabel: 'GitHub Actions runner',
    listenerPattern: 'Runner.Listener',
    jobPattern: 'Runner.Worker',
    listenerCommand: (name) => `${runnerDir(name)}/bin/Runner.Listener run`,
    jobCommand: (name, task) => `${runnerDir(name)}/bin/Runner.Worker spawnclient ${task}`,
  },
};
