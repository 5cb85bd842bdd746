// In-place trimming of an append-only file and the listing of temp leftovers, for nightly
// (behavior.md §5.4). The trim keeps the file's inode: cron's shell holds it open with O_APPEND.
import { lstat, open, readdir, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { DirEntryInfo } from '../core/nightly.js';

export interface TrimResult {
  readonly bytesBefore: number;
  readonly bytesAfter: number;
}

async function readFrom(fh: FileHandle, position: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let at = position;
  for (;;) {
    const buf = Buffer.alloc(64 * 1024);
    const { bytesRead } = await fh.read(buf, 0, buf.length, at);
    if (bytesRead === 0) break;
    chunks.push(buf.subarray(0, bytesRead));
    at += bytesRead;
  }
  return Buffer.concat(chunks);
}

/**
 * Keeps the end of `path` from the byte offset `select` returns (it gets the content decoded as
 * latin1, so character offsets are byte offsets and no byte is altered), writing through the same
 * file: the kept bytes move to offset 0, then the file is truncated. Lines appended while this
 * runs are carried along, except in the instant between the last read and the truncate.
 * Returns undefined when the file does not exist.
 */
export async function trimFileInPlace(
  path: string,
  select: (text: string) => number,
): Promise<TrimResult | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r+');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const content = await readFrom(fh, 0);
    const from = Math.max(0, Math.min(select(content.toString('latin1')), content.length));
    if (from === 0) return { bytesBefore: content.length, bytesAfter: content.length };
    const appended = await readFrom(fh, content.length);
    const kept = Buffer.concat([content.subarray(from), appended]);
    if (kept.length > 0) await fh.write(kept, 0, kept.length, 0);
    await fh.truncate(kept.length);
    await fh.sync();
    return { bytesBefore: content.length + appended.length, bytesAfter: kept.length };
  } finally {
    await fh.close();
  }
}

/** The entries of `dir` with their type and mtime (symlinks are not files); a missing directory has none. */
export async function listDir(dir: string): Promise<DirEntryInfo[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const out: DirEntryInfo[] = [];
  for (const name of names) {
    try {
      const info = await lstat(join(dir, name));
      out.push({ name, isFile: info.isFile(), mtimeMs: info.mtimeMs });
    } catch {
      // vanished meanwhile
    }
  }
  return out;
}

export async function removeFile(path: string): Promise<void> {
  await rm(path, { force: true });
}
