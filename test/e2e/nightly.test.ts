// nightly end to end (behavior.md §5.4): the built CLI against the simulated cloud and a real
// state directory.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { processStartTime } from '../../src/pw-lib/adapters/lock.js';
import { parseDhStatus } from '../../src/pw-lib/core/dh-status.js';
import { poolFixture } from '../helpers/cli.js';
import type { PoolFixture } from '../helpers/cli.js';

const NOW = '2026-03-10T04:59:00Z';
const NOW_MS = Date.parse(NOW);
const iso = (msAgo: number) => new Date(NOW_MS - msAgo).toISOString();
const minute = (msAgo: number) => `${iso(msAgo).slice(0, 16)}+00:00`;
const H = 3_600_000;
const DAY = 24 * H;
const GONE_ID = 'i-0fedcba9876543210';

async function launched(f: PoolFixture): Promise<string[]> {
  const r = await f.run(['launch-instances', '--force']);
  assert.equal(r.code, 0, r.stderr);
  const text = await readFile(join(f.stateDir, 'dh_status.txt'), 'utf8');
  return parseDhStatus(text).entries.map((e) => e.instanceId);
}

/** A state directory as a busy manager leaves it. */
async function seed(f: PoolFixture, ids: readonly string[]) {
  const logLines = {
    old: [
      minute(50 * H),
      JSON.stringify({ level: 'info', time: iso(49 * H), msg: 'old' }),
      'Exit: 0',
      JSON.stringify({ level: 30, time: NOW_MS - 48 * H - 1000, msg: 'old epoch ms' }),
    ],
    kept: [
      minute(47 * H),
      JSON.stringify({ level: 'info', time: iso(47 * H - 5000), msg: 'recent' }),
      'Operating on 2 dedicated hosts at 2026-03-08T05:59:05+00:00',
      'Exit: 0',
      `${iso(H).slice(0, 19)}+00:00,2,10,9`,
    ],
  };
  const logFile = join(f.stateDir, 'Cron.log');
  await writeFile(logFile, [...logLines.old, ...logLines.kept].map((l) => `${l}\n`).join(''));
  const audit = {
    old: [{ time: iso(31 * DAY), command: 'cron', action: 'launch', reason: 'empty-host' }],
    kept: [
      { time: iso(29 * DAY), command: 'cron', action: 'terminate', reason: 'max-tasks' },
      { time: iso(H), command: 'set-ready', action: 'tag', reason: 'set-ready' },
    ],
  };
  const auditText = (list: object[]) => list.map((a) => `${JSON.stringify(a)}\n`).join('');
  await writeFile(join(f.stateDir, 'audit.jsonl'), auditText([...audit.old, ...audit.kept]));
  const known = [
    ...ids.map((id, n) => `${id} ssh-ed25519 AAAAkey${n}`),
    `${GONE_ID} ssh-ed25519 AAAAgone`,
  ];
  await writeFile(join(f.stateDir, 'known_hosts'), `${known.join('\n')}\n`);
  // Temp leftovers (mtimes are wall-clock), backups and fresh temp files.
  await mkdir(join(f.stateDir, 'html'), { recursive: true });
  const old = (Date.now() - 2 * DAY) / 1000;
  const files: Record<string, number> = {
    '.dh_status.txt.1234.abcd.tmp': old,
    'html/.index.html.99.beef.tmp': old,
    '.pw_status.txt.5.cafe.tmp': Date.now() / 1000,
    'dh_status.txt~': old,
    'stale.tmp~': old,
  };
  for (const [name, mtime] of Object.entries(files)) {
    await writeFile(join(f.stateDir, name), 'x');
    await utimes(join(f.stateDir, name), mtime, mtime);
  }
  return { logFile, logLines, audit, auditText, known };
}

