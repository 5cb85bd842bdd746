// The nightly use case against in-memory fakes (behavior.md §5.4).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runNightly } from '../../src/pw-lib/app/nightly.js';
import type { NightlyFiles } from '../../src/pw-lib/app/nightly.js';
import type { InstanceView } from '../../src/pw-lib/ports.js';
import {
  FakeClock,
  FakeEc2,
  MemoryStore,
  RecordingOutput,
  awsError,
  memoryLogger,
} from '../helpers/fakes.js';

const NOW_S = Date.parse('2026-03-10T04:59:00Z') / 1000;
const A = 'i-0000000000000000a';
const B = 'i-0000000000000000b';

function setup(knownHosts: string | undefined) {
  const clock = new FakeClock(NOW_S * 1000);
  const ec2 = new FakeEc2(clock);
  const store = new MemoryStore();
  if (knownHosts !== undefined) store.files.set('known_hosts', knownHosts);
  const out = new RecordingOutput();
  let ec2Created = 0;
  const removed: string[] = [];
  const files: NightlyFiles = {
    trimInPlace: () => Promise.resolve(undefined),
    listDir: () => Promise.resolve([{ name: 'x.tmp', isFile: true, mtimeMs: 0 }]),
    remove: (p) => {
      removed.push(p);
      return Promise.resolve();
    },
    fsNowMs: () => 10 * 86_400_000,
  };
  const run = () =>
    runNightly(
      {
        logFile: '/fake-state/Cron.log',
        keepLogSeconds: 172800,
        auditFile: 'audit.jsonl',
        knownHostsFile: 'known_hosts',
        tmpDirs: ['/fake-state'],
      },
      {
        ec2: () => {
          ec2Created += 1;
          return Promise.resolve(ec2);
        },
        store,
        files,
        out,
        log: memoryLogger().log,
      },
      { nowS: NOW_S },
    );
  return { ec2, store, out, run, removed, ec2Count: () => ec2Created };
}

const inst = (instanceId: string, state: string): InstanceView => ({
  instanceId,
  state,
  launchTime: undefined,
  hostId: undefined,
  publicDnsName: undefined,
  tags: {},
});

describe('runNightly (app, fakes)', () => {
  it('no known_hosts, no pinned instance: no EC2 client, no call', async () => {
    const f = setup('# nothing pinned\n');
    const r = await f.run();
    assert.equal(r.exitCode, 0);
    assert.equal(f.ec2Count(), 0);
    assert.deepEqual(f.out.lines, ['nightly running at 2026-03-10T04:59:00+00:00', 'rotated log']);
    assert.deepEqual(f.removed, ['/fake-state/x.tmp']);
  });

  it('prunes the terminated instance, keeps the running one, in one DescribeInstances', async () => {
    const f = setup(`${A} ssh-ed25519 AAAA\n${B} ssh-ed25519 BBBB\n`);
    f.ec2.instances = [inst(A, 'terminated'), inst(B, 'running')];
    const r = await f.run();
    assert.equal(r.exitCode, 0);
    assert.deepEqual(r.knownHostsPruned, [A]);
    assert.equal(f.store.files.get('known_hosts'), `${B} ssh-ed25519 BBBB\n`);
    assert.equal(f.ec2.calls.filter((c) => c.startsWith('DescribeInstances')).length, 1);
  });

  it('DescribeInstances fails: nothing pruned, exit 4, the temp step still runs', async () => {
    const f = setup(`${A} ssh-ed25519 AAAA\n`);
    f.ec2.describeInstancesById = () => Promise.reject(awsError('other', 'InternalError', 'boom'));
    const r = await f.run();
    assert.equal(r.exitCode, 4);
    assert.deepEqual(r.failures, ['known_hosts']);
    assert.equal(f.store.writes, 0);
    assert.deepEqual(f.removed, ['/fake-state/x.tmp']);
  });

  it('a bug is not swallowed', async () => {
    const f = setup(`${A} ssh-ed25519 AAAA\n`);
    f.ec2.describeInstancesById = () => Promise.reject(new TypeError('bug'));
    await assert.rejects(f.run(), TypeError);
  });
});
