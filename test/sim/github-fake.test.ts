// The fake GitHub REST API (src/sim/github), driven with plain fetch like Octokit would, with
// GitHub App JWTs signed here with node:crypto, on a virtual clock the test moves by hand.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes, sign } from 'node:crypto';
import { createAppAuth } from '@octokit/auth-app';
import { Octokit } from '@octokit/core';
import { paginateRest } from '@octokit/plugin-paginate-rest';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import {
  RunnerRegistrationError,
  startFakeGitHub,
  type FakeGitHub,
  type FakeGitHubOptions,
} from '../../src/sim/github/index.js';

const START_MS = Date.parse('2026-11-28T12:00:00Z');
const APP_ID = 123456;
/** Made at run time: nothing token-shaped is committed. */
const PAT = `ghp_${randomBytes(20).toString('hex').slice(0, 35)}`;

interface Harness {
  gh: FakeGitHub;
  clock: { ms: number; advanceS(s: number): void };
}

async function withFake(
  fn: (h: Harness) => Promise<void>,
  options: Partial<FakeGitHubOptions> = {},
): Promise<void> {
  const clock = {
    ms: START_MS,
    advanceS(s: number) {
      this.ms += s * 1000;
    },
  };
  const gh = await startFakeGitHub({
    org: 'containers',
    appId: APP_ID,
    installationId: 77,
    nowMs: () => clock.ms,
    personalTokens: [PAT],
    ...options,
  });
  try {
    await fn({ gh, clock });
  } finally {
    await gh.close();
  }
}

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** A GitHub App JWT as universal-github-app-jwt makes it (iat 30 s back, 10 min lifetime). */
function appJwt(
  pem: string,
  nowMs: number,
  claims: Partial<Record<'iss' | 'iat' | 'exp', unknown>> = {},
): string {
  const nowS = Math.floor(nowMs / 1000);
  const payload = { iat: nowS - 30, exp: nowS - 30 + 600, iss: APP_ID, ...claims };
  const input = `${b64url({ alg: 'RS256', typ: 'JWT' })}.${b64url(payload)}`;
  const signature = sign('RSA-SHA256', Buffer.from(input), pem).toString('base64url');
  return `${input}.${signature}`;
}

interface Answer {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
}

async function api(
  gh: FakeGitHub,
  method: string,
  path: string,
  auth?: string,
  body?: unknown,
): Promise<Answer> {
  const headers: Record<string, string> = {
    accept: 'application/vnd.github+json',
    'x-github-api-version': '2022-11-28',
  };
  if (auth !== undefined) headers['authorization'] = auth;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${gh.apiUrl}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
  };
}

async function installationToken(h: Harness): Promise<string> {
  const jwt = appJwt(h.gh.appPrivateKeyPem, h.clock.ms);
  const res = await api(h.gh, 'POST', '/app/installations/77/access_tokens', `Bearer ${jwt}`);
  assert.equal(res.status, 201, JSON.stringify(res.json));
  return res.json['token'] as string;
}

async function registrationToken(h: Harness, auth = `token ${PAT}`): Promise<string> {
  const res = await api(h.gh, 'POST', '/orgs/containers/actions/runners/registration-token', auth);
  assert.equal(res.status, 201, JSON.stringify(res.json));
  return res.json['token'] as string;
}

function register(h: Harness, token: string, name: string, group = '', replace = true) {
  return h.gh.registerRunner({ token, name, labels: ['purpose: ci'], group, replace });
}

