// The control API of the simulated Macs: their state in /_sim/state, /_sim/macs settings and
// overrides, and scripted changes (sshReadyAt) that the SSH listeners follow.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BOOT_S,
  connect,
  control,
  exec,
  launch,
  launchReady,
  macState,
  opScript,
  probeArgs,
  setUp,
  shQuote,
  startMacSim,
  type MacJson,
} from './mac-helpers.js';

interface StateJson {
  sshPort: number;
  instances: { instanceId: string; name: string; mac: MacJson | null }[];
}

describe('Mac control API', () => {
  test('/_sim/state shows each instance with its Mac', async (t) => {
    const sim = await startMacSim(t);
    const mac = await launchReady(sim);
    const ssh = await connect(t, sim, mac.address);
    await setUp(sim, ssh, mac);
    const state = (await control(sim, 'GET', '/_sim/state')).json as StateJson;
    assert.equal(state.sshPort, sim.sshPort);
    const entry = state.instances.find((i) => i.instanceId === mac.instanceId);
    assert.ok(entry?.mac);
    assert.equal(entry.mac.power, 'on');
    assert.equal(entry.mac.reachable, true);
    assert.equal(entry.mac.address, mac.address);
    assert.deepEqual(
      entry.mac.processes.map((p) => [p.role, p.user]),
      [
        ['supervisor', 'ec2-user'],
        ['listener', 'MacM1-1-worker'],
      ],
    );
    assert.equal(entry.mac.setup?.phase, 'done');
    assert.equal(entry.mac.files['/Users/ec2-user/.setup.done']?.owner, 'ec2-user');
    assert.deepEqual(
      entry.mac.commands.map((c) => c.op),
      ['install', 'start-setup'],
    );
  });

  test('the environment a client sends is recorded with the command', async (t) => {
    const sim = await startMacSim(t);
    const mac = await launchReady(sim);
    const ssh = await connect(t, sim, mac.address);
    const command = `/bin/bash -s -- ${probeArgs(mac.name).map(shQuote).join(' ')}`;
    await new Promise<void>((resolve, reject) =>
      ssh.client.exec(command, { env: { PW_POOL_ROOT: '/sandbox' } }, (err, channel) => {
        if (err) return reject(err);
        channel.on('data', () => undefined);
        channel.on('close', () => resolve());
        channel.end(opScript('probe'));
      }),
    );
    const recorded = (await macState(sim, mac.name)).commands.at(-1);
    assert.deepEqual(recorded?.env, { PW_POOL_ROOT: '/sandbox' });
    assert.equal(recorded?.stdinBytes, Buffer.byteLength(opScript('probe')));
    assert.equal(recorded?.form, 'stdin');
  });

  test('POST /_sim/macs tunes every Mac; boot delays apply to later launches', async (t) => {
    const sim = await startMacSim(t);
    const tuned = await control(sim, 'POST', '/_sim/macs', {
      setupSeconds: 120,
      setupJitterSeconds: 0,
      taskRatePerHour: 0,
      bootMinS: 30,
      bootMaxS: 30,
    });
    assert.equal(tuned.status, 200);
    const body = tuned.json as {
      sshPort: number;
      settings: { setupSeconds: number; taskRatePerHour: number };
      timings: { bootMinS: number; bootMaxS: number };
    };
    assert.equal(body.sshPort, sim.sshPort);
    assert.equal(body.settings.setupSeconds, 120);
    assert.deepEqual(body.timings, { bootMinS: 30, bootMaxS: 30 });
    const mac = launch(sim);
    await sim.advance(60 + 30);
    const ssh = await connect(t, sim, mac.address);
    await setUp(sim, ssh, mac); // advances 700 s: far more than 120
    const state = await macState(sim, mac.name);
    assert.equal(state.setup?.phase, 'done');
    const bad = await control(sim, 'POST', '/_sim/macs', { setupSeconds: -1, bootMinS: 1 });
    assert.equal(bad.status, 400);
    assert.equal(sim.world.timings.bootMinS, 30, 'a refused patch changes nothing');
    const unknown = await control(sim, 'POST', '/_sim/macs', { colour: 'blue' });
    assert.equal(unknown.status, 400);
    const list = (await control(sim, 'GET', '/_sim/macs')).json as { macs: MacJson[] };
    assert.deepEqual(
      list.macs.map((m) => m.instanceId),
      [mac.instanceId],
    );
  });

  test('POST /_sim/macs/<name> overrides one Mac; unknown Macs are 404', async (t) => {
    const sim = await startMacSim(t);
    const mac = await launchReady(sim);
    const res = await control(sim, 'POST', `/_sim/macs/${mac.name}`, { taskRatePerHour: 30 });
    assert.equal(res.status, 200);
    const json = res.json as MacJson & { overrides: { taskRatePerHour: number } };
    assert.equal(json.overrides.taskRatePerHour, 30);
    assert.equal((await control(sim, 'GET', '/_sim/macs/MacM1-7')).status, 404);
    assert.equal((await control(sim, 'POST', '/_sim/macs/MacM1-7/task', {})).status, 404);
    const idle = await control(sim, 'POST', `/_sim/macs/${mac.name}/task`, {});
    assert.equal(idle.status, 409, 'no listener yet');
  });

  test('a scripted sshReadyAt moves the moment the Mac starts listening', async (t) => {
    const sim = await startMacSim(t);
    const mac = launch(sim);
    await sim.advance(60);
    const soon = new Date(sim.clock.now().getTime() + 10_000).toISOString();
    const scripted = await control(sim, 'POST', `/_sim/instances/${mac.name}`, {
      sshReadyAt: soon,
    });
    assert.equal(scripted.status, 200);
    assert.equal((await macState(sim, mac.name)).power, 'booting');
    const advanced = await control(sim, 'POST', '/_sim/advance', { seconds: 10 });
    assert.equal(advanced.status, 200);
    const state = await macState(sim, mac.name);
    assert.equal(state.power, 'on');
    assert.equal(state.reachable, true);
    await connect(t, sim, mac.address); // listening as soon as the control call returned
    assert.ok(BOOT_S > 10);
  });

  test('a stopped instance is unreachable; a scripted restart boots it again', async (t) => {
    const sim = await startMacSim(t);
    const mac = await launchReady(sim);
    const ssh = await connect(t, sim, mac.address);
    await setUp(sim, ssh, mac);
    const closed = new Promise<void>((resolve) => ssh.client.once('close', () => resolve()));
    await control(sim, 'POST', `/_sim/instances/${mac.name}`, { state: 'stopping' });
    await closed;
    assert.equal((await macState(sim, mac.name)).reachable, false);
    await control(sim, 'POST', `/_sim/instances/${mac.name}`, { state: 'running' });
    await sim.advance(BOOT_S);
    const again = await connect(t, sim, mac.address);
    const reply = await exec(
      again,
      `/bin/bash -s -- ${probeArgs(mac.name).map(shQuote).join(' ')}`,
      opScript('probe'),
    );
    assert.equal(reply.code, 0);
    // After a reboot nothing runs; the disk keeps the drop files, /private/tmp is empty.
    assert.match(reply.stdout, /^setup\.done=present$/m);
    assert.match(reply.stdout, /^supervisor=dead$/m);
    assert.match(reply.stdout, /^worker\.log=absent$/m);
  });
});
