// Mac faults through /_sim/faults: what each does to the SSH endpoint or to the Mac's model.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CIRRUS,
  cirrusSetupArgs,
  connect,
  control,
  exec,
  installScripts,
  launch,
  launchReady,
  macState,
  opScript,
  probe,
  probeArgs,
  runOp,
  SECRET,
  setUp,
  shQuote,
  startMacSim,
} from './mac-helpers.js';
import { BOOT_S } from './mac-helpers.js';

describe('Mac faults', () => {
  test('unreachable: TCP is accepted but no banner comes; the count runs out', async (t) => {
    const sim = await startMacSim(t);
    const mac = await launchReady(sim);
    const added = await control(sim, 'POST', '/_sim/faults', {
      kind: 'unreachable',
      target: mac.name,
      count: 1,
    });
    assert.equal(added.status, 201);
    assert.deepEqual(added.json, {
      id: 1,
      action: '*',
      kind: 'unreachable',
      value: null,
      target: mac.name,
      remaining: 1,
      hits: 0,
    });
    await assert.rejects(
      connect(t, sim, mac.address, { readyTimeoutMs: 300 }),
      /Timed out while waiting for handshake/,
    );
    await connect(t, sim, mac.address); // the count is used up
    assert.equal((await macState(sim, mac.name)).reachable, true);
  });

  test('a fault targets one Mac by Name (or value); others are untouched', async (t) => {
    const sim = await startMacSim(t);
    const a = launch(sim, 1);
    const b = launch(sim, 2);
    await sim.advance(60 + BOOT_S);
    await control(sim, 'POST', '/_sim/faults', { kind: 'unreachable', value: b.instanceId });
    await connect(t, sim, a.address);
    await assert.rejects(connect(t, sim, b.address, { readyTimeoutMs: 300 }), /Timed out/);
  });

  test('hang: the handshake completes, a command never gets an answer', async (t) => {
    const sim = await startMacSim(t);
    const mac = await launchReady(sim);
    await control(sim, 'POST', '/_sim/faults', { kind: 'hang', target: mac.name, count: 1 });
    const ssh = await connect(t, sim, mac.address);
    await assert.rejects(
      exec(
        ssh,
        `/bin/bash -s -- ${probeArgs(mac.name).map(shQuote).join(' ')}`,
        opScript('probe'),
        300,
      ),
      /timed out/,
    );
    const next = await connect(t, sim, mac.address);
    await probe(next, mac.name);
  });

  test('drop: the connection closes in the middle of the command, without an exit status', async (t) => {
    const sim = await startMacSim(t);
    const mac = await launchReady(sim);
    const ssh = await connect(t, sim, mac.address);
    await control(sim, 'POST', '/_sim/faults', { kind: 'drop', target: mac.name, count: 1 });
    const reply = await runOp(ssh, 'probe', probeArgs(mac.name));
    assert.equal(reply.code, undefined);
    assert.equal(reply.sentinel, false);
    assert.ok(reply.stdout.startsWith('protocol=1\n'), 'part of the answer arrived');
    const state = await macState(sim, mac.name);
    assert.equal(state.commands.at(-1)?.fault, 'drop');
    assert.equal(state.commands.at(-1)?.op, 'probe');

    // value "before": the command never runs (here: no timer is started).
    const again = await connect(t, sim, mac.address);
    await installScripts(again);
    await control(sim, 'POST', '/_sim/faults', { kind: 'drop', target: mac.name, value: 'before' });
    const dropped = await runOp(again, 'start-timer', ['3600', '60', CIRRUS.job]);
    assert.equal(dropped.code, undefined);
    assert.equal(dropped.stdout, '');
    await control(sim, 'DELETE', '/_sim/faults');
    const third = await connect(t, sim, mac.address);
    assert.equal((await probe(third, mac.name)).get('timer'), 'absent');
  });

  test('listener-crash: the supervisor restarts the listener within ~10 s', async (t) => {
    const sim = await startMacSim(t);
    const mac = await launchReady(sim);
    const ssh = await connect(t, sim, mac.address);
    await setUp(sim, ssh, mac);
    const before = (await macState(sim, mac.name)).listener?.pid;
    await control(sim, 'POST', '/_sim/faults', { kind: 'listener-crash', target: mac.name });
    assert.equal((await probe(ssh, mac.name)).get('listener'), 'absent');
    await sim.advance(10);
    const v = await probe(ssh, mac.name);
    assert.equal(v.get('listener'), 'alive');
    assert.equal(v.get('supervisor'), 'alive');
    assert.notEqual((await macState(sim, mac.name)).listener?.pid, before);
    const faults = (await control(sim, 'GET', '/_sim/faults')).json as {
      faults: { remaining: number; hits: number }[];
    };
    assert.deepEqual(
      faults.faults.map((f) => [f.remaining, f.hits]),
      [[0, 1]],
    );
  });

  test('listener-crash "persistent": no restart until the fault is removed', async (t) => {
    const sim = await startMacSim(t);
    const mac = await launchReady(sim);
    const ssh = await connect(t, sim, mac.address);
    await setUp(sim, ssh, mac);
    const added = await control(sim, 'POST', '/_sim/faults', {
      kind: 'listener-crash',
      target: mac.name,
      value: 'persistent',
    });
    await sim.advance(3600);
    let v = await probe(ssh, mac.name);
    assert.equal(v.get('listener'), 'absent');
    assert.equal(v.get('supervisor'), 'alive');
    await control(sim, 'DELETE', `/_sim/faults/${(added.json as { id: number }).id}`);
    await sim.advance(10);
    v = await probe(ssh, mac.name);
    assert.equal(v.get('listener'), 'alive');
  });

  test('supervisor-crash: the supervisor is dead, the listener keeps running', async (t) => {
    const sim = await startMacSim(t);
    const mac = await launchReady(sim);
    const ssh = await connect(t, sim, mac.address);
    await setUp(sim, ssh, mac);
    await control(sim, 'POST', '/_sim/faults', { kind: 'supervisor-crash', value: mac.name });
    await sim.advance(60);
    const v = await probe(ssh, mac.name);
    assert.equal(v.get('supervisor'), 'dead');
    assert.equal(v.get('listener'), 'alive');
  });

  test('host-key-change: the Mac presents a new key from now on', async (t) => {
    const sim = await startMacSim(t);
    const mac = await launchReady(sim);
    const first = await connect(t, sim, mac.address);
    const before = (await macState(sim, mac.name)).ssh.hostKeyFingerprint;
    await control(sim, 'POST', '/_sim/faults', { kind: 'host-key-change', target: mac.name });
    const second = await connect(t, sim, mac.address);
    const third = await connect(t, sim, mac.address);
    assert.notDeepEqual(first.hostKey, second.hostKey);
    assert.deepEqual(second.hostKey, third.hostKey);
    const after = await macState(sim, mac.name);
    assert.notEqual(after.ssh.hostKeyFingerprint, before);
    assert.equal(after.ssh.hostKey.split(' ')[1], second.hostKey.toString('base64'));
    await probe(first, mac.name); // an open connection keeps working
  });

  test('setup-fail: the next setup fails with the reason in .setup.failed', async (t) => {
    const sim = await startMacSim(t);
    const mac = await launchReady(sim);
    const ssh = await connect(t, sim, mac.address);
    await installScripts(ssh);
    await control(sim, 'POST', '/_sim/faults', {
      kind: 'setup-fail',
      target: mac.name,
      value: 'brew install vfkit failed',
    });
    await runOp(ssh, 'start-setup', cirrusSetupArgs(mac.name), SECRET);
    await sim.advance(700);
    const v = await probe(ssh, mac.name);
    assert.equal(v.get('setup.started'), 'present');
    assert.equal(v.get('setup.done'), 'absent');
    assert.equal(v.get('setup.failed'), 'present');
    assert.equal(v.get('setup.failed.reason'), 'brew install vfkit failed');
    assert.match(v.get('setup.log.last') ?? '', /Setup failed: brew install vfkit failed$/);
    assert.equal(v.get('supervisor'), 'absent');
    const state = await macState(sim, mac.name);
    assert.equal(state.setup?.phase, 'failed');
    assert.equal(state.files['/Users/ec2-user/.pw-pool/secret'], undefined);
  });

  test('bad fault specs are refused', async (t) => {
    const sim = await startMacSim(t);
    const bad = await control(sim, 'POST', '/_sim/faults', { kind: 'drop', value: 'sideways' });
    assert.equal(bad.status, 400);
    const ec2 = await control(sim, 'POST', '/_sim/faults', { kind: 'throttle' });
    assert.equal(ec2.status, 400, 'EC2 faults still need an action');
    const target = await control(sim, 'POST', '/_sim/faults', {
      action: '*',
      kind: 'throttle',
      target: 'MacM1-1',
    });
    assert.equal(target.status, 400);
  });
});
