// The GitHub adapter: the real Octokit (with its auth-app, paginate, retry and throttling
// plugins) against the fake GitHub REST API of the simulated cloud, on port 0.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import {
  classifyGitHubError,
  createGitHubRunners,
  OctokitGitHub,
  parseRunnerReleaseSha,
  redactSecrets,
  type GitHubAuth,
  type OctokitGitHubOptions,
} from '../../src/pw-lib/adapters/github.js';
import { parseConfig, type Config } from '../../src/pw-lib/config/index.js';
import { ConfigError, GitHubError, PreconditionError } from '../../src/pw-lib/errors.js';
import { startFakeGitHub, type FakeGitHub } from '../../src/sim/github/index.js';
import { memoryLogger } from '../helpers/fakes.js';

const ORG = 'pwpool-test';
const APP_ID = 777;
/** Tokens are made at run time: nothing token-shaped is committed. */
const fakeToken = () => `ghp_${randomBytes(18).toString('hex')}`;
const PAT = fakeToken();
const FAST = { retryBaseMs: 5, writeIntervalMs: 0, requestTimeoutMs: 5000 } as const;
const SHA = 'ab'.repeat(32);

/** A failed Octokit request as @octokit/request reports it. */
function httpError(
  status: number,
  message: string,
  headers: Record<string, string> = {},
  opts: { noResponse?: boolean } = {},
): Error {
  return Object.assign(new Error(message), {
    name: 'HttpError',
    status,
    request: {
      method: 'GET',
      url: `https://api.github.com/orgs/${ORG}/actions/runners?per_page=100`,
      headers: { authorization: 'token [REDACTED]' },
    },
    ...(opts.noResponse === true ? {} : { response: { status, headers, data: { message } } }),
  });
}

void describe('classifyGitHubError', () => {
  const cases: [string, unknown, string, number][] = [
    ['429', httpError(429, 'Too many'), 'rate-limited', 429],
    [
      '403 primary',
      httpError(403, 'API rate limit exceeded', { 'x-ratelimit-remaining': '0' }),
      'rate-limited',
      403,
    ],
    [
      '403 secondary',
      httpError(403, 'You have exceeded a secondary rate limit', { 'retry-after': '60' }),
      'rate-limited',
      403,
    ],
    ['403 other', httpError(403, 'Resource not accessible by integration'), 'auth', 403],
    ['401', httpError(401, 'Bad credentials'), 'auth', 401],
    ['404', httpError(404, 'Not Found'), 'not-found', 404],
    ['409', httpError(409, 'Name already exists'), 'conflict', 409],
    ['422', httpError(422, 'Runner "x" is still running a job'), 'validation', 422],
    ['500', httpError(500, 'Server Error'), 'unavailable', 500],
    ['502', httpError(502, 'Bad Gateway'), 'unavailable', 502],
    ['network', httpError(500, 'connect ECONNREFUSED', {}, { noResponse: true }), 'unavailable', 0],
    ['timeout', Object.assign(new Error('no answer'), { name: 'AbortError' }), 'unavailable', 0],
    ['400', httpError(400, 'Problems parsing JSON'), 'other', 400],
    ['plain error', new TypeError('boom'), 'other', 0],
  ];
  for (const [label, error, kind, status] of cases) {
    void it(`${label} → ${kind}`, () => {
      const e = classifyGitHubError(error);
      assert.ok(e instanceof GitHubError);
      assert.equal(e.kind, kind);
      assert.equal(e.status, status);
      assert.equal(e.exitCode, 4);
    });
  }

  void it('names method and path, and never a token', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOjc3N30.c2lnbmF0dXJlc2lnbmF0dXJl';
    const e = classifyGitHubError(
      httpError(401, `Bad credentials for token ${PAT} and Bearer ${jwt} v1.${'a'.repeat(40)}`),
      ['my-secret-value'],
    );
    assert.match(e.message, /GET \/orgs\/pwpool-test\/actions\/runners → 401/);
    assert.doesNotMatch(e.message, /ghp_|eyJ|v1\.a{10}|per_page/);
    assert.equal(
      classifyGitHubError(new Error('has my-secret-value inside'), ['my-secret-value']).message,
      'GitHub client failed: has [REDACTED] inside',
    );
  });

  void it('redacts keys, tokens and JWTs from any text', () => {
    const pem = '-----BEGIN PRIVATE KEY-----\nMIIE\nabc\n-----END PRIVATE KEY-----';
    const text = redactSecrets(
      `key ${pem} ghs_abcdefghijklmnop github_pat_11ABCDEFG_xyz "token":"AAAABBBBCCCC"`,
    );
    assert.doesNotMatch(text, /MIIE|ghs_|github_pat_|AAAABBBB/);
  });
});

