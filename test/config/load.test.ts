import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { ConfigError } from '../../src/pw-lib/errors.js';
import { loadConfig, type LoadConfigInput } from '../../src/pw-lib/config/index.js';

/** A fresh home directory for one test, removed when the test ends. */
async function tempHome(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pw-pool-config-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function writeJson(path: string, value: unknown): Promise<string> {
  await writeFile(path, JSON.stringify(value));
  return path;
}

function input(home: string, more: Partial<LoadConfigInput> = {}): LoadConfigInput {
  return { overlays: [], flags: {}, env: {}, homeDir: home, uid: 1000, cwd: home, ...more };
}

async function loadProblems(args: LoadConfigInput): Promise<readonly string[]> {
  try {
    await loadConfig(args);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
  assert.fail('expected a ConfigError');
}

void describe('loadConfig', () => {
  void it('uses the defaults when the default config file is missing', async (t) => {
    const home = await tempHome(t);
    const { config, sources } = await loadConfig(input(home));
    assert.equal(config.namePrefix, 'MacM1');
    assert.equal(config.stateDir, join(home, '.local/state/pw-pool/MacM1-prod'));
    assert.deepEqual(sources.files, []);
  });

  void it('reads ~/.config/pw-pool/config.json by default', async (t) => {
    const home = await tempHome(t);
    await mkdir(join(home, '.config/pw-pool'), { recursive: true });
    const file = await writeJson(join(home, '.config/pw-pool/config.json'), { namePrefix: 'MacX' });
    const { config, sources } = await loadConfig(input(home));
    assert.equal(config.namePrefix, 'MacX');
    assert.deepEqual(sources.files, [file]);
    assert.equal(sources.origins.namePrefix, file);
  });

  void it('applies defaults < file < env < overlays < flags', async (t) => {
    const home = await tempHome(t);
    const file = await writeJson(join(home, 'c.json'), {
      namePrefix: 'FromFile',
      purposeValue: 'file',
      region: 'eu-west-1',
      ssh: { user: 'fileuser', port: 2201 },
      stateDir: '/file',
    });
    const o1 = await writeJson(join(home, 'o1.json'), {
      region: 'us-west-2',
      ssh: { port: 2202 },
      stateDir: '/overlay1',
    });
    const o2 = await writeJson(join(home, 'o2.json'), { stateDir: '/overlay2', logLevel: 'warn' });
    const { config, sources } = await loadConfig(
      input(home, {
        configPath: file,
        overlays: [o1, 'o2.json'],
        env: {
          PW_POOL_PURPOSE_VALUE: 'env',
          PW_POOL_REGION: 'ap-south-1',
          PW_POOL_SSH_PORT: '2200',
          PW_POOL_STATE_DIR: '/env',
          PW_POOL_LOG_LEVEL: 'error',
        },
        flags: { logLevel: 'debug', stateDir: undefined },
      }),
    );
    assert.equal(config.namePrefix, 'FromFile', 'file beats defaults');
    assert.equal(config.purposeValue, 'env', 'env beats file');
    assert.equal(config.region, 'us-west-2', 'overlay beats env');
    assert.equal(config.ssh.user, 'fileuser', 'sections deep-merge');
    assert.equal(config.ssh.port, 2202, 'an exported variable never beats an overlay');
    assert.equal(config.stateDir, '/overlay2', 'overlays apply in order');
    assert.equal(config.logLevel, 'debug', 'flags beat everything');
    assert.deepEqual(sources.files, [file, o1, o2]);
    assert.equal(sources.origins.purposeValue, 'PW_POOL_PURPOSE_VALUE');
    assert.equal(sources.origins['ssh.port'], o1);
    assert.equal(sources.origins.logLevel, '--log-level');
  });

  void it('reads the file named by PW_POOL_CONFIG, and --config wins over it', async (t) => {
    const home = await tempHome(t);
    const a = await writeJson(join(home, 'a.json'), { namePrefix: 'A' });
    const b = await writeJson(join(home, 'b.json'), { namePrefix: 'B' });
    const env = { PW_POOL_CONFIG: a };
    assert.equal((await loadConfig(input(home, { env }))).config.namePrefix, 'A');
    const both = await loadConfig(input(home, { env, configPath: b }));
    assert.equal(both.config.namePrefix, 'B');
    assert.deepEqual(both.sources.files, [b]);
  });

  void it('fails on a missing named config file or overlay', async (t) => {
    const home = await tempHome(t);
    const missing = join(home, 'missing.json');
    assert.deepEqual(await loadProblems(input(home, { env: { PW_POOL_CONFIG: missing } })), [
      `${missing}: config file (PW_POOL_CONFIG) not found`,
    ]);
    assert.deepEqual(await loadProblems(input(home, { configPath: missing })), [
      `${missing}: config file (--config) not found`,
    ]);
    assert.deepEqual(await loadProblems(input(home, { overlays: [missing] })), [
      `${missing}: overlay (--overlay) not found`,
    ]);
  });

  void it('names the file and position of a JSON syntax error', async (t) => {
    const home = await tempHome(t);
    const file = join(home, 'bad.json');
    await writeFile(file, '{\n  "namePrefix": "A",\n  "region": }\n');
    const problems = await loadProblems(input(home, { configPath: file }));
    assert.equal(problems.length, 1);
    assert.ok(problems[0]?.startsWith(`${file}: invalid JSON at line 3, column 13: `), problems[0]);
    const list = join(home, 'list.json');
    await writeFile(list, '[1]');
    assert.deepEqual(await loadProblems(input(home, { overlays: [list] })), [
      `${list}: overlay (--overlay) must hold a JSON object`,
    ]);
  });

  void it('reports problems from every source at once', async (t) => {
    const home = await tempHome(t);
    const file = await writeJson(join(home, 'c.json'), { ssh: { prot: 22 } });
    const overlay = await writeJson(join(home, 'o.json'), { cron: { lockWait: 1 } });
    const problems = await loadProblems(
      input(home, {
        configPath: file,
        overlays: [overlay, 'absent.json'],
        env: {
          PW_POOL_LAUNCH_STAGGER_SECONDS: 'abc',
          PW_POOL_NO_SUCH_KEY: '1',
          PW_POOL_ROOT: '/sandbox',
          PW_POOL_IMDS_URL: 'http://127.0.0.1:9',
        },
        flags: { 'ssh.port': 'x' },
      }),
    );
    assert.deepEqual(problems, [
      'PW_POOL_NO_SUCH_KEY (from environment): no configuration key maps to this variable',
      `${join(home, 'absent.json')}: overlay (--overlay) not found`,
      'launchStaggerSeconds (from PW_POOL_LAUNCH_STAGGER_SECONDS): expected an integer ≥ 0, got "abc"',
      'ssh.port (from --ssh.port): expected an integer from 1 to 65535, got "x"',
      `ssh.prot (from ${file}): unknown key`,
      `cron.lockWait (from ${overlay}): unknown key`,
    ]);
  });
});
