// The github-actions agent end to end (behavior.md §4.3–§4.5, §7): the built CLI against the
// simulated cloud with simulated Macs and its fake GitHub (App auth, as `sim serve --agent
// github-actions` exports it), advancing virtual time between runs.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { githubPoolFixture } from '../helpers/cli.js';
import type { GhRunner, GhState, GitHubPoolFixture } from '../helpers/cli.js';

const GROUP = 'prod';
const DRAINING = 'prod-draining';
const DEFERRED = 'Could not obtain CI registration token; setup deferred.';
const DISABLED = "Instance disabled via tag 'PWPoolReady' == 'false'.";

async function setup(f: GitHubPoolFixture, args: string[] = [], env: Record<string, string> = {}) {
  return f.run(['setup-instances', ...args], env);
}

/** Launch, boot, run setup until every worker is `complete alive`. */
async function toCompleteAlive(f: GitHubPoolFixture, names: string[]): Promise<void> {
  await f.launchAll();
  await f.advance(90);
  const first = await setup(f);
  assert.equal(first.code, 0, first.stdout + first.stderr);
  await f.advance(900);
  const second = await setup(f);
  assert.equal(second.code, 0, second.stdout + second.stderr);
  for (const n of names) assert.equal(await f.statusLine(n), `${n} complete alive 0 0`);
}

function runnerNamed(state: GhState, name: string): GhRunner | undefined {
  return state.runners.find((r) => r.name === name);
}

interface AuditLine {
  action: string;
  reason: string;
  name?: string;
  detail?: string;
}

