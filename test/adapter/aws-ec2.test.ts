// The EC2 adapter: the real @aws-sdk/client-ec2 against the simulated EC2 endpoint, asserting what
// went over the wire from the simulator's request log.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { AwsEc2, classifyAwsError } from '../../src/pw-lib/adapters/aws-ec2.js';
import { AwsError } from '../../src/pw-lib/errors.js';
import { startSimCloud } from '../../src/sim/index.js';
import type { SimCloud } from '../../src/sim/index.js';
import { memoryLogger } from '../helpers/fakes.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const pool = { namePrefix: 'MacM1', purposeTagKey: 'purpose', purposeValue: 'prod' };

async function setup(
  t: TestContext,
  hosts: number,
  pageSize?: number,
): Promise<{ sim: SimCloud; ec2: AwsEc2 }> {
  const sim = await startSimCloud({ hosts, speed: 0, startTime: new Date('2024-08-06T12:00:00Z') });
  const ec2 = new AwsEc2({
    region: 'us-east-1',
    endpoint: sim.endpoint,
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    maxAttempts: 3,
    requestTimeoutSeconds: 10,
    ...(pageSize === undefined ? {} : { hostPageSize: pageSize, instancePageSize: pageSize }),
    log: memoryLogger().log,
  });
  t.after(async () => {
    ec2.destroy();
    await sim.close();
  });
  return { sim, ec2 };
}

const requests = (sim: SimCloud, action: string) =>
  sim.requestLog.list().filter((r) => r.action === action);

