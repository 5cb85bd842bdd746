// The state directory: fixed file names, atomic replacement with a `~` backup (behavior.md §3.4, R4).
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { StateStore } from '../ports.js';

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch {
    // some file systems refuse fsync on directories; the rename is still atomic
  } finally {
    await handle.close();
  }
}

function tempNameFor(target: string): string {
  return join(
    dirname(target),
    `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
}

async function writeTempSynced(target: string, content: string | Buffer): Promise<string> {
  const tmp = tempNameFor(target);
  const handle = await open(tmp, 'wx', 0o644);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw error;
  }
  await handle.close();
  return tmp;
}

/**
 * Replaces `target` atomically: (1) write and fsync a `*.tmp` file beside it; (2) copy the current
 * file byte for byte to `<target>~`, also by temp + rename; (3) rename the temp file over the target.
 * Readers never see a partial file; a failure leaves the old file intact. `backup: false` skips
 * step 2 (files that are only ever regenerated, like the metrics textfile).
 */
export async function replaceFileAtomic(
  target: string,
  content: string | Buffer,
  opts: { readonly backup?: boolean } = {},
): Promise<void> {
  await mkdir(dirname(target), { recursive: true });
  const tmp = await writeTempSynced(target, content);
  try {
    let current: Buffer | undefined;
    if (opts.backup !== false) {
      try {
        current = await readFile(target);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    if (current !== undefined) {
      const backupTmp = await writeTempSynced(`${target}~`, current);
      await rename(backupTmp, `${target}~`).catch(async (error: unknown) => {
        await rm(backupTmp, { force: true });
        throw error;
      });
    }
    await rename(tmp, target);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  await fsyncDir(dirname(target));
}

export class StateDir implements StateStore {
  constructor(readonly dir: string) {}

  pathOf(name: string): string {
    return join(this.dir, name);
  }

  async read(name: string): Promise<string | undefined> {
    try {
      return await readFile(this.pathOf(name), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async writeAtomic(name: string, content: string): Promise<void> {
    await replaceFileAtomic(this.pathOf(name), content);
  }

  async stat(name: string): Promise<{ readonly mtimeS: number } | undefined> {
    try {
      const st = await stat(this.pathOf(name));
      return { mtimeS: Math.floor(st.mtimeMs / 1000) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }
}
