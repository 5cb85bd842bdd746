// Maintenance mode (behavior.md §4.5) and the supervisor's side of it (§6.2): the timer is
// cancelled, the drop files and agent config go, and the listener stops under the drain rule.
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

const maintenance = (session: MacSession, name: string, drainSeconds: number) =>
  session.op('maintenance', ['cirrus', name, CIRRUS.listener, CIRRUS.job, String(drainSeconds)]);

async function assertCleanedUp(mac: SandboxMac) {
  for (const f of [
    '/Users/ec2-user/.setup.started',
    '/Users/ec2-user/.setup.done',
    '/Users/ec2-user/.setup.failed',
    '/Users/ec2-user/.pw-pool/cirrus-worker.yml',
    '/Users/ec2-user/.pw-pool/recycle.pid',
    '/Users/ec2-user/.pw-pool/recycle.deadline',
  ]) {
    assert.equal(await mac.file(f), undefined, `${f} should be gone`);
  }
  assert.equal((await processesMatching(mac, /pw-pool-recycle/)).length, 0, 'timer still alive');
  assert.equal(
    (await processesMatching(mac, /^sleep 3600$/)).length,
    0,
    "the timer's sleep survived",
  );
  // shutdown.sh, setup.sh and the libexec scripts stay installed (the Port of §6)
  assert.ok(await mac.file('/usr/local/libexec/pw-pool/shutdown.sh'));
}

const supervisorGone = (mac: SandboxMac, session: MacSession, name: string) =>
  waitFor('the supervisor to exit and the listener to stop', async () => {
    const r = await probe(session, name);
    const gone =
      r.reply?.get('supervisor') === 'dead' &&
      r.reply.get('listener') === 'absent' &&
      (await processesMatching(mac, /service_pool\.sh/)).length === 0;
    return gone ? r.reply : undefined;
  });

describe('maintenance, no job running', () => {
  const NAME = 'MacM1-11';
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

  it('the supervisor leaves its loop when PWPoolReady becomes false and stops the listener', async () => {
    mac.setTag('PWPoolReady', 'false');
    await supervisorGone(mac, session, NAME);
    const log = (await mac.readText('/Users/ec2-user/setup.log')) ?? '';
    assert.match(log, /##### \S+ Leaving the supervisor loop: PWPoolReady is 'false'\n/);
    assert.match(log, /##### \S+ Stopped Cirrus worker listener; supervisor exiting\n/);
    const kills = (await mac.standInLog()).filter(
      (c) => c.tool === 'pkill' && c.argv.join(' ') === `-u ${NAME}-worker -f cirrus worker run`,
    );
    assert.ok(kills.length >= 2, 'the supervisor pkills with -u and the exact pattern');
    for (const k of kills) assert.equal(k.user, 'root');
    assert.equal(await mac.file('/Users/ec2-user/.pw-pool/drain.started'), undefined);
  });

  it('cancels the timer and removes the drop files and the agent config', async () => {
    const r = await maintenance(session, NAME, 7200);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.reply?.keys, ['timer', 'drain', 'drain.started']);
    assert.equal(r.reply?.get('timer'), 'cancelled');
    assert.equal(r.reply?.get('drain'), 'none');
    assert.equal(r.reply?.get('drain.started'), '');
    await assertCleanedUp(mac);
    const p = await probe(session, NAME);
    for (const [k, v] of Object.entries({
      'setup.started': 'absent',
      'setup.done': 'absent',
      timer: 'absent',
      'agent.config': 'absent',
      listener: 'absent',
    })) {
      assert.equal(p.reply?.get(k), v, k);
    }
  });

  it('a second maintenance finds nothing to do', async () => {
    const r = await maintenance(session, NAME, 7200);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.reply?.get('timer'), 'none');
    assert.equal(r.reply?.get('drain'), 'none');
  });

  it('refuses bad arguments', async () => {
    for (const args of [
      ['cirrus', NAME, CIRRUS.listener, CIRRUS.job, '0'],
      ['cirrus', NAME, CIRRUS.listener, CIRRUS.job],
      ['cirrus', 'bad name', CIRRUS.listener, CIRRUS.job, '60'],
    ]) {
      const r = await session.op('maintenance', args);
      assert.equal(r.code, 3, `${JSON.stringify(args)}: ${r.stdout}${r.stderr}`);
    }
  });
});

/** A set-up cirrus worker with its supervisor, listener and one running job. */
async function workerWithRunningJob(
  name: string,
): Promise<{ mac: SandboxMac; session: MacSession }> {
  const mac = await startSandboxMac({ name });
  const session = await connect(mac);
  await setUpWorker(mac, session, { name });
  await mac.cirrus([{ startTask: true }, { job: 'start' }]);
  await waitFor('a job process', async () =>
    (await probe(session, name)).reply?.get('job') === 'alive' ? true : undefined,
  );
  return { mac, session };
}