describe('pw-pool nightly (e2e on the simulated cloud)', () => {
  it('trims the log in place, rotates the audit log, prunes only gone instances, removes only old temp files', async (t) => {
    const f = await poolFixture(t, { hosts: 3 });
    const ids = await launched(f);
    assert.equal(ids.length, 3);
    // One instance terminated (still listed as terminated), one pinned id long gone (absent).
    await f.control('POST', `/_sim/instances/${ids[0]}`, { state: 'terminated' });
    const s = await seed(f, ids);
    const inodeBefore = (await stat(s.logFile)).ino;

    const r = await f.run(['--now', NOW, 'nightly']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `nightly running at 2026-03-10T04:59:00+00:00\nrotated log\n`);

    // Same inode, only the last 48 h left (the untimed line stays with its timed line).
    assert.equal((await stat(s.logFile)).ino, inodeBefore);
    assert.equal(await readFile(s.logFile, 'utf8'), s.logLines.kept.map((l) => `${l}\n`).join(''));
    // An appender with O_APPEND writes at the new end, not at the old offset.
    await appendFile(s.logFile, 'appended\n');
    assert.match(await readFile(s.logFile, 'utf8'), /Exit: 0\n.*\nappended\n$/);

    assert.equal(
      await readFile(join(f.stateDir, 'audit.jsonl'), 'utf8'),
      s.auditText(s.audit.kept),
    );
    assert.equal(
      await readFile(join(f.stateDir, 'audit.jsonl~'), 'utf8'),
      s.auditText([...s.audit.old, ...s.audit.kept]),
      'the previous audit log is the backup',
    );

    const known = await readFile(join(f.stateDir, 'known_hosts'), 'utf8');
    assert.equal(known, `${s.known.slice(1, 3).join('\n')}\n`, 'terminated and absent pruned');
    const describes = f.sim.requestLog.list().filter((q) => q.action === 'DescribeInstances');
    const last = describes.at(-1);
    assert.equal(last?.params['Filter.1.Name'], 'instance-id');
    assert.equal(last?.params.InstanceId, undefined, 'never InstanceIds');

    assert.equal(existsSync(join(f.stateDir, '.dh_status.txt.1234.abcd.tmp')), false);
    assert.equal(existsSync(join(f.stateDir, 'html/.index.html.99.beef.tmp')), false);
    assert.equal(existsSync(join(f.stateDir, '.pw_status.txt.5.cafe.tmp')), true, 'young temp');
    assert.equal(existsSync(join(f.stateDir, 'dh_status.txt~')), true, 'backup kept');
    assert.equal(existsSync(join(f.stateDir, 'stale.tmp~')), true, 'backup kept');
    assert.equal(existsSync(join(f.stateDir, 'pw-pool.lock')), false, 'lock released');
  });

  it('DescribeInstances fails: known_hosts untouched, the other steps still run, exit 4', async (t) => {
    const f = await poolFixture(t, { hosts: 2 });
    const ids = await launched(f);
    await f.control('POST', `/_sim/instances/${ids[0]}`, { state: 'terminated' });
    const s = await seed(f, ids);
    const before = await readFile(join(f.stateDir, 'known_hosts'), 'utf8');
    f.sim.faults.add({ action: 'DescribeInstances', kind: '5xx' });

    const r = await f.run(['--now', NOW, 'nightly'], { PW_POOL_AWS_MAX_ATTEMPTS: '1' });
    assert.equal(r.code, 4, r.stderr);
    assert.equal(await readFile(join(f.stateDir, 'known_hosts'), 'utf8'), before);
    assert.equal(existsSync(join(f.stateDir, 'known_hosts~')), false);
    assert.equal(await readFile(s.logFile, 'utf8'), s.logLines.kept.map((l) => `${l}\n`).join(''));
    assert.equal(existsSync(join(f.stateDir, '.dh_status.txt.1234.abcd.tmp')), false);
    assert.match(r.stderr, /nightly step failed/);
  });

  it('exits 5 when another live process holds the pool lock, and changes nothing', async (t) => {
    const f = await poolFixture(t, { hosts: 1 });
    await mkdir(f.stateDir, { recursive: true });
    const logFile = join(f.stateDir, 'Cron.log');
    await writeFile(logFile, `${minute(100 * H)}\n`);
    // A live holder: a child process of this test, stopped when the test ends.
    const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], {
      stdio: 'ignore',
    });
    t.after(() => holder.kill());
    const pid = holder.pid ?? assert.fail('no pid');
    const lock = join(f.stateDir, 'pw-pool.lock');
    await writeFile(
      lock,
      `${JSON.stringify({ pid, startTime: processStartTime(pid), host: hostname() })}\n`,
    );
    const r = await f.run(['--now', NOW, 'nightly'], { PW_POOL_CRON_LOCK_WAIT_SECONDS: '1' });
    assert.equal(r.code, 5, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`Could not acquire lock .*pw-pool\\.lock within 1s \\(held by pid ${pid}\\)\\.`),
    );
    assert.equal(r.stdout, '');
    assert.equal(await readFile(logFile, 'utf8'), `${minute(100 * H)}\n`, 'log untouched');
    assert.ok(existsSync(lock), "the holder's lock stays");
  });
});
