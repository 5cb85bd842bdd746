// The GitHub adapter: the only code that knows Octokit. It owns authentication (GitHub App or a
// token), pagination, retries, the rate-limit policy and the classification of GitHub errors
// (behavior.md §7, §9 R1, R12). Organisation scope only: runner groups exist only there.
import { createAppAuth } from '@octokit/auth-app';
import { Octokit } from '@octokit/core';
import { paginateRest } from '@octokit/plugin-paginate-rest';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import githubAppJwt from 'universal-github-app-jwt';
import type { Logger } from 'pino';
import { readSecretFile } from '../config/index.js';
import type { Config } from '../config/index.js';
import { ConfigError, GitHubError, PreconditionError } from '../errors.js';
import type { GitHubErrorKind } from '../errors.js';
import type { GitHubRunner, GitHubRunners, RegistrationToken, RunnerGroup } from '../ports.js';

/** REST API version every call asks for (§7 API). */
export const GITHUB_API_VERSION = '2022-11-28';
/** Per-request timeout (§7 API: 30 s). */
export const GITHUB_REQUEST_TIMEOUT_MS = 30_000;
/** Retries after a 5xx or a network error (3 tries in all, §7 Version). */
export const GITHUB_RETRIES = 2;
/** The longest rate-limit wait a run accepts before it gives up for this run (R1). */
export const GITHUB_MAX_RATE_LIMIT_WAIT_S = 3;
/** The release asset the Macs install. */
export const RUNNER_PLATFORM = 'osx-arm64';

const PoolOctokit = Octokit.plugin(paginateRest, retry, throttling);
type PoolOctokit = InstanceType<typeof PoolOctokit>;

/** How the adapter authenticates. Secret values are held here only, never logged. */
export type GitHubAuth =
  | { readonly kind: 'token'; readonly token: string }
  | {
      readonly kind: 'app';
      readonly appId: number;
      /** The App's private key (PEM text). */
      readonly privateKey: string;
      readonly installationId: number;
    };

export interface OctokitGitHubOptions {
  readonly org: string;
  /** REST API base URL (`github.apiUrl`). */
  readonly apiUrl: string;
  readonly auth: GitHubAuth;
  readonly log: Logger;
  /** Per-request timeout; default 30 s. */
  readonly requestTimeoutMs?: number;
  /** Retries after 5xx / network errors; default 2. */
  readonly retries?: number;
  /** Unit of the retry back-off (1, 4, 9 … units); default 1000 ms. Tests shorten it. */
  readonly retryBaseMs?: number;
  /** A rate limit is retried once only when GitHub asks to wait at most this long; default 3 s. */
  readonly maxRateLimitWaitS?: number;
  /**
   * Minimum gap between two writes (POST/PUT/PATCH/DELETE). GitHub asks for 1 s to stay clear of
   * secondary rate limits, and that is the default (Octokit's throttling plugin); tests use 0.
   */
  readonly writeIntervalMs?: number;
  /** The fetch to use (default the global one); tests interpose on it. */
  readonly fetch?: typeof fetch;
  /**
   * The clock App JWTs are signed with (epoch seconds); default the system clock. The simulated
   * cloud's fake GitHub checks JWTs against its virtual clock, so pw-pool signs with that clock
   * when `clock` is `sim`, like every other decision it makes.
   */
  readonly nowS?: () => Promise<number>;
}

interface RawLabel {
  readonly name?: string;
}
interface RawRunner {
  readonly id: number;
  readonly name: string;
  readonly status: string;
  readonly busy: boolean;
  readonly labels?: readonly RawLabel[];
}
interface RawGroup {
  readonly id: number;
  readonly name: string;
  readonly visibility: string;
  readonly allows_public_repositories?: boolean;
  readonly default?: boolean;
}

/** GitHub Actions runners of one organisation through Octokit; every method throws GitHubError. */
export class OctokitGitHub implements GitHubRunners {
  readonly org: string;
  private readonly octokit: PoolOctokit;
  private readonly secrets: string[];
  private readonly log: Logger;

