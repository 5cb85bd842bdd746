// check's pure verdicts: template settings, user data, hosts by state, the exit code.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TemplateFacts } from '../../src/pw-lib/core/check.js';
import {
  checkExitCode,
  fail,
  formatFinding,
  hostFindings,
  ok,
  templateFindings,
  userDataFinding,
  warn,
} from '../../src/pw-lib/core/check.js';

const pool = { namePrefix: 'MacM1', purposeTagKey: 'purpose', purposeValue: 'prod' };
const good: TemplateFacts = {
  name: 'CirrusMacM1PWinstance',
  version: '3',
  shutdownBehavior: 'terminate',
  httpTokens: 'required',
  instanceMetadataTags: 'enabled',
  userDataText: '#!/bin/bash\nshutdown -h +2880\n',
};

describe('templateFindings', () => {
  it('is all ok for the recommended template', () => {
    const f = templateFindings(good);
    assert.deepEqual(
      f.map((x) => x.status),
      ['ok', 'ok'],
    );
    assert.match(
      formatFinding(f[0]!),
      /^ok {3}launch-template: 'CirrusMacM1PWinstance' found, \$Default is version 3$/,
    );
  });
  it('warns for each setting RunInstances overrides (absent shutdown behaviour means stop)', () => {
    const f = templateFindings({
      ...good,
      shutdownBehavior: undefined,
      httpTokens: 'optional',
      instanceMetadataTags: undefined,
    });
    const warns = f.filter((x) => x.status === 'warn').map((x) => x.text);
    assert.equal(warns.length, 3);
    assert.match(warns[0]!, /InstanceInitiatedShutdownBehavior is 'stop'/);
    assert.match(warns[1]!, /HttpTokens is 'optional'/);
    assert.match(warns[2]!, /InstanceMetadataTags is 'absent'/);
    assert.equal(checkExitCode(f), 0);
  });
  it('warns when the user data sets no self-termination timer', () => {
    assert.equal(userDataFinding(undefined).status, 'warn');
    assert.equal(userDataFinding('#!/bin/bash\necho hello\n').status, 'warn');
    assert.equal(userDataFinding('#!/bin/bash\n/sbin/shutdown -h +2880\n').status, 'ok');
  });
});

describe('hostFindings', () => {
  const h = (name: string, state: string, ready = 'true', purpose = 'prod') => ({
    hostId: `h-${name}`,
    state,
    tags: { Name: name, purpose, PWPoolReady: ready },
  });
  it('fails when no host matches the pool tags', () => {
    const f = hostFindings(pool, [h('MacM1-1', 'available', 'true', 'dev')]);
    assert.deepEqual(
      f.map((x) => x.status),
      ['FAIL'],
    );
    assert.match(f[0]!.text, /no dedicated hosts found with tags Name=MacM1-\*, purpose=prod/);
    assert.equal(checkExitCode(f), 3);
  });
  it('counts by state and warns about disabled hosts', () => {
    const f = hostFindings(pool, [
      h('MacM1-1', 'available'),
      h('MacM1-2', 'pending'),
      h('MacM1-3', 'available', 'false'),
    ]);
    assert.equal(f[0]!.status, 'ok');
    assert.match(f[0]!.text, /^3 found with tags .*: 2 available, 1 pending$/);
    assert.equal(f[1]!.status, 'warn');
    assert.match(f[1]!.text, /1 of them disabled/);
  });
});

describe('checkExitCode and formatFinding', () => {
  it('passes with warnings, fails with any FAIL', () => {
    assert.equal(checkExitCode([ok('a', 'x'), warn('b', 'y')]), 0);
    assert.equal(checkExitCode([ok('a', 'x'), fail('b', 'y')]), 3);
    assert.equal(formatFinding(fail('ssh', 'no\nagent')), 'FAIL ssh: no agent');
    assert.equal(formatFinding(warn('ssh', 'w')), 'warn ssh: w');
  });
});
