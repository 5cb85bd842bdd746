// The system ssh command line of `pw-pool ssh` (§8.1).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SshArgvInput } from '../../src/pw-lib/core/ssh-argv.js';
import { buildSshArgv, shellWord, sshTraceLine } from '../../src/pw-lib/core/ssh-argv.js';

const base: SshArgvInput = {
  user: 'ec2-user',
  port: 22,
  identityFile: undefined,
  connectTimeoutSeconds: 13,
  hostKeyPolicy: 'accept-new',
  instanceId: 'i-0123456789abcdef0',
  knownHostsPath: '/state/known_hosts',
  dnsName: 'ec2-3-80-1-2.compute-1.amazonaws.com',
  vncForward: false,
  command: [],
};

describe('buildSshArgv', () => {
  it('pins the host key per instance id in the state directory', () => {
    assert.deepEqual(buildSshArgv(base), [
      '-p',
      '22',
      '-o',
      'ConnectTimeout=13',
      '-o',
      'StrictHostKeyChecking=accept-new',
      '-o',
      'HostKeyAlias=i-0123456789abcdef0',
      '-o',
      'UserKnownHostsFile=/state/known_hosts',
      '--',
      'ec2-user@ec2-3-80-1-2.compute-1.amazonaws.com',
    ]);
  });
  it('maps the host-key policies', () => {
    const policy = (p: SshArgvInput['hostKeyPolicy']) =>
      buildSshArgv({ ...base, hostKeyPolicy: p }).find((a) =>
        a.startsWith('StrictHostKeyChecking='),
      );
    assert.equal(policy('accept-new'), 'StrictHostKeyChecking=accept-new');
    assert.equal(policy('strict'), 'StrictHostKeyChecking=yes');
    assert.equal(policy('insecure'), 'StrictHostKeyChecking=no');
  });
  it('adds the identity file, port, VNC forward and the command after the destination', () => {
    const argv = buildSshArgv({
      ...base,
      port: 2222,
      identityFile: '/home/ops/id_ed25519',
      vncForward: true,
      command: ['tail', '-n', '5', 'setup.log'],
    });
    assert.deepEqual(argv.slice(0, 6), [
      '-L',
      '5900:localhost:5900',
      '-p',
      '2222',
      '-i',
      '/home/ops/id_ed25519',
    ]);
    const dest = argv.indexOf('ec2-user@ec2-3-80-1-2.compute-1.amazonaws.com');
    assert.equal(argv[dest - 1], '--');
    assert.deepEqual(argv.slice(dest + 1), ['tail', '-n', '5', 'setup.log']);
  });
  it('has no forward without --vnc', () => {
    assert.equal(buildSshArgv(base).includes('-L'), false);
  });
});

describe('sshTraceLine', () => {
  it('prints `+ ssh …` with shell quoting where needed', () => {
    assert.equal(shellWord("it's"), `'it'\\''s'`);
    assert.equal(shellWord('a b'), "'a b'");
    assert.equal(shellWord('ec2-user@host'), 'ec2-user@host');
    const line = sshTraceLine(buildSshArgv({ ...base, command: ['echo', 'hi there'] }));
    assert.match(
      line,
      /^\+ ssh -p 22 .* -- ec2-user@ec2-3-80-1-2\.compute-1\.amazonaws\.com echo 'hi there'$/,
    );
  });
});
