// The simulated cloud with its fake GitHub (startSimCloud `github`): a simulated Mac's config.sh
// registers through the fake with the registration token that arrived on the setup's stdin, the
// runner's status follows the listener and its jobs, and jobs reach it only while GitHub routes
// them there (not in the quarantine group, not offline, not deleted). Plus the /_sim/github
// control routes.

import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { sign } from 'node:crypto';
import type { SimCloud } from '../../src/sim/index.js';
import {
  connect,
  control,
  installScripts,
  launchReady,
  macState,
  runOp,
  startMacSim,
  type LaunchedMac,
  type Ssh,
} from './mac-helpers.js';

const ORG = 'containers';
const GROUP = 'MacM1';
const LABELS = 'pw-pool,macos-sonoma';
const SETUP_S = 600;
const SETUP_LOG = '/Users/ec2-user/setup.log';

/** A scheduled Mac action that throws only emits a process warning: collect them, so a status
 *  update that throws fails the test. */
const warnings: string[] = [];
const onWarning = (w: Error): void => void warnings.push(w.message);
before(() => process.on('warning', onWarning));
after(() => process.off('warning', onWarning));

async function startGitHubSim(
  t: TestContext,
  macs: Record<string, number> = {},
): Promise<SimCloud & { gh: NonNullable<SimCloud['github']> }> {
  warnings.length = 0;
  t.after(() => assert.deepEqual(warnings, [], 'no scheduled action failed'));
  const sim = await startMacSim(t, {
    github: { org: ORG },
    macs: { setupSeconds: SETUP_S, setupJitterSeconds: 0, taskRatePerHour: 0, ...macs },
  });
  assert.ok(sim.github);
  return Object.assign(sim, { gh: sim.github });
}

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

interface Answer {
  status: number;
  json: Record<string, unknown>;
}

/** A GitHub API call as the manager makes it: a fresh installation token from an App JWT signed
 *  at the virtual now. */
