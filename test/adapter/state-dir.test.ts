// Atomic replacement with a `~` backup (§3.4, R4).
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { StateDir } from '../../src/pw-lib/adapters/state-dir.js';

describe('StateDir', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pw-pool-state-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes, keeps the previous version as <f>~ byte for byte, and leaves no temp files', async () => {
    const store = new StateDir(join(dir, 'nested'));
    assert.equal(await store.read('x.txt'), undefined);
    await store.writeAtomic('x.txt', 'one\n');
    await assert.rejects(readFile(join(dir, 'nested', 'x.txt~')), { code: 'ENOENT' });
    await store.writeAtomic('x.txt', 'two\n');
    await store.writeAtomic('x.txt', 'three\n');
    assert.equal(await store.read('x.txt'), 'three\n');
    assert.equal(await readFile(join(dir, 'nested', 'x.txt~'), 'utf8'), 'two\n');
    assert.deepEqual((await readdir(join(dir, 'nested'))).sort(), ['x.txt', 'x.txt~']);
  });

  it('a failed replacement leaves the old file intact and no temp file behind', async () => {
    const sub = join(dir, 'fail');
    await mkdir(sub);
    const store = new StateDir(sub);
    await store.writeAtomic('y.txt', 'old\n');
    // A directory where the backup must go makes step (2) fail, even for root.
    await mkdir(join(sub, 'y.txt~', 'occupied'), { recursive: true });
    await assert.rejects(store.writeAtomic('y.txt', 'new\n'));
    assert.equal(await store.read('y.txt'), 'old\n');
    assert.deepEqual((await readdir(sub)).sort(), ['y.txt', 'y.txt~']);
  });
});
