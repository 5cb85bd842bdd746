// Secret files (behavior.md §2): the config names them; only this reads them.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { ConfigError } from '../errors.js';

/**
 * Reads a secret file and returns its contents without trailing whitespace. The file must be a
 * regular file (a symlink is followed), owned by the effective uid, with `(mode & 0o077) === 0`;
 * otherwise throws a ConfigError naming `label` (e.g. the config key) and the path, never the
 * contents. The checks run on the opened descriptor, so the file cannot be swapped in between.
 */
export async function readSecretFile(path: string, label = 'secret file'): Promise<string> {
  const fail = (problem: string, cause?: unknown): never => {
    throw new ConfigError([`${label} ${path}: ${problem}`], { cause });
  };
  // O_NONBLOCK: opening a FIFO must not hang; it is rejected as not a regular file below.
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK).catch(
    (error: unknown) =>
      fail(`cannot open: ${(error as NodeJS.ErrnoException).code ?? 'error'}`, error),
  );
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) fail('not a regular file');
    const euid = process.geteuid?.();
    if (euid !== undefined && stat.uid !== euid) {
      fail(`owned by uid ${stat.uid}, not by the effective uid ${euid}`);
    }
    if ((stat.mode & 0o077) !== 0) {
      const mode = (stat.mode & 0o777).toString(8).padStart(4, '0');
      fail(`mode ${mode} lets group or others access it; chmod 600 it`);
    }
    const text = (await handle.readFile('utf8')).trimEnd();
    if (text === '') fail('is empty');
    return text;
  } finally {
    await handle.close();
  }
}
