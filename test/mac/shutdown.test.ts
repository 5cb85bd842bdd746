// The recycling timer firing and shutdown.sh (behavior.md §6.3): it waits (up to the drain) for a
// running job of the worker, then runs `sudo shutdown -h now "Automatic instance recycling"`;
// maintenance cancels a shutdown.sh that is still waiting.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startSandboxMac, type SandboxMac } from '../sandbox/sandbox-mac.js';
import {
  CIRRUS,
  connect,
  installScripts,
  probe,
  processesMatching,
  setUpWorker,
  waitFor,
  type MacSession,
} from './helpers.js';

const setupLog = async (mac: SandboxMac) => (await mac.readText('/Users/ec2-user/setup.log')) ?? '';
const shutdowns = async (mac: SandboxMac) =>
  (await mac.standInLog()).filter((c) => c.tool === 'shutdown');

/** Kill the running timer (and its sleep) so that start-timer starts a new one. */
async function dropTimer(mac: SandboxMac) {
  for (const p of await processesMatching(mac, /pw-pool-recycle|^sleep 3600$/)) {
    process.kill(p.pid, 'SIGKILL');
  }
}

describe('the timer fires on an instance without a worker', () => {
  let mac: SandboxMac;
  let session: MacSession;
  before(async () => {
    mac = await startSandboxMac({ name: 'MacM1-51' });
    session = await connect(mac);
    await installScripts(session);
  });
  after(async () => {
    session?.close();
    await mac?.close();
  });

  it('shuts down at once, logging to setup.log', async () => {
    const r = await session.op('start-timer', ['1', '7200', CIRRUS.job]);
    assert.equal(r.reply?.get('timer'), 'started');
    const [call] = await waitFor('sudo shutdown', async () => {
      const s = await shutdowns(mac);
      return s.length > 0 ? s : undefined;
    });
    assert.deepEqual(call?.argv, ['-h', 'now', 'Automatic instance recycling']);
    assert.equal(call?.user, 'root');
    const log = await setupLog(mac);
    assert.match(log, /^##### Starting shutdown\.sh at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/m);
    assert.match(log, /^##### Initiating shutdown at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/m);
    assert.doesNotMatch(log, /Waiting up to/);
  });
});

describe('shutdown.sh and a running job', () => {
  const NAME = 'MacM1-52';
  let mac: SandboxMac;
  let session: MacSession;
  before(async () => {
    mac = await startSandboxMac({ name: NAME });
    session = await connect(mac);
    await setUpWorker(mac, session, { name: NAME });
    await mac.cirrus([{ startTask: true }, { job: 'start' }]);
    await waitFor('a job process', async () =>
      (await probe(session, NAME)).reply?.get('job') === 'alive' ? true : undefined,
    );
  });
  after(async () => {
    session?.close();
    await mac?.close();
  });

  it('waits for the job up to the drain, then times out and shuts down', async () => {
    await dropTimer(mac);
    const r = await session.op('start-timer', ['1', '3', CIRRUS.job]);
    assert.equal(r.reply?.get('timer'), 'started');
    await waitFor('sudo shutdown', async () =>
      (await shutdowns(mac)).length === 1 ? true : undefined,
    );
    const log = await setupLog(mac);
    assert.match(log, /^##### Waiting up to 0 hours for any running job$/m);
    assert.match(
      log,
      /^##### Found 'cirrus-\[0-9\]\[\^ \]\*-darwin-arm64 agent ' still running, waiting\.\.\.$/m,
    );
    assert.match(
      log,
      /^##### Timeout waiting for 'cirrus-\[0-9\]\[\^ \]\*-darwin-arm64 agent ' to terminate$/m,
    );
    assert.equal(
      (await probe(session, NAME)).reply?.get('job'),
      'alive',
      'shutdown.sh never kills jobs',
    );
  });

  it('maintenance cancels a shutdown.sh that is still waiting for the job', async () => {
    await mac.shell(': >"$HOME/setup.log"');
    const r = await session.op('start-timer', ['1', '3600', CIRRUS.job]);
    assert.equal(r.reply?.get('timer'), 'started');
    await waitFor('shutdown.sh to wait', async () =>
      /still running, waiting/.test(await setupLog(mac)) ? true : undefined,
    );
    const m = await session.op('maintenance', [
      'cirrus',
      NAME,
      CIRRUS.listener,
      CIRRUS.job,
      '7200',
    ]);
    assert.equal(m.code, 0, m.stderr);
    assert.equal(m.reply?.get('timer'), 'cancelled');
    assert.equal((await processesMatching(mac, /libexec\/pw-pool\/shutdown\.sh/)).length, 0);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal((await shutdowns(mac)).length, 1, 'no second shutdown');
  });
});
