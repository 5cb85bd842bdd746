// The fake GitHub REST API over HTTP: the endpoints pw-pool uses, with GitHub's JSON shapes,
// status codes, `x-ratelimit-*` headers and `link` pagination. See ./index.ts for the list.

import { createHash, randomBytes, type KeyObject } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GitHubFaults, type GitHubFault } from './faults.js';
import { looksLikeJwt, verifyAppJwt } from './jwt.js';
import {
  sha256Hex,
  type GitHubGroupRecord,
  type GitHubOrgModel,
  type GitHubRunnerRecord,
  type GroupVisibility,
} from './model.js';

export const API_VERSION = '2022-11-28';
const DOCS_URL = 'https://docs.github.com/rest';
const MAX_BODY_BYTES = 1024 * 1024;
const AUTHENTICATED_LIMIT = 5000;
const ANONYMOUS_LIMIT = 60;
const RATE_WINDOW_MS = 60 * 60 * 1000;
/** The newest requests kept for `state()`, so a long `sim serve` stays bounded. */
const MAX_REQUEST_RECORDS = 10000;

export interface GitHubRequestRecord {
  method: string;
  /** Path and query as sent (GitHub takes no credentials in the query here). */
  path: string;
  status: number;
  /** Virtual time of arrival (ISO-8601). */
  at: string;
  /** The injected fault that answered, if any. */
  fault?: string;
}

export interface FakeGitHubServerConfig {
  model: GitHubOrgModel;
  faults: GitHubFaults;
  appId: number;
  appSlug: string;
  installationId: number;
  publicKey: KeyObject;
  runnerVersion: string;
  /** Status for a duplicate runner-group name: 409 (default) or 422. */
  duplicateGroupStatus: 409 | 422;
  /** Base URL of this server, known once it listens. */
  baseUrl: () => string;
}

class ApiError extends Error {
  readonly status: number;
  readonly extra: Record<string, unknown>;
  constructor(status: number, message: string, extra: Record<string, unknown> = {}) {
    super(message);
    this.status = status;
    this.extra = extra;
  }
}

interface Reply {
  status: number;
  json?: unknown;
  headers?: Record<string, string>;
  raw?: Buffer;
}

interface Ctx {
  method: string;
  url: URL;
  body: unknown;
  params: string[];
  auth: string | undefined;
}

type Access = 'jwt' | 'token' | 'public';

interface Route {
  method: string;
  pattern: RegExp;
  access: Access;
  handle: (ctx: Ctx) => Reply;
}

interface RateWindow {
  startMs: number;
  used: number;
  limit: number;
}

export class FakeGitHubHandler {
  readonly requests: GitHubRequestRecord[] = [];
  readonly #c: FakeGitHubServerConfig;
  readonly #routes: Route[];
  readonly #rate = new Map<string, RateWindow>();

  constructor(config: FakeGitHubServerConfig) {
    this.#c = config;
    this.#routes = this.#buildRoutes();
  }

  /** The release tarball's bytes (deterministic per version), served at its download URL. */
  tarball(): Buffer {
    return Buffer.from(`fake actions-runner osx-arm64 ${this.#c.runnerVersion}\n`, 'utf8');
  }

