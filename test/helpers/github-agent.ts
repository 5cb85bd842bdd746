// A GitHubActionsAgent wired to the real Octokit adapter against the fake GitHub REST API
// (src/sim/github), with a log that keeps every raw line and a journal that keeps every event.
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import type { Logger } from 'pino';
import { OctokitGitHub, type GitHubAuth } from '../../src/pw-lib/adapters/github.js';
import {
  GitHubActionsAgent,
  type GitHubActionsOptions,
} from '../../src/pw-lib/agents/github-actions.js';
import type { AuditEvent, Journal, StateStore } from '../../src/pw-lib/ports.js';
import type { FakeGitHub } from '../../src/sim/github/index.js';
import { MemoryStore } from './fakes.js';

export const GH_ORG = 'pwpool-agent';
export const GH_APP_ID = 4711;
/** Fast adapter tuning: short back-off, no write spacing. */
export const GH_FAST = { retries: 2, retryBaseMs: 5, writeIntervalMs: 0, requestTimeoutMs: 5000 };
/** Tokens are made at run time: nothing token-shaped is committed. */
export const fakePat = (): string => `ghp_${randomBytes(18).toString('hex')}`;

/** A pino logger (level trace) whose destination stream keeps every raw output line. */
export function captureLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const log = pino(
    { level: 'trace', base: null },
    { write: (line: string) => void lines.push(line) },
  );
  return { log, lines };
}

export class MemoryJournal implements Journal {
  readonly events: AuditEvent[] = [];
  record(event: AuditEvent): Promise<void> {
    this.events.push(event);
    return Promise.resolve();
  }
}

export function appAuth(gh: FakeGitHub): GitHubAuth {
  return {
    kind: 'app',
    appId: gh.appId,
    privateKey: gh.appPrivateKeyPem,
    installationId: gh.installationId,
  };
}

export interface AgentRig {
  readonly agent: GitHubActionsAgent;
  readonly lines: string[];
  readonly journal: MemoryJournal;
  readonly store: StateStore;
  /** Installation tokens the adapter received (read off the wire, for leak checks). */
  readonly installationTokens: string[];
}

/**
 * An agent on the fake GitHub through the real OctokitGitHub. Defaults: App auth, group `prod`,
 * version `latest`, prefix `MacM1`, label `prod`, the default runnerEnv, a MemoryStore.
 */
export function githubAgent(
  gh: FakeGitHub,
  over: Partial<GitHubActionsOptions> & { auth?: GitHubAuth } = {},
): AgentRig {
  const { log, lines } = captureLogger();
  const journal = new MemoryJournal();
  const installationTokens: string[] = [];
  const spyFetch: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    const url = input instanceof Request ? input.url : input.toString();
    if (url.includes('/access_tokens') && res.ok) {
      const body = (await res.clone().json()) as { token?: string };
      if (typeof body.token === 'string') installationTokens.push(body.token);
    }
    return res;
  };
  const { auth, ...opts } = over;
  const store = opts.store ?? new MemoryStore();
  const agent = new GitHubActionsAgent({
    connect: () =>
      Promise.resolve(
        new OctokitGitHub({
          org: gh.org,
          apiUrl: gh.apiUrl,
          auth: auth ?? appAuth(gh),
          log,
          fetch: spyFetch,
          ...GH_FAST,
        }),
      ),
    org: gh.org,
    serverUrl: 'https://github.com',
    group: 'prod',
    runnerVersion: 'latest',
    groupVisibility: 'all',
    allowPublicRepositories: false,
    namePrefix: 'MacM1',
    labels: ['prod'],
    runnerEnv: { GOPATH: '/Users/<worker>/ci/.go', GOCACHE: '/Users/<worker>/ci/.go/cache' },
    workerPlaceholder: '<worker>',
    log,
    journal,
    ...opts,
    store,
  });
  return { agent, lines, journal, store, installationTokens };
}

/** githubAgent, after `checkSecret` and `preflight` (what every setup run does first). */
export async function preflightedAgent(
  gh: FakeGitHub,
  over: Partial<GitHubActionsOptions> & { auth?: GitHubAuth } = {},
): Promise<AgentRig> {
  const rig = githubAgent(gh, over);
  await rig.agent.checkSecret();
  await rig.agent.preflight();
  return rig;
}