  constructor(opts: OctokitGitHubOptions) {
    this.org = opts.org;
    this.log = opts.log;
    this.secrets = opts.auth.kind === 'token' ? [opts.auth.token] : [opts.auth.privateKey];
    const timeoutMs = opts.requestTimeoutMs ?? GITHUB_REQUEST_TIMEOUT_MS;
    const maxWaitS = opts.maxRateLimitWaitS ?? GITHUB_MAX_RATE_LIMIT_WAIT_S;
    const retryBaseMs = opts.retryBaseMs ?? 1000;
    const redact = (text: string) => redactSecrets(text, this.secrets);
    const log = opts.log;
    const onLimit =
      (what: string) =>
      (
        retryAfterS: number,
        options: { method?: string; url?: string },
        _octokit: unknown,
        retryCount: number,
      ): boolean => {
        const wait = retryCount < 1 && retryAfterS <= maxWaitS;
        log.warn(
          {
            method: options.method,
            route: options.url,
            retryAfterS,
            retryCount,
            retrying: wait,
          },
          wait ? `github ${what}; retrying once` : `github ${what}; giving up for this run`,
        );
        return wait;
      };
    const common = {
      baseUrl: opts.apiUrl.replace(/\/+$/, ''),
      userAgent: 'pw-pool',
      request: { fetch: timedFetch(timeoutMs, opts.fetch ?? fetch) },
      // Octokit's own log lines (deprecations, plugin warnings), redacted and demoted.
      log: {
        debug: () => undefined,
        info: () => undefined,
        warn: (message: unknown) =>
          log.warn({ detail: redact(String(message)) }, 'octokit warning'),
        error: (message: unknown) => log.warn({ detail: redact(String(message)) }, 'octokit error'),
      },
      // Only 5xx and network errors are retried here; rate limits belong to the throttling plugin.
      retry: {
        doNotRetry: [400, 401, 403, 404, 409, 410, 422, 429, 451],
        retries: opts.retries ?? GITHUB_RETRIES,
        retryAfterBaseValue: retryBaseMs,
      },
      throttle: {
        id: `pw-pool:${opts.apiUrl}:${opts.org}`,
        retryAfterBaseValue: retryBaseMs,
        fallbackSecondaryRateRetryAfter: 60,
        onRateLimit: onLimit('rate limit'),
        onSecondaryRateLimit: onLimit('secondary rate limit'),
        ...(opts.writeIntervalMs !== undefined && opts.writeIntervalMs !== 1000
          ? { write: spacedGroup(opts.writeIntervalMs) }
          : {}),
      },
    };
    this.octokit =
      opts.auth.kind === 'token'
        ? new PoolOctokit({ ...common, auth: opts.auth.token })
        : new PoolOctokit({
            ...common,
            authStrategy: createAppAuth,
            // auth-app takes the key or a signer, not both.
            auth: {
              appId: opts.auth.appId,
              installationId: opts.auth.installationId,
              ...(opts.nowS === undefined
                ? { privateKey: opts.auth.privateKey }
                : { createJwt: jwtSigner(opts.auth.privateKey, opts.nowS) }),
            },
          });
    this.octokit.hook.before('request', (options) => {
      // plugin-retry counts tries in `options.request.retryCount`; without a copy per call that
      // object is the client's shared default, and the back-off of one call grows with the
      // failures of the calls before it.
      options.request = { ...options.request };
      // auth-app mints the installation token through this same client, inside the call that
      // needs it; that call is retried as a whole, so the mint itself is not (3 tries, not 3 × 3).
      if (/^\/app\/installations\/[^/]+\/access_tokens$/.test(String(options.url))) {
        options.request.retries = 0;
      }
      options.headers.accept = 'application/vnd.github+json';
      options.headers['x-github-api-version'] = GITHUB_API_VERSION;
    });
  }

  async listRunners(): Promise<GitHubRunner[]> {
    const runners = await this.call('list runners', () =>
      this.octokit.paginate('GET /orgs/{org}/actions/runners', { org: this.org, per_page: 100 }),
    );
    return (runners as readonly RawRunner[]).map(toRunner);
  }