describe('AwsEc2 adapter (real SDK over the simulated EC2 Query API)', () => {
  it('DescribeHosts carries the tag:Name and tag:<purposeKey> filters (Filter.N on the wire)', async (t) => {
    const { sim, ec2 } = await setup(t, 3);
    const hosts = await ec2.listPoolHosts(pool);
    assert.equal(hosts.length, 3);
    const [req] = requests(sim, 'DescribeHosts');
    assert.ok(req);
    assert.equal(req.params['Filter.1.Name'], 'tag:Name');
    assert.equal(req.params['Filter.1.Value.1'], 'MacM1-*');
    assert.equal(req.params['Filter.2.Name'], 'tag:purpose');
    assert.equal(req.params['Filter.2.Value.1'], 'prod');
    const h = hosts.find((x) => x.tags.Name === 'MacM1-1');
    assert.equal(h?.state, 'available');
    assert.equal(h?.macCapacity, 1);
    assert.match(h?.hostId ?? '', /^h-[0-9a-f]{17}$/);
  });

  it('12 hosts at page size 5 take three DescribeHosts requests, two with NextToken, and all 12 are seen', async (t) => {
    const { sim, ec2 } = await setup(t, 12, 5);
    const hosts = await ec2.listPoolHosts(pool);
    assert.equal(new Set(hosts.map((h) => h.hostId)).size, 12);
    const reqs = requests(sim, 'DescribeHosts');
    assert.equal(reqs.length, 3);
    assert.deepEqual(
      reqs.map((r) => r.params.MaxResults),
      ['5', '5', '5'],
    );
    assert.equal(reqs.filter((r) => r.params.NextToken !== undefined).length, 2);
  });

  it('a throttled DescribeHosts is absorbed by SDK retries; two throttles cost two extra requests', async (t) => {
    const { sim, ec2 } = await setup(t, 2);
    sim.faults.add({ action: 'DescribeHosts', kind: 'throttle', count: 2 });
    const hosts = await ec2.listPoolHosts(pool);
    assert.equal(hosts.length, 2);
    const reqs = requests(sim, 'DescribeHosts');
    assert.equal(reqs.length, 3);
    assert.deepEqual(
      reqs.map((r) => r.errorCode ?? 'ok'),
      ['RequestLimitExceeded', 'RequestLimitExceeded', 'ok'],
    );
  });

  it('more throttles than attempts surface as one classified AwsError', async (t) => {
    const { sim, ec2 } = await setup(t, 2);
    sim.faults.add({ action: 'DescribeHosts', kind: 'throttle', count: 5 });
    await assert.rejects(ec2.listPoolHosts(pool), (e: unknown) => {
      assert.ok(e instanceof AwsError);
      assert.equal(e.kind, 'throttling');
      assert.equal(e.code, 'RequestLimitExceeded');
      return true;
    });
    assert.equal(requests(sim, 'DescribeHosts').length, 3);
  });

  it('launches with the contract parameters and reports the SDK-generated ClientToken', async (t) => {
    const { sim, ec2 } = await setup(t, 1);
    const hostId = sim.world.host('MacM1-1')?.hostId ?? assert.fail('host');
    const tags = { Name: 'MacM1-1', purpose: 'prod', PWPoolReady: 'true', automation: 'true' };
    const res = await ec2.launchOnHost({
      hostId,
      launchTemplateName: 'CirrusMacM1PWinstance',
      tags,
    });
    assert.match(res.instanceId ?? '', /^i-[0-9a-f]{17}$/);
    const [req] = requests(sim, 'RunInstances');
    assert.ok(req);
    assert.equal(req.params.ClientToken, res.clientToken);
    assert.ok((res.clientToken ?? '').length >= 32);
    const p = req.params;
    assert.equal(p['LaunchTemplate.LaunchTemplateName'], 'CirrusMacM1PWinstance');
    assert.equal(p['LaunchTemplate.Version'], '$Default');
    assert.equal(p.MinCount, '1');
    assert.equal(p.MaxCount, '1');
    assert.equal(p['Placement.HostId'], hostId);
    assert.equal(p['Placement.Tenancy'], 'host');
    assert.equal(p.InstanceInitiatedShutdownBehavior, 'terminate');
    assert.equal(p['MetadataOptions.HttpTokens'], 'required');
    assert.equal(p['MetadataOptions.InstanceMetadataTags'], 'enabled');
    assert.equal(p['TagSpecification.1.ResourceType'], 'instance');
    const inst = sim.world.instance(res.instanceId ?? '');
    for (const [k, v] of Object.entries(tags)) assert.equal(inst?.tags[k], v, k);
  });

  it('a lost RunInstances answer is retried with the same ClientToken and launches once', async (t) => {
    const { sim, ec2 } = await setup(t, 1);
    const hostId = sim.world.host('MacM1-1')?.hostId ?? assert.fail('host');
    sim.faults.add({ action: 'RunInstances', kind: '5xx', value: 'after', count: 1 });
    const res = await ec2.launchOnHost({
      hostId,
      launchTemplateName: 'CirrusMacM1PWinstance',
      tags: { Name: 'MacM1-1', purpose: 'prod', PWPoolReady: 'true', automation: 'true' },
    });
    const reqs = requests(sim, 'RunInstances');
    assert.equal(reqs.length, 2);
    assert.equal(reqs[0]?.params.ClientToken, reqs[1]?.params.ClientToken);
    assert.equal(res.clientToken, reqs[0]?.params.ClientToken);
    assert.equal(sim.world.instances().length, 1);
  });

  it('classifies capacity and not-found errors', async (t) => {
    const { sim, ec2 } = await setup(t, 1);
    const hostId = sim.world.host('MacM1-1')?.hostId ?? assert.fail('host');
    const req = { hostId, launchTemplateName: 'CirrusMacM1PWinstance', tags: { Name: 'MacM1-1' } };
    await ec2.launchOnHost(req);
    await assert.rejects(
      ec2.launchOnHost(req),
      (e: unknown) =>
        e instanceof AwsError && e.kind === 'capacity' && e.code === 'InsufficientCapacityOnHost',
    );
    await assert.rejects(
      ec2.getLaunchTemplate('NoSuchTemplate'),
      (e: unknown) =>
        e instanceof AwsError &&
        e.kind === 'not-found' &&
        e.detail.startsWith('InvalidLaunchTemplateName.NotFoundException: '),
    );
  });

  it('reads the $Default launch template settings', async (t) => {
    const { ec2 } = await setup(t, 1);
    const tpl = await ec2.getLaunchTemplate('GHAMacM1Runner');
    assert.equal(tpl.shutdownBehavior, 'terminate');
    assert.equal(tpl.httpTokens, 'required');
    assert.equal(tpl.instanceMetadataTags, 'enabled');
  });

  it('one batched DescribeInstances for every host, by host-id and non-terminated states, all pages', async (t) => {
    const { sim, ec2 } = await setup(t, 7, 5);
    const hosts = await ec2.listPoolHosts(pool);
    for (const h of hosts) {
      await ec2.launchOnHost({
        hostId: h.hostId ?? '',
        launchTemplateName: 'CirrusMacM1PWinstance',
        tags: { Name: h.tags.Name ?? '' },
      });
    }
    sim.requestLog.clear();
    const batch = await ec2.listInstancesOnHosts(hosts.map((h) => h.hostId ?? ''));
    assert.equal(batch.length, 7);
    const reqs = requests(sim, 'DescribeInstances');
    assert.equal(reqs.length, 2, 'two pages of 5');
    assert.equal(reqs[0]?.params['Filter.1.Name'], 'host-id');
    assert.equal(reqs[0]?.params['Filter.2.Name'], 'instance-state-name');
    assert.ok(!Object.keys(reqs[0]?.params ?? {}).some((k) => k.startsWith('InstanceId.')));
    for (const i of batch) assert.equal(i.state, 'pending');
  });

  it('chunks the host-id batch so that no call exceeds 200 filter values (196+ hosts)', async (t) => {
    const { sim, ec2 } = await setup(t, 0);
    const ids = Array.from({ length: 401 }, (_, i) => `h-${i.toString(16).padStart(17, '0')}`);
    const batch = await ec2.listInstancesOnHosts(ids);
    assert.deepEqual(batch, []);
    const reqs = requests(sim, 'DescribeInstances');
    assert.equal(reqs.length, 3, '195 + 195 + 11 host ids');
    for (const r of reqs) {
      const values = Object.keys(r.params).filter((k) =>
        /^Filter\.\d+\.Value\.\d+$/.test(k),
      ).length;
      assert.ok(values <= 200, `${values} filter values`);
      assert.equal(r.errorCode, undefined);
    }
  });

  it('classifyAwsError maps codes to kinds in one place', () => {
    const kind = (e: unknown) => classifyAwsError(e).kind;
    assert.equal(kind({ name: 'RequestLimitExceeded', message: 'x' }), 'throttling');
    assert.equal(kind({ name: 'InsufficientCapacityOnHost', message: 'x' }), 'capacity');
    assert.equal(kind({ name: 'InvalidInstanceID.NotFound', message: 'x' }), 'not-found');
    assert.equal(kind({ name: 'AuthFailure', message: 'x' }), 'auth');
    assert.equal(kind({ name: 'UnauthorizedOperation', message: 'x' }), 'auth');
    assert.equal(
      kind({ name: 'CredentialsProviderError', message: 'Could not load credentials' }),
      'auth',
    );
    assert.equal(kind({ name: 'InternalError', message: 'x' }), 'other');
    assert.equal(kind(new Error('socket hang up')), 'other');
    assert.equal(
      classifyAwsError({ name: 'TimeoutError', message: 'a\n b' }).detail,
      'TimeoutError: a b',
    );
  });
});