describe('fake GitHub: app JWT and installation tokens', () => {
  test('a valid JWT gets a 1 h installation token, /app and /orgs/{org}/installation', async () => {
    await withFake(async (h) => {
      const jwt = `Bearer ${appJwt(h.gh.appPrivateKeyPem, h.clock.ms)}`;
      const res = await api(h.gh, 'POST', '/app/installations/77/access_tokens', jwt);
      assert.equal(res.status, 201);
      assert.match(res.json['token'] as string, /^ghs_[A-Za-z0-9]{36}$/);
      assert.equal(res.json['expires_at'], '2026-11-28T13:00:00Z');

      const app = await api(h.gh, 'GET', '/app', jwt);
      assert.equal(app.status, 200);
      assert.equal(app.json['id'], APP_ID);
      assert.equal(typeof app.json['slug'], 'string');
      const inst = await api(h.gh, 'GET', '/orgs/Containers/installation', jwt);
      assert.equal(inst.status, 200);
      assert.equal(inst.json['id'], 77);
      assert.equal(inst.json['app_id'], APP_ID);
      assert.deepEqual((inst.json['account'] as { login: string }).login, 'containers');

      const other = await api(h.gh, 'POST', '/app/installations/78/access_tokens', jwt);
      assert.equal(other.status, 404);
    });
  });

  test('a string iss is accepted like a number', async () => {
    await withFake(async (h) => {
      const jwt = appJwt(h.gh.appPrivateKeyPem, h.clock.ms, { iss: String(APP_ID) });
      const res = await api(h.gh, 'POST', '/app/installations/77/access_tokens', `Bearer ${jwt}`);
      assert.equal(res.status, 201);
    });
  });

  test('bad JWTs are refused with 401 and GitHub messages', async () => {
    await withFake(async (h) => {
      await withFake(async (other) => {
        const nowS = Math.floor(h.clock.ms / 1000);
        const pem = h.gh.appPrivateKeyPem;
        const cases: [string, string, RegExp][] = [
          // signed with another app's key
          ['bad signature', appJwt(other.gh.appPrivateKeyPem, h.clock.ms), /could not be decoded/],
          ['wrong iss', appJwt(pem, h.clock.ms, { iss: APP_ID + 1 }), /could not be decoded/],
          ['non-integer iss', appJwt(pem, h.clock.ms, { iss: 'my-app' }), /'Issuer' claim/],
          [
            'lifetime over 10 min',
            appJwt(pem, h.clock.ms, { iat: nowS - 30, exp: nowS - 30 + 601 }),
            /too far in the future/,
          ],
          [
            'expired',
            appJwt(pem, h.clock.ms, { iat: nowS - 700, exp: nowS - 100 }),
            /'Expiration time' claim/,
          ],
          [
            'iat beyond the 60 s skew',
            appJwt(pem, h.clock.ms, { iat: nowS + 120, exp: nowS + 300 }),
            /'Issued at' claim/,
          ],
          ['missing exp', appJwt(pem, h.clock.ms, { exp: undefined }), /'Expiration time'/],
          ['not a JWT', 'hello', /could not be decoded/],
          ['a PAT', PAT, /could not be decoded/],
        ];
        for (const [label, token, message] of cases) {
          const res = await api(
            h.gh,
            'POST',
            '/app/installations/77/access_tokens',
            `Bearer ${token}`,
          );
          assert.equal(res.status, 401, label);
          assert.match(res.json['message'] as string, message, label);
        }
        const none = await api(h.gh, 'GET', '/app');
        assert.equal(none.status, 401);
        // iat within the skew is fine
        const skewed = appJwt(pem, h.clock.ms, { iat: nowS + 50, exp: nowS + 500 });
        const ok = await api(h.gh, 'GET', '/app', `Bearer ${skewed}`);
        assert.equal(ok.status, 200);
      });
    });
  });

  test('JWT expiry follows the virtual clock', async () => {
    await withFake(async (h) => {
      const jwt = `Bearer ${appJwt(h.gh.appPrivateKeyPem, h.clock.ms)}`;
      assert.equal((await api(h.gh, 'GET', '/app', jwt)).status, 200);
      h.clock.advanceS(569); // exp = start - 30 + 600
      assert.equal((await api(h.gh, 'GET', '/app', jwt)).status, 200);
      h.clock.advanceS(1);
      const late = await api(h.gh, 'GET', '/app', jwt);
      assert.equal(late.status, 401);
      assert.match(late.json['message'] as string, /'Expiration time' claim/);
    });
  });

  test('an installation token works on org endpoints until it expires after 1 virtual hour', async () => {
    await withFake(async (h) => {
      const token = await installationToken(h);
      for (const scheme of ['token', 'Bearer']) {
        const res = await api(
          h.gh,
          'GET',
          '/orgs/containers/actions/runners',
          `${scheme} ${token}`,
        );
        assert.equal(res.status, 200, scheme);
        assert.equal(res.headers.get('x-ratelimit-limit'), '5000');
        assert.ok(Number(res.headers.get('x-ratelimit-remaining')) < 5000);
        assert.match(res.headers.get('x-ratelimit-reset') ?? '', /^[0-9]+$/);
      }
      h.clock.advanceS(3599);
      assert.equal(
        (await api(h.gh, 'GET', '/orgs/containers/actions/runners', `token ${token}`)).status,
        200,
      );
      h.clock.advanceS(1);
      const expired = await api(h.gh, 'GET', '/orgs/containers/actions/runners', `token ${token}`);
      assert.equal(expired.status, 401);
      assert.equal(expired.json['message'], 'Bad credentials');
      // the JWT cannot be used on org endpoints, nor can a made-up token or no token
      const jwt = appJwt(h.gh.appPrivateKeyPem, h.clock.ms);
      const cases: [string | undefined, string][] = [
        [`Bearer ${jwt}`, 'Bad credentials'],
        ['token ghs_madeup', 'Bad credentials'],
        [undefined, 'Requires authentication'],
      ];
      for (const [auth, message] of cases) {
        const res = await api(h.gh, 'GET', '/orgs/containers/actions/runner-groups', auth);
        assert.equal(res.status, 401);
        assert.equal(res.json['message'], message);
      }
    });
  });

  test('unknown routes and other orgs are 404 Not Found', async () => {
    await withFake(async (h) => {
      for (const path of ['/nope', '/orgs/other/actions/runners', '/orgs/containers/actions']) {
        const res = await api(h.gh, 'GET', path, `token ${PAT}`);
        assert.equal(res.status, 404, path);
        assert.equal(res.json['message'], 'Not Found');
      }
    });
  });
});