  tarballSha256(): string {
    return createHash('sha256').update(this.tarball()).digest('hex');
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const at = new Date(this.#c.model.now()).toISOString();
    let reply: Reply;
    let fault: GitHubFault | undefined;
    try {
      const text = await readBody(req);
      fault = this.#c.faults.take(url.pathname);
      reply =
        fault === undefined ? this.#route(method, url, text, req.headers) : this.#faultReply(fault);
    } catch (error) {
      reply = errorReply(error);
    }
    this.#send(res, reply);
    if (this.requests.length >= MAX_REQUEST_RECORDS) this.requests.shift();
    this.requests.push({
      method,
      path: `${url.pathname}${url.search}`,
      status: reply.status,
      at,
      ...(fault === undefined ? {} : { fault: fault.kind }),
    });
  }

  #route(method: string, url: URL, text: string, headers: IncomingMessage['headers']): Reply {
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const route = this.#routes.find((r) => r.method === method && r.pattern.test(path));
    if (route === undefined) throw new ApiError(404, 'Not Found');
    const match = route.pattern.exec(path) as RegExpExecArray;
    const auth = parseAuthorization(headers.authorization);
    const rateHeaders = this.#authorize(route.access, auth);
    let body: unknown = undefined;
    if (text.trim() !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        throw new ApiError(400, 'Problems parsing JSON');
      }
    }
    const params = match.slice(1).map((p) => decodeURIComponent(p));
    const reply = route.handle({ method, url, body, params, auth });
    return { ...reply, headers: { ...rateHeaders, ...reply.headers } };
  }

  /** Checks the credential a route needs and counts the request against its rate limit. */
  #authorize(access: Access, auth: string | undefined): Record<string, string> {
    const nowMs = this.#c.model.now();
    if (access === 'jwt') {
      if (auth === undefined) {
        throw new ApiError(401, 'A JSON web token could not be decoded');
      }
      const check = verifyAppJwt(auth, this.#c.publicKey, this.#c.appId, nowMs);
      if (!check.ok) throw new ApiError(401, check.message);
      return this.#count(`app:${this.#c.appId}`, AUTHENTICATED_LIMIT);
    }
    if (auth === undefined) {
      if (access === 'public') return this.#count('anonymous', ANONYMOUS_LIMIT);
      throw new ApiError(401, 'Requires authentication');
    }
    const kind = looksLikeJwt(auth) ? 'unknown' : this.#c.model.checkCredential(auth);
    if (kind !== 'installation' && kind !== 'personal') {
      throw new ApiError(401, 'Bad credentials');
    }
    return this.#count(`token:${sha256Hex(auth).slice(0, 16)}`, AUTHENTICATED_LIMIT);
  }

  #count(identity: string, limit: number): Record<string, string> {
    const nowMs = this.#c.model.now();
    let window = this.#rate.get(identity);
    if (window === undefined || nowMs >= window.startMs + RATE_WINDOW_MS) {
      window = { startMs: nowMs, used: 0, limit };
      this.#rate.set(identity, window);
    }
    const resetS = Math.ceil((window.startMs + RATE_WINDOW_MS) / 1000);
    if (window.used >= window.limit) {
      throw new ApiError(403, rateLimitMessage(identity), {
        headers: rateHeaders(window.limit, 0, window.used, resetS),
      });
    }
    window.used += 1;
    return rateHeaders(window.limit, window.limit - window.used, window.used, resetS);
  }

  #faultReply(fault: GitHubFault): Reply {
    const nowS = Math.floor(this.#c.model.now() / 1000);
    switch (fault.kind) {
      case '5xx':
        return {
          status: fault.status,
          json: { message: fault.status === 503 ? 'Service Unavailable' : 'Server Error' },
        };
      case 'rate-limit':
        return {
          status: fault.status,
          headers: rateHeaders(AUTHENTICATED_LIMIT, 0, AUTHENTICATED_LIMIT, nowS + 3600),
          json: errorJson(fault.status, rateLimitMessage('installation')),
        };
      case 'secondary-rate-limit':
        return {
          status: fault.status,
          headers: { 'retry-after': String(fault.retryAfterS) },
          json: errorJson(
            fault.status,
            'You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.',
          ),
        };
    }
  }

  #send(res: ServerResponse, reply: Reply): void {
    const headers: Record<string, string | number> = {
      'x-github-api-version-selected': API_VERSION,
      'x-github-media-type': 'github.v3; format=json',
      'x-github-request-id': requestId(),
      // The simulated clock's time, as GitHub's own: clients (auth-app) correct JWT skew with it.
      date: new Date(this.#c.model.now()).toUTCString(),
      ...reply.headers,
    };
    if (reply.status === 204) {
      res.writeHead(204, headers);
      res.end();
      return;
    }
    if (reply.raw !== undefined) {
      res.writeHead(reply.status, {
        ...headers,
        'content-type': 'application/octet-stream',
        'content-length': reply.raw.length,
      });
      res.end(reply.raw);
      return;
    }
    const body = `${JSON.stringify(reply.json ?? {})}\n`;
    res.writeHead(reply.status, {
      ...headers,
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  }

  // ------------------------------------------------------------ routes

  #buildRoutes(): Route[] {
    const c = this.#c;
    const m = c.model;
    const org = '([^/]+)';
    const num = '([0-9]+)';
    const orgRoute = (
      method: string,
      rest: string,
      handle: (ctx: Ctx) => Reply,
      access: Access = 'token',
    ): Route => ({
      method,
      pattern: new RegExp(`^/orgs/${org}${rest}$`),
      access,
      handle: (ctx) => {
        if ((ctx.params[0] ?? '').toLowerCase() !== m.org.toLowerCase()) {
          throw new ApiError(404, 'Not Found');
        }
        return handle(ctx);
      },
    });
    const groupOf = (id: string | undefined): GitHubGroupRecord => {
      const group = m.group(Number(id));
      if (group === undefined) throw new ApiError(404, 'Not Found');
      return group;
    };
    const runnerOf = (id: string | undefined): GitHubRunnerRecord => {
      const runner = m.runner(Number(id));
      if (runner === undefined) throw new ApiError(404, 'Not Found');
      return runner;
    };

    return [
      {
        method: 'GET',
        pattern: /^\/app$/,
        access: 'jwt',
        handle: () => ({ status: 200, json: this.#appJson() }),
      },
      {
        method: 'POST',
        pattern: new RegExp(`^/app/installations/${num}/access_tokens$`),
        access: 'jwt',
        handle: (ctx) => {
          if (Number(ctx.params[0]) !== c.installationId) throw new ApiError(404, 'Not Found');
          const { token, expiresAtMs } = m.issueInstallationToken();
          return {
            status: 201,
            json: {
              token,
              expires_at: githubTime(expiresAtMs),
              permissions: { organization_self_hosted_runners: 'write', metadata: 'read' },
              repository_selection: 'all',
            },
          };
        },
      },
      orgRoute(
        'GET',
        '/installation',
        () => ({ status: 200, json: this.#installationJson() }),
        'jwt',
      ),
      orgRoute('GET', '/actions/runners', (ctx) => {
        const name = ctx.url.searchParams.get('name');
        const all = m
          .runners()
          .filter((r) => name === null || r.name.toLowerCase() === name.toLowerCase());
        return this.#page(ctx, all, (items, total) => ({
          total_count: total,
          runners: items.map((r) => runnerJson(r)),
        }));
      }),
      orgRoute('POST', '/actions/runners/registration-token', () => {
        const { token, expiresAtMs } = m.issueRegistrationToken();
        return { status: 201, json: { token, expires_at: githubTime(expiresAtMs) } };
      }),
      orgRoute('GET', `/actions/runners/${num}`, (ctx) => ({
        status: 200,
        json: runnerJson(runnerOf(ctx.params[1])),
      })),
      orgRoute('DELETE', `/actions/runners/${num}`, (ctx) => {
        const runner = m.runner(Number(ctx.params[1]));
        const result = m.deleteRunner(Number(ctx.params[1]));
        if (result === 'not-found') throw new ApiError(404, 'Not Found');
        if (result === 'busy') {
          throw new ApiError(
            422,
            `Bad request - Runner "${runner?.name ?? ''}" is still running a job"`,
          );
        }
        return { status: 204 };
      }),
      orgRoute('GET', '/actions/runner-groups', (ctx) =>
        this.#page(ctx, m.groups(), (items, total) => ({
          total_count: total,
          runner_groups: items.map((g) => this.#groupJson(g)),
        })),
      ),
      orgRoute('POST', '/actions/runner-groups', (ctx) => {
        const spec = parseGroupBody(ctx.body);
        for (const id of spec.runnerIds) {
          if (m.runner(id) === undefined) {
            throw new ApiError(422, `Invalid request.\n\nRunner ${id} does not exist.`);
          }
        }
        const group = m.createGroup(spec);
        if (group === undefined) {
          throw new ApiError(
            c.duplicateGroupStatus,
            `Already exists - A runner group with the name '${spec.name}' already exists.`,
          );
        }
        return { status: 201, json: this.#groupJson(group) };
      }),
      orgRoute('GET', `/actions/runner-groups/${num}`, (ctx) => ({
        status: 200,
        json: this.#groupJson(groupOf(ctx.params[1])),
      })),
      orgRoute('GET', `/actions/runner-groups/${num}/runners`, (ctx) => {
        const group = groupOf(ctx.params[1]);
        return this.#page(ctx, m.runnersInGroup(group.id), (items, total) => ({
          total_count: total,
          runners: items.map((r) => runnerJson(r)),
        }));
      }),
      orgRoute('PUT', `/actions/runner-groups/${num}/runners/${num}`, (ctx) => {
        const group = groupOf(ctx.params[1]);
        const runner = runnerOf(ctx.params[2]);
        m.moveRunner(runner.id, group.id);
        return { status: 204 };
      }),
      {
        method: 'GET',
        pattern: /^\/repos\/actions\/runner\/releases\/latest$/,
        access: 'public',
        handle: () => ({ status: 200, json: this.#releaseJson() }),
      },
      {
        method: 'GET',
        pattern: /^\/actions\/runner\/releases\/download\/v([0-9.]+)\/([^/]+)$/,
        access: 'public',
        handle: (ctx) => {
          if (ctx.params[0] !== c.runnerVersion || ctx.params[1] !== assetName(c.runnerVersion)) {
            throw new ApiError(404, 'Not Found');
          }
          return { status: 200, raw: this.tarball() };
        },
      },
    ];

    function runnerJson(r: GitHubRunnerRecord): unknown {
      return {
        id: r.id,
        name: r.name,
        os: 'macOS',
        status: r.status,
        busy: r.busy,
        ephemeral: false,
        labels: r.labels.map((l) => ({ id: l.id, name: l.name, type: l.type })),
      };
    }
  }

  #page<T>(ctx: Ctx, all: readonly T[], shape: (items: T[], total: number) => unknown): Reply {
    const perPage = clampInt(ctx.url.searchParams.get('per_page'), 30, 1, 100);
    const page = clampInt(ctx.url.searchParams.get('page'), 1, 1, Number.MAX_SAFE_INTEGER);
    const items = all.slice((page - 1) * perPage, page * perPage);
    const last = Math.max(1, Math.ceil(all.length / perPage));
    const link = linkHeader(this.#c.baseUrl(), ctx.url, page, last);
    return {
      status: 200,
      json: shape(items, all.length),
      headers: link === '' ? {} : { link },
    };
  }

  #appJson(): unknown {
    const c = this.#c;
    return {
      id: c.appId,
      slug: c.appSlug,
      name: c.appSlug,
      owner: { login: c.model.org, type: 'Organization' },
      html_url: `${c.baseUrl()}/apps/${c.appSlug}`,
      permissions: { organization_self_hosted_runners: 'write', metadata: 'read' },
      events: [],
      installations_count: 1,
    };
  }

  #installationJson(): unknown {
    const c = this.#c;
    return {
      id: c.installationId,
      account: { login: c.model.org, type: 'Organization' },
      app_id: c.appId,
      app_slug: c.appSlug,
      target_type: 'Organization',
      repository_selection: 'all',
      permissions: { organization_self_hosted_runners: 'write', metadata: 'read' },
      access_tokens_url: `${c.baseUrl()}/app/installations/${c.installationId}/access_tokens`,
    };
  }

  #groupJson(g: GitHubGroupRecord): unknown {
    const base = `${this.#c.baseUrl()}/orgs/${this.#c.model.org}/actions/runner-groups/${g.id}`;
    return {
      id: g.id,
      name: g.name,
      visibility: g.visibility,
      default: g.isDefault,
      ...(g.visibility === 'selected' ? { selected_repositories_url: `${base}/repositories` } : {}),
      runners_url: `${base}/runners`,
      hosted_runners_url: `${base}/hosted-runners`,
      inherited: false,
      allows_public_repositories: g.allowsPublicRepositories,
      restricted_to_workflows: false,
      selected_workflows: [],
      workflow_restrictions_read_only: false,
    };
  }

  #releaseJson(): unknown {
    const v = this.#c.runnerVersion;
    const base = this.#c.baseUrl();
    const asset = assetName(v);
    const sha = this.tarballSha256();
    const body = [
      '## Changes',
      '',
      '- Simulated release for pw-pool tests',
      '',
      '## SHA-256 Checksums',
      '',
      'The SHA-256 checksums for the packages included in this build are shown below:',
      '',
      `- ${asset} <!-- BEGIN SHA osx-arm64 -->${sha}<!-- END SHA osx-arm64 -->`,
      '',
    ].join('\r\n');
    return {
      url: `${base}/repos/actions/runner/releases/1`,
      html_url: `${base}/actions/runner/releases/tag/v${v}`,
      id: 1,
      tag_name: `v${v}`,
      target_commitish: 'main',
      name: `v${v}`,
      draft: false,
      prerelease: false,
      created_at: githubTime(0),
      published_at: githubTime(0),
      body,
      assets: [
        {
          id: 1,
          name: asset,
          label: '',
          content_type: 'application/octet-stream',
          state: 'uploaded',
          size: this.tarball().length,
          browser_download_url: `${base}/actions/runner/releases/download/v${v}/${asset}`,
        },
      ],
      tarball_url: `${base}/repos/actions/runner/tarball/v${v}`,
      zipball_url: `${base}/repos/actions/runner/zipball/v${v}`,
    };
  }
}

