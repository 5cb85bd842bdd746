// How setup-instances drives the agent's routing hooks (behavior.md §4.3 recycle cordon, §4.4 step
// 6, §4.5 step 1, §7 sweep), with a recording agent: cordon before the maintenance step, a cordon
// when the recycle deadline is near, deregistration after terminate, the sweep with the live
// names, and a preflight failure that defers fresh setups only.
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { GITHUB_ACTIONS_PATTERNS } from '../../src/pw-lib/agents/github-actions.js';
import type { CiAgent, PrepareOutcome, RunnerSweepReport } from '../../src/pw-lib/agents/types.js';
import { setupInstances } from '../../src/pw-lib/app/setup-instances.js';
import type { SetupSettings } from '../../src/pw-lib/app/setup-instances.js';
import { GitHubError } from '../../src/pw-lib/errors.js';
import type { InstanceView } from '../../src/pw-lib/ports.js';
import {
  FakeClock,
  FakeEc2,
  FakeRemote,
  HEALTHY_FACTS,
  MemoryStore,
  RecordingOutput,
  memoryLogger,
} from '../helpers/fakes.js';
import { poolInstance, seedPool, testSettings } from '../helpers/setup-fixtures.js';

const NOW_S = Date.parse('2024-08-06T15:00:00Z') / 1000;
const DRAIN_S = 7200;

/** Records every hook call into a shared timeline (with the remote's calls). */
class RecordingAgent implements CiAgent {
  readonly kind = 'github-actions' as const;
  readonly texts = { listener: 'GitHub Actions runner', tasks: 'jobs', workers: 'runners' };
  readonly patterns = GITHUB_ACTIONS_PATTERNS;
  readonly drainBeforeStop = true;
  readonly brewTaps: string[] = [];
  readonly brewFormulas = ['jq'];
  preflightError: Error | undefined;
  cordonError: Error | undefined;
  sweeps: { live: string[]; nowS: number }[] = [];
  constructor(private readonly timeline: string[]) {}
  checkSecret(): Promise<void> {
    return Promise.resolve();
  }
  preflight(): Promise<void> {
    this.timeline.push('agent preflight');
    return this.preflightError ? Promise.reject(this.preflightError) : Promise.resolve();
  }
  prepare(name: string): Promise<PrepareOutcome> {
    this.timeline.push(`agent prepare ${name}`);
    return Promise.resolve({ ok: true });
  }
  secretFor(): Promise<string> {
    return Promise.resolve('REGTOKEN0123456789ABCDEFGHIJK');
  }
  setupArgs(): string[] {
    return ['url=https://github.com', 'org=acme', 'group=prod', 'version=2.321.0'];
  }
  onTerminate(name: string): Promise<void> {
    this.timeline.push(`agent onTerminate ${name}`);
    return Promise.resolve();
  }
  cordon(name: string): Promise<boolean> {
    this.timeline.push(`agent cordon ${name}`);
    return this.cordonError ? Promise.reject(this.cordonError) : Promise.resolve(true);
  }
  sweep(live: ReadonlySet<string>, nowS: number): Promise<RunnerSweepReport> {
    this.sweeps.push({ live: [...live].sort(), nowS });
    return Promise.resolve({ recorded: [], deleted: [], failed: [], elsewhere: [] });
  }
}

const instance = poolInstance;

