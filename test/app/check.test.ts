// check with in-memory fakes: the order of the lines, FAIL vs warn, every check runs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runChecks } from '../../src/pw-lib/app/check.js';
import type { CheckDeps } from '../../src/pw-lib/app/check.js';
import {
  FakeClock,
  FakeEc2,
  RecordingOutput,
  awsError,
  memoryLogger,
  poolHost,
} from '../helpers/fakes.js';

const settings = {
  pool: { namePrefix: 'MacM1', purposeTagKey: 'purpose', purposeValue: 'prod' },
  launchTemplateName: 'CirrusMacM1PWinstance',
};

function deps(ec2: FakeEc2 | Error, over: Partial<CheckDeps> = {}) {
  const out = new RecordingOutput();
  const d: CheckDeps = {
    ec2: () => (ec2 instanceof Error ? Promise.reject(ec2) : Promise.resolve(ec2)),
    sshAccess: () => Promise.resolve('identity file /k is an unencrypted private key'),
    agentSecret: () => Promise.resolve('present'),
    stateDir: () => Promise.resolve('/s is writable'),
    out,
    log: memoryLogger().log,
    ...over,
  };
  return { d, out };
}

function healthyEc2(): FakeEc2 {
  const ec2 = new FakeEc2(new FakeClock(0));
  ec2.hosts = [poolHost('MacM1-1'), poolHost('MacM1-2', { state: 'pending' })];
  ec2.template = { ...ec2.template, userDataText: '#!/bin/bash\nshutdown -h +2880\n' };
  return ec2;
}

describe('runChecks', () => {
  it('passes a healthy setup with one line per check, in order', async () => {
    const { d, out } = deps(healthyEc2());
    const r = await runChecks(settings, d);
    assert.equal(r.exitCode, 0);
    assert.deepEqual(
      out.lines.map((l) => l.split(':')[0]),
      [
        'ok   aws',
        'ok   hosts',
        'ok   launch-template',
        'ok   user-data',
        'ok   ssh',
        'ok   agent-secret',
        'ok   state-dir',
      ],
    );
  });
  it('a missing template fails; a failing probe fails; the rest still runs', async () => {
    const ec2 = healthyEc2();
    ec2.getLaunchTemplate = () =>
      Promise.reject(
        awsError('not-found', 'InvalidLaunchTemplateName.NotFoundException', 'no such template'),
      );
    const { d, out } = deps(ec2, {
      agentSecret: () => Promise.reject(new Error("Missing CI secret for agent 'cirrus'.")),
    });
    const r = await runChecks(settings, d);
    assert.equal(r.exitCode, 3);
    assert.ok(
      out.lines.includes(
        "FAIL launch-template: 'CirrusMacM1PWinstance' not found (launchTemplateName): InvalidLaunchTemplateName.NotFoundException: no such template",
      ),
    );
    assert.ok(out.lines.includes("FAIL agent-secret: Missing CI secret for agent 'cirrus'."));
    assert.ok(out.lines.some((l) => l.startsWith('ok   state-dir')));
  });
  it('refused credentials fail aws and hosts', async () => {
    const ec2 = healthyEc2();
    ec2.failDescribeHosts = awsError('auth', 'AuthFailure', 'bad credentials');
    const { d, out } = deps(ec2);
    const r = await runChecks(settings, d);
    assert.equal(r.exitCode, 3);
    assert.match(
      out.lines[0] ?? '',
      /^FAIL aws: credentials refused or missing in region us-east-1: AuthFailure: bad credentials$/,
    );
    assert.match(out.lines[1] ?? '', /^FAIL hosts: not checked/);
  });
  it('an EC2 client that cannot be built fails aws, hosts and template', async () => {
    const { d, out } = deps(new Error('no region'));
    const r = await runChecks(settings, d);
    assert.equal(r.exitCode, 3);
    assert.deepEqual(
      out.lines.slice(0, 3).map((l) => l.split(':')[0]),
      ['FAIL aws', 'FAIL hosts', 'FAIL launch-template'],
    );
  });
});
