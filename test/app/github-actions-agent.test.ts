// The github-actions agent (behavior.md §7, §4.5) through the real Octokit adapter against the
// fake GitHub REST API: runner groups, the runner version, setup.sh's arguments, registration
// tokens, name conflicts, deregistration, the quarantine cordon, the two-phase orphan sweep across
// runs sharing a state directory, dry runs, GitHub failures, and that no secret reaches the log.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { StateDir } from '../../src/pw-lib/adapters/state-dir.js';
import { OctokitGitHub } from '../../src/pw-lib/adapters/github.js';
import { RUNNER_SWEEP_FILE, parseSweepState } from '../../src/pw-lib/core/runner-sweep.js';
import { GitHubError } from '../../src/pw-lib/errors.js';
import { startFakeGitHub, type FakeGitHub } from '../../src/sim/github/index.js';
import { memoryLogger } from '../helpers/fakes.js';
import {
  GH_APP_ID,
  GH_FAST,
  GH_ORG,
  appAuth,
  fakePat,
  githubAgent,
  preflightedAgent,
} from '../helpers/github-agent.js';

const T0 = Date.parse('2026-11-28T16:00:00Z') / 1000;
const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

async function fakeGitHub(
  t: TestContext,
  opts: { runnerVersion?: string; personalTokens?: string[] } = {},
): Promise<FakeGitHub> {
  const gh = await startFakeGitHub({ org: GH_ORG, appId: GH_APP_ID, ...opts });
  t.after(() => gh.close());
  return gh;
}

/** A second, independent client (an operator or another tool) to arrange GitHub's state. */
function operator(gh: FakeGitHub): OctokitGitHub {
  return new OctokitGitHub({
    org: gh.org,
    apiUrl: gh.apiUrl,
    auth: appAuth(gh),
    log: memoryLogger().log,
    ...GH_FAST,
  });
}

/** Registers runners as config.sh would (offline until setRunnerStatus). */
async function register(
  gh: FakeGitHub,
  runners: readonly { name: string; group?: string; status?: 'online'; busy?: boolean }[],
): Promise<void> {
  const { token } = await operator(gh).createRegistrationToken();
  for (const r of runners) {
    gh.registerRunner({ token, name: r.name, labels: [], group: r.group ?? '', replace: false });
    if (r.status !== undefined || r.busy === true) {
      gh.setRunnerStatus(r.name, r.status ?? 'offline', r.busy ?? false);
    }
  }
}

const group = (gh: FakeGitHub, name: string) => gh.state().groups.find((g) => g.name === name);
const requestsSince = (gh: FakeGitHub, n: number) => gh.state().requests.slice(n);
/** Changes made to the org (the App's own installation-token POST excluded). */
const orgWrites = (gh: FakeGitHub, n: number) =>
  requestsSince(gh, n).filter((r) => WRITES.has(r.method) && r.path.startsWith('/orgs/'));

