// reap end to end: the built CLI against the simulated cloud, in virtual time. EC2 only: it must
// terminate exactly the pool instances older than the limit and never touch a state directory.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { poolFixture, runCli } from '../helpers/cli.js';
import type { PoolFixture } from '../helpers/cli.js';

const DAY = 86_400;

interface ReapLine {
  time: string;
  action: string;
  outcome: string;
  instance: string;
  name: string;
  host: string;
  launchTime: string;
  ageSeconds: number;
  maxAgeSeconds: number;
  reason: string;
  error?: string;
}

function lines(stdout: string): ReapLine[] {
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as ReapLine);
}

function terminations(f: PoolFixture): string[] {
  return f.sim.requestLog
    .list()
    .filter((r) => r.action === 'TerminateInstances')
    .map((r) => String(r.params['InstanceId.1']));
}

const iso = (d: Date) => `${d.toISOString().slice(0, 19)}+00:00`;

describe('pw-pool reap (e2e on the simulated cloud)', () => {
  it('terminates only the pool instances older than the limit and prints one JSON line each', async (t) => {
    const f = await poolFixture(t, { hosts: 4 });
    // MacM1-4 waits (disabled) so that its instance is younger than the others.
    await f.control('POST', '/_sim/hosts/MacM1-4', { tags: { PWPoolReady: 'false' } });
    let r = await f.run(['launch-instances', '--force']);
    assert.equal(r.code, 0, r.stderr);
    await f.control('POST', '/_sim/clock', { speed: 0 });
    await f.control('POST', '/_sim/advance', { seconds: 2 * DAY });
    await f.control('POST', '/_sim/hosts/MacM1-4', { tags: { PWPoolReady: 'true' } });
    await f.control('POST', '/_sim/clock', { speed: 120 });
    r = await f.run(['launch-instances', '--force']);
    assert.equal(r.code, 0, r.stderr);
    await f.control('POST', '/_sim/clock', { speed: 0 });
    await f.control('POST', '/_sim/advance', { seconds: 1.5 * DAY });
    // MacM1-3 leaves the pool (its purpose tag changes): reap must never touch it.
    await f.control('POST', '/_sim/instances/MacM1-3', { tags: { purpose: 'elsewhere' } });
    const id = (name: string) => f.sim.world.instance(name)?.instanceId ?? name;
    const [i1, i2, i3, i4] = ['MacM1-1', 'MacM1-2', 'MacM1-3', 'MacM1-4'].map(id);

    // reap has no state directory: point it at one that does not exist, and it stays so.
    const noState = join(f.home, 'reap-has-no-state');
    const reap = (args: string[], extra: Record<string, string> = {}) =>
      runCli(['--state-dir', noState, 'reap', ...args], { ...f.env, ...extra });
    const clock = (await f.control('GET', '/_sim/clock')) as { now: string };
    const nowMs = Date.parse(clock.now);
    const now = iso(new Date(nowMs));

    r = await reap(['--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    let out = lines(r.stdout);
    assert.deepEqual(
      out.map((l) => [l.name, l.instance, l.outcome]),
      [
        ['MacM1-1', i1, 'dry-run'],
        ['MacM1-2', i2, 'dry-run'],
      ],
    );
    assert.deepEqual(terminations(f), []);

    // One termination fails (one 5xx, no SDK retry): its line says so and the exit code is 4.
    await f.control('POST', '/_sim/faults', {
      action: 'TerminateInstances',
      kind: '5xx',
      count: 1,
    });
    r = await reap([], { PW_POOL_AWS_MAX_ATTEMPTS: '1' });
    assert.equal(r.code, 4, r.stderr);
    out = lines(r.stdout);
    assert.deepEqual(
      out.map((l) => [l.name, l.outcome]),
      [
        ['MacM1-1', 'failed'],
        ['MacM1-2', 'terminated'],
      ],
    );
    assert.match(out[0]?.error ?? '', /^InternalError: /);
    const line = out[1] as ReapLine;
    const sim2 = f.sim.world.instance(i2 as string);
    assert.ok(sim2);
    assert.equal(line.time, now);
    assert.equal(line.action, 'terminate');
    assert.equal(line.reason, 'max-age');
    assert.equal(line.host, sim2.hostId);
    assert.equal(line.launchTime, iso(sim2.launchTime));
    assert.equal(line.maxAgeSeconds, 3 * DAY);
    assert.equal(line.ageSeconds, Math.floor((nowMs - sim2.launchTime.getTime()) / 1000));
    assert.ok(line.ageSeconds > 3.4 * DAY && line.ageSeconds < 3.6 * DAY, String(line.ageSeconds));
    assert.equal(sim2.state, 'shutting-down');

    // The next run picks up the one that failed; shutting-down instances are not listed again.
    r = await reap([]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      lines(r.stdout).map((l) => [l.instance, l.outcome]),
      [[i1, 'terminated']],
    );
    r = await reap([]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');

    // A lower limit reaches the younger instance; the one that left the pool stays.
    r = await reap(['--max-age-seconds', String(DAY)]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      lines(r.stdout).map((l) => l.instance),
      [i4],
    );
    assert.deepEqual(terminations(f).sort(), [i1, i1, i2, i4].sort());
    assert.equal(f.sim.world.instance(i3 as string)?.state, 'running');
    assert.equal(existsSync(noState), false, 'reap created no state directory');

    for (const bad of ['0', 'abc', '-5', '1.5']) {
      r = await reap(['--max-age-seconds', bad]);
      assert.equal(r.code, 2, `${bad}: ${r.stderr}`);
      assert.match(r.stderr, /--max-age-seconds: .* is not a whole number of seconds/);
    }
  });
});