describe('maintenance while the supervisor drains a running job', () => {
  const NAME = 'MacM1-12';
  let mac: SandboxMac;
  let session: MacSession;
  before(async () => {
    ({ mac, session } = await workerWithRunningJob(NAME));
  });
  after(async () => {
    session?.close();
    await mac?.close();
  });

  it('reports drain=waiting with the marker and keeps the listener', async () => {
    mac.setTag('PWPoolReady', 'false');
    const marker = await waitFor('the supervisor to start draining', async () =>
      (await mac.readText('/Users/ec2-user/.pw-pool/drain.started'))?.trim(),
    );
    const r = await maintenance(session, NAME, 7200);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.reply?.get('timer'), 'cancelled');
    assert.equal(r.reply?.get('drain'), 'waiting');
    assert.equal(r.reply?.get('drain.started'), marker);
    assert.match(marker, /^[0-9]+$/);
    const p = await probe(session, NAME);
    assert.equal(p.reply?.get('listener'), 'alive');
    assert.equal(p.reply?.get('job'), 'alive');
    assert.equal(p.reply?.get('supervisor'), 'alive');
    assert.equal(p.reply?.get('drain.started'), marker);
    await assertCleanedUp(mac);
  });

  it('once the job ends, the supervisor stops the listener and deletes the marker', async () => {
    await mac.cirrus([{ finishTask: 1 }, { job: 'stop' }]);
    const reply = await supervisorGone(mac, session, NAME);
    assert.equal(reply.get('drain.started'), '');
    assert.equal(reply.get('worker.log.finished'), '1');
  });
});

describe('maintenance before the supervisor noticed: the drain starts now', () => {
  const NAME = 'MacM1-14';
  let mac: SandboxMac;
  let session: MacSession;
  before(async () => {
    ({ mac, session } = await workerWithRunningJob(NAME));
  });
  after(async () => {
    session?.close();
    await mac?.close();
  });

  it('with a live supervisor and a running job, it writes the marker and reports drain=waiting', async () => {
    assert.equal(await mac.readText('/Users/ec2-user/.pw-pool/drain.started'), undefined);
    const before = Math.floor(Date.now() / 1000);
    const r = await maintenance(session, NAME, 7200);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.reply?.get('drain'), 'waiting');
    const marker = (await mac.readText('/Users/ec2-user/.pw-pool/drain.started'))?.trim() ?? '';
    assert.equal(r.reply?.get('drain.started'), marker);
    assert.ok(Number(marker) >= before && Number(marker) <= before + 60, marker);
    const p = await probe(session, NAME);
    assert.equal(p.reply?.get('listener'), 'alive', 'the listener is kept for the job');
    assert.equal(p.reply?.get('job'), 'alive');
  });

  it('the supervisor keeps that marker while it drains, then stops the listener', async () => {
    const marker = (await mac.readText('/Users/ec2-user/.pw-pool/drain.started'))?.trim();
    await waitFor('the supervisor to leave its loop', async () =>
      /Leaving the supervisor loop/.test((await mac.readText('/Users/ec2-user/setup.log')) ?? '')
        ? true
        : undefined,
    );
    assert.equal((await mac.readText('/Users/ec2-user/.pw-pool/drain.started'))?.trim(), marker);
    await mac.cirrus([{ finishTask: 1 }, { job: 'stop' }]);
    const reply = await supervisorGone(mac, session, NAME);
    assert.equal(reply.get('drain.started'), '');
  });
});

describe('maintenance applies the drain rule itself when no supervisor runs', () => {
  const NAME = 'MacM1-13';
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

  it('SIGTERM makes the supervisor exit at once, leaving the listener alone', async () => {
    const [supervisor] = await processesMatching(mac, /service_pool\.sh/);
    assert.ok(supervisor);
    process.kill(supervisor.pid, 'SIGTERM');
    await waitFor('the supervisor to exit', async () =>
      (await processesMatching(mac, /service_pool\.sh/)).length === 0 ? true : undefined,
    );
    const r = await probe(session, NAME);
    assert.equal(r.reply?.get('supervisor'), 'dead');
    assert.equal(r.reply?.get('listener'), 'alive');
    assert.match(
      (await mac.readText('/Users/ec2-user/setup.log')) ?? '',
      /Supervisor received SIGTERM/,
    );
  });

  it('with a job alive and a young marker: drain=waiting, the listener is kept', async () => {
    await mac.cirrus([{ startTask: true }, { job: 'start' }]);
    await waitFor('a job process', async () =>
      (await probe(session, NAME)).reply?.get('job') === 'alive' ? true : undefined,
    );
    const t0 = Math.floor(Date.now() / 1000);
    const r = await maintenance(session, NAME, 2);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.reply?.get('drain'), 'waiting');
    const marker = Number(r.reply?.get('drain.started'));
    assert.ok(marker >= t0 - 1 && marker <= t0 + 2, `drain.started ${marker}`);
    assert.equal(
      (await mac.readText('/Users/ec2-user/.pw-pool/drain.started'))?.trim(),
      String(marker),
    );
    assert.equal((await probe(session, NAME)).reply?.get('listener'), 'alive');
    // the marker is not reset by the next run
    const again = await maintenance(session, NAME, 2);
    assert.equal(again.reply?.get('drain.started'), String(marker));
  });

  it('once the marker is older than the drain: drain=done, the listener is killed', async () => {
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const r = await maintenance(session, NAME, 2);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.reply?.get('drain'), 'done');
    assert.equal(r.reply?.get('drain.started'), '');
    await waitFor('the listener to stop', async () =>
      (await probe(session, NAME)).reply?.get('listener') === 'absent' ? true : undefined,
    );
    assert.equal(await mac.file('/Users/ec2-user/.pw-pool/drain.started'), undefined);
  });
});

describe('maintenance with a listener and no job', () => {
  const NAME = 'MacM1-14';
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

  it('the supervisor sees its config gone and stops the listener (tag still true)', async () => {
    const r = await maintenance(session, NAME, 7200);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.reply?.get('timer'), 'cancelled');
    await supervisorGone(mac, session, NAME);
    assert.match(
      (await mac.readText('/Users/ec2-user/setup.log')) ?? '',
      /Leaving the supervisor loop: the agent config is gone/,
    );
    await assertCleanedUp(mac);
  });
});