void describe('GitHubActionsAgent preflight: runner groups', () => {
  void it('creates <group> and <group>-draining once; a second run creates nothing', async (t) => {
    const gh = await fakeGitHub(t);
    await preflightedAgent(gh);
    const pool = group(gh, 'prod');
    const draining = group(gh, 'prod-draining');
    assert.equal(pool?.visibility, 'all');
    assert.equal(pool?.allowsPublicRepositories, false, 'public repositories off by default');
    assert.equal(draining?.visibility, 'selected');
    assert.equal(draining?.allowsPublicRepositories, false);
    assert.deepEqual(draining?.selectedRepositoryIds, [], 'no repository can use the quarantine');
    assert.equal(draining?.canReceiveJobs, false);
    const posts = gh
      .state()
      .requests.filter((r) => r.method === 'POST' && r.path.endsWith('/actions/runner-groups'));
    assert.equal(posts.length, 2);

    const start = gh.state().requests.length;
    const second = await preflightedAgent(gh);
    assert.deepEqual(orgWrites(gh, start), [], 'the second run changes nothing');
    assert.equal(gh.state().groups.filter((g) => g.name.startsWith('prod')).length, 2);
    await second.agent.preflight(); // and again within one run
    assert.deepEqual(orgWrites(gh, start), []);
  });

  void it('takes visibility and allowPublicRepositories from its options', async (t) => {
    const gh = await fakeGitHub(t);
    await preflightedAgent(gh, {
      group: 'oss',
      groupVisibility: 'private',
      allowPublicRepositories: true,
    });
    assert.equal(group(gh, 'oss')?.visibility, 'private');
    assert.equal(group(gh, 'oss')?.allowsPublicRepositories, true);
    // the quarantine group is always closed, whatever the pool group's options
    assert.equal(group(gh, 'oss-draining')?.visibility, 'selected');
    assert.equal(group(gh, 'oss-draining')?.allowsPublicRepositories, false);
  });

  void it('never modifies an existing group', async (t) => {
    const gh = await fakeGitHub(t);
    await operator(gh).ensureRunnerGroup('prod', {
      visibility: 'selected',
      allowsPublicRepositories: false,
    });
    await operator(gh).ensureRunnerGroup('prod-draining', {
      visibility: 'all',
      allowsPublicRepositories: true,
    });
    const before = JSON.stringify(gh.state().groups);
    const start = gh.state().requests.length;
    await preflightedAgent(gh, {
      groupVisibility: 'all',
      allowPublicRepositories: true,
    });
    assert.deepEqual(orgWrites(gh, start), []);
    assert.equal(JSON.stringify(gh.state().groups), before);
  });
});

void describe('GitHubActionsAgent runner version and setup arguments', () => {
  void it("'latest' resolves to the release's x.y.z; the arguments name url/org/group/version/labels/env", async (t) => {
    const gh = await fakeGitHub(t, { runnerVersion: '2.330.1' });
    const { agent } = await preflightedAgent(gh, {
      serverUrl: 'https://github.com/',
      labels: ['prod', 'macos-arm'],
      runnerEnv: {
        GOPATH: '/Users/<worker>/ci/.go',
        GOCACHE: '/Users/<worker>/ci/.go/cache',
        WHO: '<worker>:<worker>',
      },
    });
    assert.deepEqual(agent.setupArgs('MacM1-3'), [
      'url=https://github.com',
      `org=${GH_ORG}`,
      'group=prod',
      'version=2.330.1',
      'labels=prod,macos-arm',
      'runnerenv=GOPATH=/Users/MacM1-3-worker/ci/.go,GOCACHE=/Users/MacM1-3-worker/ci/.go/cache,WHO=MacM1-3-worker:MacM1-3-worker',
    ]);
    assert.ok(gh.state().requests.some((r) => r.path === '/repos/actions/runner/releases/latest'));
  });

  void it('an explicit version is passed through without asking GitHub; no labels, no labels=', async (t) => {
    const gh = await fakeGitHub(t);
    const { agent } = await preflightedAgent(gh, {
      runnerVersion: '2.300.0',
      labels: [],
      runnerEnv: {},
    });
    assert.deepEqual(agent.setupArgs('MacM1-1'), [
      'url=https://github.com',
      `org=${GH_ORG}`,
      'group=prod',
      'version=2.300.0',
      'runnerenv=',
    ]);
    assert.ok(!gh.state().requests.some((r) => r.path.includes('/releases/')));
  });
});

void describe('GitHubActionsAgent registration tokens', () => {
  void it('mints a fresh token per setup that config.sh can register with', async (t) => {
    const gh = await fakeGitHub(t);
    const { agent } = await preflightedAgent(gh);
    const issued = gh.state().issued.registrationTokens;
    const a = await agent.secretFor('MacM1-1');
    const b = await agent.secretFor('MacM1-2');
    assert.notEqual(a, b);
    assert.equal(gh.state().issued.registrationTokens, issued + 2);
    for (const [token, name] of [
      [a, 'MacM1-1'],
      [b, 'MacM1-2'],
    ] as const) {
      assert.match(token, /^[A-Za-z0-9._~+/=:-]+$/);
      const runner = gh.registerRunner({
        token,
        name,
        labels: ['prod'],
        group: 'prod',
        replace: true,
      });
      assert.equal(runner.groupName, 'prod');
    }
    assert.throws(() =>
      gh.registerRunner({
        token: 'NOT-A-TOKEN',
        name: 'MacM1-9',
        labels: [],
        group: 'prod',
        replace: true,
      }),
    );
  });
});