describe('fake GitHub: runners and groups', () => {
  test('the runner list paginates with per_page and link headers', async () => {
    await withFake(async (h) => {
      const reg = await registrationToken(h);
      for (let i = 1; i <= 35; i++) register(h, reg, `MacM1-${i}`);
      const auth = `token ${PAT}`;
      const first = await api(h.gh, 'GET', '/orgs/containers/actions/runners', auth);
      assert.equal(first.json['total_count'], 35);
      assert.equal((first.json['runners'] as unknown[]).length, 30); // default per_page
      const link = first.headers.get('link') ?? '';
      assert.match(link, /<[^>]*[?&]page=2[^>]*>; rel="next"/);
      assert.match(link, /<[^>]*[?&]page=2[^>]*>; rel="last"/);
      assert.ok(!link.includes('rel="prev"'));

      const collected: string[] = [];
      let next: string | undefined = `/orgs/containers/actions/runners?per_page=10`;
      let pages = 0;
      while (next !== undefined) {
        const res = await api(h.gh, 'GET', next, auth);
        assert.equal(res.status, 200);
        pages += 1;
        for (const r of res.json['runners'] as { name: string }[]) collected.push(r.name);
        const m = /<([^>]+)>; rel="next"/.exec(res.headers.get('link') ?? '');
        next = m?.[1] === undefined ? undefined : m[1].slice(h.gh.apiUrl.length);
        if (m !== null) assert.match(m[1] ?? '', /per_page=10/);
      }
      assert.equal(pages, 4);
      assert.equal(collected.length, 35);
      assert.equal(new Set(collected).size, 35);

      const capped = await api(h.gh, 'GET', '/orgs/containers/actions/runners?per_page=500', auth);
      assert.equal((capped.json['runners'] as unknown[]).length, 35);
      assert.equal(capped.headers.get('link'), null);

      const last = await api(
        h.gh,
        'GET',
        '/orgs/containers/actions/runners?per_page=10&page=4',
        auth,
      );
      assert.match(last.headers.get('link') ?? '', /page=3[^>]*>; rel="prev"/);
      assert.match(last.headers.get('link') ?? '', /page=1[^>]*>; rel="first"/);

      const byName = await api(h.gh, 'GET', '/orgs/containers/actions/runners?name=MacM1-7', auth);
      assert.equal(byName.json['total_count'], 1);
      const runner = (byName.json['runners'] as Record<string, unknown>[])[0];
      assert.equal(runner?.['name'], 'MacM1-7');
      assert.equal(runner?.['os'], 'macOS');
      assert.equal(runner?.['status'], 'offline');
      assert.equal(runner?.['busy'], false);
      assert.deepEqual(
        (runner?.['labels'] as { name: string; type: string }[]).map((l) => [l.name, l.type]),
        [
          ['self-hosted', 'read-only'],
          ['macOS', 'read-only'],
          ['ARM64', 'read-only'],
          ['purpose: ci', 'custom'],
        ],
      );
    });
  });

  test('groups: Default exists, create is 201 once then 409, validation is 422', async () => {
    await withFake(async (h) => {
      const auth = `token ${await installationToken(h)}`;
      const list = await api(h.gh, 'GET', '/orgs/containers/actions/runner-groups', auth);
      assert.equal(list.json['total_count'], 1);
      const def = (list.json['runner_groups'] as Record<string, unknown>[])[0];
      assert.equal(def?.['id'], 1);
      assert.equal(def?.['name'], 'Default');
      assert.equal(def?.['default'], true);

      const body = { name: 'ci', visibility: 'all', allows_public_repositories: false };
      const created = await api(h.gh, 'POST', '/orgs/containers/actions/runner-groups', auth, body);
      assert.equal(created.status, 201);
      assert.equal(created.json['name'], 'ci');
      assert.equal(created.json['default'], false);
      assert.equal(created.json['visibility'], 'all');
      assert.equal(created.json['allows_public_repositories'], false);
      assert.match(created.json['runners_url'] as string, /\/runner-groups\/2\/runners$/);

      const again = await api(h.gh, 'POST', '/orgs/containers/actions/runner-groups', auth, {
        name: 'CI',
      });
      assert.equal(again.status, 409);
      assert.match(again.json['message'] as string, /already exists/);

      const quarantine = await api(h.gh, 'POST', '/orgs/containers/actions/runner-groups', auth, {
        name: 'ci-draining',
        visibility: 'selected',
      });
      assert.equal(quarantine.status, 201);
      assert.match(quarantine.json['selected_repositories_url'] as string, /repositories$/);

      for (const bad of [{}, { name: 'x', visibility: 'public' }, { name: 'y', runners: ['a'] }]) {
        const res = await api(h.gh, 'POST', '/orgs/containers/actions/runner-groups', auth, bad);
        assert.equal(res.status, 422, JSON.stringify(bad));
        assert.match(res.json['message'] as string, /^Invalid request/);
      }
      const one = await api(h.gh, 'GET', '/orgs/containers/actions/runner-groups/2', auth);
      assert.equal(one.json['name'], 'ci');
      const missing = await api(h.gh, 'GET', '/orgs/containers/actions/runner-groups/99', auth);
      assert.equal(missing.status, 404);
      assert.deepEqual(
        h.gh.state().groups.map((g) => g.name),
        ['Default', 'ci', 'ci-draining'],
      );
    });
  });

  test('duplicate group status can be 422 like other GitHub validations', async () => {
    await withFake(
      async (h) => {
        const auth = `token ${PAT}`;
        const path = '/orgs/containers/actions/runner-groups';
        assert.equal((await api(h.gh, 'POST', path, auth, { name: 'ci' })).status, 201);
        assert.equal((await api(h.gh, 'POST', path, auth, { name: 'ci' })).status, 422);
      },
      { duplicateGroupStatus: 422 },
    );
  });

  test('runners land in their group, move between groups, and a busy one cannot be deleted', async () => {
    await withFake(async (h) => {
      const auth = `token ${PAT}`;
      const groups = '/orgs/containers/actions/runner-groups';
      await api(h.gh, 'POST', groups, auth, { name: 'ci' });
      await api(h.gh, 'POST', groups, auth, { name: 'ci-draining', visibility: 'selected' });
      const reg = await registrationToken(h);
      const a = register(h, reg, 'MacM1-1', 'ci');
      const b = register(h, reg, 'MacM1-2');
      assert.equal(a.groupName, 'ci');
      assert.equal(b.groupName, 'Default');
      assert.throws(() => register(h, reg, 'MacM1-3', 'nope'), RunnerRegistrationError);

      const inCi = await api(h.gh, 'GET', `${groups}/2/runners`, auth);
      assert.deepEqual(
        (inCi.json['runners'] as { name: string }[]).map((r) => r.name),
        ['MacM1-1'],
      );

      const moved = await api(h.gh, 'PUT', `${groups}/3/runners/${a.id}`, auth);
      assert.equal(moved.status, 204);
      assert.equal(h.gh.runner('MacM1-1')?.groupName, 'ci-draining');
      const emptied = await api(h.gh, 'GET', `${groups}/2/runners`, auth);
      assert.equal(emptied.json['total_count'], 0);
      assert.equal((await api(h.gh, 'PUT', `${groups}/3/runners/999`, auth)).status, 404);
      assert.equal((await api(h.gh, 'PUT', `${groups}/99/runners/${a.id}`, auth)).status, 404);

      h.gh.setRunnerStatus('MacM1-1', 'online', true);
      const busy = await api(h.gh, 'DELETE', `/orgs/containers/actions/runners/${a.id}`, auth);
      assert.equal(busy.status, 422);
      assert.equal(busy.json['message'], 'Bad request - Runner "MacM1-1" is still running a job"');
      h.gh.setRunnerStatus('MacM1-1', 'online', false);
      const gone = await api(h.gh, 'DELETE', `/orgs/containers/actions/runners/${a.id}`, auth);
      assert.equal(gone.status, 204);
      const again = await api(h.gh, 'DELETE', `/orgs/containers/actions/runners/${a.id}`, auth);
      assert.equal(again.status, 404);
      assert.deepEqual(
        h.gh.state().runners.map((r) => r.name),
        ['MacM1-2'],
      );
    });
  });

  test('replace takes a same-named runner over, keeping its id and group', async () => {
    await withFake(async (h) => {
      await api(h.gh, 'POST', '/orgs/containers/actions/runner-groups', `token ${PAT}`, {
        name: 'ci',
      });
      const reg = await registrationToken(h);
      const first = register(h, reg, 'MacM1-1', 'Default');
      h.gh.setRunnerStatus('MacM1-1', 'online');
      assert.throws(() => register(h, reg, 'MacM1-1', 'ci', false), /same name/);
      const second = register(h, reg, 'MacM1-1', 'ci', true);
      assert.equal(second.id, first.id);
      assert.equal(second.groupName, 'Default');
      assert.equal(second.status, 'offline');
      assert.equal(second.replacements, 1);
    });
  });
});