  /** The runners of one name (`?name=`; GitHub matches the name exactly). */
  async runnersNamed(name: string): Promise<GitHubRunner[]> {
    const runners = await this.call(`look up runner ${name}`, () =>
      this.octokit.paginate('GET /orgs/{org}/actions/runners', {
        org: this.org,
        name,
        per_page: 100,
      }),
    );
    return (runners as readonly RawRunner[]).map(toRunner).filter((r) => r.name === name);
  }

  async listRunnerGroups(): Promise<RunnerGroup[]> {
    const groups = await this.call('list runner groups', () =>
      this.octokit.paginate('GET /orgs/{org}/actions/runner-groups', {
        org: this.org,
        per_page: 100,
      }),
    );
    return (groups as readonly RawGroup[]).map(toGroup);
  }

  async ensureRunnerGroup(
    name: string,
    opts: {
      readonly visibility: RunnerGroup['visibility'];
      readonly allowsPublicRepositories: boolean;
    },
  ): Promise<RunnerGroup & { readonly created: boolean }> {
    const existing = (await this.listRunnerGroups()).find((g) => g.name === name);
    if (existing !== undefined) return { ...existing, created: false };
    try {
      const res = await this.call(`create runner group ${name}`, () =>
        this.octokit.request('POST /orgs/{org}/actions/runner-groups', {
          org: this.org,
          name,
          visibility: opts.visibility,
          allows_public_repositories: opts.allowsPublicRepositories,
        }),
      );
      const group = toGroup(res.data);
      this.log.info({ group: group.name, groupId: group.id }, 'github runner group created');
      return { ...group, created: true };
    } catch (error) {
      // Another run created it in between: proceed only if it now exists (§7 preflight).
      if (
        error instanceof GitHubError &&
        (error.kind === 'conflict' || error.kind === 'validation')
      ) {
        const raced = (await this.listRunnerGroups()).find((g) => g.name === name);
        if (raced !== undefined) return { ...raced, created: false };
      }
      throw error;
    }
  }

  async listGroupRunners(groupId: number): Promise<GitHubRunner[]> {
    const runners = await this.call(`list runners of group ${groupId}`, () =>
      this.octokit.paginate('GET /orgs/{org}/actions/runner-groups/{runner_group_id}/runners', {
        org: this.org,
        runner_group_id: groupId,
        per_page: 100,
      }),
    );
    return (runners as readonly RawRunner[]).map(toRunner);
  }

  async moveRunnerToGroup(groupId: number, runnerId: number): Promise<void> {
    await this.call(`move runner ${runnerId} to group ${groupId}`, () =>
      this.octokit.request(
        'PUT /orgs/{org}/actions/runner-groups/{runner_group_id}/runners/{runner_id}',
        { org: this.org, runner_group_id: groupId, runner_id: runnerId },
      ),
    );
  }

  /** Deletes a runner; one that is already gone (404) counts as deleted. A busy one → validation. */
  async deleteRunner(runnerId: number): Promise<void> {
    try {
      await this.call(`delete runner ${runnerId}`, () =>
        this.octokit.request('DELETE /orgs/{org}/actions/runners/{runner_id}', {
          org: this.org,
          runner_id: runnerId,
        }),
      );
    } catch (error) {
      if (error instanceof GitHubError && error.kind === 'not-found') return;
      throw error;
    }
  }

  async createRegistrationToken(): Promise<RegistrationToken> {
    const res = await this.call('create registration token', () =>
      this.octokit.request('POST /orgs/{org}/actions/runners/registration-token', {
        org: this.org,
      }),
    );
    const data = res.data as { token?: unknown; expires_at?: unknown };
    if (
      typeof data.token !== 'string' ||
      data.token === '' ||
      typeof data.expires_at !== 'string'
    ) {
      throw new GitHubError('other', res.status, 'GitHub returned no registration token');
    }
    return { token: data.token, expiresAt: data.expires_at };
  }