void describe('GitHubActionsAgent prepare: name conflicts', () => {
  void it('an offline runner of that name in another group is deleted (journal: runner-delete)', async (t) => {
    const gh = await fakeGitHub(t);
    await operator(gh).ensureRunnerGroup('other', {
      visibility: 'all',
      allowsPublicRepositories: false,
    });
    await register(gh, [
      { name: 'MacM1-1', group: 'other' },
      { name: 'MacM1-2' }, // Default is another group too
    ]);
    const { agent, journal } = await preflightedAgent(gh);
    assert.deepEqual(await agent.prepare('MacM1-1'), { ok: true });
    assert.deepEqual(await agent.prepare('MacM1-2'), { ok: true });
    assert.equal(gh.runner('MacM1-1'), undefined);
    assert.equal(gh.runner('MacM1-2'), undefined);
    assert.deepEqual(
      journal.events.map((e) => [e.action, e.reason, e.name]),
      [
        ['runner-delete', 'name-conflict', 'MacM1-1'],
        ['runner-delete', 'name-conflict', 'MacM1-2'],
      ],
    );
  });

  void it('an online (or busy) runner of that name in another group is a conflict; nothing deleted', async (t) => {
    const gh = await fakeGitHub(t);
    await operator(gh).ensureRunnerGroup('other', {
      visibility: 'all',
      allowsPublicRepositories: false,
    });
    await register(gh, [
      { name: 'MacM1-1', group: 'other', status: 'online' },
      { name: 'MacM1-2', group: 'other', status: 'online', busy: true },
    ]);
    const { agent, journal } = await preflightedAgent(gh);
    const start = gh.state().requests.length;
    for (const name of ['MacM1-1', 'MacM1-2']) {
      const outcome = await agent.prepare(name);
      assert.equal(outcome.ok, false);
      assert.equal(outcome.ok === false && outcome.reason, 'conflict');
      assert.ok(gh.runner(name) !== undefined);
    }
    assert.deepEqual(orgWrites(gh, start), []);
    assert.deepEqual(journal.events, []);
  });

  void it('a runner in <group>-draining is moved back to the pool group; one in the pool group is left', async (t) => {
    const gh = await fakeGitHub(t);
    await preflightedAgent(gh); // creates both groups
    await register(gh, [
      { name: 'MacM1-1', group: 'prod-draining' },
      { name: 'MacM1-2', group: 'prod', status: 'online' },
    ]);
    const id = gh.runner('MacM1-1')?.id;
    const { agent, journal } = await preflightedAgent(gh);
    const start = gh.state().requests.length;
    assert.deepEqual(await agent.prepare('MacM1-1'), { ok: true });
    assert.equal(gh.runner('MacM1-1')?.groupName, 'prod');
    assert.equal(gh.runner('MacM1-1')?.id, id, 'moved, not deleted');
    assert.deepEqual(await agent.prepare('MacM1-2'), { ok: true });
    assert.deepEqual(
      orgWrites(gh, start).map((r) => r.method),
      ['PUT'],
    );
    assert.deepEqual(journal.events, []);
  });
});