// ---------------------------------------------------------------- helpers

export { GitHubFaults };

function assetName(version: string): string {
  return `actions-runner-osx-arm64-${version}.tar.gz`;
}

/** GitHub's timestamp format: ISO-8601 in UTC without milliseconds. */
export function githubTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

function parseAuthorization(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^(?:token|bearer)\s+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? '';
}

function rateHeaders(limit: number, remaining: number, used: number, resetS: number) {
  return {
    'x-ratelimit-limit': String(limit),
    'x-ratelimit-remaining': String(remaining),
    'x-ratelimit-used': String(used),
    'x-ratelimit-reset': String(resetS),
    'x-ratelimit-resource': 'core',
  };
}

function rateLimitMessage(identity: string): string {
  return `API rate limit exceeded for ${identity.startsWith('anonymous') ? 'your IP address' : 'installation'}. If you reach out to GitHub Support for help, please include the request ID.`;
}

function errorJson(status: number, message: string): Record<string, unknown> {
  return { message, documentation_url: DOCS_URL, status: String(status) };
}

function errorReply(error: unknown): Reply {
  if (error instanceof ApiError) {
    const headers = (error.extra['headers'] as Record<string, string> | undefined) ?? {};
    return { status: error.status, headers, json: errorJson(error.status, error.message) };
  }
  return { status: 500, json: errorJson(500, `fake GitHub failure: ${String(error)}`) };
}