describe('setupInstances and the agent hooks', () => {
  let ec2: FakeEc2;
  let remote: FakeRemote;
  let store: MemoryStore;
  let agent: RecordingAgent;
  let timeline: string[];

  const settings = (): SetupSettings => testSettings(agent, { agentDrainSeconds: DRAIN_S });
  const run = (dryRun = false) =>
    setupInstances(
      settings(),
      {
        ec2,
        remote,
        store,
        out: new RecordingOutput(),
        log: memoryLogger().log,
        checkSshAccess: () => Promise.resolve(),
      },
      { nowS: NOW_S, force: false, dryRun },
    );
  const status = () => store.files.get('pw_status.txt') ?? '';
  const setPool = (instances: InstanceView[]) => seedPool(ec2, store, instances);

  beforeEach(() => {
    ec2 = new FakeEc2(new FakeClock(NOW_S * 1000));
    remote = new FakeRemote();
    timeline = remote.calls;
    store = new MemoryStore();
    agent = new RecordingAgent(timeline);
  });

  it('maintenance mode cordons the runner before the on-instance maintenance step', async () => {
    setPool([instance(1, { tags: { Name: 'MacM1-1', purpose: 'prod', PWPoolReady: 'false' } })]);
    remote.facts.set('MacM1-1', { ...HEALTHY_FACTS, job: true });
    await run();
    const cordonAt = timeline.indexOf('agent cordon MacM1-1');
    const maintAt = timeline.indexOf('maintenance MacM1-1');
    assert.ok(cordonAt >= 0, 'cordoned');
    assert.ok(maintAt > cordonAt, 'the cordon comes first');
  });

  it('a failed cordon is logged and the maintenance step still runs (retried next run)', async () => {
    setPool([instance(1, { tags: { Name: 'MacM1-1', purpose: 'prod', PWPoolReady: 'false' } })]);
    remote.facts.set('MacM1-1', HEALTHY_FACTS);
    agent.cordonError = new GitHubError('unavailable', 503, 'GitHub is down');
    const r = await run();
    assert.ok(timeline.includes('maintenance MacM1-1'));
    assert.match(status(), /^MacM1-1 disabled disabled 0 0 # Instance disabled/m);
    assert.ok(!ec2.calls.some((c) => c.startsWith('TerminateInstances')));
    assert.equal(r.exitCode, 0);
  });

  it('cordons a healthy runner whose recycle deadline is within the drain time, not one further off', async () => {
    setPool([instance(1), instance(2)]);
    remote.facts.set('MacM1-1', { ...HEALTHY_FACTS, recycleDeadlineS: NOW_S + DRAIN_S - 60 });
    remote.facts.set('MacM1-2', { ...HEALTHY_FACTS, recycleDeadlineS: NOW_S + DRAIN_S + 60 });
    await run();
    assert.ok(timeline.includes('agent cordon MacM1-1'));
    assert.ok(!timeline.includes('agent cordon MacM1-2'));
    assert.match(status(), /^MacM1-1 complete alive 1 1$/m, 'the line stays healthy');
  });

  it('deregisters after the terminate, and sweeps with the names of the instances still alive', async () => {
    setPool([instance(1), instance(2), instance(3)]);
    remote.facts.set('MacM1-1', HEALTHY_FACTS);
    remote.facts.set('MacM1-2', { ...HEALTHY_FACTS, supervisor: 'dead' });
    remote.facts.set('MacM1-3', HEALTHY_FACTS);
    await run();
    const term = ec2.calls.indexOf(`TerminateInstances:${instance(2).instanceId}`);
    assert.ok(term >= 0);
    assert.ok(timeline.includes('agent onTerminate MacM1-2'));
    assert.deepEqual(agent.sweeps, [{ live: ['MacM1-1', 'MacM1-3'], nowS: NOW_S }]);
  });

  it('no sweep when the pool listing fails: a runner is never deleted on an unknown', async () => {
    setPool([instance(1)]);
    remote.facts.set('MacM1-1', HEALTHY_FACTS);
    ec2.listPoolInstances = () => Promise.reject(new Error('throttled'));
    const r = await run();
    assert.deepEqual(agent.sweeps, []);
    assert.equal(r.exitCode, 4);
  });

  it('a GitHub outage in preflight defers fresh setups (exit 4) and terminates nothing', async () => {
    setPool([instance(1), instance(2)]);
    remote.facts.set('MacM1-1', HEALTHY_FACTS);
    agent.preflightError = new GitHubError('unavailable', 503, 'list runner groups: 503');
    const r = await run();
    assert.equal(r.exitCode, 4);
    assert.match(status(), /^MacM1-1 complete alive 1 1$/m);
    assert.match(
      status(),
      /^MacM1-2 error error 0 0 # Could not obtain CI registration token; setup deferred\.$/m,
    );
    assert.ok(!timeline.some((c) => c.startsWith('upload') || c.startsWith('agent prepare')));
    assert.ok(!ec2.calls.some((c) => c.startsWith('TerminateInstances')));
  });
});
