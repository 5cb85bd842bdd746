import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { ConfigError } from '../../src/pw-lib/errors.js';
import { readSecretFile } from '../../src/pw-lib/config/index.js';

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pw-pool-secret-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function secret(dir: string, mode: number, text = 'tok-123\n'): Promise<string> {
  const path = join(dir, `secret-${mode.toString(8)}`);
  await writeFile(path, text, { mode });
  await chmod(path, mode);
  return path;
}

async function rejection(path: string): Promise<string> {
  try {
    await readSecretFile(path, 'github.tokenFile');
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    assert.equal(error.exitCode, 3);
    assert.equal(error.problems.length, 1);
    return error.problems[0] ?? '';
  }
  assert.fail('expected a ConfigError');
}

void describe('readSecretFile (§2)', () => {
  void it('accepts a 0600 (or 0400) file owned by the effective uid, without the final newline', async (t) => {
    const dir = await tempDir(t);
    assert.equal(await readSecretFile(await secret(dir, 0o600)), 'tok-123');
    assert.equal(await readSecretFile(await secret(dir, 0o400)), 'tok-123');
    const link = join(dir, 'link');
    await symlink(await secret(dir, 0o600), link);
    assert.equal(await readSecretFile(link), 'tok-123');
  });

  void it('rejects group- or world-accessible modes without revealing the contents', async (t) => {
    const dir = await tempDir(t);
    for (const mode of [0o644, 0o640, 0o604, 0o610]) {
      const path = await secret(dir, mode);
      const problem = await rejection(path);
      assert.equal(
        problem,
        `github.tokenFile ${path}: mode ${mode.toString(8).padStart(4, '0')} lets group or others access it; chmod 600 it`,
      );
      assert.ok(!problem.includes('tok-123'));
    }
  });

  void it('rejects a directory, a missing file and an empty file', async (t) => {
    const dir = await tempDir(t);
    const sub = join(dir, 'sub');
    await mkdir(sub, { mode: 0o700 });
    assert.equal(await rejection(sub), `github.tokenFile ${sub}: not a regular file`);
    const missing = join(dir, 'missing');
    assert.equal(await rejection(missing), `github.tokenFile ${missing}: cannot open: ENOENT`);
    const empty = await secret(dir, 0o600, '\n');
    assert.equal(await rejection(empty), `github.tokenFile ${empty}: is empty`);
  });
});
