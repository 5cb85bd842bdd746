// The pool lock (behavior.md §5.1, R8): an O_EXCL file holding pid, process start time and host.
// Hand-written rather than proper-lockfile: that library marks staleness by mtime and needs a
// refresh timer, while the contract defines staleness by pid and process start time.
import { readFileSync } from 'node:fs';
import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import { LockBusyError } from '../errors.js';
import type { LockHandle, PoolLock } from '../ports.js';

export const LOCK_FILE = 'pw-pool.lock';
/** A lock file without a complete record is being written; only an old one is stale. */
const TORN_RECORD_GRACE_MS = 5_000;
const TAKEOVER_GUARD_STALE_MS = 30_000;

interface LockRecord {
  readonly pid: number;
  readonly startTime: string | undefined;
  readonly host: string;
}

/** The process start time from /proc (clock ticks since boot), or undefined off Linux. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22, counted after the parenthesised command name, which may contain spaces.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19];
  } catch {
    return undefined;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function parseRecord(text: string): LockRecord | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockRecord>;
    if (typeof v.pid !== 'number' || typeof v.host !== 'string') return undefined;
    return {
      pid: v.pid,
      startTime: typeof v.startTime === 'string' ? v.startTime : undefined,
      host: v.host,
    };
  } catch {
    return undefined;
  }
}

/** A lock is stale when its holder (on this host) is gone or its start time differs. */
export function isStale(record: LockRecord | undefined): boolean {
  if (record === undefined) return true;
  if (record.host !== hostname()) return false;
  if (!pidAlive(record.pid)) return true;
  const start = processStartTime(record.pid);
  return record.startTime !== undefined && start !== undefined && start !== record.startTime;
}

export interface FileLockOptions {
  readonly path: string;
  readonly waitSeconds: number;
  readonly log: Logger;
  /** Poll interval; at most once per second (§5.1). */
  readonly pollMs?: number;
}

export class FileLock implements PoolLock {
  constructor(private readonly opts: FileLockOptions) {}

  private async tryCreate(): Promise<boolean> {
    const record: LockRecord = {
      pid: process.pid,
      startTime: processStartTime(process.pid),
      host: hostname(),
    };
    try {
      // O_EXCL; O_CLOEXEC is Node's default, so no child process inherits the descriptor.
      const handle = await open(this.opts.path, 'wx', 0o644);
      try {
        await handle.writeFile(`${JSON.stringify(record)}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    }
  }

  private async holder(): Promise<LockRecord | undefined> {
    try {
      return parseRecord(await readFile(this.opts.path, 'utf8'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /** Is the current lock file stale? An unreadable record counts only once it is old. */
  private async staleNow(): Promise<{ stale: boolean; holder: LockRecord | undefined }> {
    let text: string;
    let ageMs: number;
    try {
      const [content, info] = await Promise.all([
        readFile(this.opts.path, 'utf8'),
        stat(this.opts.path),
      ]);
      text = content;
      ageMs = Date.now() - info.mtimeMs;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT')
        return { stale: false, holder: undefined };
      throw error;
    }
    const holder = parseRecord(text);
    if (holder === undefined) return { stale: ageMs > TORN_RECORD_GRACE_MS, holder };
    return { stale: isStale(holder), holder };
  }

  /**
   * Removes a stale lock under a short-lived second O_EXCL file, so that two processes that both
   * saw the same stale lock cannot remove each other's fresh one.
   */
  private async takeOverStale(): Promise<boolean> {
    const guard = `${this.opts.path}.takeover`;
    let handle;
    try {
      handle = await open(guard, 'wx', 0o644);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const info = await stat(guard).catch(() => undefined);
      if (info !== undefined && Date.now() - info.mtimeMs > TAKEOVER_GUARD_STALE_MS) {
        await rm(guard, { force: true });
      }
      return false;
    }
    try {
      const again = await this.staleNow();
      if (again.stale) {
        this.opts.log.warn(
          { lock: this.opts.path, holderPid: again.holder?.pid },
          'taking over stale lock',
        );
        await rm(this.opts.path, { force: true });
      }
      return true;
    } finally {
      await handle.close();
      await rm(guard, { force: true });
    }
  }

  async acquire(): Promise<LockHandle> {
    await mkdir(dirname(this.opts.path), { recursive: true });
    const deadline = Date.now() + this.opts.waitSeconds * 1000;
    for (;;) {
      if (await this.tryCreate()) break;
      const { stale, holder } = await this.staleNow();
      if (stale && (await this.takeOverStale())) continue;
      if (Date.now() >= deadline) {
        throw new LockBusyError(
          `Could not acquire lock ${this.opts.path} within ${this.opts.waitSeconds}s (held by pid ${holder?.pid ?? 'unknown'}).`,
        );
      }
      await delay(Math.min(this.opts.pollMs ?? 1000, Math.max(1, deadline - Date.now())));
    }
    const path = this.opts.path;
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        const holder = await this.holder();
        if (holder?.pid === process.pid) await rm(path, { force: true });
      },
    };
  }
}