async function gitHubApi(
  sim: SimCloud,
  method: string,
  path: string,
  body?: unknown,
): Promise<Answer> {
  const gh = sim.github;
  assert.ok(gh);
  const nowS = Math.floor(sim.clock.nowMs() / 1000);
  const claims = { iat: nowS - 30, exp: nowS + 540, iss: gh.appId };
  const input = `${b64url({ alg: 'RS256', typ: 'JWT' })}.${b64url(claims)}`;
  const jwt = `${input}.${sign('RSA-SHA256', Buffer.from(input), gh.appPrivateKeyPem).toString('base64url')}`;
  const call = async (m: string, p: string, auth: string, b?: unknown): Promise<Answer> => {
    const res = await fetch(`${gh.apiUrl}${p}`, {
      method: m,
      headers: {
        accept: 'application/vnd.github+json',
        authorization: auth,
        ...(b === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(b === undefined ? {} : { body: JSON.stringify(b) }),
    });
    const text = await res.text();
    return {
      status: res.status,
      json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
    };
  };
  const inst = await call(
    'POST',
    `/app/installations/${gh.installationId}/access_tokens`,
    `Bearer ${jwt}`,
  );
  assert.equal(inst.status, 201, JSON.stringify(inst.json));
  return call(method, path, `token ${inst.json['token'] as string}`, body);
}

/** POST registration-token: what the manager mints for each setup. */
async function registrationToken(sim: SimCloud): Promise<string> {
  const res = await gitHubApi(sim, 'POST', `/orgs/${ORG}/actions/runners/registration-token`);
  assert.equal(res.status, 201, JSON.stringify(res.json));
  return res.json['token'] as string;
}

/** The pool's group and its quarantine group, as the manager's preflight creates them. */
async function createGroups(sim: SimCloud): Promise<{ group: number; draining: number }> {
  const path = `/orgs/${ORG}/actions/runner-groups`;
  const group = await gitHubApi(sim, 'POST', path, { name: GROUP, visibility: 'all' });
  assert.equal(group.status, 201, JSON.stringify(group.json));
  const draining = await gitHubApi(sim, 'POST', path, {
    name: `${GROUP}-draining`,
    visibility: 'selected',
    allows_public_repositories: false,
  });
  assert.equal(draining.status, 201, JSON.stringify(draining.json));
  return { group: group.json['id'] as number, draining: draining.json['id'] as number };
}

function setupArgs(sim: SimCloud, name: string): string[] {
  return [
    'github-actions',
    name,
    `url=${sim.github?.apiUrl ?? ''}`,
    `org=${ORG}`,
    `group=${GROUP}`,
    'version=2.321.0',
    `labels=${LABELS}`,
    'drain=7200',
  ];
}

/** Launches a Mac (6 virtual minutes) and installs the scripts. */
async function readyMac(t: TestContext, sim: SimCloud, n = 1): Promise<LaunchedMac & { ssh: Ssh }> {
  const mac = await launchReady(sim, n);
  const ssh = await connect(t, sim, mac.address);
  await installScripts(ssh);
  return { ...mac, ssh };
}

/** start-setup with `token` on stdin, as the manager sends it. */
async function startSetupOn(
  sim: SimCloud,
  mac: LaunchedMac & { ssh: Ssh },
  token: string,
): Promise<void> {
  const reply = await runOp(mac.ssh, 'start-setup', setupArgs(sim, mac.name), token);
  assert.equal(reply.code, 0, reply.stdout + reply.stderr);
  assert.equal(reply.values.get('setup'), 'started');
}

/** Launches a Mac, installs the scripts and starts its setup with `token` on stdin. */
async function startSetup(
  t: TestContext,
  sim: SimCloud,
  token: string,
  n = 1,
): Promise<LaunchedMac> {
  const mac = await readyMac(t, sim, n);
  await startSetupOn(sim, mac, token);
  return mac;
}

function setupLog(sim: SimCloud, mac: LaunchedMac): string {
  return sim.macs?.mac(mac.instanceId)?.fs.readText(SETUP_LOG) ?? '';
}

function workerLog(sim: SimCloud, mac: LaunchedMac): string {
  return sim.macs?.mac(mac.instanceId)?.fs.readText(`/private/tmp/${mac.name}-worker.log`) ?? '';
}

/** Moves the runner into a group through the REST API (the manager's cordon). */
async function moveRunner(sim: SimCloud, name: string, groupId: number): Promise<void> {
  const runner = sim.github?.runner(name);
  assert.ok(runner, `runner ${name}`);
  const res = await gitHubApi(
    sim,
    'PUT',
    `/orgs/${ORG}/actions/runner-groups/${groupId}/runners/${runner.id}`,
  );
  assert.equal(res.status, 204, JSON.stringify(res.json));
}

describe('simulated Macs with the fake GitHub', () => {
  test('config.sh registers through the fake with the token from stdin; status follows the listener and its jobs', async (t) => {
    const sim = await startGitHubSim(t);
    await createGroups(sim);
    const token = await registrationToken(sim);
    const mac = await startSetup(t, sim, token);
    assert.equal(sim.gh.runner(mac.name), undefined, 'not registered before setup.sh gets there');

    await sim.advance(SETUP_S + 60);
    const state = await macState(sim, mac.instanceId);
    assert.equal(state.setup?.phase, 'done', JSON.stringify(state.setup));
    const runner = sim.gh.runner(mac.name);
    assert.ok(runner, 'the runner registered');
    assert.equal(runner.groupName, GROUP);
    assert.deepEqual(runner.labels, ['self-hosted', 'macOS', 'ARM64', 'pw-pool', 'macos-sonoma']);
    assert.equal(runner.status, 'online', 'the listener connected');
    assert.equal(runner.busy, false);
    assert.equal(sim.gh.runnerCanReceiveJobs(mac.name), true);
    assert.match(workerLog(sim, mac), /^√ Connected to GitHub$/m);

    // The token was used once and is kept nowhere: not in any view, log or the fake's state.
    const views = JSON.stringify([
      state,
      (await control(sim, 'GET', '/_sim/state')).json,
      (await control(sim, 'GET', '/_sim/github/state')).json,
      sim.gh.state(),
      setupLog(sim, mac),
      workerLog(sim, mac),
    ]);
    assert.ok(!views.includes(token), 'the registration token leaked');
    assert.equal(sim.gh.state().issued.registrationTokens, 1);

    // A job: busy while it runs, idle after.
    const task = await control(sim, 'POST', `/_sim/macs/${mac.name}/task`, {
      durationSeconds: 300,
    });
    assert.equal(task.status, 200, JSON.stringify(task.json));
    assert.equal(sim.gh.runner(mac.name)?.busy, true);
    assert.equal(sim.gh.runner(mac.name)?.status, 'online');
    await sim.advance(301);
    assert.equal((await macState(sim, mac.instanceId)).tasks.finished, 1);
    assert.equal(sim.gh.runner(mac.name)?.busy, false);

    // A job cut short by the instance stopping: offline, not busy.
    assert.equal(
      (await control(sim, 'POST', `/_sim/macs/${mac.name}/task`, { durationSeconds: 300 })).status,
      200,
    );
    assert.equal(sim.gh.runner(mac.name)?.busy, true);
    sim.world.stopInstances([mac.instanceId]);
    await sim.advance(120);
    assert.equal((await macState(sim, mac.instanceId)).power, 'off');
    assert.equal(sim.gh.runner(mac.name)?.status, 'offline');
    assert.equal(sim.gh.runner(mac.name)?.busy, false);
    assert.equal(sim.gh.runnerCanReceiveJobs(mac.name), false);
  });

  test('a killed listener takes the runner offline; the restarted one brings it back online', async (t) => {
    const sim = await startGitHubSim(t);
    await createGroups(sim);
    const mac = await startSetup(t, sim, await registrationToken(sim));
    await sim.advance(SETUP_S + 60);
    assert.equal(sim.gh.runner(mac.name)?.status, 'online');
    const created = await control(sim, 'POST', '/_sim/faults', {
      kind: 'listener-crash',
      target: mac.name,
      value: 'persistent',
    });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    await sim.advance(30);
    assert.equal((await macState(sim, mac.instanceId)).listener, null);
    assert.equal(sim.gh.runner(mac.name)?.status, 'offline');
    assert.equal((await control(sim, 'DELETE', '/_sim/faults')).status, 200);
    await sim.advance(60);
    assert.ok((await macState(sim, mac.instanceId)).listener);
    assert.equal(sim.gh.runner(mac.name)?.status, 'online');
  });

  test('a token that expired before config.sh runs fails the setup like config.sh; no runner appears', async (t) => {
    const sim = await startGitHubSim(t);
    await createGroups(sim);
    const mac = await readyMac(t, sim);
    const token = await registrationToken(sim);
    // Still valid when start-setup takes it; config.sh runs 0.82 × 600 s later, past the hour.
    await sim.advance(3300);
    await startSetupOn(sim, mac, token);
    await sim.advance(SETUP_S + 60);
    const state = await macState(sim, mac.instanceId);
    assert.equal(state.setup?.phase, 'failed');
    assert.equal(state.setup?.failedReason, 'config.sh failed to register the runner');
    assert.equal(
      sim.macs?.mac(mac.instanceId)?.fs.readText('/Users/ec2-user/.setup.failed'),
      'config.sh failed to register the runner\n',
    );
    assert.match(setupLog(sim, mac), /the registration token has expired/);
    assert.ok(!setupLog(sim, mac).includes(token));
    assert.equal(sim.gh.runner(mac.name), undefined);
    assert.deepEqual(sim.gh.state().runners, []);
    assert.equal(state.files[`/Users/${mac.name}-worker/actions-runner/.runner`], undefined);
    assert.equal(state.files['/Users/ec2-user/.pw-pool/secret'], undefined);
    assert.equal(state.listener, null);
  });

  test('the token is checked at the instant config.sh runs, also inside one long advance', async (t) => {
    const sim = await startGitHubSim(t);
    await createGroups(sim);
    const mac = await readyMac(t, sim);
    const token = await registrationToken(sim);
    await sim.advance(3000);
    await startSetupOn(sim, mac, token);
    // config.sh runs at +3492 s (valid); the clock ends far past the token's expiry.
    await sim.advance(2 * 3600);
    assert.equal((await macState(sim, mac.instanceId)).setup?.phase, 'done', setupLog(sim, mac));
    assert.equal(sim.gh.runner(mac.name)?.status, 'online');
  });

  test('an unknown token, or an unknown group, fails the setup; a second setup with a fresh token repairs it', async (t) => {
    const sim = await startGitHubSim(t);
    // No groups yet: config.sh cannot find the runner group.
    const mac = await startSetup(t, sim, await registrationToken(sim));
    await sim.advance(SETUP_S + 60);
    let state = await macState(sim, mac.instanceId);
    assert.equal(state.setup?.failedReason, 'config.sh failed to register the runner');
    assert.match(setupLog(sim, mac), /Could not find any self-hosted runner group named "MacM1"/);

    await createGroups(sim);
    const ssh = await connect(t, sim, mac.address);
    const bogus = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    let reply = await runOp(ssh, 'start-setup', setupArgs(sim, mac.name), bogus);
    assert.equal(reply.code, 0, reply.stdout + reply.stderr);
    await sim.advance(SETUP_S + 60);
    state = await macState(sim, mac.instanceId);
    assert.equal(state.setup?.failedReason, 'config.sh failed to register the runner');
    assert.match(setupLog(sim, mac), /unknown registration token/);
    assert.equal(sim.gh.runner(mac.name), undefined);

    reply = await runOp(ssh, 'start-setup', setupArgs(sim, mac.name), await registrationToken(sim));
    assert.equal(reply.code, 0, reply.stdout + reply.stderr);
    await sim.advance(SETUP_S + 60);
    assert.equal((await macState(sim, mac.instanceId)).setup?.phase, 'done');
    assert.equal(sim.gh.runner(mac.name)?.status, 'online');
  });

  test('a runner in the quarantine group (visibility selected, no repositories) takes no new job', async (t) => {
    const sim = await startGitHubSim(t, { taskRatePerHour: 60, taskDurationSeconds: 60 });
    const { group, draining } = await createGroups(sim);
    const groups = sim.gh.state().groups;
    assert.deepEqual(
      groups.map((g) => [g.name, g.visibility, g.selectedRepositoryIds, g.canReceiveJobs]),
      [
        ['Default', 'all', [], true],
        [GROUP, 'all', [], true],
        [`${GROUP}-draining`, 'selected', [], false],
      ],
    );
    const mac = await startSetup(t, sim, await registrationToken(sim));
    await sim.advance(SETUP_S + 600);
    const before = await macState(sim, mac.instanceId);
    assert.ok(before.tasks.started > 0, 'jobs reach the runner in its group');

    await moveRunner(sim, mac.name, draining);
    assert.equal(sim.gh.runnerCanReceiveJobs(mac.name), false);
    await sim.advance(120); // a running job (≤ 90 s) ends
    const cordoned = await macState(sim, mac.instanceId);
    assert.equal(cordoned.job, null);
    await sim.advance(2 * 3600);
    const later = await macState(sim, mac.instanceId);
    assert.equal(later.tasks.started, cordoned.tasks.started, 'no job in the quarantine group');
    assert.equal(later.job, null);
    assert.equal(sim.gh.runner(mac.name)?.status, 'online');
    assert.equal(sim.gh.runner(mac.name)?.busy, false);

    // Back in its group, jobs come again.
    await moveRunner(sim, mac.name, group);
    await sim.advance(3600);
    assert.ok((await macState(sim, mac.instanceId)).tasks.started > later.tasks.started);
  });

  test('a selected group with repositories receives jobs', async (t) => {
    const sim = await startGitHubSim(t);
    const res = await gitHubApi(sim, 'POST', `/orgs/${ORG}/actions/runner-groups`, {
      name: 'picked',
      visibility: 'selected',
      selected_repository_ids: [17, 42],
    });
    assert.equal(res.status, 201, JSON.stringify(res.json));
    const picked = sim.gh.state().groups.find((g) => g.name === 'picked');
    assert.deepEqual(picked?.selectedRepositoryIds, [17, 42]);
    assert.equal(picked?.canReceiveJobs, true);
    const bad = await gitHubApi(sim, 'POST', `/orgs/${ORG}/actions/runner-groups`, {
      name: 'worse',
      selected_repository_ids: 'all',
    });
    assert.equal(bad.status, 422);
  });

  test("a runner deleted on GitHub: the Mac's status updates skip it and its listener takes no job", async (t) => {
    const sim = await startGitHubSim(t, { taskRatePerHour: 60, taskDurationSeconds: 60 });
    await createGroups(sim);
    const mac = await startSetup(t, sim, await registrationToken(sim));
    await sim.advance(SETUP_S + 60);
    const runner = sim.gh.runner(mac.name);
    assert.ok(runner);
    // Wait for an idle moment (GitHub refuses to delete a busy runner).
    let idle = await macState(sim, mac.instanceId);
    for (let i = 0; i < 100 && idle.job !== null; i++) {
      await sim.advance(10);
      idle = await macState(sim, mac.instanceId);
    }
    assert.equal(idle.job, null);
    const del = await gitHubApi(sim, 'DELETE', `/orgs/${ORG}/actions/runners/${runner.id}`);
    assert.equal(del.status, 204, JSON.stringify(del.json));
    const started = idle.tasks.started;
    await sim.advance(2 * 3600);
    const after = await macState(sim, mac.instanceId);
    assert.equal(after.tasks.started, started, 'no job for a deleted runner');
    // A forced job and a listener restart update no status and throw nothing (warnings checked).
    assert.equal(
      (await control(sim, 'POST', `/_sim/macs/${mac.name}/task`, { durationSeconds: 30 })).status,
      200,
    );
    await sim.advance(31);
    assert.equal(
      (await control(sim, 'POST', '/_sim/faults', { kind: 'listener-crash', target: mac.name }))
        .status,
      201,
    );
    await sim.advance(60);
    sim.world.terminateInstances([mac.instanceId]);
    await sim.advance(600);
    assert.equal(sim.gh.runner(mac.name), undefined);
  });

  test('without a fake GitHub the runner registers locally and takes jobs (as before)', async (t) => {
    const sim = await startMacSim(t, {
      macs: { setupSeconds: SETUP_S, setupJitterSeconds: 0, taskRatePerHour: 60 },
    });
    assert.equal(sim.github, undefined);
    const mac = await launchReady(sim);
    const ssh = await connect(t, sim, mac.address);
    await installScripts(ssh);
    const args = [
      'github-actions',
      mac.name,
      'url=https://github.com',
      `org=${ORG}`,
      `group=${GROUP}`,
      'version=2.321.0',
      `labels=${LABELS}`,
    ];
    const reply = await runOp(ssh, 'start-setup', args, 'ANYTOKEN0123456789');
    assert.equal(reply.code, 0, reply.stdout + reply.stderr);
    await sim.advance(SETUP_S + 1800);
    const state = await macState(sim, mac.instanceId);
    assert.equal(state.setup?.phase, 'done');
    assert.ok(state.tasks.started > 0);
  });

  test('setup arguments: labels must match the ERE, like lib.sh', async (t) => {
    const sim = await startGitHubSim(t);
    const mac = await launchReady(sim);
    const ssh = await connect(t, sim, mac.address);
    await installScripts(ssh);
    for (const labels of ['', 'a,,b', 'a b', ',a', 'a,', 'ü']) {
      const args = setupArgs(sim, mac.name).map((a) =>
        a.startsWith('labels=') ? `labels=${labels}` : a,
      );
      const reply = await runOp(ssh, 'start-setup', args, 'TOKEN0123456789');
      assert.equal(reply.code, 3, `labels=${labels}: ${reply.stdout}`);
      assert.equal(
        reply.values.get('error'),
        "setup argument 'labels' must match ^[A-Za-z0-9._-]+(,[A-Za-z0-9._-]+)*$",
      );
    }
  });
});

describe('control API: /_sim/github', () => {
  test('state, faults and scripted runner status', async (t) => {
    const sim = await startGitHubSim(t);
    await createGroups(sim);
    const mac = await startSetup(t, sim, await registrationToken(sim));
    await sim.advance(SETUP_S + 60);

    const state = await control(sim, 'GET', '/_sim/github/state');
    assert.equal(state.status, 200);
    const json = state.json as {
      org: string;
      appId: number;
      runners: { name: string; status: string; groupName: string }[];
      groups: { name: string; canReceiveJobs: boolean }[];
      issued: { registrationTokens: number };
    };
    assert.equal(json.org, ORG);
    assert.equal(json.appId, sim.gh.appId);
    assert.deepEqual(
      json.runners.map((r) => [r.name, r.status, r.groupName]),
      [[mac.name, 'online', GROUP]],
    );
    assert.equal(json.issued.registrationTokens, 1);

    // Faults: added (201), seen by the next matching request, listed, cleared.
    const fault = await control(sim, 'POST', '/_sim/github/faults', {
      kind: '5xx',
      path: '/registration-token',
      count: 1,
      status: 503,
    });
    assert.equal(fault.status, 201, JSON.stringify(fault.json));
    assert.equal((fault.json as { kind: string }).kind, '5xx');
    const listed = await control(sim, 'GET', '/_sim/github/faults');
    assert.equal((listed.json as { faults: unknown[] }).faults.length, 1);
    const hit = await gitHubApi(sim, 'POST', `/orgs/${ORG}/actions/runners/registration-token`);
    assert.equal(hit.status, 503);
    await control(sim, 'POST', '/_sim/github/faults', { kind: 'rate-limit' });
    assert.deepEqual((await control(sim, 'DELETE', '/_sim/github/faults')).json, { cleared: 1 });
    for (const bad of [{ kind: 'nope' }, { kind: '5xx', status: 404 }, { kind: '5xx', x: 1 }]) {
      const res = await control(sim, 'POST', '/_sim/github/faults', bad);
      assert.equal(res.status, 400, JSON.stringify(bad));
    }

    // Scripted status: offline takes the runner out of job routing.
    const off = await control(sim, 'POST', `/_sim/github/runners/${mac.name}/status`, {
      status: 'offline',
    });
    assert.equal(off.status, 200, JSON.stringify(off.json));
    assert.equal((off.json as { status: string }).status, 'offline');
    assert.equal(sim.gh.runnerCanReceiveJobs(mac.name), false);
    const got = await control(sim, 'GET', `/_sim/github/runners/${mac.name}`);
    assert.equal((got.json as { status: string }).status, 'offline');
    const busy = await control(sim, 'POST', `/_sim/github/runners/${mac.name}/status`, {
      status: 'online',
      busy: true,
    });
    assert.equal((busy.json as { busy: boolean }).busy, true);
    assert.equal(
      (
        await control(sim, 'POST', `/_sim/github/runners/${mac.name}/status`, {
          status: 'offline',
          busy: true,
        })
      ).status,
      400,
    );
    assert.equal(
      (await control(sim, 'POST', '/_sim/github/runners/nobody/status', { status: 'online' }))
        .status,
      404,
    );
    assert.equal((await control(sim, 'GET', '/_sim/github/runners/nobody')).status, 404);
    assert.equal(
      (await control(sim, 'POST', `/_sim/github/runners/${mac.name}/status`, { status: 'gone' }))
        .status,
      400,
    );
  });

  test('every /_sim/github route is 404 with a clear message without a fake GitHub', async (t) => {
    const sim = await startMacSim(t);
    for (const [method, path, body] of [
      ['GET', '/_sim/github/state', undefined],
      ['GET', '/_sim/github/faults', undefined],
      ['POST', '/_sim/github/faults', { kind: '5xx' }],
      ['DELETE', '/_sim/github/faults', undefined],
      ['GET', '/_sim/github/runners/MacM1-1', undefined],
      ['POST', '/_sim/github/runners/MacM1-1/status', { status: 'online' }],
    ] as const) {
      const res = await control(sim, method, path, body);
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.match((res.json as { error: string }).error, /the fake GitHub is off/);
    }
  });
});
