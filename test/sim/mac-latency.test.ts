// Injected SSH latency on the simulated Macs (settings sshHandshakeMs, sshCommandMs): measured in
// real time from the client's side. Lower bounds only: a loaded machine may always be slower.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import type ssh2 from 'ssh2';
import {
  BOOT_S,
  connect,
  control,
  launch,
  launchReady,
  macState,
  probe,
  startMacSim,
  type Ssh,
} from './mac-helpers.js';
import type { TestContext } from 'node:test';
import type { SimCloud } from '../../src/sim/index.js';

const HANDSHAKE_MS = 300;
const COMMAND_MS = 200;

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

async function timedConnect(t: TestContext, sim: SimCloud, address: string) {
  return timed(() => connect(t, sim, address, { readyTimeoutMs: 10_000 }));
}

function openSftp(ssh: Ssh): Promise<ssh2.SFTPWrapper> {
  return new Promise((resolve, reject) =>
    ssh.client.sftp((err, sftp) => (err ? reject(err) : resolve(sftp))),
  );
}

describe('SSH latency on the simulated Macs', () => {
  test('startSimCloud({ macs }) slows every handshake and every command', async (t) => {
    const sim = await startMacSim(t, {
      macs: { sshHandshakeMs: HANDSHAKE_MS, sshCommandMs: COMMAND_MS },
    });
    const mac = await launchReady(sim);
    const { ms: handshakeMs, value: ssh } = await timedConnect(t, sim, mac.address);
    assert.ok(handshakeMs >= HANDSHAKE_MS, `handshake took ${handshakeMs} ms`);
    for (let i = 0; i < 2; i++) {
      const { ms } = await timed(() => probe(ssh, mac.name));
      assert.ok(ms >= COMMAND_MS, `command ${i + 1} took ${ms} ms`);
    }
    const { ms: sftpMs, value: sftp } = await timed(() => openSftp(ssh));
    sftp.end();
    assert.ok(sftpMs >= COMMAND_MS, `SFTP start took ${sftpMs} ms`);
    const state = await macState(sim, mac.name);
    assert.deepEqual(
      state.commands.map((c) => [c.op, c.exitCode]),
      [
        ['probe', 0],
        ['probe', 0],
      ],
      'the commands ran as usual',
    );
    const settings = (state as unknown as { settings: Record<string, unknown> }).settings;
    assert.equal(settings.sshHandshakeMs, HANDSHAKE_MS);
    assert.equal(settings.sshCommandMs, COMMAND_MS);
  });

  test('POST /_sim/macs sets it fleet-wide for later connections', async (t) => {
    const sim = await startMacSim(t);
    const a = launch(sim, 1);
    const b = launch(sim, 2);
    await sim.advance(60 + BOOT_S);
    const res = await control(sim, 'POST', '/_sim/macs', {
      sshHandshakeMs: HANDSHAKE_MS,
      sshCommandMs: COMMAND_MS,
    });
    assert.equal(res.status, 200);
    const body = res.json as { settings: { sshHandshakeMs: number; sshCommandMs: number } };
    assert.equal(body.settings.sshHandshakeMs, HANDSHAKE_MS);
    assert.equal(body.settings.sshCommandMs, COMMAND_MS);
    for (const mac of [a, b]) {
      const { ms, value: ssh } = await timedConnect(t, sim, mac.address);
      assert.ok(ms >= HANDSHAKE_MS, `${mac.name}: handshake took ${ms} ms`);
      const command = await timed(() => probe(ssh, mac.name));
      assert.ok(command.ms >= COMMAND_MS, `${mac.name}: command took ${command.ms} ms`);
    }
  });

  test('POST /_sim/macs/<name> sets it on one Mac', async (t) => {
    const sim = await startMacSim(t);
    const mac = await launchReady(sim);
    const res = await control(sim, 'POST', `/_sim/macs/${mac.name}`, {
      sshHandshakeMs: HANDSHAKE_MS,
      sshCommandMs: COMMAND_MS,
    });
    assert.equal(res.status, 200);
    const json = res.json as { overrides: Record<string, number> };
    assert.deepEqual(json.overrides, { sshHandshakeMs: HANDSHAKE_MS, sshCommandMs: COMMAND_MS });
    const { ms, value: ssh } = await timedConnect(t, sim, mac.address);
    assert.ok(ms >= HANDSHAKE_MS, `handshake took ${ms} ms`);
    const command = await timed(() => probe(ssh, mac.name));
    assert.ok(command.ms >= COMMAND_MS, `command took ${command.ms} ms`);
  });

  test('a changed command latency applies to the next command on an open connection', async (t) => {
    const sim = await startMacSim(t);
    const mac = await launchReady(sim);
    const ssh = (await timedConnect(t, sim, mac.address)).value;
    await probe(ssh, mac.name);
    await control(sim, 'POST', '/_sim/macs', { sshCommandMs: COMMAND_MS });
    const { ms } = await timed(() => probe(ssh, mac.name));
    assert.ok(ms >= COMMAND_MS, `command took ${ms} ms`);
  });

  test('an unreachable Mac still sends no banner; bad values are refused', async (t) => {
    const sim = await startMacSim(t, { macs: { sshHandshakeMs: 50 } });
    const mac = await launchReady(sim);
    await control(sim, 'POST', '/_sim/faults', { kind: 'unreachable', target: mac.name });
    await assert.rejects(
      connect(t, sim, mac.address, { readyTimeoutMs: 500 }),
      /Timed out while waiting for handshake/,
    );
    assert.equal((await macState(sim, mac.name)).ssh.listening, true);
    for (const bad of [{ sshHandshakeMs: -1 }, { sshCommandMs: 600_001 }, { sshCommandMs: '5' }]) {
      const res = await control(sim, 'POST', '/_sim/macs', bad);
      assert.equal(res.status, 400, JSON.stringify(bad));
    }
    await assert.rejects(
      startMacSim(t, { macs: { sshCommandMs: -5 } }),
      /mac settings/,
      'startSimCloud validates it too',
    );
  });
});