  async latestRunnerRelease(): Promise<{
    readonly version: string;
    readonly osxArm64Sha256: string | undefined;
  }> {
    const res = await this.call('get the latest actions/runner release', () =>
      this.octokit.request('GET /repos/{owner}/{repo}/releases/latest', {
        owner: 'actions',
        repo: 'runner',
      }),
    );
    const data = res.data as { tag_name?: unknown; body?: unknown };
    const tag = typeof data.tag_name === 'string' ? data.tag_name : '';
    const version = tag.replace(/^v/, '');
    if (!/^[0-9]+\.[0-9]+\.[0-9]+$/.test(version)) {
      throw new GitHubError(
        'other',
        res.status,
        `actions/runner latest release has an unexpected tag_name ${JSON.stringify(tag.slice(0, 40))}`,
      );
    }
    const body = typeof data.body === 'string' ? data.body : '';
    return { version, osxArm64Sha256: parseRunnerReleaseSha(body, RUNNER_PLATFORM) };
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      const classified = classifyGitHubError(error, this.secrets);
      this.log.debug(
        { kind: classified.kind, status: classified.status, err: classified.message },
        `github ${what} failed`,
      );
      throw new GitHubError(classified.kind, classified.status, `${what}: ${classified.message}`);
    }
  }
}

/**
 * The SHA-256 of a platform's tarball from an actions/runner release body, which publishes it as
 * `<!-- BEGIN SHA osx-arm64 -->hex<!-- END SHA osx-arm64 -->`; undefined when absent or malformed.
 */
export function parseRunnerReleaseSha(body: string, platform: string): string | undefined {
  const esc = platform.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const match = new RegExp(
    `<!--\\s*BEGIN SHA ${esc}\\s*-->\\s*([^<]*?)\\s*<!--\\s*END SHA ${esc}\\s*-->`,
  ).exec(body);
  const sha = match?.[1]?.trim().toLowerCase();
  return sha !== undefined && /^[0-9a-f]{64}$/.test(sha) ? sha : undefined;
}

const TOKEN_PATTERNS: readonly (readonly [RegExp, string])[] = [
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g, '[REDACTED]'],
  [/\b(gh[pousr]_[A-Za-z0-9_]{8,}|github_pat_[A-Za-z0-9_]{8,})/g, '[REDACTED]'],
  [/\bv1\.[0-9a-f]{16,}\b/g, '[REDACTED]'],
  [/\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, '[REDACTED]'], // JWTs
  [/\b(bearer|token|basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi, '$1 [REDACTED]'],
  [/("?(?:token|authorization|password|private_?key)"?\s*[:=]\s*"?)[^"\s,}]{4,}/gi, '$1[REDACTED]'],
];

