// Serving a rendered state directory with the built CLI (`pw-pool serve --port 0`), for the e2e
// and the Chromium tests.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { TestContext } from 'node:test';
import { StateDir } from '../../src/pw-lib/adapters/state-dir.js';
import { writeStatusPage } from '../../src/pw-lib/app/status-page.js';
import { BIN, baseEnv } from './cli.js';
import { CSV, DH, NOW, PW, SETTINGS } from './status-fixtures.js';

/** Starts `pw-pool serve --port 0` on a state directory; resolves with its URL. */
export async function startServe(
  t: TestContext,
  stateDir: string,
  home: string,
): Promise<{ url: string; stop(): Promise<number | null> }> {
  const child = spawn(process.execPath, [BIN, '--state-dir', stateDir, 'serve', '--port', '0'], {
    env: baseEnv(home),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise<string>((resolve, reject) => {
    lines.on('line', (line) => {
      const m = /^Serving .* at (http:\/\/\S+) \(Ctrl-C stops\)$/.exec(line);
      if (m?.[1]) resolve(m[1]);
    });
    void exited.then((code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
  });
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** A state directory with the fixture files and a rendered page. */
export async function renderedStateDir(
  t: TestContext,
  generatedAtS = NOW,
): Promise<{ home: string; stateDir: string; store: StateDir }> {
  const home = await mkdtemp(join(tmpdir(), 'pw-pool-serve-'));
  t.after(() => rm(home, { recursive: true, force: true }));
  const stateDir = join(home, 'state');
  const store = new StateDir(stateDir);
  await store.writeAtomic('dh_status.txt', DH);
  await store.writeAtomic('pw_status.txt', PW);
  await store.writeAtomic('utilization.csv', CSV);
  await writeStatusPage(
    store,
    { ...SETTINGS, chartWindowSeconds: 93600, link: undefined },
    generatedAtS,
  );
  return { home, stateDir, store };
}
