/*
 * A local fake of the GitHub REST API for the simulated cloud: the endpoints pw-pool uses for
 * organisation self-hosted runners, with GitHub's JSON shapes, status codes, `x-ratelimit-*`
 * headers and `link` pagination (`per_page` default 30, max 100; `page`), on the sim's virtual
 * clock. Bound to 127.0.0.1 by default; port 0 = any free port. Use `apiUrl` as Octokit's
 * `baseUrl`.
 *
 * App (auth `Bearer <JWT>`: RS256 with the app key, `iss` = app id, `exp - iat` ≤ 600 s, not
 * expired, `iat` at most 60 s ahead; otherwise 401 with GitHub's message):
 *   GET    /app                                   → {id, slug, name, owner, ...}
 *   POST   /app/installations/{id}/access_tokens  → 201 {token: "ghs_…", expires_at (1 h), ...}
 *   GET    /orgs/{org}/installation               → {id, account: {login}, app_id, ...}
 * Organisation (auth `token|Bearer <t>`: an unexpired installation token or a personal token;
 * otherwise 401 "Bad credentials", no header at all 401 "Requires authentication"):
 *   GET    /orgs/{org}/actions/runners[?name=]    → {total_count, runners: [{id, name, os, status,
 *                                                   busy, ephemeral, labels: [{id, name, type}]}]}
 *   GET    /orgs/{org}/actions/runners/{id}       → the runner
 *   DELETE /orgs/{org}/actions/runners/{id}       → 204; 404 unknown; 422 busy ("Bad request -
 *                                                   Runner "<name>" is still running a job"")
 *   POST   /orgs/{org}/actions/runners/registration-token → 201 {token, expires_at (1 h)}
 *   GET    /orgs/{org}/actions/runner-groups      → {total_count, runner_groups: [...]}
 *   POST   /orgs/{org}/actions/runner-groups      {name, visibility?, allows_public_repositories?,
 *                                                   runners?, selected_repository_ids?}
 *                                                   → 201 the group; 409 (or the
 *                                                   configured 422) for a taken name
 *                                                   (case-insensitive); 422 invalid body
 *   GET    /orgs/{org}/actions/runner-groups/{id} → the group
 *   GET    /orgs/{org}/actions/runner-groups/{id}/runners → {total_count, runners}
 *   PUT    /orgs/{org}/actions/runner-groups/{id}/runners/{runner_id} → 204 (moves the runner)
 * Public (auth optional):
 *   GET    /repos/actions/runner/releases/latest  → {tag_name: "v<ver>", body with
 *          "<!-- BEGIN SHA osx-arm64 --><sha256><!-- END SHA osx-arm64 -->", assets: [{name,
 *          browser_download_url, size}]}
 *   GET    /actions/runner/releases/download/v<ver>/actions-runner-osx-arm64-<ver>.tar.gz
 *          → the (fake) tarball whose SHA-256 the release body publishes
 * Anything else: 404 {"message": "Not Found"}. Errors are {message, documentation_url, status}.
 *
 * A `Default` runner group (id 1) always exists. Runners register only through
 * `registerRunner` (what config.sh does on a simulated Mac) and start offline. No token is ever
 * kept: credentials are stored as SHA-256 digests, and `state()` holds none.
 *
 * Job routing: a group receives jobs unless it has visibility `selected` and no
 * `selected_repository_ids` (the quarantine group `<group>-draining` that pw-pool creates);
 * `runnerCanReceiveJobs(name)` says whether a runner would be given a new job now (it exists, is
 * online, and its group receives jobs). The simulated Macs ask it before taking a job.
 */

import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GitHubFaults, type GitHubFault, type GitHubFaultSpec } from './faults.js';
import {
  GitHubOrgModel,
  type GitHubRunnerGroupState,
  type GitHubRunnerState,
  type RunnerStatus,
} from './model.js';
import { FakeGitHubHandler, type GitHubRequestRecord } from './server.js';

export { GITHUB_FAULT_KINDS, GitHubFaultSpecError } from './faults.js';
export type { GitHubFault, GitHubFaultKind, GitHubFaultSpec } from './faults.js';
export { JWT_CLOCK_SKEW_S, JWT_MAX_LIFETIME_S, verifyAppJwt } from './jwt.js';
export {
  DEFAULT_GROUP_ID,
  DEFAULT_GROUP_NAME,
  DEFAULT_RUNNER_LABELS,
  FakeGitHubScriptError,
  INSTALLATION_TOKEN_TTL_MS,
  REGISTRATION_TOKEN_TTL_MS,
  RunnerRegistrationError,
} from './model.js';
export type {
  GitHubRunnerGroupState,
  GitHubRunnerState,
  GroupVisibility,
  RunnerStatus,
} from './model.js';
export type { GitHubRequestRecord } from './server.js';

export const DEFAULT_INSTALLATION_ID = 4242;
export const DEFAULT_RUNNER_VERSION = '2.321.0';

export interface FakeGitHubOptions {
  /** The organisation, e.g. 'containers' (matched case-insensitively, like GitHub). */
  org: string;
  /** The GitHub App id. */
  appId: number;
  /** Default DEFAULT_INSTALLATION_ID. */
  installationId?: number | undefined;
  /** Virtual time in ms (the sim's world clock): tokens expire on it. Default Date.now. */
  nowMs?: (() => number) | undefined;
  host?: string | undefined;
  port?: number | undefined;
  /** PAT tokens accepted as `Authorization: token|Bearer <t>` besides app installation tokens. */
  personalTokens?: readonly string[] | undefined;
  /** The runner release `GET /repos/actions/runner/releases/latest` answers (default 2.321.0). */
  runnerVersion?: string | undefined;
  /** The app's slug (default `pw-pool-sim`). */
  appSlug?: string | undefined;
  /** Status for creating a runner group whose name is taken: 409 (default) or 422. */
  duplicateGroupStatus?: 409 | 422 | undefined;
}

