// `pw-pool status` and `pw-pool serve` end to end: the built CLI in its own process, against the
// simulated cloud with its clock frozen, and a served state directory.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { appendUtilization, utilizationRow } from '../../src/pw-lib/core/utilization.js';
import { baseEnv, macPoolFixture, runCli } from '../helpers/cli.js';
import { renderedStateDir, startServe } from '../helpers/serve.js';

interface SimState {
  now: string;
  hosts: { name: string; hostId: string; tags: Record<string, string> }[];
  instances: { instanceId: string; name: string; state: string; launchTime: string }[];
}

interface StatusJson {
  now: string;
  incomplete: boolean;
  stale: boolean;
  files: Record<string, { present: boolean; ageSeconds: number | null; stale: boolean }>;
  totals: { hosts: number; entries: number; aliveWorkers: number; taskLimitEnforced: boolean };
  hosts: {
    name: string;
    block: string | null;
    instanceId: string | null;
    launchAgeSeconds: number | null;
    lifetimeLeftSeconds: number | null;
    setup: string | null;
    listener: string | null;
  }[];
  lastUtilization: { ts: string } | null;
}

describe('pw-pool status (e2e on the simulated cloud)', () => {
  it('--json lists the same hosts and instances as /_sim/state, with the sim clock frozen', async (t) => {
    const f = await macPoolFixture(t, { hosts: 4 });
    await f.control('POST', '/_sim/hosts/MacM1-4', { tags: { PWPoolReady: 'false' } });
    await f.launchAll(); // the clock is paused from here on
    await f.advance(90);
    const setup = await f.run(['setup-instances']);
    assert.equal(setup.code, 0, setup.stderr);
    const ec2Calls = f.sim.requestLog.list().length;

    const first = await f.run(['status', '--json']);
    assert.equal(first.code, 4, `utilization.csv is missing: ${first.stderr}`);
    const partial = JSON.parse(first.stdout) as StatusJson;
    assert.equal(partial.incomplete, true);
    assert.equal(partial.files.utilization?.present, false);

    const pw = await readFile(join(f.stateDir, 'pw_status.txt'), 'utf8');
    const row = utilizationRow(pw);
    assert.ok(row);
    await writeFile(join(f.stateDir, 'utilization.csv'), appendUtilization(undefined, row, 432));

    const r = await f.run(['status', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const view = JSON.parse(r.stdout) as StatusJson;
    const sim = (await f.control('GET', '/_sim/state')) as SimState;
    assert.equal(view.now, `${sim.now.slice(0, 19)}+00:00`, 'the decision clock is the sim clock');
    const simNowS = Math.floor(Date.parse(sim.now) / 1000);

    assert.deepEqual(
      view.hosts.map((h) => h.name),
      sim.hosts.map((h) => h.name).sort(),
    );
    const live = sim.instances.filter((i) => i.state !== 'terminated');
    assert.deepEqual(
      view.hosts.filter((h) => h.instanceId !== null).map((h) => [h.name, h.instanceId]),
      live.map((i) => [i.name, i.instanceId]).sort(),
    );
    for (const i of live) {
      const h = view.hosts.find((x) => x.name === i.name);
      const ageS = simNowS - Math.floor(Date.parse(i.launchTime) / 1000);
      assert.equal(h?.block, 'entry');
      assert.equal(h?.launchAgeSeconds, ageS);
      assert.equal(h?.lifetimeLeftSeconds, 86400 - ageS);
      assert.equal(h?.setup, 'started');
    }
    assert.equal(view.hosts.find((h) => h.name === 'MacM1-4')?.block, 'HOST DISABLED');
    assert.deepEqual(view.totals, {
      hosts: 4,
      entries: 3,
      aliveWorkers: 0,
      taskLimitEnforced: false,
      minAliveWorkers: 3,
    });
    assert.equal(view.stale, false);
    assert.equal(view.lastUtilization?.ts, row.ts);
    assert.equal(f.sim.requestLog.list().length, ec2Calls, 'status makes no AWS call');

    const again = await f.run(['status', '--json']);
    assert.equal(again.stdout, r.stdout, 'frozen clock, same files: same answer');

    const human = await f.run(['status']);
    assert.equal(human.code, 0, human.stderr);
    assert.match(
      human.stdout,
      /^HOST +BLOCK +INSTANCE +AGE +SETUP +LISTENER +B\/E +LEFT +COMMENT$/m,
    );
    for (const i of live) {
      assert.match(human.stdout, new RegExp(`^${i.name} +entry +${i.instanceId} `, 'm'));
    }
    assert.match(human.stdout, /^MacM1-4 +HOST DISABLED +- /m);
    assert.match(
      human.stdout,
      /^Totals: 4 hosts, 3 instances, 0 alive workers; task limit not enforced/m,
    );
  });

  it('exits 4 and still prints what it can when no status file exists', async (t) => {
    const home = await mkdtemp(join(tmpdir(), 'pw-pool-status-'));
    t.after(() => rm(home, { recursive: true, force: true }));
    const r = await runCli(['--state-dir', join(home, 'state'), 'status'], baseEnv(home));
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stdout, /^STALE: dh_status\.txt is missing$/m);
    assert.match(r.stdout, /^No hosts in the status files\.$/m);
  });
});

function rawGet(
  base: string,
  path: string,
  method = 'GET',
): Promise<{ status: number; type: string | undefined; body: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('pw-pool serve (e2e)', () => {
  it('serves html/ read-only on 127.0.0.1, refuses traversal, stops cleanly on SIGTERM', async (t) => {
    const { home, stateDir } = await renderedStateDir(t);
    const site = await startServe(t, stateDir, home);
    assert.match(site.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);

    const index = await rawGet(site.url, '/');
    assert.equal(index.status, 200);
    assert.equal(index.type, 'text/html; charset=utf-8');
    assert.match(index.body, /<title>pw-pool status<\/title>/);
    assert.equal((await rawGet(site.url, '/index.html')).body, index.body);
    const svg = await rawGet(site.url, '/utilization.svg?v=1');
    assert.equal(svg.status, 200);
    assert.equal(svg.type, 'image/svg+xml');
    assert.match(svg.body, /<svg /);
    const head = await rawGet(site.url, '/', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');

    for (const path of [
      '/../dh_status.txt',
      '/..%2fdh_status.txt',
      '/%2e%2e/dh_status.txt',
      '/%2E%2E/%2E%2E/etc/passwd',
      '/html/../../dh_status.txt',
      '/.index.html.1.tmp',
      '/nope.html',
    ]) {
      const r = await rawGet(site.url, path);
      assert.equal(r.status, 404, path);
      assert.doesNotMatch(r.body, /LaunchInstances/, path);
    }
    assert.equal((await rawGet(site.url, '/..\\dh_status.txt')).status, 400);
    assert.equal((await rawGet(site.url, '/%zz')).status, 400);
    assert.equal((await rawGet(site.url, '/', 'POST')).status, 405);
    assert.equal((await rawGet(site.url, '/index.html', 'DELETE')).status, 405);
    assert.equal(await site.stop(), 0);
  });

  it('a bad --port is a usage error', async (t) => {
    const home = await mkdtemp(join(tmpdir(), 'pw-pool-serve-'));
    t.after(() => rm(home, { recursive: true, force: true }));
    const r = await runCli(['--state-dir', home, 'serve', '--port', 'http'], baseEnv(home));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--port: 'http' is not a port number/);
  });
});