void describe('parseRunnerReleaseSha', () => {
  void it('reads the osx-arm64 checksum between its markers', () => {
    const body = [
      '## Packages',
      `- Linux x64 <!-- BEGIN SHA linux-x64 -->${'cd'.repeat(32)}<!-- END SHA linux-x64 -->`,
      `- macOS arm64 <!-- BEGIN SHA osx-arm64 -->${SHA.toUpperCase()}<!-- END SHA osx-arm64 -->`,
    ].join('\r\n');
    assert.equal(parseRunnerReleaseSha(body, 'osx-arm64'), SHA);
    assert.equal(parseRunnerReleaseSha(body, 'linux-x64'), 'cd'.repeat(32));
  });
  void it('is undefined when absent or malformed', () => {
    assert.equal(parseRunnerReleaseSha('no markers', 'osx-arm64'), undefined);
    assert.equal(
      parseRunnerReleaseSha(
        '<!-- BEGIN SHA osx-arm64 -->xyz<!-- END SHA osx-arm64 -->',
        'osx-arm64',
      ),
      undefined,
    );
    assert.equal(
      parseRunnerReleaseSha(
        `<!-- BEGIN SHA osx-x64 -->${SHA}<!-- END SHA osx-x64 -->`,
        'osx-arm64',
      ),
      undefined,
    );
  });
});

function configWith(github: Record<string, unknown>): Config {
  return parseConfig(
    [{ source: 'test.json', values: { agent: { kind: 'github-actions' }, github } }],
    { homeDir: '/home/ops', uid: 1000, cwd: '/' },
  ).config;
}

void describe('createGitHubRunners', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'pw-pool-gh-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const secretFile = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    chmodSync(path, 0o600);
    return path;
  };

  void it('requires github.org', async () => {
    const { log } = memoryLogger();
    await assert.rejects(
      createGitHubRunners(configWith({}), { GITHUB_TOKEN: PAT }, log),
      (e: unknown) => e instanceof ConfigError && /github\.org/.test(e.message),
    );
  });
  void it('names the missing App key and never a secret', async () => {
    const { log } = memoryLogger();
    await assert.rejects(
      createGitHubRunners(configWith({ org: ORG, appId: 1, installationId: 2 }), {}, log),
      (e: unknown) =>
        e instanceof ConfigError &&
        /missing github\.appPrivateKeyFile/.test(e.message) &&
        !e.message.includes('installationId: 2'),
    );
  });
  void it('refuses App auth together with a token', async () => {
    const { log } = memoryLogger();
    const key = secretFile('app.pem', '-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----');
    const config = configWith({ org: ORG, appId: 1, installationId: 2, appPrivateKeyFile: key });
    await assert.rejects(
      createGitHubRunners(config, { GITHUB_TOKEN: PAT }, log),
      (e: unknown) =>
        e instanceof ConfigError && /exclusive/.test(e.message) && !e.message.includes(PAT),
    );
  });
  void it('fails with a precondition error when no credentials are given', async () => {
    const { log } = memoryLogger();
    await assert.rejects(
      createGitHubRunners(configWith({ org: ORG }), {}, log),
      (e: unknown) => e instanceof PreconditionError && /GITHUB_TOKEN/.test(e.message),
    );
  });
  void it('rejects a key file that is not a PEM key, without printing it', async () => {
    const { log } = memoryLogger();
    const key = secretFile('bad.pem', 'not-a-key-SECRETSECRET');
    const config = configWith({ org: ORG, appId: 1, installationId: 2, appPrivateKeyFile: key });
    await assert.rejects(
      createGitHubRunners(config, {}, log),
      (e: unknown) =>
        e instanceof ConfigError &&
        /not a PEM private key/.test(e.message) &&
        !e.message.includes('SECRETSECRET'),
    );
  });
});

