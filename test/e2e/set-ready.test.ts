// set-ready end to end: the built CLI against the simulated cloud; tags, refusals, audit lines.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { poolFixture } from '../helpers/cli.js';
import type { PoolFixture } from '../helpers/cli.js';

async function auditLines(f: PoolFixture): Promise<Record<string, unknown>[]> {
  const path = join(f.stateDir, 'audit.jsonl');
  if (!existsSync(path)) return [];
  return (await readFile(path, 'utf8'))
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((a) => a.command === 'set-ready'); // launch-instances records its launches too
}

function createTags(f: PoolFixture): number {
  return f.sim.requestLog.list().filter((r) => r.action === 'CreateTags' && r.status === 200)
    .length;
}

function inst(f: PoolFixture, ref: string) {
  const i = f.sim.world.instance(ref);
  assert.ok(i, ref);
  return i;
}

describe('pw-pool set-ready (e2e on the simulated cloud)', () => {
  it('an audit log that cannot be appended to is exit 4; the tag change itself stands', async (t) => {
    const f = await poolFixture(t, { hosts: 1 });
    const launched = await f.run(['launch-instances', '--force']);
    assert.equal(launched.code, 0, launched.stderr);
    // audit.jsonl as a directory: every append fails (EISDIR), whatever the user's privileges.
    await rm(join(f.stateDir, 'audit.jsonl'), { force: true });
    await mkdir(join(f.stateDir, 'audit.jsonl'));
    const r = await f.run(['set-ready', 'MacM1-1', 'false']);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /could not append to the audit log/);
    assert.equal(inst(f, 'MacM1-1').tags.PWPoolReady, 'false');
  });

  it('changes PWPoolReady by name, instance id and host id, audited; refuses targets outside the pool', async (t) => {
    const f = await poolFixture(t, { hosts: 3 });
    const launched = await f.run(['launch-instances', '--force']);
    assert.equal(launched.code, 0, launched.stderr);
    const base = createTags(f); // RunInstances tags at creation; CreateTags only from set-ready
    const i1 = inst(f, 'MacM1-1');
    const i2 = inst(f, 'MacM1-2');
    const h3 = f.sim.world.host('MacM1-3');
    assert.ok(h3);

    // by name
    let r = await f.run(['set-ready', 'MacM1-1', 'false']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout.trim(),
      `set PWPoolReady=false on instance ${i1.instanceId} (MacM1-1), was true`,
    );
    assert.equal(inst(f, 'MacM1-1').tags.PWPoolReady, 'false');

    // by instance id
    r = await f.run(['set-ready', i2.instanceId, 'false']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(inst(f, 'MacM1-2').tags.PWPoolReady, 'false');
    assert.equal(inst(f, 'MacM1-1').tags.PWPoolReady, 'false');

    // by host id: the host (launch-instances) and its instance (setup-instances)
    r = await f.run(['set-ready', h3.hostId, 'false']);
    assert.equal(r.code, 0, r.stderr);
    const i3 = inst(f, 'MacM1-3');
    assert.equal(f.sim.world.host('MacM1-3')?.tags.PWPoolReady, 'false');
    assert.equal(i3.tags.PWPoolReady, 'false');
    assert.deepEqual(r.stdout.trim().split('\n'), [
      `set PWPoolReady=false on host ${h3.hostId} (MacM1-3), was true`,
      `set PWPoolReady=false on instance ${i3.instanceId} (MacM1-3), was true`,
    ]);

    // already set: no call, no record
    r = await f.run(['set-ready', 'MacM1-1', 'false']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^PWPoolReady is already false on instance/);

    // dry run: the plan, no change, no lock file left, no record
    r = await f.run(['set-ready', '--dry-run', 'MacM1-1', 'true']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^would set PWPoolReady=true on instance .* \(MacM1-1\), now false$/m);
    assert.equal(inst(f, 'MacM1-1').tags.PWPoolReady, 'false');

    // back in service
    r = await f.run(['set-ready', 'MacM1-1', 'true']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(inst(f, 'MacM1-1').tags.PWPoolReady, 'true');

    // one audit line per CreateTags the sim answered
    const audit = await auditLines(f);
    assert.equal(audit.length, 5);
    assert.equal(createTags(f) - base, audit.length);
    for (const a of audit) {
      assert.equal(a.command, 'set-ready');
      assert.equal(a.action, 'tag');
      assert.equal(a.reason, 'set-ready');
      assert.match(String(a.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    assert.deepEqual(audit[0], {
      ...audit[0],
      instance: i1.instanceId,
      host: i1.hostId,
      name: 'MacM1-1',
      detail: 'PWPoolReady=false',
    });
    assert.equal(audit[4]?.detail, 'PWPoolReady=true');

    // outside the pool: an instance that left it, a host of another pool, an unknown name
    await f.control('POST', `/_sim/instances/${i2.instanceId}`, { tags: { purpose: 'dev' } });
    r = await f.run(['set-ready', i2.instanceId, 'true']);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, new RegExp(`Instance ${i2.instanceId} .* is not in the pool`));
    const other = (await f.control('POST', '/_sim/hosts', {
      name: 'MacM1-9',
      tags: { purpose: 'dev', PWPoolReady: 'true' },
    })) as { hosts: { hostId: string }[] };
    const otherId = other.hosts[0]?.hostId ?? '';
    r = await f.run(['set-ready', otherId, 'false']);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /is not a dedicated host of the pool/);
    assert.equal(f.sim.world.host(otherId)?.tags.PWPoolReady, 'true');
    r = await f.run(['set-ready', 'MacM1-7', 'false']);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /No pending or running instance named 'MacM1-7'/);

    // usage errors: exit 2 before any EC2 call
    const before = f.sim.requestLog.list().length;
    r = await f.run(['set-ready', 'MacM1-1', 'maybe']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /value 'maybe' must be exactly 'true' or 'false'/);
    r = await f.run(['set-ready', 'web-1', 'False']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /target 'web-1' is not .*; value 'False'/);
    assert.equal(f.sim.requestLog.list().length, before);
    assert.equal((await auditLines(f)).length, 5, 'refusals write no audit line');
    assert.equal(existsSync(join(f.stateDir, 'pw-pool.lock')), false);
  });
});
