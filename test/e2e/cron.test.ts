// `pw-pool cron` end to end: the built CLI against the simulated cloud with simulated Macs,
// advancing virtual time between ticks; the utilization CSV, the metrics textfile (read by a real
// exposition-format parser) and the audit log checked against the simulated cloud itself.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { macPoolFixture } from '../helpers/cli.js';
import type { MacPoolFixture } from '../helpers/cli.js';

const MUTATING = new Set(['RunInstances', 'CreateTags', 'TerminateInstances']);

function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  const fam = parsePrometheusTextFormat(text).find((f) => f.name === name);
  const m = fam?.metrics.find((s) =>
    Object.entries(labels).every(([k, v]) => (s.labels ?? {})[k] === v),
  );
  assert.ok(m, `${name}${JSON.stringify(labels)} in the textfile`);
  return Number(m.value);
}

interface SimState {
  hosts: { hostId: string; instanceIds: string[] }[];
  instances: { instanceId: string; state: string; name?: string; tags?: Record<string, string> }[];
}

async function cron(f: MacPoolFixture) {
  const r = await f.run(['cron']);
  assert.ok(r.code === 0 || r.code === 4, `cron exit ${r.code}: ${r.stderr}`);
  return r;
}

describe('pw-pool cron (e2e on simulated Macs)', () => {
  it('ticks a pool to complete alive: launch when due, CSV rows, metrics equal to the sim, one audit line per mutating call', async (t) => {
    const f = await macPoolFixture(t, { hosts: 3 });
    await f.launchAll(); // launch-instances --force: 3 RunInstances, journaled
    await f.advance(90);

    // Tick 1, 90 s after the launch run: launch not due; setup pushes.
    const t1 = await cron(f);
    const lines1 = t1.stdout.split('\n');
    assert.match(lines1[0] ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d\+00:00$/);
    assert.equal(lines1.filter((l) => /^Exit: \d$/.test(l)).length, 1, t1.stdout);
    assert.match(t1.stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00,0,0,0$/m);

    // Tick 2, 15 minutes later: launch due (elapsed), setup finds every worker complete alive.
    await f.advance(900);
    const t2 = await cron(f);
    assert.equal(t2.stdout.split('\n').filter((l) => /^Exit: 0$/.test(l)).length, 2, t2.stdout);
    const csv = (await readFile(join(f.stateDir, 'utilization.csv'), 'utf8')).trim().split('\n');
    assert.equal(csv.length, 2);
    assert.match(csv[1] ?? '', /,3,0,0$/);

    // A supervisor dies: the next tick force-terminates that instance (tag + terminate).
    await f.control('POST', '/_sim/faults', { kind: 'supervisor-crash', target: 'MacM1-2' });
    await f.advance(300);
    const t3 = await cron(f);
    assert.match(await f.statusLine('MacM1-2'), /Terminating immediately!$/);
    assert.match(t3.stdout, /,2,\d+,\d+$/m, 'the CSV row counts the two complete alive');

    // The metrics equal the simulated cloud's state.
    const prom = await readFile(join(f.stateDir, 'pw-pool.prom'), 'utf8');
    const state = (await f.control('GET', '/_sim/state')) as SimState;
    const running = state.instances.filter((i) => i.state === 'running').length;
    assert.equal(running, 2);
    assert.equal(metric(prom, 'pwpool_workers', { state: 'alive' }), running);
    assert.equal(
      metric(prom, 'pwpool_hosts', { state: 'occupied' }),
      state.hosts.filter((h) => h.instanceIds.length > 0).length,
      'dh_status of the last launch run: every host had an instance',
    );
    assert.equal(
      metric(prom, 'pwpool_actions_total', { action: 'terminate', reason: 'supervisor-missing' }),
      1,
    );
    assert.equal(
      metric(prom, 'pwpool_actions_total', { action: 'launch', reason: 'forced-fill' }),
      3,
    );
    assert.equal(metric(prom, 'pwpool_last_exit_code', { command: 'cron' }), 0);
    assert.ok(metric(prom, 'pwpool_last_success_timestamp_seconds', { command: 'cron' }) > 0);
    assert.ok(metric(prom, 'pwpool_run_duration_seconds', { command: 'setup-instances' }) > 0);

    // One audit line per mutating EC2 call the sim answered with success.
    const requests = (await f.control('GET', '/_sim/requests')) as {
      requests: { action: string; status: number }[];
    };
    const mutating = requests.requests.filter((r) => MUTATING.has(r.action) && r.status < 300);
    const audit = (await readFile(join(f.stateDir, 'audit.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, string>);
    assert.equal(audit.length, mutating.length, JSON.stringify(audit, null, 1));
    assert.deepEqual(audit.map((a) => `${a.command} ${a.action} ${a.reason}`).slice(-2), [
      'cron tag supervisor-missing',
      'cron terminate supervisor-missing',
    ]);
    const term = audit.at(-1) ?? {};
    assert.equal(term.name, 'MacM1-2');
    assert.match(term.instance ?? '', /^i-[0-9a-f]+$/);
    assert.match(term.host ?? '', /^h-[0-9a-f]+$/);
    assert.match(term.time ?? '', /^\d{4}-\d\d-\d\dT/);

    // The page was rendered by each tick.
    const html = await readFile(join(f.stateDir, 'html', 'index.html'), 'utf8');
    assert.match(html, /MacM1-2/);
  });

  it('a second cron waits for the lock, then exits 5 and still renders the page; a stale lock is taken over', async (t) => {
    const f = await macPoolFixture(t, { hosts: 1 });
    // A live holder: a sleeping process whose pid and start time the lock records.
    const holder = spawn('sleep', ['30'], { stdio: 'ignore' });
    t.after(() => holder.kill('SIGKILL'));
    const { processStartTime } = await import('../../src/pw-lib/adapters/lock.js');
    const { hostname } = await import('node:os');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(f.stateDir, { recursive: true });
    const lockPath = join(f.stateDir, 'pw-pool.lock');
    const record = (pid: number) =>
      `${JSON.stringify({ pid, startTime: processStartTime(pid), host: hostname() })}\n`;
    await writeFile(lockPath, record(holder.pid ?? 0));
    const started = Date.now();
    const busy = await f.run(['cron'], { PW_POOL_CRON_LOCK_WAIT_SECONDS: '2' });
    assert.equal(busy.code, 5, busy.stderr);
    assert.ok(Date.now() - started >= 2000, 'it waited for the lock');
    assert.match(
      busy.stderr,
      new RegExp(
        `Could not acquire lock .*pw-pool\\.lock within 2s \\(held by pid ${holder.pid}\\)\\.`,
      ),
    );
    const html = await readFile(join(f.stateDir, 'html', 'index.html'), 'utf8');
    assert.match(html, /STALE/i, 'no status files yet: the page says so');

    // The holder dies without releasing: its lock is stale and the next tick takes it over.
    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('exit', r));
    const next = await f.run(['cron'], { PW_POOL_CRON_LOCK_WAIT_SECONDS: '2' });
    assert.notEqual(next.code, 5, next.stderr);
    await assert.rejects(readFile(lockPath), /ENOENT/, 'released at exit');
  });
});