describe('fake GitHub: registration tokens', () => {
  test('a registration token is valid for 1 virtual hour; registering later fails', async () => {
    await withFake(async (h) => {
      const res = await api(
        h.gh,
        'POST',
        '/orgs/containers/actions/runners/registration-token',
        `Bearer ${await installationToken(h)}`,
      );
      assert.equal(res.status, 201);
      const token = res.json['token'] as string;
      assert.match(token, /^[A-Z0-9]{29}$/);
      assert.equal(res.json['expires_at'], '2026-11-28T13:00:00Z');

      h.clock.advanceS(3599);
      assert.equal(register(h, token, 'MacM1-1').status, 'offline');
      h.clock.advanceS(1);
      assert.throws(() => register(h, token, 'MacM1-2'), /expired/);
      assert.throws(() => register(h, 'NOTATOKEN', 'MacM1-3'), /unknown registration token/);
      // an installation token is not a registration token
      assert.throws(() => register(h, PAT, 'MacM1-4'), RunnerRegistrationError);
      assert.deepEqual(
        h.gh.state().runners.map((r) => r.name),
        ['MacM1-1'],
      );
    });
  });
});

describe('fake GitHub: runner release', () => {
  test('latest release has tag, checksum comment and a downloadable asset matching it', async () => {
    await withFake(
      async (h) => {
        const res = await api(h.gh, 'GET', '/repos/actions/runner/releases/latest');
        assert.equal(res.status, 200);
        assert.equal(res.json['tag_name'], 'v2.330.0');
        const body = res.json['body'] as string;
        const sha = /<!-- BEGIN SHA osx-arm64 -->([0-9a-f]{64})<!-- END SHA osx-arm64 -->/.exec(
          body,
        )?.[1];
        assert.ok(sha !== undefined, body);
        assert.equal(sha, h.gh.runnerSha256);
        const asset = (res.json['assets'] as { name: string; browser_download_url: string }[])[0];
        assert.equal(asset?.name, 'actions-runner-osx-arm64-2.330.0.tar.gz');
        const download = await fetch(asset?.browser_download_url ?? '');
        assert.equal(download.status, 200);
        const bytes = Buffer.from(await download.arrayBuffer());
        assert.equal(createHash('sha256').update(bytes).digest('hex'), sha);
        // unauthenticated: the 60/h limit
        assert.equal(res.headers.get('x-ratelimit-limit'), '60');
      },
      { runnerVersion: '2.330.0' },
    );
  });
});

