// The pool lock (§5.1): O_EXCL, pid + start time + host, stale takeover, timeout message.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FileLock, processStartTime } from '../../src/pw-lib/adapters/lock.js';
import { LockBusyError } from '../../src/pw-lib/errors.js';
import { memoryLogger } from '../helpers/fakes.js';

describe('FileLock', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pw-pool-lock-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const lockAt = (name: string, waitSeconds = 0) =>
    new FileLock({ path: join(dir, name), waitSeconds, log: memoryLogger().log, pollMs: 20 });

  it('records pid, start time and host, and removes the file on release', async () => {
    const handle = await lockAt('a.lock').acquire();
    const record = JSON.parse(await readFile(join(dir, 'a.lock'), 'utf8')) as Record<
      string,
      unknown
    >;
    assert.equal(record.pid, process.pid);
    assert.equal(record.host, hostname());
    assert.equal(record.startTime, processStartTime(process.pid));
    await handle.release();
    await assert.rejects(readFile(join(dir, 'a.lock')), { code: 'ENOENT' });
  });

  it('a held lock makes a second taker wait, then fail with the contract message', async () => {
    const handle = await lockAt('b.lock').acquire();
    try {
      await assert.rejects(lockAt('b.lock', 1).acquire(), (error: unknown) => {
        assert.ok(error instanceof LockBusyError);
        assert.equal(error.exitCode, 5);
        assert.equal(
          error.message,
          `Could not acquire lock ${join(dir, 'b.lock')} within 1s (held by pid ${process.pid}).`,
        );
        return true;
      });
    } finally {
      await handle.release();
    }
  });

  it('a waiting taker gets the lock once it is released', async () => {
    const first = await lockAt('c.lock').acquire();
    const second = lockAt('c.lock', 5).acquire();
    setTimeout(() => void first.release(), 100);
    const handle = await second;
    await handle.release();
  });

  it('takes over a lock whose holder is gone', async () => {
    const child = spawn(process.execPath, ['-e', '0']);
    const pid = child.pid ?? assert.fail('no pid');
    await new Promise((resolve) => child.on('exit', resolve));
    await writeFile(join(dir, 'd.lock'), JSON.stringify({ pid, startTime: '1', host: hostname() }));
    const handle = await lockAt('d.lock').acquire();
    const record = JSON.parse(await readFile(join(dir, 'd.lock'), 'utf8')) as { pid: number };
    assert.equal(record.pid, process.pid);
    await handle.release();
  });

  it('a child process started by the holder keeps no part of the lock after the holder dies', async (t) => {
    // The holder takes the lock with the real FileLock, starts a long-lived child that inherits
    // its stdio, then is killed without releasing: the child must not keep the lock alive.
    const path = join(dir, 'child.lock');
    const script = `
      import { FileLock } from ${JSON.stringify(new URL('../../src/pw-lib/adapters/lock.ts', import.meta.url).href)};
      import { spawn } from 'node:child_process';
      import pino from 'pino';
      await new FileLock({ path: ${JSON.stringify(path)}, waitSeconds: 0, log: pino({ level: 'silent' }) }).acquire();
      const child = spawn('sleep', ['30'], { stdio: 'inherit' });
      process.stdout.write(String(child.pid) + '\\n');
      setInterval(() => {}, 1000);
    `;
    const holder = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const childPid = await new Promise<number>((resolve, reject) => {
      holder.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
      holder.once('exit', (code) => reject(new Error(`holder exited ${code}`)));
    });
    t.after(() => {
      try {
        process.kill(childPid, 'SIGKILL');
      } catch {
        // already gone
      }
    });
    const record = JSON.parse(await readFile(path, 'utf8')) as { pid: number };
    assert.equal(record.pid, holder.pid, 'the lock names the pw-pool process, not its child');
    await assert.rejects(
      lockAt('child.lock').acquire(),
      LockBusyError,
      'held while the holder lives',
    );
    holder.kill('SIGKILL');
    await new Promise((resolve) => holder.once('exit', resolve));
    process.kill(childPid, 0); // the child is still running
    const handle = await lockAt('child.lock').acquire();
    await handle.release();
  });

  it('takes over a lock whose pid was reused by another process (start time differs)', async () => {
    await writeFile(
      join(dir, 'e.lock'),
      JSON.stringify({ pid: process.pid, startTime: '1', host: hostname() }),
    );
    const handle = await lockAt('e.lock').acquire();
    await handle.release();
  });

  it('does not take over a live holder on this host', async () => {
    await writeFile(
      join(dir, 'f.lock'),
      JSON.stringify({
        pid: process.pid,
        startTime: processStartTime(process.pid),
        host: hostname(),
      }),
    );
    await assert.rejects(lockAt('f.lock').acquire(), LockBusyError);
  });

  it('never takes over a lock held on another host', async () => {
    await writeFile(
      join(dir, 'g.lock'),
      JSON.stringify({ pid: 1, startTime: '1', host: `${hostname()}-other` }),
    );
    await assert.rejects(lockAt('g.lock').acquire(), LockBusyError);
  });
});