async function audit(f: GitHubPoolFixture): Promise<AuditLine[]> {
  const text = await readFile(join(f.stateDir, 'audit.jsonl'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as AuditLine);
}

async function runnerDeletes(f: GitHubPoolFixture): Promise<string[]> {
  return (await audit(f))
    .filter((a) => a.action === 'runner-delete')
    .map((a) => `${a.reason} ${a.name ?? '?'}`);
}

interface MacJobs {
  job: { pid: number } | null;
  tasks: { started: number; finished: number; aborted: number };
  processes: { pid: number; role: string }[];
}

/** The job-related part of a simulated Mac's state. */
async function macJobs(f: GitHubPoolFixture, name: string): Promise<MacJobs> {
  return (await f.control('GET', `/_sim/macs/${name}`)) as MacJobs;
}

function utc(epochS: number): string {
  return `${new Date(epochS * 1000).toISOString().slice(0, 19)}+00:00`;
}

async function nowS(f: GitHubPoolFixture): Promise<number> {
  return Date.parse(((await f.control('GET', '/_sim/clock')) as { now: string }).now) / 1000;
}

/**
 * A pass-through proxy in front of the fake GitHub REST API that keeps every token GitHub hands
 * out (installation and registration tokens), so the hygiene test can look for the real values.
 */
async function tokenSpy(
  t: TestContext,
  target: string,
): Promise<{ url: string; tokens: string[] }> {
  const tokens: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) {
        if (typeof v === 'string' && !['host', 'connection', 'content-length'].includes(k))
          headers[k] = v;
      }
      const body = Buffer.concat(chunks);
      fetch(`${target}${req.url ?? '/'}`, {
        method: req.method ?? 'GET',
        headers,
        ...(body.length > 0 ? { body } : {}),
      })
        .then(async (up) => {
          const text = await up.text();
          try {
            const token = (JSON.parse(text) as { token?: unknown }).token;
            if (typeof token === 'string') tokens.push(token);
          } catch {
            // not JSON
          }
          const out: Record<string, string> = {};
          up.headers.forEach((v, k) => {
            if (
              !['content-length', 'content-encoding', 'transfer-encoding', 'connection'].includes(k)
            )
              out[k] = v;
          });
          res.writeHead(up.status, out);
          res.end(text);
        })
        .catch(() => {
          res.writeHead(502);
          res.end();
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    const done = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await done;
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, tokens };
}

describe(
  'pw-pool with the github-actions agent (e2e on simulated Macs and a fake GitHub)',
  { concurrency: 2 },
  () => {
    it('a fresh pool of 3 registers runners in the pool group and reaches complete alive', async (t) => {
      const f = await githubPoolFixture(t, { hosts: 3 });
      await f.launchAll();
      await f.advance(90);
      const push = await setup(f);
      assert.equal(push.code, 0, push.stdout + push.stderr);
      for (const n of ['MacM1-1', 'MacM1-2', 'MacM1-3'])
        assert.equal(await f.statusLine(n), `${n} started error 0 0 # Executing setup script.`);
      await f.advance(900);
      const healthy = await setup(f);
      assert.equal(healthy.code, 0, healthy.stdout + healthy.stderr);
      for (const n of ['MacM1-1', 'MacM1-2', 'MacM1-3'])
        assert.equal(await f.statusLine(n), `${n} complete alive 0 0`);

      const st = await f.ghState();
      const group = st.groups.find((g) => g.name === GROUP);
      const draining = st.groups.find((g) => g.name === DRAINING);
      assert.ok(group, 'the pool group was created');
      assert.equal(group.allowsPublicRepositories, false);
      assert.equal(group.canReceiveJobs, true);
      assert.ok(draining, 'the quarantine group was created');
      assert.equal(draining.visibility, 'selected');
      assert.deepEqual(draining.selectedRepositoryIds, []);
      assert.equal(draining.canReceiveJobs, false);
      assert.deepEqual(
        st.runners.map((r) => r.name).sort(),
        ['MacM1-1', 'MacM1-2', 'MacM1-3'],
        'exactly the three pool runners',
      );
      for (const r of st.runners) {
        assert.equal(r.groupName, GROUP, `${r.name} in the pool group`);
        assert.equal(r.status, 'online', `${r.name} online`);
        assert.equal(r.busy, false);
        assert.ok(r.labels.includes(GROUP), `${r.name} labels ${r.labels.join(',')}`);
      }
      assert.equal(st.issued.registrationTokens, 3, 'one registration token per fresh setup');
      const digests = new Set<string>();
      for (const n of ['MacM1-1', 'MacM1-2', 'MacM1-3']) {
        const mac = (await f.instance(n)).mac;
        const starts = mac?.commands.filter((c) => c.op === 'start-setup') ?? [];
        assert.equal(starts.length, 1, `${n}: one start-setup`);
        assert.equal(starts[0]?.stdinBytes, 30, 'a 29-character registration token and a newline');
        assert.equal(mac?.setup?.secretBytes, 30);
        digests.add((starts[0] as { secretSha256?: string }).secretSha256 ?? '');
      }
      assert.equal(digests.size, 3, 'every instance got its own token');
    });

    it('an offline runner of the same name in another group is deleted and the setup proceeds', async (t) => {
      const f = await githubPoolFixture(t, { hosts: 1 });
      const foreign = await f.registerForeignRunner('MacM1-1', 'other', 'offline');
      await f.launchAll();
      await f.advance(90);
      const r = await setup(f);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal(
        await f.statusLine('MacM1-1'),
        'MacM1-1 started error 0 0 # Executing setup script.',
      );
      assert.deepEqual(await runnerDeletes(f), ['name-conflict MacM1-1']);
      assert.equal(
        runnerNamed(await f.ghState(), 'MacM1-1'),
        undefined,
        'the foreign runner is gone',
      );
      await f.advance(900);
      const healthy = await setup(f);
      assert.equal(healthy.code, 0, healthy.stdout + healthy.stderr);
      assert.equal(await f.statusLine('MacM1-1'), 'MacM1-1 complete alive 0 0');
      const mine = runnerNamed(await f.ghState(), 'MacM1-1');
      assert.ok(mine, 'registered again');
      assert.equal(mine.groupName, GROUP);
      assert.equal(mine.status, 'online');
      assert.notEqual(mine.id, foreign.id, 'a new runner, not the foreign one taken over');
    });

    it('an online runner of the same name in another group is a conflict: skipped, left alone', async (t) => {
      const f = await githubPoolFixture(t, { hosts: 2 });
      const foreign = await f.registerForeignRunner('MacM1-1', 'other', 'online');
      await f.launchAll();
      await f.advance(90);
      const r = await setup(f);
      assert.equal(r.code, 4, r.stdout + r.stderr);
      assert.equal(
        await f.statusLine('MacM1-1'),
        "MacM1-1 error error 0 0 # Runner group conflict detected for 'MacM1-1'. Skipping this instance.",
      );
      assert.equal(
        await f.statusLine('MacM1-2'),
        'MacM1-2 started error 0 0 # Executing setup script.',
      );
      const st = await f.ghState();
      const still = runnerNamed(st, 'MacM1-1');
      assert.ok(still, 'the foreign runner still exists');
      assert.equal(still.id, foreign.id);
      assert.equal(still.groupName, 'other');
      assert.equal(still.status, 'online');
      // one minted for the test's own registration above, one for MacM1-2
      assert.equal(st.issued.registrationTokens, 2, 'no token minted for the skipped instance');
      const mac = (await f.instance('MacM1-1')).mac;
      assert.ok(!mac?.commands.some((c) => c.op === 'start-setup'), 'MacM1-1 was not touched');
      assert.deepEqual(await runnerDeletes(f), []);
      assert.equal((await f.instance('MacM1-1')).state, 'running');
    });

    it('a force-terminated instance has its runner deregistered', async (t) => {
      const f = await githubPoolFixture(t, { hosts: 3 });
      await toCompleteAlive(f, ['MacM1-1', 'MacM1-2', 'MacM1-3']);
      assert.ok(runnerNamed(await f.ghState(), 'MacM1-2'));
      await f.control('POST', '/_sim/faults', { kind: 'supervisor-crash', target: 'MacM1-2' });
      const r = await setup(f);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal(
        await f.statusLine('MacM1-2'),
        'MacM1-2 complete error 0 0 # Pool servicing script (service_pool.sh) is not running. Terminating immediately!',
      );
      assert.equal((await f.instance('MacM1-2')).state, 'shutting-down');
      const st = await f.ghState();
      assert.equal(runnerNamed(st, 'MacM1-2'), undefined, 'deregistered at terminate');
      assert.deepEqual(await runnerDeletes(f), ['terminated MacM1-2']);
      for (const n of ['MacM1-1', 'MacM1-3']) {
        assert.equal(runnerNamed(st, n)?.status, 'online', `${n} keeps its runner`);
        assert.equal(await f.statusLine(n), `${n} complete alive 0 0`);
      }
    });

    it('the orphan sweep records an offline orphan in one run and deletes it in a later one', async (t) => {
      const f = await githubPoolFixture(t, { hosts: 2 });
      await toCompleteAlive(f, ['MacM1-1', 'MacM1-2']);
      const orphan = await f.registerForeignRunner('MacM1-9', GROUP, 'offline');
      // A live instance's runner that is offline (e.g. its listener restarting) is never a candidate.
      await f.control('POST', '/_sim/github/runners/MacM1-1/status', { status: 'offline' });
      const sweepFile = join(f.stateDir, 'runner-sweep.json');

      const first = await setup(f);
      assert.equal(first.code, 0, first.stdout + first.stderr);
      const recorded = JSON.parse(await readFile(sweepFile, 'utf8')) as {
        candidates: { id: number; name: string; firstSeen: string }[];
      };
      assert.deepEqual(
        recorded.candidates.map((c) => `${c.id} ${c.name}`),
        [`${orphan.id} MacM1-9`],
      );
      assert.ok(runnerNamed(await f.ghState(), 'MacM1-9'), 'phase 1 only records it');
      assert.deepEqual(await runnerDeletes(f), []);

      await f.advance(300);
      const second = await setup(f);
      assert.equal(second.code, 0, second.stdout + second.stderr);
      const st = await f.ghState();
      assert.equal(runnerNamed(st, 'MacM1-9'), undefined, 'phase 2 deletes it');
      assert.ok(runnerNamed(st, 'MacM1-1'), "the live instance's runner stays");
      assert.ok(runnerNamed(st, 'MacM1-2'));
      assert.deepEqual(await runnerDeletes(f), ['orphan-sweep MacM1-9']);
      const after = JSON.parse(await readFile(sweepFile, 'utf8')) as { candidates: unknown[] };
      assert.deepEqual(after.candidates, []);
    });

    it('GitHub rate-limited: fresh setups are deferred, nothing is terminated, a healthy worker stays', async (t) => {
      const f = await githubPoolFixture(t, { hosts: 2 });
      await f.launchAll();
      // MacM1-2 sits in maintenance while MacM1-1 becomes healthy; re-enabled, it is fresh again.
      await f.control('POST', '/_sim/instances/MacM1-2', { tags: { PWPoolReady: 'false' } });
      await f.advance(90);
      assert.equal((await setup(f)).code, 0);
      await f.advance(900);
      assert.equal((await setup(f)).code, 0);
      assert.equal(await f.statusLine('MacM1-1'), 'MacM1-1 complete alive 0 0');
      assert.equal(await f.statusLine('MacM1-2'), `MacM1-2 disabled disabled 0 0 # ${DISABLED}`);
      await f.control('POST', '/_sim/instances/MacM1-2', { tags: { PWPoolReady: 'true' } });
      const tokensBefore = (await f.ghState()).issued.registrationTokens;

      // The primary rate limit on every call, the installation token's included.
      await f.control('POST', '/_sim/github/faults', { kind: 'rate-limit' });
      f.sim.requestLog.clear();
      const r = await setup(f);
      assert.equal(r.code, 4, r.stdout + r.stderr);
      assert.equal(await f.statusLine('MacM1-2'), `MacM1-2 error error 0 0 # ${DEFERRED}`);
      assert.equal(await f.statusLine('MacM1-1'), 'MacM1-1 complete alive 0 0');
      const faults = (await f.control('GET', '/_sim/github/faults')) as {
        faults: { hits: number }[];
      };
      assert.ok((faults.faults[0]?.hits ?? 0) > 0, 'the fault was hit');
      assert.ok(
        !f.sim.requestLog.list().some((q) => q.action === 'TerminateInstances'),
        'no TerminateInstances',
      );
      for (const n of ['MacM1-1', 'MacM1-2']) assert.equal((await f.instance(n)).state, 'running');
      const mac2 = (await f.instance('MacM1-2')).mac;
      assert.ok(!mac2?.commands.some((c) => c.op === 'start-setup'), 'no setup was started');
      assert.equal((await f.ghState()).issued.registrationTokens, tokensBefore);
      assert.equal(runnerNamed(await f.ghState(), 'MacM1-1')?.status, 'online');

      await f.control('DELETE', '/_sim/github/faults');
      await f.advance(60);
      const ok = await setup(f);
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      assert.equal(
        await f.statusLine('MacM1-2'),
        'MacM1-2 started error 0 0 # Executing setup script.',
      );
      assert.equal(await f.statusLine('MacM1-1'), 'MacM1-1 complete alive 0 0');
      assert.equal((await f.ghState()).issued.registrationTokens, tokensBefore + 1);
    });

    it('GitHub 5xx: fresh setups are deferred without terminating anything, then set up', async (t) => {
      const f = await githubPoolFixture(t, { hosts: 2 });
      await f.launchAll();
      await f.advance(90);
      // Every organisation call answers 502 for the preflight's first call and its two retries.
      // (Persistent, the run takes ~25 s, and over two minutes when the App's installation-token
      // call fails too: retry back-off that grows across calls; see the report.)
      await f.control('POST', '/_sim/github/faults', {
        kind: '5xx',
        status: 502,
        path: '/orgs/',
        count: 3,
      });
      f.sim.requestLog.clear();
      const r = await setup(f);
      assert.equal(r.code, 4, r.stdout + r.stderr);
      for (const n of ['MacM1-1', 'MacM1-2']) {
        assert.equal(await f.statusLine(n), `${n} error error 0 0 # ${DEFERRED}`);
        assert.equal((await f.instance(n)).state, 'running');
        const mac = (await f.instance(n)).mac;
        assert.ok(!mac?.commands.some((c) => c.op === 'start-setup'), `${n}: no setup started`);
      }
      assert.ok(
        !f.sim.requestLog.list().some((q) => q.action === 'TerminateInstances'),
        'no TerminateInstances',
      );
      const st = await f.ghState();
      assert.equal(st.requests.filter((q) => q.status === 502).length, 3, 'GitHub answered 502');
      assert.equal(st.issued.registrationTokens, 0);

      await f.control('DELETE', '/_sim/github/faults');
      await f.advance(60);
      const ok = await setup(f);
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      for (const n of ['MacM1-1', 'MacM1-2'])
        assert.equal(await f.statusLine(n), `${n} started error 0 0 # Executing setup script.`);
      assert.equal((await f.ghState()).issued.registrationTokens, 2);
    });

    it('maintenance with running jobs: cordoned, drained without cancelling the jobs, then stopped', async (t) => {
      // MacM1-1 drains through its supervisor; MacM1-2 has lost its supervisor, so the manager
      // applies the drain rule itself, once per run, and its idle listener outlives the job.
      const f = await githubPoolFixture(t, { hosts: 2 });
      const names = ['MacM1-1', 'MacM1-2'];
      await toCompleteAlive(f, names);
      const jobPid: Record<string, number> = {};
      for (const n of names) {
        await f.control('POST', `/_sim/macs/${n}/task`, { durationSeconds: 1800 });
        const busy = await macJobs(f, n);
        assert.ok(busy.job, `${n}: the job runs`);
        jobPid[n] = busy.job.pid;
        assert.equal(runnerNamed(await f.ghState(), n)?.busy, true);
      }
      await f.control('POST', '/_sim/faults', { kind: 'supervisor-crash', target: 'MacM1-2' });
      for (const n of names)
        await f.control('POST', `/_sim/instances/${n}`, { tags: { PWPoolReady: 'false' } });
      const tagged = await nowS(f);

      const first = await setup(f);
      assert.equal(first.code, 0, first.stdout + first.stderr);
      // MacM1-1's supervisor has not polled the tag yet; the maintenance step marks the drain's
      // start itself, so this very run reports the wait.
      assert.equal(
        await f.statusLine('MacM1-1'),
        `MacM1-1 disabled disabled 0 0 # ${DISABLED}; waiting for running job since ${utc(tagged)}.`,
      );
      assert.equal(
        await f.statusLine('MacM1-2'),
        `MacM1-2 disabled disabled 0 0 # ${DISABLED}; waiting for running job since ${utc(tagged)}.`,
      );
      for (const n of names) {
        assert.equal(runnerNamed(await f.ghState(), n)?.groupName, DRAINING, `${n} cordoned`);
        assert.equal(f.gh.runnerCanReceiveJobs(n), false, `${n}: GitHub routes no job to it`);
      }

      await f.advance(30);
      const second = await setup(f);
      assert.equal(second.code, 0, second.stdout + second.stderr);
      const waiting = await f.statusLine('MacM1-1');
      const m =
        /^MacM1-1 disabled disabled 0 0 # (.*); waiting for running job since (\S+)\.$/.exec(
          waiting,
        );
      assert.ok(m, waiting);
      assert.equal(m[1], DISABLED);
      const since = m[2] ?? '';
      assert.match(since, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);
      const sinceS = Date.parse(since) / 1000;
      assert.equal(sinceS, Math.floor(tagged), `${since} is the drain start, kept across runs`);
      const since2 = utc(tagged);
      assert.equal(
        await f.statusLine('MacM1-2'),
        `MacM1-2 disabled disabled 0 0 # ${DISABLED}; waiting for running job since ${since2}.`,
      );
      for (const n of names) {
        assert.equal((await f.instance(n)).state, 'running');
        const mac = await macJobs(f, n);
        assert.ok(
          mac.processes.some((p) => p.role === 'job' && p.pid === jobPid[n]),
          `${n}: the job is still running`,
        );
        assert.ok(
          mac.processes.some((p) => p.role === 'listener'),
          `${n}: listener kept`,
        );
      }

      // Jobs would come now (one a second), but GitHub routes none to the quarantine group.
      await f.control('POST', '/_sim/macs', { taskRatePerHour: 3600 });
      await f.advance(900);
      for (const n of names) {
        const mac = await macJobs(f, n);
        assert.equal(mac.job?.pid, jobPid[n], `${n}: the same job`);
        assert.deepEqual(mac.tasks, { started: 1, finished: 0, aborted: 0 });
      }
      const still = await setup(f);
      assert.equal(still.code, 0, still.stdout + still.stderr);
      assert.equal(
        await f.statusLine('MacM1-1'),
        `MacM1-1 disabled disabled 0 0 # ${DISABLED}; waiting for running job since ${since}.`,
        'the drain start is kept across runs',
      );
      assert.equal(
        await f.statusLine('MacM1-2'),
        `MacM1-2 disabled disabled 0 0 # ${DISABLED}; waiting for running job since ${since2}.`,
      );

      // The jobs end; MacM1-2's listener idles until the next run stops it, and takes no job.
      await f.advance(1000);
      const idle = await macJobs(f, 'MacM1-2');
      assert.ok(
        idle.processes.some((p) => p.role === 'listener'),
        'MacM1-2 listener idles',
      );
      assert.deepEqual(idle.tasks, { started: 1, finished: 1, aborted: 0 }, 'no new job');
      const done = await setup(f);
      assert.equal(done.code, 0, done.stdout + done.stderr);
      const st = await f.ghState();
      for (const n of names) {
        assert.equal(await f.statusLine(n), `${n} disabled disabled 0 0 # ${DISABLED}`);
        const mac = await macJobs(f, n);
        assert.ok(!mac.processes.some((p) => p.role === 'listener'), `${n}: listener stopped`);
        assert.equal(mac.job, null);
        assert.deepEqual(mac.tasks, { started: 1, finished: 1, aborted: 0 }, `${n}: finished`);
        assert.equal(runnerNamed(st, n)?.status, 'offline');
        assert.equal(runnerNamed(st, n)?.groupName, DRAINING);
        assert.equal((await f.instance(n)).state, 'running');
      }
    });

    it('token hygiene: GitHub tokens and the App key appear nowhere but the setup stdin', async (t) => {
      const f = await githubPoolFixture(t, { hosts: 3 });
      const spy = await tokenSpy(t, f.gh.apiUrl);
      // The REST calls go through the spy; the runners still register against the fake itself.
      const env = { PW_POOL_GITHUB_API_URL: spy.url };
      await f.launchAll();
      // MacM1-3 stays out until the failing run below, where it is the fresh setup that fails.
      await f.control('POST', '/_sim/instances/MacM1-3', { tags: { PWPoolReady: 'false' } });
      await f.advance(90);
      const pemLines = f.gh.appPrivateKeyPem
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '' && !l.startsWith('-----'));
      assert.ok(pemLines.length > 20);
      const SHAPES: [string, RegExp][] = [
        ['installation token', /ghs_[A-Za-z0-9]{36}/],
        ['registration token', /\b[A-Z0-9]{29}\b/],
        ['JWT', /eyJ[A-Za-z0-9_-]+\.eyJ/],
      ];
      const leaks = (text: string): string[] => {
        const found: string[] = [];
        for (const [what, re] of SHAPES) {
          const hit = re.exec(text);
          if (hit)
            found.push(`${what}: …${text.slice(Math.max(0, hit.index - 40), hit.index + 60)}…`);
        }
        for (const tok of spy.tokens)
          if (text.includes(tok)) found.push(`issued token ${tok.slice(0, 4)}…`);
        for (const line of pemLines)
          if (text.includes(line)) found.push(`App key line ${line.slice(0, 8)}…`);
        return found;
      };
      // The scan itself must not be blind: each shape matches a sample.
      assert.equal(
        leaks(`x ghs_${'a1'.repeat(18)} ABCDEFGHIJKLMNOPQRSTUVWXYZ012 eyJhb.eyJzd`).length,
        3,
      );

      /** pids of this test's descendants (the CLI and anything it starts). */
      const descendants = async (): Promise<Set<number>> => {
        const parent = new Map<number, number>();
        for (const pid of await readdir('/proc').catch(() => [] as string[])) {
          if (!/^\d+$/.test(pid)) continue;
          const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
          const ppid = Number(/\) \S+ (\d+)/.exec(stat)?.[1]);
          if (Number.isInteger(ppid)) parent.set(Number(pid), ppid);
        }
        const mine = new Set<number>();
        for (const pid of parent.keys()) {
          for (let p: number | undefined = pid, hops = 0; p !== undefined && hops < 50; hops += 1) {
            if (p === process.pid) {
              if (pid !== process.pid) mine.add(pid);
              break;
            }
            p = parent.get(p);
          }
        }
        return mine;
      };
      const seen = new Set<string>();
      let samples = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          for (const pid of await descendants()) {
            for (const what of ['cmdline', 'environ']) {
              const text = (await readFile(`/proc/${pid}/${what}`, 'utf8').catch(() => '')).replace(
                /\0/g,
                '\n',
              );
              if (text !== '') samples += 1;
              for (const l of leaks(text)) seen.add(`${pid} ${what}: ${l}`);
            }
          }
          await delay(20);
        }
      })();
      let r;
      try {
        r = await setup(f, ['--log-level', 'debug'], env);
      } finally {
        sampling = false;
        await sampler;
      }
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.ok(samples > 0, 'the CLI process was sampled');
      assert.deepEqual([...seen], [], 'no command line or environment carries a secret');
      assert.ok(
        spy.tokens.some((x) => /^ghs_/.test(x)),
        'the spy saw an installation token',
      );
      assert.equal(
        spy.tokens.filter((x) => /^[A-Z0-9]{29}$/.test(x)).length,
        2,
        'the spy saw both registration tokens',
      );
      assert.match(r.stderr, /"level":"debug"/, 'debug logs were on');
      assert.deepEqual(leaks(r.stdout), [], 'stdout');
      assert.deepEqual(leaks(r.stderr), [], 'stderr');

      // the registration tokens did reach the Macs, on stdin only
      const registration = spy.tokens.filter((x) => /^[A-Z0-9]{29}$/.test(x));
      const sha = (s: string) => createHash('sha256').update(`${s}\n`).digest('hex');
      for (const n of ['MacM1-1', 'MacM1-2']) {
        const start = (await f.instance(n)).mac?.commands.find((c) => c.op === 'start-setup') as
          { stdinBytes: number; secretSha256?: string } | undefined;
        assert.ok(start, `${n}: start-setup`);
        assert.ok(
          registration.some((tok) => sha(tok) === start.secretSha256),
          `${n}: its stdin was a minted registration token`,
        );
      }

      // a failing run: minting the registration token answers 5xx
      await f.control('POST', '/_sim/instances/MacM1-3', { tags: { PWPoolReady: 'true' } });
      await f.control('POST', '/_sim/github/faults', {
        kind: '5xx',
        status: 500,
        path: 'registration-token',
      });
      const failing = await setup(f, ['--log-level', 'debug'], env);
      assert.equal(failing.code, 4, failing.stdout + failing.stderr);
      assert.equal(await f.statusLine('MacM1-3'), `MacM1-3 error error 0 0 # ${DEFERRED}`);
      assert.match(failing.stderr, /registration/i, 'the failure is logged');
      assert.deepEqual(leaks(failing.stdout), [], 'failing run stdout');
      assert.deepEqual(leaks(failing.stderr), [], 'failing run stderr');
      await f.control('DELETE', '/_sim/github/faults');

      // a later run that completes the setups (status page, metrics, sweep state …)
      await f.advance(900);
      const healthy = await setup(f, ['--log-level', 'debug'], env);
      assert.equal(healthy.code, 0, healthy.stdout + healthy.stderr);
      assert.equal(await f.statusLine('MacM1-1'), 'MacM1-1 complete alive 0 0');
      assert.deepEqual(leaks(healthy.stdout + healthy.stderr), []);

      const files = await readdir(f.stateDir, { recursive: true });
      assert.ok(
        files.includes('pw_status.txt') && files.includes('runner-sweep.json'),
        files.join(),
      );
      for (const file of files) {
        const text = await readFile(join(f.stateDir, file), 'utf8').catch(() => '');
        assert.deepEqual(leaks(text), [], `state file ${file}`);
      }
      assert.deepEqual(
        leaks(JSON.stringify(await f.control('GET', '/_sim/state'))),
        [],
        '/_sim/state',
      );
      // what the Macs logged (setup.sh's log, the runner's output)
      for (const n of ['MacM1-1', 'MacM1-2', 'MacM1-3']) {
        const { instanceId } = await f.instance(n);
        const fs = f.sim.macs?.mac(instanceId)?.fs;
        for (const path of ['/Users/ec2-user/setup.log', `/private/tmp/${n}-worker.log`]) {
          const text = fs?.readText(path) ?? '';
          // MacM1-3's setup has only just started: no runner output yet.
          if (n !== 'MacM1-3' || path.endsWith('setup.log'))
            assert.ok(text !== '', `${n}: ${path}`);
          assert.deepEqual(leaks(text), [], `${n}: ${path}`);
        }
      }
      assert.deepEqual(leaks(JSON.stringify(await f.ghState())), [], '/_sim/github/state');
    });
  },
);
