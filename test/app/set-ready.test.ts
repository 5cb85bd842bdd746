// set-ready with in-memory fakes: what is tagged, what is recorded, how failures end.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setReady } from '../../src/pw-lib/app/set-ready.js';
import { TargetError } from '../../src/pw-lib/app/resolve-target.js';
import type { AuditEvent, Journal } from '../../src/pw-lib/ports.js';
import {
  FakeClock,
  FakeEc2,
  RecordingOutput,
  awsError,
  memoryLogger,
  poolHost,
} from '../helpers/fakes.js';

const pool = { namePrefix: 'MacM1', purposeTagKey: 'purpose', purposeValue: 'prod' };

class RecordingJournal implements Journal {
  readonly events: AuditEvent[] = [];
  record(e: AuditEvent): Promise<void> {
    this.events.push(e);
    return Promise.resolve();
  }
}

class FailingTagsEc2 extends FakeEc2 {
  failFor = new Set<string>();
  override setTags(id: string, tags: Record<string, string>): Promise<void> {
    if (this.failFor.has(id))
      return Promise.reject(awsError('auth', 'UnauthorizedOperation', 'not allowed'));
    return super.setTags(id, tags);
  }
}

function world() {
  const ec2 = new FailingTagsEc2(new FakeClock(Date.parse('2026-12-01T00:00:00Z')));
  const h1 = poolHost('MacM1-1');
  const h2 = poolHost('MacM1-2');
  ec2.hosts = [
    h1,
    h2,
    poolHost('MacM1-3', { tags: { Name: 'MacM1-3', purpose: 'dev', PWPoolReady: 'true' } }),
  ];
  ec2.instances = [
    {
      instanceId: 'i-0000000000000000a',
      state: 'running',
      launchTime: '2026-11-30T00:00:00.000Z',
      hostId: h1.hostId,
      publicDnsName: 'ec2-a.example',
      tags: { Name: 'MacM1-1', purpose: 'prod', PWPoolReady: 'true' },
    },
  ];
  const out = new RecordingOutput();
  const journal = new RecordingJournal();
  const { log } = memoryLogger();
  return { ec2, h1, h2, out, journal, deps: { ec2, out, log, journal } };
}

describe('setReady', () => {
  it('a host target tags the host and its current instance, one audit event each', async () => {
    const w = world();
    const r = await setReady(pool, w.deps, {
      target: { kind: 'host', hostId: w.h1.hostId as string },
      value: 'false',
      dryRun: false,
    });
    assert.equal(r.exitCode, 0);
    assert.deepEqual(
      w.ec2.calls.filter((c) => c.startsWith('CreateTags')),
      [
        `CreateTags:${w.h1.hostId}:{"PWPoolReady":"false"}`,
        'CreateTags:i-0000000000000000a:{"PWPoolReady":"false"}',
      ],
    );
    assert.deepEqual(
      w.journal.events.map((e) => [e.action, e.reason, e.host, e.instance, e.name, e.detail]),
      [
        ['tag', 'set-ready', w.h1.hostId, 'i-0000000000000000a', 'MacM1-1', 'PWPoolReady=false'],
        ['tag', 'set-ready', w.h1.hostId, 'i-0000000000000000a', 'MacM1-1', 'PWPoolReady=false'],
      ],
    );
  });
  it('a host without an instance: only the host', async () => {
    const w = world();
    const r = await setReady(pool, w.deps, {
      target: { kind: 'host', hostId: w.h2.hostId as string },
      value: 'false',
      dryRun: false,
    });
    assert.equal(r.exitCode, 0);
    assert.equal(r.changes.length, 1);
    assert.match(w.out.lines.join('\n'), /has no instance/);
  });
  it('dry run: plans, calls nothing, records nothing', async () => {
    const w = world();
    const r = await setReady(pool, w.deps, {
      target: { kind: 'name', name: 'MacM1-1' },
      value: 'false',
      dryRun: true,
    });
    assert.equal(r.exitCode, 0);
    assert.equal(w.ec2.calls.filter((c) => c.startsWith('CreateTags')).length, 0);
    assert.equal(w.journal.events.length, 0);
    assert.match(
      w.out.lines[0] ?? '',
      /^would set PWPoolReady=false on instance i-0000000000000000a/,
    );
  });
  it('a failed CreateTags is exit 4 and no audit event; the other change still happens', async () => {
    const w = world();
    w.ec2.failFor.add(w.h1.hostId as string);
    const r = await setReady(pool, w.deps, {
      target: { kind: 'host', hostId: w.h1.hostId as string },
      value: 'false',
      dryRun: false,
    });
    assert.equal(r.exitCode, 4);
    assert.equal(r.failed, 1);
    assert.equal(w.journal.events.length, 1);
    assert.equal(w.journal.events[0]?.detail, 'PWPoolReady=false');
    assert.match(
      w.out.lines[0] ?? '',
      /^could not set PWPoolReady=false on host .*: UnauthorizedOperation: not allowed$/,
    );
  });
  it('refuses hosts and instances outside the pool with TargetError (exit 4)', async () => {
    const w = world();
    const other = w.ec2.hosts[2]?.hostId as string;
    await assert.rejects(
      setReady(pool, w.deps, {
        target: { kind: 'host', hostId: other },
        value: 'false',
        dryRun: false,
      }),
      (e: unknown) =>
        e instanceof TargetError &&
        e.exitCode === 4 &&
        /not a dedicated host of the pool/.test(e.message),
    );
    await assert.rejects(
      setReady(pool, w.deps, {
        target: { kind: 'instance', instanceId: 'i-0000000000000ffff' },
        value: 'false',
        dryRun: false,
      }),
      /Instance i-0000000000000ffff does not exist\./,
    );
    assert.equal(w.ec2.calls.filter((c) => c.startsWith('CreateTags')).length, 0);
  });
});