describe('fake GitHub: faults', () => {
  test('5xx, rate limit and secondary rate limit answer like GitHub, then clear', async () => {
    await withFake(async (h) => {
      const auth = `token ${PAT}`;
      const runners = '/orgs/containers/actions/runners';
      h.gh.faults.add({ kind: '5xx', path: '/actions/runners', count: 1 });
      const e502 = await api(h.gh, 'GET', runners, auth);
      assert.equal(e502.status, 502);
      assert.equal((await api(h.gh, 'GET', runners, auth)).status, 200); // count used up

      h.gh.faults.add({ kind: '5xx', status: 503, count: 1 });
      assert.equal(
        (await api(h.gh, 'GET', '/orgs/containers/actions/runner-groups', auth)).status,
        503,
      );

      h.gh.faults.add({ kind: 'rate-limit', path: 'runner-groups' });
      const limited = await api(h.gh, 'GET', '/orgs/containers/actions/runner-groups', auth);
      assert.equal(limited.status, 403);
      assert.match(limited.json['message'] as string, /^API rate limit exceeded/);
      assert.equal(limited.headers.get('x-ratelimit-remaining'), '0');
      const reset = Number(limited.headers.get('x-ratelimit-reset'));
      assert.ok(reset > Math.floor(h.clock.ms / 1000), 'reset is in the (virtual) future');
      // path-scoped: other endpoints still answer
      assert.equal((await api(h.gh, 'GET', runners, auth)).status, 200);
      assert.equal(
        (await api(h.gh, 'GET', '/orgs/containers/actions/runner-groups', auth)).status,
        403,
        'no count: until cleared',
      );
      assert.equal(h.gh.faults.clear(), 1);
      assert.equal(
        (await api(h.gh, 'GET', '/orgs/containers/actions/runner-groups', auth)).status,
        200,
      );

      for (const status of [403, 429]) {
        h.gh.faults.add({ kind: 'secondary-rate-limit', status, retryAfterS: 30, count: 1 });
        const secondary = await api(h.gh, 'GET', runners, auth);
        assert.equal(secondary.status, status);
        assert.equal(secondary.headers.get('retry-after'), '30');
        assert.match(secondary.json['message'] as string, /secondary rate limit/);
      }
      assert.throws(() => h.gh.faults.add({ kind: '5xx', status: 404 }), /answers/);

      const faulted = h.gh.state().requests.filter((r) => r.fault !== undefined);
      assert.deepEqual(
        faulted.map((r) => [r.fault, r.status]),
        [
          ['5xx', 502],
          ['5xx', 503],
          ['rate-limit', 403],
          ['rate-limit', 403],
          ['secondary-rate-limit', 403],
          ['secondary-rate-limit', 429],
        ],
      );
    });
  });
});

