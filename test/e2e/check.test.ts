// pw-pool check end to end: the built CLI against the simulated cloud. One line per check; exit 0
// with warnings only, 3 with any FAIL. Read-only: no lock, no state directory created.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { githubPoolFixture, macPoolFixture } from '../helpers/cli.js';

function statusOf(stdout: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const line of stdout.split('\n')) {
    const m = /^(ok|warn|FAIL) +([a-z-]+): /.exec(line);
    if (m) (out[m[2] as string] ??= []).push(m[1] as string);
  }
  return out;
}

describe('pw-pool check (e2e on the simulated cloud)', () => {
  it('passes on a healthy pool (the user-data warning does not fail it) and fails with the right line', async (t) => {
    const f = await macPoolFixture(t, { hosts: 3 });
    let r = await f.run(['check']);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.deepEqual(statusOf(r.stdout), {
      config: ['ok', 'warn'],
      aws: ['ok'],
      hosts: ['ok'],
      'launch-template': ['ok'],
      'user-data': ['warn'],
      ssh: ['ok'],
      'agent-secret': ['ok'],
      'state-dir': ['ok'],
    });
    assert.match(
      r.stdout,
      /^ok {3}hosts: 3 found with tags Name=MacM1-\*, purpose=prod: 3 available$/m,
    );
    assert.match(r.stdout, /^ok {3}launch-template: 'CirrusMacM1PWinstance' found/m);
    assert.match(r.stdout, /^warn user-data: the launch template has no user data/m);
    // The fixture leaves agent.kind at its default: the hosted Cirrus CI is gone, say so.
    assert.match(
      r.stdout,
      /^warn config: agent\.kind is 'cirrus' by default, and Cirrus CI's hosted service ended/m,
    );
    assert.match(
      r.stdout,
      /^ok {3}agent-secret: agent cirrus: the secret is present \(POOLTOKEN; not shown\)$/m,
    );
    assert.ok(
      !r.stdout.includes(f.token) && !r.stderr.includes(f.token),
      'the secret is never shown',
    );
    assert.match(r.stdout, /^ok {3}state-dir: .* does not exist yet; .* is writable/m);
    assert.equal(existsSync(f.stateDir), false, 'check creates nothing');

    // The recommended user data: a new $Default version of the template that shuts down after 2 days.
    await f.control('POST', '/_sim/launch-templates', {
      name: 'CirrusMacM1PWinstance',
      data: {
        instanceInitiatedShutdownBehavior: 'stop',
        metadataOptions: { httpTokens: 'required', instanceMetadataTags: 'enabled' },
        userData: Buffer.from('#!/bin/bash\nshutdown -h +2880\n').toString('base64'),
      },
    });
    r = await f.run(['check']);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(
      r.stdout,
      /^ok {3}user-data: the launch template user data sets a self-termination timer/m,
    );
    assert.match(
      r.stdout,
      /^warn launch-template: InstanceInitiatedShutdownBehavior is 'stop', not 'terminate'/m,
    );

    // The template is missing.
    r = await f.run(['check'], { PW_POOL_LAUNCH_TEMPLATE_NAME: 'NoSuchTemplate' });
    assert.equal(r.code, 3, r.stdout);
    assert.match(r.stdout, /^FAIL launch-template: 'NoSuchTemplate' not found/m);
    assert.deepEqual(statusOf(r.stdout).hosts, ['ok']);

    // No host carries the pool's tags.
    r = await f.run(['check'], { PW_POOL_PURPOSE_VALUE: 'nosuchpool' });
    assert.equal(r.code, 3, r.stdout);
    assert.match(
      r.stdout,
      /^FAIL hosts: no dedicated hosts found with tags Name=MacM1-\*, purpose=nosuchpool$/m,
    );

    // No secret, no ssh-agent and no identity file: two FAIL lines, every other check still runs.
    r = await f.run(['check'], { POOLTOKEN: '', PW_POOL_SSH_IDENTITY_FILE: '' });
    assert.equal(r.code, 3, r.stdout);
    const s = statusOf(r.stdout);
    assert.deepEqual(s['agent-secret'], ['FAIL']);
    assert.deepEqual(s.ssh, ['FAIL']);
    assert.deepEqual(s.aws, ['ok']);
    assert.match(r.stdout, /^FAIL ssh: Cannot access an ssh-agent\./m);

    // An invalid configuration is a FAIL line too.
    r = await f.run(['check'], { PW_POOL_NAME_PREFIX: 'bad-prefix' });
    assert.equal(r.code, 3, r.stdout);
    assert.match(r.stdout, /^FAIL config: namePrefix/m);
  });

  it('github-actions: the credentials are tried against GitHub and the runner group reported', async (t) => {
    const f = await githubPoolFixture(t, { hosts: 1 });
    let r = await f.run(['check']);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.deepEqual(statusOf(r.stdout).config, ['ok'], 'agent.kind is set: no cirrus warning');
    assert.match(
      r.stdout,
      /^ok {3}agent-secret: agent github-actions: GitHub http:\/\/127\.0\.0\.1:\d+ org \S+ answers with these credentials \(not shown\); runner group 'prod' will be created by the first setup run$/m,
    );
    assert.ok(
      !f.gh.state().groups.some((g) => g.name === 'prod'),
      'check creates nothing on GitHub',
    );
    // A key that is not this App's: GitHub refuses it, and the line says so without the key.
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    const wrongKey = join(f.home, 'wrong-app.pem');
    await writeFile(wrongKey, other, { mode: 0o600 });
    r = await f.run(['check'], { PW_POOL_GITHUB_APP_PRIVATE_KEY_FILE: wrongKey });
    assert.equal(r.code, 3, r.stdout);
    assert.match(r.stdout, /^FAIL agent-secret: .*401/m);
    const keyLine = other.split('\n')[1] ?? '';
    assert.ok(keyLine.length > 20 && !(r.stdout + r.stderr).includes(keyLine));
  });
});
