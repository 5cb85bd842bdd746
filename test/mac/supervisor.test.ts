// The supervisor's loop (behavior.md §6.2): it restarts a listener that died, survives an expired
// IMDS token and one failed tag read, and gives up after two failed reads or an absent tag.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startSandboxMac, type SandboxMac } from '../sandbox/sandbox-mac.js';
import {
  connect,
  probe,
  processesMatching,
  setUpWorker,
  waitFor,
  type MacSession,
} from './helpers.js';

const setupLog = async (mac: SandboxMac) => (await mac.readText('/Users/ec2-user/setup.log')) ?? '';
const starts = (log: string) =>
  log.match(/##### \S+ Starting Cirrus worker listener as MacM1-\d+-worker\n/g)?.length ?? 0;

describe('supervisor loop', () => {
  const NAME = 'MacM1-41';
  let mac: SandboxMac;
  let session: MacSession;
  before(async () => {
    mac = await startSandboxMac({ name: NAME });
    session = await connect(mac);
    await setUpWorker(mac, session, { name: NAME });
  });
  after(async () => {
    session?.close();
    await mac?.close();
  });

  it('restarts a listener that died, and records its new pid', async () => {
    const [old] = await processesMatching(mac, /cirrus worker run/);
    assert.ok(old);
    assert.equal(starts(await setupLog(mac)), 1);
    process.kill(old.pid, 'SIGKILL');
    const fresh = await waitFor('a new listener', async () => {
      // (the sudo stand-in, before its exec, carries the same command line as ec2-user)
      const [p] = (await processesMatching(mac, /cirrus worker run/)).filter(
        (x) => x.user === `${NAME}-worker`,
      );
      return p !== undefined && p.pid !== old.pid ? p : undefined;
    });
    assert.equal(fresh.user, `${NAME}-worker`);
    assert.equal(starts(await setupLog(mac)), 2);
    await waitFor('listener.pid to name the new listener', async () =>
      (await mac.readText('/Users/ec2-user/.pw-pool/listener.pid'))?.trim() === String(fresh.pid)
        ? true
        : undefined,
    );
  });

  it('refreshes an expired IMDS token once and goes on', async () => {
    const before = mac.imds.requests().length;
    mac.imds.expireTokens();
    await waitFor('a refreshed token and a successful read', () => {
      const after = mac.imds.requests().slice(before);
      const i401 = after.findIndex((r) => r.status === 401);
      return i401 >= 0 &&
        after.slice(i401).some((r) => r.method === 'PUT' && r.status === 200) &&
        after.slice(i401).some((r) => r.method === 'GET' && r.status === 200)
        ? true
        : undefined;
    });
    const r = await probe(session, NAME);
    assert.equal(r.reply?.get('supervisor'), 'alive');
    assert.equal(r.reply?.get('agent.config'), 'present');
  });

  it('one failed tag read (recheck) is read again and tolerated', async () => {
    const before = mac.imds.requests().length;
    mac.imds.failTagReads(1, 500);
    await waitFor('a 500 followed by a good read', () => {
      const after = mac.imds.requests().slice(before);
      const i = after.findIndex((r) => r.status === 500);
      return i >= 0 && after.slice(i + 1).some((r) => r.status === 200) ? true : undefined;
    });
    const r = await probe(session, NAME);
    assert.equal(r.reply?.get('supervisor'), 'alive');
    assert.equal(r.reply?.get('listener'), 'alive');
    assert.doesNotMatch(await setupLog(mac), /Failed twice/);
  });

  it('two failed reads disable the listener: config removed, listener stopped, loop left', async () => {
    mac.imds.failTagReads(2, 503);
    await waitFor('the supervisor to exit', async () =>
      (await processesMatching(mac, /service_pool\.sh/)).length === 0 ? true : undefined,
    );
    const log = await setupLog(mac);
    assert.match(
      log,
      /^##### Failed twice to obtain PWPoolReady instance tag\. Disabling listener\.$/m,
    );
    assert.match(log, /Leaving the supervisor loop: PWPoolReady could not be read twice/);
    const r = await probe(session, NAME);
    assert.equal(r.reply?.get('agent.config'), 'absent');
    assert.equal(r.reply?.get('listener'), 'absent');
    assert.equal(r.reply?.get('supervisor'), 'dead');
  });
});

describe('supervisor and an absent PWPoolReady tag', () => {
  const NAME = 'MacM1-42';
  let mac: SandboxMac;
  let session: MacSession;
  before(async () => {
    mac = await startSandboxMac({ name: NAME });
    session = await connect(mac);
    await setUpWorker(mac, session, { name: NAME });
  });
  after(async () => {
    session?.close();
    await mac?.close();
  });

  it('a 404 reads as absent and ends the loop; the config stays', async () => {
    mac.setTag('PWPoolReady', undefined);
    await waitFor('the supervisor to exit', async () =>
      (await processesMatching(mac, /service_pool\.sh/)).length === 0 ? true : undefined,
    );
    assert.match(await setupLog(mac), /Leaving the supervisor loop: PWPoolReady is absent/);
    const r = await probe(session, NAME);
    assert.equal(r.reply?.get('listener'), 'absent');
    assert.equal(r.reply?.get('agent.config'), 'present');
  });
});
