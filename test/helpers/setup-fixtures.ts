// What the setup-instances tests share: the pool policy of the examples in behavior.md (MacM1,
// purpose=prod, the default limits), settings around an agent, pool instances and their dh_status.
import type { CiAgent } from '../../src/pw-lib/agents/types.js';
import type { SetupSettings } from '../../src/pw-lib/app/setup-instances.js';
import type { SetupPolicy } from '../../src/pw-lib/core/setup-plan.js';
import type { InstanceView } from '../../src/pw-lib/ports.js';
import type { FakeEc2, MemoryStore } from './fakes.js';

export const CIRRUS_TEXTS = {
  listener: 'Cirrus worker listener',
  tasks: 'tasks',
  workers: 'workers',
};

/** The default limits, for the pool MacM1-* with purpose=prod. */
export function testPolicy(texts: SetupPolicy['texts'] = CIRRUS_TEXTS): SetupPolicy {
  return {
    pool: { namePrefix: 'MacM1', purposeTagKey: 'purpose', purposeValue: 'prod' },
    maxLifetimeS: 86400,
    hardLifetimeS: 172800,
    setupTimeoutS: 2400,
    listenerGraceS: 60,
    maxFinishedTasks: 24,
    minAliveWorkers: 3,
    launchStaggerS: 7200,
    sshPort: 22,
    sshUser: 'ec2-user',
    texts,
  };
}

export function testSettings(agent: CiAgent, over: Partial<SetupSettings> = {}): SetupSettings {
  return {
    policy: testPolicy(agent.texts),
    agent,
    agentDrainSeconds: 7200,
    observeConcurrency: 4,
    connectConcurrency: 8,
    runDeadlineSeconds: 1200,
    brewTaps: [],
    brewFormulas: [],
    ...over,
  };
}

/** Instance n of the pool (`MacM1-<n>`), running, launched three hours before 15:00 UTC. */
export function poolInstance(n: number, over: Partial<InstanceView> = {}): InstanceView {
  return {
    instanceId: `i-${n.toString(16).padStart(17, '0')}`,
    state: 'running',
    launchTime: '2024-08-06T12:00:00.000Z',
    hostId: `h-${n.toString(16).padStart(17, '0')}`,
    publicDnsName: `127.0.1.${n}`,
    tags: { Name: `MacM1-${n}`, purpose: 'prod', PWPoolReady: 'true' },
    ...over,
  };
}

/** The dh_status.txt that lists these instances. */
export function dhFor(instances: readonly InstanceView[]): string {
  return `# LaunchInstances.sh run 2024-08-06T14:00:00+00:00\n#\n${instances
    .map((i) => `${i.tags.Name} ${i.instanceId} 2024-08-06T12:00:00+00:00`)
    .join('\n')}\n`;
}

/** These instances are the pool: in EC2, and listed in dh_status.txt. */
export function seedPool(ec2: FakeEc2, store: MemoryStore, instances: InstanceView[]): void {
  ec2.instances = instances;
  store.files.set('dh_status.txt', dhFor(instances));
}