export interface FakeGitHubState {
  now: string;
  org: string;
  appId: number;
  installationId: number;
  runnerVersion: string;
  groups: GitHubRunnerGroupState[];
  runners: GitHubRunnerState[];
  /** Counts only; the tokens themselves are never kept. */
  issued: { installationTokens: number; registrationTokens: number };
  requests: GitHubRequestRecord[];
  faults: GitHubFault[];
}

export interface FakeGitHub {
  /** e.g. http://127.0.0.1:PORT (Octokit's `baseUrl`; also the fake's server URL). */
  readonly apiUrl: string;
  /** The app's RSA private key (PKCS#8 PEM), generated at start. */
  readonly appPrivateKeyPem: string;
  readonly appId: number;
  readonly installationId: number;
  readonly org: string;
  readonly runnerVersion: string;
  /** The SHA-256 of the release tarball, as published in the release body. */
  readonly runnerSha256: string;
  /**
   * What a simulated Mac's config.sh does: registers with a registration token (throws
   * RunnerRegistrationError on an expired or unknown token, an unknown group, or a taken name
   * without `replace`), by name, labels and group name ('' = Default). `replace` takes a
   * same-named runner over (it keeps its id and group, as GitHub does). The runner is offline
   * until `setRunnerStatus`.
   */
  registerRunner(req: {
    token: string;
    name: string;
    labels: string[];
    group: string;
    replace: boolean;
  }): GitHubRunnerState;
  /** The listener connected or went away, or a job started/finished (`busy`). */
  setRunnerStatus(name: string, status: RunnerStatus, busy?: boolean): GitHubRunnerState;
  /** The runner of that name, if registered. */
  runner(name: string): GitHubRunnerState | undefined;
  /** Whether GitHub would route a new job to this runner now: it exists, is online, and its
   *  group can receive jobs (not a `selected` group without repositories). */
  runnerCanReceiveJobs(name: string): boolean;
  state(): FakeGitHubState;
  readonly faults: {
    add(f: GitHubFaultSpec): GitHubFault;
    clear(): number;
    list(): GitHubFault[];
  };
  close(): Promise<void>;
}

export async function startFakeGitHub(opts: FakeGitHubOptions): Promise<FakeGitHub> {
  if (!/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/.test(opts.org)) {
    throw new RangeError(`org must be a GitHub organisation login, got '${opts.org}'`);
  }
  if (!Number.isInteger(opts.appId) || opts.appId < 1) {
    throw new RangeError(`appId must be a positive integer, got ${opts.appId}`);
  }
  const installationId = opts.installationId ?? DEFAULT_INSTALLATION_ID;
  if (!Number.isInteger(installationId) || installationId < 1) {
    throw new RangeError(`installationId must be a positive integer, got ${installationId}`);
  }
  const runnerVersion = opts.runnerVersion ?? DEFAULT_RUNNER_VERSION;
  if (!/^[0-9]+\.[0-9]+\.[0-9]+$/.test(runnerVersion)) {
    throw new RangeError(`runnerVersion must look like 2.321.0, got '${runnerVersion}'`);
  }
  const nowMs = opts.nowMs ?? (() => Date.now());
  const host = opts.host ?? '127.0.0.1';
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const model = new GitHubOrgModel(opts.org, nowMs, opts.personalTokens ?? []);
  const faults = new GitHubFaults();
  let apiUrl = '';
  const handler = new FakeGitHubHandler({
    model,
    faults,
    appId: opts.appId,
    appSlug: opts.appSlug ?? 'pw-pool-sim',
    installationId,
    publicKey,
    runnerVersion,
    duplicateGroupStatus: opts.duplicateGroupStatus ?? 409,
    baseUrl: () => apiUrl,
  });

  const server: Server = createServer((req, res) => {
    handler.handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  apiUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  let closed = false;

  return {
    apiUrl,
    appPrivateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    appId: opts.appId,
    installationId,
    org: opts.org,
    runnerVersion,
    runnerSha256: handler.tarballSha256(),
    registerRunner: (req) => model.runnerState(model.registerRunner(req)),
    setRunnerStatus: (name, status, busy) =>
      model.runnerState(model.setRunnerStatus(name, status, busy)),
    runner: (name) => {
      const runner = model.runnerByName(name);
      return runner === undefined ? undefined : model.runnerState(runner);
    },
    runnerCanReceiveJobs: (name) => model.runnerCanReceiveJobs(name),
    state: () => ({
      now: new Date(nowMs()).toISOString(),
      org: opts.org,
      appId: opts.appId,
      installationId,
      runnerVersion,
      groups: model.groups().map((g) => model.groupState(g)),
      runners: model.runners().map((r) => model.runnerState(r)),
      issued: model.issuedCounts(),
      requests: handler.requests.map((r) => ({ ...r })),
      faults: faults.list(),
    }),
    faults: {
      add: (f) => faults.add(f),
      clear: () => faults.clear(),
      list: () => faults.list(),
    },
    close: async () => {
      if (closed) return;
      closed = true;
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await done;
    },
  };
}