void describe('GitHubActionsAgent onTerminate and cordon', () => {
  void it('onTerminate deletes the runner and leaves a busy one to the sweep', async (t) => {
    const gh = await fakeGitHub(t);
    const { agent, journal } = await preflightedAgent(gh);
    await register(gh, [
      { name: 'MacM1-4', group: 'prod' },
      { name: 'MacM1-5', group: 'prod', status: 'online', busy: true },
    ]);
    const before = gh.state().requests.length;
    await agent.onTerminate('MacM1-4');
    assert.equal(gh.runner('MacM1-4'), undefined);
    assert.deepEqual(
      journal.events.map((e) => [e.action, e.reason, e.name]),
      [['runner-delete', 'terminated', 'MacM1-4']],
    );
    const lookups = requestsSince(gh, before).filter((r) => r.method === 'GET');
    assert.ok(
      lookups.length > 0 && lookups.every((r) => /[?&]name=MacM1-4(&|$)/.test(r.path)),
      `looked up by name: ${lookups.map((r) => r.path).join(', ')}`,
    );
    const start = gh.state().requests.length;
    await agent.onTerminate('MacM1-5');
    assert.ok(gh.runner('MacM1-5') !== undefined);
    assert.deepEqual(orgWrites(gh, start), [], 'no DELETE is even tried for a busy runner');
    await agent.onTerminate('MacM1-4'); // already gone
    assert.equal(journal.events.length, 1);
  });

  void it("onTerminate leaves a same-named runner that preflight saw in another pool's group", async (t) => {
    const gh = await fakeGitHub(t);
    await operator(gh).ensureRunnerGroup('other', {
      visibility: 'all',
      allowsPublicRepositories: false,
    });
    await register(gh, [{ name: 'MacM1-8', group: 'other' }]);
    const { agent, journal } = await preflightedAgent(gh);
    await agent.onTerminate('MacM1-8');
    assert.ok(gh.runner('MacM1-8') !== undefined, 'not ours: left alone');
    assert.deepEqual(journal.events, []);
  });

  void it('cordon moves the runner into <group>-draining once', async (t) => {
    const gh = await fakeGitHub(t);
    await preflightedAgent(gh);
    await register(gh, [{ name: 'MacM1-6', group: 'prod', status: 'online' }]);
    assert.equal(gh.runnerCanReceiveJobs('MacM1-6'), true);
    const { agent } = await preflightedAgent(gh);
    const start = gh.state().requests.length;
    assert.equal(await agent.cordon('MacM1-6'), true);
    assert.equal(gh.runner('MacM1-6')?.groupName, 'prod-draining');
    assert.equal(gh.runnerCanReceiveJobs('MacM1-6'), false);
    assert.equal(await agent.cordon('MacM1-6'), false);
    assert.equal(await agent.cordon('MacM1-7'), false, 'no such runner');
    const puts = orgWrites(gh, start);
    assert.equal(puts.length, 1);
    assert.equal(puts[0]?.method, 'PUT');
    assert.match(puts[0]?.path ?? '', /\/actions\/runner-groups\/[0-9]+\/runners\/[0-9]+$/);
    // the next run sees it in quarantine already
    const next = await preflightedAgent(gh);
    assert.equal(await next.agent.cordon('MacM1-6'), false);
    assert.equal(orgWrites(gh, start).length, 1);
  });
});