describe('fake GitHub: secrets', () => {
  test('state() holds no token, registration token, PAT, JWT or key', async () => {
    await withFake(async (h) => {
      const jwt = appJwt(h.gh.appPrivateKeyPem, h.clock.ms);
      const inst = await installationToken(h);
      const reg = await registrationToken(h, `Bearer ${inst}`);
      register(h, reg, 'MacM1-1');
      await api(h.gh, 'GET', '/orgs/containers/actions/runners', `token ${PAT}`);
      await api(h.gh, 'GET', '/app', `Bearer ${jwt}`);
      const state = h.gh.state();
      const dump = JSON.stringify(state);
      for (const secret of [inst, reg, PAT, jwt, jwt.split('.')[2] ?? 'x']) {
        assert.ok(!dump.includes(secret), 'a secret is in state()');
      }
      assert.ok(!dump.includes('PRIVATE KEY'));
      assert.ok(!dump.includes(h.gh.appPrivateKeyPem.split('\n')[1] ?? 'x'));
      assert.deepEqual(state.issued, { installationTokens: 1, registrationTokens: 1 });
      assert.ok(state.requests.length >= 4);
      assert.ok(state.requests.every((r) => typeof r.at === 'string' && r.status > 0));
    });
  });
});

describe('fake GitHub: through Octokit (app auth, paginate, retry, throttling)', () => {
  // Octokit's app auth signs its JWTs with the wall clock, so this fake runs on it too.
  test('the same calls pw-pool makes work with the real client', async () => {
    await withFake(
      async (h) => {
        const reg = await registrationToken(h);
        for (let i = 1; i <= 25; i++) register(h, reg, `MacM1-${i}`);
        const secondaryHits: number[] = [];
        const SimOctokit = Octokit.plugin(paginateRest, retry, throttling);
        const octokit = new SimOctokit({
          baseUrl: h.gh.apiUrl,
          authStrategy: createAppAuth,
          auth: {
            appId: h.gh.appId,
            privateKey: h.gh.appPrivateKeyPem,
            installationId: h.gh.installationId,
          },
          retry: { retryAfterBaseValue: 1 },
          throttle: {
            retryAfterBaseValue: 1,
            onRateLimit: () => false,
            onSecondaryRateLimit: (_after: number, _opts: unknown, _o: unknown, count: number) => {
              secondaryHits.push(count);
              return count < 1;
            },
          },
        });

        const app = await octokit.request('GET /app');
        assert.equal(app.data?.id, APP_ID);
        const runners = await octokit.paginate('GET /orgs/{org}/actions/runners', {
          org: 'containers',
          per_page: 10,
        });
        assert.equal(runners.length, 25);
        assert.equal(runners[24]?.name, 'MacM1-25');

        const group = await octokit.request('POST /orgs/{org}/actions/runner-groups', {
          org: 'containers',
          name: 'ci',
          visibility: 'all',
          allows_public_repositories: false,
        });
        assert.equal(group.status, 201);
        const groups = await octokit.paginate('GET /orgs/{org}/actions/runner-groups', {
          org: 'containers',
          per_page: 100,
        });
        assert.deepEqual(
          groups.map((g) => g.name),
          ['Default', 'ci'],
        );

        // a 502 is retried by plugin-retry; a secondary limit by plugin-throttling (once here)
        h.gh.faults.add({ kind: '5xx', path: '/actions/runners', count: 1 });
        h.gh.faults.add({
          kind: 'secondary-rate-limit',
          path: 'runner-groups',
          retryAfterS: 0,
          count: 1,
        });
        const after5xx = await octokit.request('GET /orgs/{org}/actions/runners', {
          org: 'containers',
        });
        assert.equal(after5xx.data.total_count, 25);
        const afterSecondary = await octokit.request('GET /orgs/{org}/actions/runner-groups', {
          org: 'containers',
        });
        assert.equal(afterSecondary.data.total_count, 2);
        assert.deepEqual(secondaryHits, [0]);

        // the primary limit is not waited out (onRateLimit → false): the error reaches the caller
        h.gh.faults.add({ kind: 'rate-limit', path: '/actions/runners', count: 1 });
        await assert.rejects(
          octokit.request('GET /orgs/{org}/actions/runners', { org: 'containers' }),
          (error: { status?: number }) => error.status === 403,
        );
        const statuses = h.gh
          .state()
          .requests.filter((r) => r.path.startsWith('/orgs/containers/actions/runners'))
          .map((r) => r.status);
        assert.deepEqual(statuses.slice(-4), [200, 502, 200, 403]);
      },
      { nowMs: () => Date.now() },
    );
  });
});
