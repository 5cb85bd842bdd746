// Force-stop (behavior.md §4.4 steps 2-3): wall with the message on stdin, the agent config and
// drop files removed, the supervisor terminated, the listener killed; each step best effort.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startSandboxMac, type SandboxMac } from '../sandbox/sandbox-mac.js';
import {
  CIRRUS,
  connect,
  probe,
  processesMatching,
  setUpWorker,
  waitFor,
  type MacSession,
} from './helpers.js';

const NAME = 'MacM1-21';
const MESSAGE = "Instance exceeded 24 apparent tasks. Terminating immediately! (it's 'quoted')";

describe('force-stop', () => {
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

  it('walls, removes the config and drop files, stops the supervisor and the listener now', async () => {
    const r = await session.op('force-stop', ['cirrus', NAME, CIRRUS.listener, MESSAGE]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.reply?.keys, ['wall', 'supervisor', 'listener']);
    assert.equal(r.reply?.get('wall'), 'ok');
    assert.equal(r.reply?.get('supervisor'), 'stopped');
    assert.equal(r.reply?.get('listener'), 'stopped');

    const calls = await mac.standInLog();
    const wall = calls.filter((c) => c.tool === 'wall');
    assert.equal(wall.length, 1);
    assert.deepEqual(wall[0]?.argv, []);
    assert.equal(wall[0]?.stdin, MESSAGE);
    assert.equal(wall[0]?.user, 'root');

    for (const f of [
      '/Users/ec2-user/.pw-pool/cirrus-worker.yml',
      '/Users/ec2-user/.setup.started',
      '/Users/ec2-user/.setup.done',
    ]) {
      assert.equal(await mac.file(f), undefined, f);
    }
    await waitFor('supervisor, listener and job to be gone', async () => {
      const gone =
        (await processesMatching(mac, /service_pool\.sh/)).length === 0 &&
        (await processesMatching(mac, /cirrus worker run/)).length === 0 &&
        (await processesMatching(mac, /^\/bin\/bash \S+\/cirrus-0\.150\.0-darwin-arm64 agent /))
          .length === 0;
      return gone ? true : undefined;
    });
    const log = (await mac.readText('/Users/ec2-user/setup.log')) ?? '';
    assert.match(log, /Supervisor received SIGTERM; exiting/);
    assert.doesNotMatch(log, /Leaving the supervisor loop/);
    const p = await probe(session, NAME);
    assert.equal(p.reply?.get('supervisor'), 'dead');
    assert.equal(p.reply?.get('listener'), 'absent');
    assert.equal(p.reply?.get('agent.config'), 'absent');
  });

  it('a second force-stop has nothing left to stop, and still walls', async () => {
    const r = await session.op('force-stop', ['cirrus', NAME, CIRRUS.listener, MESSAGE]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.reply?.get('wall'), 'ok');
    assert.equal(r.reply?.get('supervisor'), 'none');
    assert.equal(r.reply?.get('listener'), 'none');
  });

  it('refuses a multi-line message or bad arguments', async () => {
    for (const args of [
      ['cirrus', NAME, CIRRUS.listener, 'two\nlines'],
      ['cirrus', NAME, CIRRUS.listener, ''],
      ['cirrus', NAME, CIRRUS.listener],
    ]) {
      const r = await session.op('force-stop', args);
      assert.equal(r.code, 3, `${JSON.stringify(args)}: ${r.stdout}${r.stderr}`);
    }
  });
});

describe('force-stop on an instance that never got set up', () => {
  let mac: SandboxMac;
  let session: MacSession;
  before(async () => {
    mac = await startSandboxMac({ name: 'MacM1-22' });
    session = await connect(mac);
  });
  after(async () => {
    session?.close();
    await mac?.close();
  });

  it('is best effort: walls and reports nothing to stop', async () => {
    const r = await session.op('force-stop', [
      'cirrus',
      'MacM1-22',
      CIRRUS.listener,
      'Setup running for 2500s, max 2400s. Terminating immediately!',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.reply?.get('wall'), 'ok');
    assert.equal(r.reply?.get('supervisor'), 'none');
    assert.equal(r.reply?.get('listener'), 'none');
  });
});