void describe('GitHubActionsAgent sweep: two phases across runs', () => {
  void it('records on one run, deletes on the next; revived or live runners are spared', async (t) => {
    const gh = await fakeGitHub(t);
    const dir = mkdtempSync(join(tmpdir(), 'pw-pool-sweep-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    await preflightedAgent(gh);
    await operator(gh).ensureRunnerGroup('other', {
      visibility: 'all',
      allowsPublicRepositories: false,
    });
    await register(gh, [
      { name: 'MacM1-10', group: 'prod' }, // orphan: recorded, then deleted
      { name: 'MacM1-11', group: 'prod' }, // comes back online between the runs
      { name: 'MacM1-12', group: 'prod' }, // has a live instance on the second run
      { name: 'MacM1-13' }, // Default counts as the pool's
      { name: 'MacM1-14', group: 'prod-draining' },
      { name: 'MacM1-15', group: 'other' }, // another pool sharing the prefix?
      { name: 'MacM1-16', group: 'prod', status: 'online' },
      { name: 'MacM1-17', group: 'prod' }, // live on the first run
      { name: 'Other-1', group: 'prod' }, // not a pool name
      { name: 'MacM1-x', group: 'prod' },
    ]);

    // Run 1
    const run1 = await preflightedAgent(gh, { store: new StateDir(dir) });
    let start = gh.state().requests.length;
    const r1 = await run1.agent.sweep(new Set(['MacM1-17']), T0);
    assert.deepEqual(
      [...r1.recorded],
      ['MacM1-10', 'MacM1-11', 'MacM1-12', 'MacM1-13', 'MacM1-14'],
    );
    assert.deepEqual([...r1.deleted], []);
    assert.deepEqual([...r1.failed], []);
    assert.deepEqual([...r1.elsewhere], ['MacM1-15']);
    assert.deepEqual(orgWrites(gh, start), [], 'phase 1 deletes nothing');
    const file1 = await new StateDir(dir).read(RUNNER_SWEEP_FILE);
    const recorded = parseSweepState(file1 ?? '');
    assert.deepEqual(
      recorded.map((c) => [c.name, c.id, c.firstSeenS]),
      ['MacM1-10', 'MacM1-11', 'MacM1-12', 'MacM1-13', 'MacM1-14'].map((n) => [
        n,
        gh.runner(n)?.id,
        T0,
      ]),
    );
    assert.deepEqual(run1.journal.events, []);

    gh.setRunnerStatus('MacM1-11', 'online');

    // Run 2: a new agent, the same state directory
    const run2 = await preflightedAgent(gh, { store: new StateDir(dir) });
    start = gh.state().requests.length;
    const r2 = await run2.agent.sweep(new Set(['MacM1-12', 'MacM1-17']), T0 + 600);
    assert.deepEqual([...r2.deleted], ['MacM1-10', 'MacM1-13', 'MacM1-14']);
    assert.deepEqual([...r2.recorded], []);
    assert.deepEqual([...r2.failed], []);
    assert.deepEqual([...r2.elsewhere], ['MacM1-15']);
    for (const n of ['MacM1-10', 'MacM1-13', 'MacM1-14']) assert.equal(gh.runner(n), undefined, n);
    for (const n of ['MacM1-11', 'MacM1-12', 'MacM1-15', 'MacM1-16', 'MacM1-17', 'Other-1']) {
      assert.ok(gh.runner(n) !== undefined, n);
    }
    assert.equal(orgWrites(gh, start).filter((r) => r.method === 'DELETE').length, 3);
    assert.deepEqual(
      run2.journal.events.map((e) => [e.action, e.reason, e.name]),
      [
        ['runner-delete', 'orphan-sweep', 'MacM1-10'],
        ['runner-delete', 'orphan-sweep', 'MacM1-13'],
        ['runner-delete', 'orphan-sweep', 'MacM1-14'],
      ],
    );
    assert.deepEqual(
      parseSweepState((await new StateDir(dir).read(RUNNER_SWEEP_FILE)) ?? ''),
      [],
      'the revived and the live runner are dropped from the record',
    );

    // Run 3: MacM1-12's instance is gone now: phase 1 starts over for it.
    const run3 = githubAgent(gh, { store: new StateDir(dir) });
    await run3.agent.checkSecret();
    const r3 = await run3.agent.sweep(new Set(['MacM1-17']), T0 + 1200);
    assert.deepEqual([...r3.recorded], ['MacM1-12']);
    assert.deepEqual([...r3.deleted], []);
    assert.ok(gh.runner('MacM1-12') !== undefined);
    assert.deepEqual(
      parseSweepState((await new StateDir(dir).read(RUNNER_SWEEP_FILE)) ?? '').map((c) => [
        c.name,
        c.firstSeenS,
      ]),
      [['MacM1-12', T0 + 1200]],
    );
  });

  void it('a deletion that fails is reported, kept in the record and retried next run', async (t) => {
    const gh = await fakeGitHub(t);
    const dir = mkdtempSync(join(tmpdir(), 'pw-pool-sweep-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    await preflightedAgent(gh);
    await register(gh, [{ name: 'MacM1-1', group: 'prod' }]);
    const id = gh.runner('MacM1-1')?.id ?? -1;
    const run = async (nowS: number) => {
      const rig = githubAgent(gh, { store: new StateDir(dir) });
      await rig.agent.checkSecret();
      return rig.agent.sweep(new Set(), nowS);
    };
    assert.deepEqual([...(await run(T0)).recorded], ['MacM1-1']);
    gh.faults.add({ kind: '5xx', path: `/actions/runners/${id}` });
    const failed = await run(T0 + 600);
    gh.faults.clear();
    assert.deepEqual([...failed.failed], ['MacM1-1']);
    assert.deepEqual([...failed.deleted], []);
    assert.ok(gh.runner('MacM1-1') !== undefined);
    assert.deepEqual(
      parseSweepState((await new StateDir(dir).read(RUNNER_SWEEP_FILE)) ?? '').map((c) => [
        c.name,
        c.firstSeenS,
      ]),
      [['MacM1-1', T0]],
      'kept with its first-seen time',
    );
    const retried = await run(T0 + 1200);
    assert.deepEqual([...retried.deleted], ['MacM1-1']);
    assert.equal(gh.runner('MacM1-1'), undefined);
  });
});

void describe('GitHubActionsAgent dry run', () => {
  void it('reads GitHub and changes nothing: no group, no delete, no move, no sweep file', async (t) => {
    const gh = await fakeGitHub(t);
    const dir = mkdtempSync(join(tmpdir(), 'pw-pool-sweep-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    await operator(gh).ensureRunnerGroup('other', {
      visibility: 'all',
      allowsPublicRepositories: false,
    });
    await register(gh, [
      { name: 'MacM1-1', group: 'other' }, // offline conflict: a real run deletes it
      { name: 'MacM1-2' }, // an orphan in Default
    ]);
    const start = gh.state().requests.length;
    const groupsBefore = JSON.stringify(gh.state().groups);
    const runnersBefore = JSON.stringify(gh.state().runners);
    const store = new StateDir(dir);
    const { agent, journal } = await preflightedAgent(gh, { dryRun: true, store });
    assert.equal(group(gh, 'prod'), undefined, 'the group is not created');
    assert.equal(group(gh, 'prod-draining'), undefined);
    assert.deepEqual(await agent.prepare('MacM1-1'), { ok: true });
    await agent.onTerminate('MacM1-2');
    for (const nowS of [T0, T0 + 600]) {
      const report = await agent.sweep(new Set(), nowS);
      assert.deepEqual([...report.deleted], []);
    }
    assert.deepEqual(orgWrites(gh, start), []);
    assert.equal(JSON.stringify(gh.state().groups), groupsBefore);
    assert.equal(JSON.stringify(gh.state().runners), runnersBefore);
    assert.equal(await store.read(RUNNER_SWEEP_FILE), undefined, 'no sweep file');
    assert.deepEqual(journal.events, []);
  });

  void it('with existing groups: cordon and a quarantined runner move nothing', async (t) => {
    const gh = await fakeGitHub(t);
    await preflightedAgent(gh);
    await register(gh, [
      { name: 'MacM1-1', group: 'prod', status: 'online' },
      { name: 'MacM1-2', group: 'prod-draining' },
    ]);
    const start = gh.state().requests.length;
    const runnersBefore = JSON.stringify(gh.state().runners);
    const { agent } = await preflightedAgent(gh, { dryRun: true });
    assert.equal(await agent.cordon('MacM1-1'), true, 'reports what a real run would do');
    assert.deepEqual(await agent.prepare('MacM1-2'), { ok: true });
    assert.deepEqual(orgWrites(gh, start), []);
    assert.equal(JSON.stringify(gh.state().runners), runnersBefore);
  });
});

void describe('GitHubActionsAgent when GitHub fails', () => {
  void it('a lasting 5xx during preflight rejects with GitHubError unavailable', async (t) => {
    const gh = await fakeGitHub(t);
    const { agent } = githubAgent(gh);
    await agent.checkSecret();
    gh.faults.add({ kind: '5xx', path: '/actions/runner-groups', status: 503 });
    await assert.rejects(
      agent.preflight(),
      (e: unknown) => e instanceof GitHubError && e.kind === 'unavailable' && e.status === 503,
    );
    gh.faults.clear();
    assert.equal(group(gh, 'prod'), undefined);
    // preflight failed: setupArgs has nothing to work from
    assert.throws(() => agent.setupArgs('MacM1-1'), /preflight/);
  });

  void it('a rate limit during preflight rejects with GitHubError rate-limited', async (t) => {
    const gh = await fakeGitHub(t);
    for (const kind of ['rate-limit', 'secondary-rate-limit'] as const) {
      const { agent } = githubAgent(gh);
      await agent.checkSecret();
      gh.faults.add({ kind, path: '/actions/runner-groups' });
      const started = performance.now();
      await assert.rejects(
        agent.preflight(),
        (e: unknown) => e instanceof GitHubError && e.kind === 'rate-limited',
        kind,
      );
      gh.faults.clear();
      assert.ok(performance.now() - started < 3000, `${kind}: gave up at once`);
    }
  });

  void it('a 5xx on the release lookup rejects preflight as unavailable', async (t) => {
    const gh = await fakeGitHub(t);
    const { agent } = githubAgent(gh);
    await agent.checkSecret();
    gh.faults.add({ kind: '5xx', path: '/releases/latest' });
    await assert.rejects(
      agent.preflight(),
      (e: unknown) => e instanceof GitHubError && e.kind === 'unavailable',
    );
    gh.faults.clear();
  });
});

void describe('GitHubActionsAgent secrets', () => {
  const TOKEN_SHAPED = /gh[pousr]_[A-Za-z0-9]{20,}/;

  void it('no registration token, installation token or App key in the log (App auth)', async (t) => {
    const gh = await fakeGitHub(t);
    const rig = githubAgent(gh);
    const { agent, lines } = rig;
    await agent.checkSecret();
    await agent.preflight();
    const tokens = [await agent.secretFor('MacM1-1'), await agent.secretFor('MacM1-2')];
    gh.registerRunner({
      token: tokens[0] ?? '',
      name: 'MacM1-1',
      labels: [],
      group: 'prod',
      replace: true,
    });
    await agent.cordon('MacM1-1');
    await agent.prepare('MacM1-1');
    await agent.onTerminate('MacM1-1');
    await agent.sweep(new Set(), T0);
    // failures are logged too
    gh.faults.add({ kind: '5xx', path: '/registration-token' });
    await assert.rejects(agent.secretFor('MacM1-4'));
    gh.faults.clear();
    gh.faults.add({ kind: 'rate-limit', path: '/actions/runners' });
    await assert.rejects(agent.onTerminate('MacM1-4'));
    gh.faults.clear();

    assert.ok(lines.length > 5, 'the run logged something');
    assert.equal(rig.installationTokens.length, 1, 'the adapter minted an installation token');
    const text = lines.join('');
    for (const token of [...tokens, ...rig.installationTokens]) {
      assert.ok(token.length >= 20);
      assert.ok(!text.includes(token), `leaked ${token.slice(0, 4)}…`);
    }
    assert.doesNotMatch(text, /ghs_[A-Za-z0-9]{36}/);
    assert.doesNotMatch(text, TOKEN_SHAPED);
    assert.doesNotMatch(text, /PRIVATE KEY/);
    const keyLines = gh.appPrivateKeyPem
      .split('\n')
      .filter((l) => l.length > 0 && !l.startsWith('-----'));
    assert.ok(keyLines.length > 5);
    for (const l of keyLines) assert.ok(!text.includes(l), 'a line of the App key leaked');
  });

  void it('no personal token in the log (token auth)', async (t) => {
    const pat = fakePat();
    const gh = await fakeGitHub(t, { personalTokens: [pat] });
    const { agent, lines } = await preflightedAgent(gh, { auth: { kind: 'token', token: pat } });
    const token = await agent.secretFor('MacM1-1');
    gh.faults.add({ kind: '5xx', path: '/actions/runner-groups' });
    await assert.rejects(agent.sweep(new Set(), T0));
    gh.faults.clear();
    const text = lines.join('');
    assert.ok(lines.length > 0);
    assert.ok(!text.includes(pat) && !text.includes(token));
    assert.doesNotMatch(text, TOKEN_SHAPED);
  });
});
