// pw-pool ssh end to end: the built CLI runs the system OpenSSH client against a simulated Mac, with
// the host key pw-pool pinned per instance id (HostKeyAlias) in the state directory's known_hosts.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { macPoolFixture } from '../helpers/cli.js';

describe('pw-pool ssh (e2e on simulated Macs, system ssh)', () => {
  it('connects with the pinned key, runs the command, and exits with ssh’s code', async (t) => {
    const f = await macPoolFixture(t, { hosts: 2 });
    await f.launchAll();
    await f.advance(90);
    // setup-instances pins the host key under the instance id (accept-new).
    const setup = await f.run(['setup-instances']);
    assert.equal(setup.code, 0, setup.stderr);
    const inst = await f.instance('MacM1-1');
    const knownHosts = join(f.stateDir, 'known_hosts');
    assert.match(
      await readFile(knownHosts, 'utf8'),
      new RegExp(`^${inst.instanceId} ssh-ed25519 `, 'm'),
    );

    // strict: OpenSSH must find that key through HostKeyAlias, or it refuses to connect.
    const strict = { PW_POOL_SSH_HOST_KEY_POLICY: 'strict' };
    const r = await f.run(['ssh', 'MacM1-1', '--', 'echo', 'hi there'], strict);
    const trace = r.stderr.split('\n').find((l) => l.startsWith('+ ssh '));
    assert.equal(
      trace,
      `+ ssh -p ${f.sim.sshPort} -i ${f.env.PW_POOL_SSH_IDENTITY_FILE} -o ConnectTimeout=13` +
        ` -o StrictHostKeyChecking=yes -o HostKeyAlias=${inst.instanceId}` +
        ` -o UserKnownHostsFile=${knownHosts} -- ec2-user@${inst.publicDnsName} echo 'hi there'`,
    );
    // The simulated Mac answers only pw-pool's protocol: any other command is "command not
    // found", exit 127, which ssh passes through. Reaching it proves the connection and auth.
    assert.equal(r.code, 127, r.stderr);
    assert.match(r.stderr, /simulated Mac: echo: command not found/);
    const after = await f.instance('MacM1-1');
    assert.ok(after.mac?.commands.some((c) => c.command === 'echo hi there'));

    // by instance id: the same
    const byId = await f.run(['ssh', inst.instanceId, '--', 'true'], strict);
    assert.equal(byId.code, 127, byId.stderr);

    // A changed host key is refused under strict: ssh's own exit code 255.
    await f.control('POST', '/_sim/faults', { kind: 'host-key-change', target: 'MacM1-1' });
    const changed = await f.run(['ssh', 'MacM1-1', '--', 'true'], strict);
    assert.equal(changed.code, 255, changed.stderr);
    assert.match(changed.stderr, /Host key verification failed/);
  });

  it('fails with the contract’s message when the instance does not exist or has no DNS name', async (t) => {
    const f = await macPoolFixture(t, { hosts: 1 });
    let r = await f.run(['ssh', 'MacM1-7']);
    assert.equal(r.code, 4, r.stderr);
    assert.match(
      r.stderr,
      /^pw-pool: Instance 'MacM1-7' does not exist, or have a public DNS address allocated \(yet\)\.$/m,
    );
    assert.doesNotMatch(r.stderr, /^\+ ssh/m);
    r = await f.run(['ssh', 'i-0123456789abcdef0']);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /Instance 'i-0123456789abcdef0' does not exist, or have a public DNS/);
    r = await f.run(['ssh', 'h-0123456789abcdef0']);
    assert.equal(r.code, 2, r.stderr);
    r = await f.run(['ssh', 'MacM1-1; id']);
    assert.equal(r.code, 2, r.stderr);
  });
});