void describe('OctokitGitHub against the fake GitHub', () => {
  let gh: FakeGitHub;
  before(async () => {
    gh = await startFakeGitHub({ org: ORG, appId: APP_ID, personalTokens: [PAT] });
  });
  after(async () => {
    await gh.close();
  });

  const make = (
    auth: GitHubAuth,
    extra: Partial<OctokitGitHubOptions> = {},
    tuning: Partial<OctokitGitHubOptions> = FAST,
  ) => {
    const { log, records } = memoryLogger();
    const client = new OctokitGitHub({
      org: ORG,
      apiUrl: gh.apiUrl,
      auth,
      log,
      ...tuning,
      ...extra,
    });
    return { client, records };
  };
  const app = (): GitHubAuth => ({
    kind: 'app',
    appId: APP_ID,
    privateKey: gh.appPrivateKeyPem,
    installationId: gh.installationId,
  });
  const pat: GitHubAuth = { kind: 'token', token: PAT };
  const requestsSince = (n: number) => gh.state().requests.slice(n);

  void it('authenticates as a GitHub App: mints an installation token, then uses it', async () => {
    const before = gh.state().issued.installationTokens;
    const start = gh.state().requests.length;
    const { client } = make(app());
    const groups = await client.listRunnerGroups();
    assert.ok(groups.some((g) => g.name === 'Default' && g.isDefault));
    await client.listRunners();
    assert.equal(gh.state().issued.installationTokens, before + 1, 'one token, reused');
    const reqs = requestsSince(start);
    assert.equal(reqs[0]?.path, `/app/installations/${gh.installationId}/access_tokens`);
    assert.equal(reqs[0]?.status, 201);
    assert.ok(reqs.slice(1).every((r) => r.status === 200));
  });

  /** A clock 2 h ahead of this machine's. */
  const aheadMs = () => Date.now() + 2 * 3600_000;
  /** A fake GitHub on that clock, and an App client for it. */
  const aheadByTwoHours = async (t: TestContext, extra: Partial<OctokitGitHubOptions> = {}) => {
    const ahead = await startFakeGitHub({ org: ORG, appId: APP_ID, nowMs: aheadMs });
    t.after(() => ahead.close());
    const { log, records } = memoryLogger();
    const client = new OctokitGitHub({
      org: ORG,
      apiUrl: ahead.apiUrl,
      auth: {
        kind: 'app',
        appId: APP_ID,
        privateKey: ahead.appPrivateKeyPem,
        installationId: ahead.installationId,
      },
      log,
      ...FAST,
      ...extra,
    });
    return { ahead, client, records };
  };

  void it('App auth works against a simulated clock 2 h ahead (skew corrected from Date)', async (t) => {
    const { client } = await aheadByTwoHours(t);
    const groups = await client.listRunnerGroups();
    assert.ok(groups.some((g) => g.isDefault));
  });

  void it('signs App JWTs on the given clock: no 401 and no skew warning against a clock 2 h ahead', async (t) => {
    const nowS = () => Promise.resolve(Math.floor(aheadMs() / 1000));
    const { ahead, client, records } = await aheadByTwoHours(t, { nowS });
    await client.listRunnerGroups();
    const statuses = ahead.state().requests.map((r) => `${r.method} ${r.path} ${r.status}`);
    assert.ok(
      statuses.every((r) => !r.endsWith(' 401')),
      `no JWT was refused: ${statuses.join(', ')}`,
    );
    assert.ok(!JSON.stringify(records).includes('octokit warning'));
  });

  void it('createGitHubRunners builds a working client from config files and env', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-pool-gh-'));
    try {
      const keyFile = join(dir, 'app.pem');
      writeFileSync(keyFile, gh.appPrivateKeyPem, { mode: 0o600 });
      const tokenFile = join(dir, 'token');
      writeFileSync(tokenFile, `${PAT}\n`, { mode: 0o600 });
      const { log, records } = memoryLogger();
      const viaApp = await createGitHubRunners(
        configWith({
          org: ORG,
          apiUrl: gh.apiUrl,
          appId: APP_ID,
          installationId: gh.installationId,
          appPrivateKeyFile: keyFile,
        }),
        {},
        log,
        { tuning: FAST },
      );
      assert.ok((await viaApp.listRunnerGroups()).length >= 1);
      const viaFile = await createGitHubRunners(
        configWith({ org: ORG, apiUrl: gh.apiUrl, tokenFile }),
        {},
        log,
        { tuning: FAST },
      );
      assert.ok((await viaFile.listRunnerGroups()).length >= 1);
      // The environment beats the file: a wrong GITHUB_TOKEN is used, and fails as auth.
      const viaEnv = await createGitHubRunners(
        configWith({ org: ORG, apiUrl: gh.apiUrl, tokenFile }),
        { GITHUB_TOKEN: fakeToken() },
        log,
        { tuning: FAST },
      );
      await assert.rejects(
        viaEnv.listRunnerGroups(),
        (e: unknown) => e instanceof GitHubError && e.kind === 'auth',
      );
      const logged = JSON.stringify(records);
      assert.ok(!logged.includes(PAT) && !logged.includes('EnvTokenThatIsWrong'));
      assert.ok(!logged.includes(gh.appPrivateKeyPem.split('\n')[1] ?? 'missing'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  void it('authenticates with a personal token, and reports a bad one as auth', async () => {
    const { client } = make(pat);
    assert.ok((await client.listRunnerGroups()).length >= 1);
    const bad = fakeToken();
    const { client: badClient, records } = make({ kind: 'token', token: bad });
    const e = await badClient.listRunners().then(
      () => assert.fail('expected an error'),
      (err: unknown) => err,
    );
    assert.ok(e instanceof GitHubError);
    assert.equal(e.kind, 'auth');
    assert.equal(e.status, 401);
    assert.ok(!e.message.includes(bad) && !JSON.stringify(records).includes(bad));
  });

  void it('ensureRunnerGroup creates the group closed to public repositories, once', async () => {
    const { client } = make(app());
    const start = gh.state().requests.length;
    const first = await client.ensureRunnerGroup('prod', {
      visibility: 'all',
      allowsPublicRepositories: false,
    });
    assert.equal(first.created, true);
    assert.equal(first.name, 'prod');
    assert.equal(first.allowsPublicRepositories, false);
    const second = await client.ensureRunnerGroup('prod', {
      visibility: 'all',
      allowsPublicRepositories: true,
    });
    assert.equal(second.created, false);
    assert.equal(second.id, first.id);
    const stored = gh.state().groups.find((g) => g.name === 'prod');
    assert.equal(stored?.allowsPublicRepositories, false);
    assert.equal(stored?.visibility, 'all');
    const posts = requestsSince(start).filter(
      (r) => r.method === 'POST' && r.path.endsWith('/runner-groups'),
    );
    assert.equal(posts.length, 1, 'an existing group is never recreated or modified');
    const draining = await client.ensureRunnerGroup('prod-draining', {
      visibility: 'selected',
      allowsPublicRepositories: false,
    });
    assert.equal(draining.visibility, 'selected');
  });

  void it('ensureRunnerGroup: a group created by another run in between is used (409)', async () => {
    const { client: other } = make(pat);
    const { client } = make(app(), {
      // Just before our POST reaches GitHub, another run creates the same group.
      fetch: async (input, init) => {
        if (
          init?.method === 'POST' &&
          (input instanceof Request ? input.url : input.toString()).endsWith(
            '/actions/runner-groups',
          )
        ) {
          await other.ensureRunnerGroup('raced', {
            visibility: 'all',
            allowsPublicRepositories: false,
          });
        }
        return fetch(input, init);
      },
    });
    const start = gh.state().requests.length;
    const group = await client.ensureRunnerGroup('raced', {
      visibility: 'all',
      allowsPublicRepositories: false,
    });
    assert.equal(group.created, false);
    assert.equal(group.id, gh.state().groups.find((g) => g.name === 'raced')?.id);
    assert.ok(
      requestsSince(start).some((r) => r.status === 409),
      'our POST met the conflict',
    );
  });

  void it('ensureRunnerGroup reports a name taken in another case as a conflict', async () => {
    const { client } = make(app());
    const e = await client
      .ensureRunnerGroup('PROD', { visibility: 'all', allowsPublicRepositories: false })
      .then(
        () => assert.fail('expected an error'),
        (err: unknown) => err,
      );
    assert.ok(e instanceof GitHubError);
    assert.equal(e.kind, 'conflict');
  });

  void it('reads every page: more than 100 runners', async () => {
    const { client, records } = make(app());
    const group = await client.ensureRunnerGroup('paged', {
      visibility: 'all',
      allowsPublicRepositories: false,
    });
    const { token, expiresAt } = await client.createRegistrationToken();
    assert.ok(Date.parse(expiresAt) > Date.now());
    for (let i = 1; i <= 130; i++) {
      gh.registerRunner({ token, name: `Paged-${i}`, labels: [], group: 'paged', replace: false });
    }
    const start = gh.state().requests.length;
    const all = await client.listRunners();
    assert.ok(all.filter((r) => r.name.startsWith('Paged-')).length === 130);
    const inGroup = await client.listGroupRunners(group.id);
    assert.equal(inGroup.length, 130);
    assert.ok(new Set(inGroup.map((r) => r.id)).size === 130);
    const pages = requestsSince(start).filter((r) => /[?&]page=2/.test(r.path));
    assert.equal(pages.length, 2, 'both lists fetched a second page');
    assert.ok(
      requestsSince(start).every(
        (r) => !r.path.includes('per_page=') || r.path.includes('per_page=100'),
      ),
    );
    assert.ok(!JSON.stringify(records).includes(token), 'registration token never logged');
    assert.deepEqual(all.find((r) => r.name === 'Paged-1')?.labels.slice(0, 3), [
      'self-hosted',
      'macOS',
      'ARM64',
    ]);
  });

  void it('moves a runner, deletes an idle one, refuses a busy one as validation', async () => {
    const { client } = make(app());
    const quarantine = await client.ensureRunnerGroup('moves-draining', {
      visibility: 'selected',
      allowsPublicRepositories: false,
    });
    const { token } = await client.createRegistrationToken();
    const busy = gh.registerRunner({
      token,
      name: 'Busy-1',
      labels: [],
      group: '',
      replace: false,
    });
    const idle = gh.registerRunner({
      token,
      name: 'Idle-1',
      labels: [],
      group: '',
      replace: false,
    });
    gh.setRunnerStatus('Busy-1', 'online', true);
    await client.moveRunnerToGroup(quarantine.id, busy.id);
    assert.equal(gh.runner('Busy-1')?.groupId, quarantine.id);
    const listed = await client.listGroupRunners(quarantine.id);
    assert.deepEqual(
      listed.map((r) => [r.name, r.status, r.busy]),
      [['Busy-1', 'online', true]],
    );
    const e = await client.deleteRunner(busy.id).then(
      () => assert.fail('expected an error'),
      (err: unknown) => err,
    );
    assert.ok(e instanceof GitHubError);
    assert.equal(e.kind, 'validation');
    assert.equal(e.status, 422);
    assert.ok(gh.runner('Busy-1') !== undefined);
    const deletes = gh
      .state()
      .requests.filter((r) => r.method === 'DELETE' && r.path.endsWith(`/runners/${busy.id}`));
    assert.equal(deletes.length, 1, 'a 4xx answer is final: no retry');
    await client.deleteRunner(idle.id);
    assert.equal(gh.runner('Idle-1'), undefined);
    await client.deleteRunner(idle.id); // already gone: 404 counts as deleted
    const missing = await client.moveRunnerToGroup(quarantine.id, 999999).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(missing instanceof GitHubError && missing.kind === 'not-found');
  });

  void it('resolves the latest runner release and its osx-arm64 checksum', async () => {
    const { client } = make(pat);
    const release = await client.latestRunnerRelease();
    assert.equal(release.version, gh.runnerVersion);
    assert.equal(release.osxArm64Sha256, gh.runnerSha256);
  });

  void it('retries a 5xx, then reports a lasting outage as unavailable', async () => {
    const { client } = make(app());
    await client.listRunnerGroups(); // token minted before the faults
    gh.faults.add({ kind: '5xx', path: '/actions/runner-groups', count: 1 });
    const start = gh.state().requests.length;
    assert.ok((await client.listRunnerGroups()).length >= 1);
    assert.deepEqual(
      requestsSince(start).map((r) => r.status),
      [502, 200],
    );
    gh.faults.add({ kind: '5xx', path: '/actions/runners', status: 503 });
    try {
      const start2 = gh.state().requests.length;
      const e = await client.listRunners().then(
        () => assert.fail('expected an error'),
        (err: unknown) => err,
      );
      assert.ok(e instanceof GitHubError);
      assert.equal(e.kind, 'unavailable');
      assert.equal(e.status, 503);
      assert.equal(requestsSince(start2).length, 3, 'three tries in all');
    } finally {
      gh.faults.clear();
    }
  });

  void it('a failing installation-token mint costs 3 tries in all, not 3 × 3', async () => {
    const { client } = make(app());
    gh.faults.add({ kind: '5xx', path: '/access_tokens' });
    try {
      const start = gh.state().requests.length;
      const e = await client.listRunnerGroups().then(
        () => assert.fail('expected an error'),
        (err: unknown) => err,
      );
      assert.ok(e instanceof GitHubError && e.kind === 'unavailable');
      const sent = requestsSince(start).map((r) => `${r.method} ${r.status}`);
      assert.deepEqual(sent, ['POST 502', 'POST 502', 'POST 502']);
    } finally {
      gh.faults.clear();
    }
  });

  void it("the retry back-off starts afresh for every call (one call's failures do not lengthen the next)", async (t) => {
    const BASE = 7; // a unit no other timer of the client uses
    const { client } = make(pat, {}, { ...FAST, retryBaseMs: BASE });
    const delays: number[] = [];
    const real = globalThis.setTimeout;
    t.mock.method(globalThis, 'setTimeout', ((fn: () => void, ms?: number) => {
      if (typeof ms === 'number' && ms >= BASE && ms % BASE === 0) delays.push(ms / BASE);
      return real(fn, ms);
    }) as typeof setTimeout);
    gh.faults.add({ kind: '5xx', path: '/actions/runner-groups' });
    const backoffs: number[][] = [];
    try {
      for (let i = 0; i < 3; i++) {
        delays.length = 0;
        await client.listRunnerGroups().catch(() => undefined);
        backoffs.push([...delays]);
      }
    } finally {
      gh.faults.clear();
    }
    // 1 and 4 units (retry 1 and 2 of 3 tries), every time.
    assert.deepEqual(backoffs, [
      [1, 4],
      [1, 4],
      [1, 4],
    ]);
  });

  void it('gives up at once on a rate limit with a long wait: rate-limited', async () => {
    const { client, records } = make(app());
    await client.listRunnerGroups();
    for (const kind of ['rate-limit', 'secondary-rate-limit'] as const) {
      gh.faults.add({ kind, path: '/actions/runners' });
      try {
        const started = performance.now();
        const e = await client.listRunners().then(
          () => assert.fail('expected an error'),
          (err: unknown) => err,
        );
        const elapsedMs = performance.now() - started;
        assert.ok(e instanceof GitHubError, String(e));
        assert.equal(e.kind, 'rate-limited', kind);
        assert.ok(elapsedMs < 3000, `${kind}: returned after ${Math.round(elapsedMs)} ms`);
      } finally {
        gh.faults.clear();
      }
    }
    assert.ok(records.some((r) => r.msg === 'github rate limit; giving up for this run'));
    assert.ok(records.some((r) => r.msg === 'github secondary rate limit; giving up for this run'));
  });

  void it('retries a short secondary rate limit once', async () => {
    const { client } = make(app());
    await client.listRunnerGroups();
    gh.faults.add({
      kind: 'secondary-rate-limit',
      path: '/actions/runners',
      retryAfterS: 1,
      count: 1,
    });
    const start = gh.state().requests.length;
    await client.listRunners();
    assert.deepEqual(
      requestsSince(start)
        .filter((r) => !r.path.includes('page=2'))
        .map((r) => r.status),
      [403, 200],
    );
    gh.faults.add({
      kind: 'secondary-rate-limit',
      path: '/actions/runners',
      retryAfterS: 1,
      count: 2,
    });
    const e = await client.listRunners().then(
      () => assert.fail('expected an error'),
      (err: unknown) => err,
    );
    gh.faults.clear();
    assert.ok(e instanceof GitHubError && e.kind === 'rate-limited', 'retried at most once');
  });

  void it("spaces writes 1 s apart by default (GitHub's guidance against secondary limits)", async () => {
    const { client } = make(pat, {}, { retryBaseMs: 5 });
    await client.createRegistrationToken();
    const started = performance.now();
    await client.createRegistrationToken();
    assert.ok(performance.now() - started >= 900);
  });

  void it('never puts a token or the App key in errors or log lines', async () => {
    const { client, records } = make(app());
    const { token } = await client.createRegistrationToken();
    gh.faults.add({ kind: '5xx', path: '/registration-token' });
    const e = await client.createRegistrationToken().then(
      () => assert.fail('expected an error'),
      (err: unknown) => err,
    );
    gh.faults.clear();
    assert.ok(e instanceof GitHubError && e.kind === 'unavailable');
    const text = JSON.stringify(records) + String(e.message) + String(e.stack);
    const keyBody = gh.appPrivateKeyPem.split('\n')[1] ?? 'missing';
    for (const secret of [token, keyBody, 'ghs_']) {
      assert.ok(!text.includes(secret), `leaked ${secret.slice(0, 4)}…`);
    }
  });
});

void describe('OctokitGitHub without an answer', () => {
  let server: Server;
  let port: number;
  const seen: IncomingHttpHeaders[] = [];
  before(async () => {
    // Accepts connections and never answers.
    server = createServer((req) => {
      seen.push(req.headers);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  void it('times out each request: unavailable, not retried', async () => {
    const { log } = memoryLogger();
    const client = new OctokitGitHub({
      org: ORG,
      apiUrl: `http://127.0.0.1:${port}`,
      auth: { kind: 'token', token: PAT },
      log,
      ...FAST,
      requestTimeoutMs: 200,
    });
    const started = performance.now();
    const e = await client.listRunners().then(
      () => assert.fail('expected an error'),
      (err: unknown) => err,
    );
    assert.ok(e instanceof GitHubError);
    assert.equal(e.kind, 'unavailable');
    assert.equal(e.status, 0);
    assert.ok(performance.now() - started < 3000);
    assert.equal(seen.length, 1, 'a timed-out request is not retried');
    assert.equal(seen[0]?.['x-github-api-version'], '2022-11-28');
    assert.equal(seen[0]?.accept, 'application/vnd.github+json');
    assert.match(seen[0]?.authorization ?? '', /^(token|bearer) ghp_/i);
  });

  void it('reports a refused connection as unavailable', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const freePort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const { log } = memoryLogger();
    const client = new OctokitGitHub({
      org: ORG,
      apiUrl: `http://127.0.0.1:${freePort}`,
      auth: { kind: 'token', token: PAT },
      log,
      ...FAST,
    });
    const e = await client.listRunnerGroups().then(
      () => assert.fail('expected an error'),
      (err: unknown) => err,
    );
    assert.ok(e instanceof GitHubError);
    assert.equal(e.kind, 'unavailable');
    assert.equal(e.status, 0);
  });
});