/** Removes every known secret and anything that looks like a GitHub token, JWT or key. */
export function redactSecrets(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join('[REDACTED]');
  }
  for (const [pattern, replacement] of TOKEN_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

interface HttpErrorLike {
  readonly status: number;
  readonly message: string;
  readonly request?: { readonly method?: string; readonly url?: string };
  readonly response?: {
    readonly headers?: Readonly<Record<string, string | number | undefined>>;
  };
}

function isHttpError(error: unknown): error is HttpErrorLike {
  return (
    error instanceof Error &&
    typeof (error as { status?: unknown }).status === 'number' &&
    ((error as { response?: unknown }).response !== undefined ||
      (error as { request?: unknown }).request !== undefined)
  );
}

/**
 * The one place that classifies GitHub failures: 403/429 with rate-limit signs → rate-limited;
 * 5xx, network errors and timeouts → unavailable; 401 and other 403 → auth; 404 → not-found;
 * 409 → conflict; 422 → validation (e.g. deleting a busy runner). The message names the method,
 * path and status, never a token; the raw error is not attached (it carries request options).
 */
export function classifyGitHubError(error: unknown, secrets: readonly string[] = []): GitHubError {
  if (error instanceof GitHubError) return error;
  const clean = (text: string) => redactSecrets(text, secrets).replace(/\s+/g, ' ').slice(0, 300);
  if (error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError')) {
    return new GitHubError(
      'unavailable',
      0,
      `GitHub did not answer in time (${clean(error.message)})`,
    );
  }
  if (!isHttpError(error)) {
    const text = error instanceof Error ? error.message : String(error);
    return new GitHubError('other', 0, `GitHub client failed: ${clean(text)}`);
  }
  const { status } = error;
  const method = error.request?.method ?? '';
  let path = '';
  try {
    path = error.request?.url === undefined ? '' : new URL(error.request.url).pathname;
  } catch {
    path = '';
  }
  const where = `${method} ${path}`.trim();
  const headers = error.response?.headers ?? {};
  const header = (name: string) => {
    const value = headers[name];
    return value === undefined ? undefined : String(value);
  };
  // @octokit/request reports a network failure (no answer) as status 500 without a response.
  if (error.response === undefined) {
    return new GitHubError(
      'unavailable',
      0,
      `GitHub unreachable${where === '' ? '' : ` (${where})`}: ${clean(error.message)}`,
    );
  }
  const rateLimited =
    status === 429 ||
    (status === 403 &&
      (header('x-ratelimit-remaining') === '0' ||
        header('retry-after') !== undefined ||
        /rate limit/i.test(error.message)));
  const kind: GitHubErrorKind = rateLimited
    ? 'rate-limited'
    : status >= 500
      ? 'unavailable'
      : status === 401 || status === 403
        ? 'auth'
        : status === 404
          ? 'not-found'
          : status === 409
            ? 'conflict'
            : status === 422
              ? 'validation'
              : 'other';
  let detail = `${where} → ${status} ${clean(error.message)}`;
  if (kind === 'rate-limited') {
    const reset = Number(header('x-ratelimit-reset'));
    const retryAfter = header('retry-after');
    if (retryAfter !== undefined) detail += ` (retry after ${clean(retryAfter)} s)`;
    else if (Number.isFinite(reset) && reset > 0) {
      detail += ` (limit resets at ${new Date(reset * 1000).toISOString()})`;
    }
  }
  return new GitHubError(kind, status, `GitHub API ${detail}`);
}

/** fetch with a per-attempt timeout; a timeout surfaces as an AbortError (not retried). */
function timedFetch(timeoutMs: number, baseFetch: typeof fetch): typeof fetch {
  return async (input, init) => {
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    try {
      return await baseFetch(input, { ...init, signal });
    } catch (error) {
      if (timeout.aborted) {
        const abort = new Error(`no answer within ${timeoutMs} ms`);
        abort.name = 'AbortError';
        throw abort;
      }
      throw error;
    }
  };
}

/**
 * A stand-in for the throttling plugin's write limiter (a Bottleneck group): one write at a time,
 * at least `intervalMs` apart. Only `key(id).schedule(options, fn, ...args)` is used by the plugin.
 */
function spacedGroup(intervalMs: number): never {
  let chain: Promise<unknown> = Promise.resolve();
  let last = 0;
  const limiter = {
    schedule: (...args: unknown[]) => {
      const rest = typeof args[0] === 'function' ? args : args.slice(1);
      const [fn, ...fnArgs] = rest as [(...a: unknown[]) => unknown, ...unknown[]];
      const run = chain.then(async () => {
        const wait = last + intervalMs - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        last = Date.now();
        return fn(...fnArgs);
      });
      chain = run.catch(() => undefined);
      return run;
    },
  };
  return { key: () => limiter } as never;
}

function toRunner(raw: RawRunner): GitHubRunner {
  return {
    id: raw.id,
    name: raw.name,
    status: raw.status === 'online' ? 'online' : 'offline',
    busy: raw.busy,
    labels: (raw.labels ?? []).flatMap((l) => (typeof l.name === 'string' ? [l.name] : [])),
  };
}

function toGroup(raw: RawGroup): RunnerGroup {
  const visibility =
    raw.visibility === 'selected' || raw.visibility === 'private' ? raw.visibility : 'all';
  return {
    id: raw.id,
    name: raw.name,
    visibility,
    allowsPublicRepositories: raw.allows_public_repositories ?? false,
    isDefault: raw.default ?? false,
  };
}

/** An App JWT signer on a given clock (auth-app's `createJwt`); the skew retry still applies. */
function jwtSigner(privateKey: string, nowS: () => Promise<number>) {
  return async (appId: string | number, timeDifference?: number) => {
    const signed = await githubAppJwt({
      id: appId,
      privateKey,
      now: Math.floor(await nowS()) + (timeDifference ?? 0),
    });
    return { jwt: signed.token, expiresAt: new Date(signed.expiration * 1000).toISOString() };
  };
}

export interface CreateGitHubRunnersOptions {
  /** Adapter tuning for tests (timeouts, back-off, write spacing). */
  readonly tuning?: Pick<
    OctokitGitHubOptions,
    'requestTimeoutMs' | 'retries' | 'retryBaseMs' | 'maxRateLimitWaitS' | 'writeIntervalMs'
  >;
  /** The clock App JWTs are signed with (see OctokitGitHubOptions.nowS). */
  readonly nowS?: () => Promise<number>;
}

/**
 * Builds the GitHub client from the config (§2, §7): GitHub App auth when `github.appId`,
 * `github.appPrivateKeyFile` and `github.installationId` are set, else a token from env
 * `GITHUB_TOKEN` (environment beats files) or `github.tokenFile`. Errors name the missing piece,
 * never a secret.
 */
export async function createGitHubRunners(
  config: Config,
  env: NodeJS.ProcessEnv,
  log: Logger,
  opts: CreateGitHubRunnersOptions = {},
): Promise<OctokitGitHub> {
  const gh = config.github;
  const problems: string[] = [];
  if (gh.org === undefined) problems.push('github.org: required for agent github-actions');
  const app = {
    appId: gh.appId,
    appPrivateKeyFile: gh.appPrivateKeyFile,
    installationId: gh.installationId,
  };
  const set = Object.entries(app).filter(([, v]) => v !== undefined);
  const missing = Object.entries(app)
    .filter(([, v]) => v === undefined)
    .map(([k]) => `github.${k}`);
  const envToken = env.GITHUB_TOKEN ?? '';
  if (set.length > 0 && missing.length > 0) {
    problems.push(
      `GitHub App auth needs github.appId, github.appPrivateKeyFile and github.installationId;` +
        ` missing ${missing.join(', ')}`,
    );
  }
  if (set.length > 0 && (gh.tokenFile !== undefined || envToken !== '')) {
    problems.push(
      `GitHub App auth is exclusive with a token; unset ${gh.tokenFile !== undefined ? 'github.tokenFile' : 'GITHUB_TOKEN'}`,
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const org = gh.org as string;

  let auth: GitHubAuth;
  if (
    gh.appId !== undefined &&
    gh.appPrivateKeyFile !== undefined &&
    gh.installationId !== undefined
  ) {
    const privateKey = await readSecretFile(gh.appPrivateKeyFile, 'github.appPrivateKeyFile');
    if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(privateKey)) {
      throw new ConfigError([
        `github.appPrivateKeyFile ${gh.appPrivateKeyFile}: not a PEM private key`,
      ]);
    }
    auth = { kind: 'app', appId: gh.appId, privateKey, installationId: gh.installationId };
  } else if (envToken !== '') {
    auth = { kind: 'token', token: envToken.trim() };
  } else if (gh.tokenFile !== undefined) {
    auth = { kind: 'token', token: await readSecretFile(gh.tokenFile, 'github.tokenFile') };
  } else {
    throw new PreconditionError(
      'No GitHub credentials: set GITHUB_TOKEN, github.tokenFile, or github.appId,' +
        ' github.appPrivateKeyFile and github.installationId',
    );
  }
  log.debug({ org, apiUrl: gh.apiUrl, auth: auth.kind }, 'github client ready');
  return new OctokitGitHub({
    org,
    apiUrl: gh.apiUrl,
    auth,
    log,
    ...opts.tuning,
    ...(opts.nowS === undefined ? {} : { nowS: opts.nowS }),
  });
}