function clampInt(raw: string | null, fallback: number, min: number, max: number): number {
  if (raw === null || !/^[0-9]+$/.test(raw)) return fallback;
  return Math.min(max, Math.max(min, Number(raw)));
}

/** GitHub's `link` header: prev/next/last/first as they apply, other query params kept. */
function linkHeader(baseUrl: string, url: URL, page: number, last: number): string {
  const href = (p: number): string => {
    const target = new URL(`${baseUrl}${url.pathname}`);
    for (const [key, value] of url.searchParams) {
      if (key !== 'page') target.searchParams.append(key, value);
    }
    target.searchParams.set('page', String(p));
    return target.toString();
  };
  const links: string[] = [];
  if (page > 1) links.push(`<${href(Math.min(page - 1, last))}>; rel="prev"`);
  if (page < last) {
    links.push(`<${href(page + 1)}>; rel="next"`);
    links.push(`<${href(last)}>; rel="last"`);
  }
  if (page > 1) links.push(`<${href(1)}>; rel="first"`);
  return links.join(', ');
}

function parseGroupBody(body: unknown): {
  name: string;
  visibility: GroupVisibility;
  allowsPublicRepositories: boolean;
  runnerIds: number[];
  selectedRepositoryIds: number[];
} {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ApiError(422, 'Invalid request.\n\n"name" wasn\'t supplied.');
  }
  const b = body as Record<string, unknown>;
  const problems: string[] = [];
  const name = b['name'];
  if (name === undefined) problems.push('"name" wasn\'t supplied.');
  else if (typeof name !== 'string' || name.trim() === '') {
    problems.push(`For 'properties/name', ${JSON.stringify(name)} is not a non-empty string.`);
  }
  const visibility = b['visibility'] ?? 'all';
  if (visibility !== 'all' && visibility !== 'selected' && visibility !== 'private') {
    problems.push(
      `For 'properties/visibility', ${JSON.stringify(visibility)} is not one of ["selected", "all", "private"].`,
    );
  }
  const allows = b['allows_public_repositories'] ?? false;
  if (typeof allows !== 'boolean') {
    problems.push(
      `For 'properties/allows_public_repositories', ${JSON.stringify(allows)} is not a boolean.`,
    );
  }
  const runners = b['runners'] ?? [];
  if (!Array.isArray(runners) || !runners.every((r) => Number.isInteger(r))) {
    problems.push(
      `For 'properties/runners', ${JSON.stringify(runners)} is not an array of integers.`,
    );
  }
  const repositories = b['selected_repository_ids'] ?? [];
  if (!Array.isArray(repositories) || !repositories.every((r) => Number.isInteger(r))) {
    problems.push(
      `For 'properties/selected_repository_ids', ${JSON.stringify(repositories)} is not an array of integers.`,
    );
  }
  if (problems.length > 0) throw new ApiError(422, `Invalid request.\n\n${problems.join('\n')}`);
  return {
    name: (name as string).trim(),
    visibility: visibility as GroupVisibility,
    allowsPublicRepositories: allows as boolean,
    runnerIds: runners as number[],
    // Only a `selected` group is limited to a list (GitHub ignores it for the others).
    selectedRepositoryIds: visibility === 'selected' ? [...new Set(repositories as number[])] : [],
  };
}

function requestId(): string {
  const hex = randomBytes(10).toString('hex').toUpperCase();
  return `${hex.slice(0, 4)}:${hex.slice(4, 8)}:${hex.slice(8, 14)}:${hex.slice(14, 20)}`;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) throw new ApiError(413, 'Payload too large');
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
