// Whether a directory can be written (pw-pool check): create and delete a temporary file. A
// directory that does not exist yet is not created: its nearest existing parent must be writable.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, open, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export async function probeWritableDir(dir: string): Promise<string> {
  let info;
  try {
    info = await stat(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (info === undefined) {
    let parent = dirname(dir);
    for (;;) {
      try {
        await stat(parent);
        break;
      } catch {
        if (dirname(parent) === parent) break;
        parent = dirname(parent);
      }
    }
    try {
      await access(parent, constants.W_OK | constants.X_OK);
    } catch {
      throw new Error(`${dir} does not exist and ${parent} is not writable`);
    }
    return `${dir} does not exist yet; ${parent} is writable, the first run creates it`;
  }
  if (!info.isDirectory()) throw new Error(`${dir} is not a directory`);
  const probe = join(dir, `.pw-pool-check.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const handle = await open(probe, 'wx', 0o600);
    await handle.close();
  } catch (error) {
    throw new Error(
      `${dir} is not writable (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
    );
  } finally {
    await rm(probe, { force: true });
  }
  return `${dir} is writable`;
}
