// In-memory fakes of the ports, for app tests: a fixed clock that sleeps instantly, a state store
// in a Map, an output that records lines, and a scriptable EC2.
import pino from 'pino';
import type { Logger } from 'pino';
import { AwsError } from '../../src/pw-lib/errors.js';
import type {
  AllocateHostRequest,
  Clock,
  Ec2,
  HostView,
  InstanceView,
  LaunchRequest,
  LaunchResult,
  LaunchTemplateSettings,
  Output,
  StateStore,
} from '../../src/pw-lib/ports.js';

export class FakeClock implements Clock {
  constructor(public nowMs: number) {}
  now(): Promise<Date> {
    return Promise.resolve(new Date(this.nowMs));
  }
  sleep(seconds: number): Promise<void> {
    this.nowMs += seconds * 1000;
    return Promise.resolve();
  }
}

export class MemoryStore implements StateStore {
  readonly dir = '/fake-state';
  readonly files = new Map<string, string>();
  writes = 0;
  failWrites = false;
  pathOf(name: string): string {
    return `${this.dir}/${name}`;
  }
  read(name: string): Promise<string | undefined> {
    return Promise.resolve(this.files.get(name));
  }
  writeAtomic(name: string, content: string): Promise<void> {
    if (this.failWrites) return Promise.reject(new Error('EACCES: permission denied'));
    this.writes += 1;
    this.files.set(name, content);
    this.mtimes.set(name, this.nowS);
    return Promise.resolve();
  }
  /** mtime per file (epoch seconds); writes stamp `nowS`, tests may set it directly. */
  readonly mtimes = new Map<string, number>();
  nowS = 0;
  stat(name: string): Promise<{ mtimeS: number } | undefined> {
    if (!this.files.has(name)) return Promise.resolve(undefined);
    return Promise.resolve({ mtimeS: this.mtimes.get(name) ?? this.nowS });
  }
}

export class RecordingOutput implements Output {
  readonly lines: string[] = [];
  line(text: string): void {
    this.lines.push(text);
  }
}

/** A logger that keeps every record, parsed, for assertions on messages. */
export function memoryLogger(): { log: Logger; records: Record<string, unknown>[] } {
  const records: Record<string, unknown>[] = [];
  const log = pino(
    { level: 'debug', base: null },
    { write: (line: string) => void records.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return { log, records };
}

/** Scriptable EC2: hosts and instances in memory; launches go pending, then running after polls. */
export class FakeEc2 implements Ec2 {
  readonly region = 'us-east-1';
  hosts: HostView[] = [];
  instances: InstanceView[] = [];
  calls: string[] = [];
  failDescribeHosts: AwsError | undefined;
  failBatch: AwsError | undefined;
  /** RunInstances failure per host id. */
  failLaunch = new Map<string, AwsError>();
  launchWithoutId = false;
  /** How many polls a new instance stays pending (Infinity = never runs). */
  pollsUntilRunning = 1;
  template: LaunchTemplateSettings = {
    name: 'CirrusMacM1PWinstance',
    version: '1',
    shutdownBehavior: 'terminate',
    httpTokens: 'required',
    instanceMetadataTags: 'enabled',
    hasUserData: false,
    userDataText: undefined,
  };
  private counter = 0;
  private readonly pollsSeen = new Map<string, number>();

  constructor(private readonly clock: FakeClock) {}

  listPoolHosts(): Promise<HostView[]> {
    this.calls.push('DescribeHosts');
    if (this.failDescribeHosts) return Promise.reject(this.failDescribeHosts);
    return Promise.resolve(this.hosts);
  }
  listInstancesOnHosts(hostIds: readonly string[]): Promise<InstanceView[]> {
    this.calls.push('DescribeInstances');
    if (this.failBatch) return Promise.reject(this.failBatch);
    return Promise.resolve(
      this.instances.filter(
        (i) => i.hostId !== undefined && hostIds.includes(i.hostId) && i.state !== 'terminated',
      ),
    );
  }
  describeInstancesById(ids: readonly string[]): Promise<InstanceView[]> {
    this.calls.push('DescribeInstances:poll');
    const out: InstanceView[] = [];
    for (const id of ids) {
      const idx = this.instances.findIndex((i) => i.instanceId === id);
      const inst = this.instances[idx];
      if (inst === undefined) continue;
      const seen = (this.pollsSeen.get(id) ?? 0) + 1;
      this.pollsSeen.set(id, seen);
      if (inst.state === 'pending' && seen >= this.pollsUntilRunning) {
        this.instances[idx] = {
          ...inst,
          state: 'running',
          publicDnsName: `ec2-${this.counter}.example`,
        };
      }
      out.push(this.instances[idx] as InstanceView);
    }
    return Promise.resolve(out);
  }
  getLaunchTemplate(): Promise<LaunchTemplateSettings> {
    this.calls.push('DescribeLaunchTemplateVersions');
    return Promise.resolve(this.template);
  }
  listPoolInstances(): Promise<InstanceView[]> {
    this.calls.push('DescribeInstances:pool');
    return Promise.resolve(this.instances.filter((i) => i.state !== 'terminated'));
  }
  setTags(resourceId: string, tags: Record<string, string>): Promise<void> {
    this.calls.push(`CreateTags:${resourceId}:${JSON.stringify(tags)}`);
    const idx = this.instances.findIndex((i) => i.instanceId === resourceId);
    const inst = this.instances[idx];
    if (inst) this.instances[idx] = { ...inst, tags: { ...inst.tags, ...tags } };
    return Promise.resolve();
  }
  terminateInstance(instanceId: string): Promise<void> {
    this.calls.push(`TerminateInstances:${instanceId}`);
    const idx = this.instances.findIndex((i) => i.instanceId === instanceId);
    const inst = this.instances[idx];
    if (inst) this.instances[idx] = { ...inst, state: 'shutting-down' };
    return Promise.resolve();
  }
  /** AllocateHosts failure, when set. */
  failAllocate: AwsError | undefined;
  /** Every AllocateHosts request, in order. */
  allocations: AllocateHostRequest[] = [];
  findHostsByName(name: string): Promise<HostView[]> {
    this.calls.push(`DescribeHosts:${name}`);
    if (this.failDescribeHosts) return Promise.reject(this.failDescribeHosts);
    return Promise.resolve(this.hosts.filter((h) => h.tags.Name === name));
  }
  allocateHost(req: AllocateHostRequest): Promise<string> {
    this.calls.push('AllocateHosts');
    this.allocations.push(req);
    if (this.failAllocate) return Promise.reject(this.failAllocate);
    this.counter += 1;
    const hostId = `h-${this.counter.toString(16).padStart(17, 'a')}`;
    this.hosts.push({
      hostId,
      state: 'available',
      tags: req.tags,
      instanceIds: [],
      macCapacity: 1,
      availabilityZone: req.availabilityZone,
      allocationTime: new Date(this.clock.nowMs).toISOString(),
    });
    return Promise.resolve(hostId);
  }
  launchOnHost(req: LaunchRequest): Promise<LaunchResult> {
    this.calls.push(`RunInstances:${req.hostId}`);
    const failure = this.failLaunch.get(req.hostId);
    if (failure) return Promise.reject(failure);
    this.counter += 1;
    const instanceId = `i-${this.counter.toString(16).padStart(17, '0')}`;
    this.instances.push({
      instanceId,
      state: 'pending',
      launchTime: new Date(this.clock.nowMs).toISOString(),
      hostId: req.hostId,
      publicDnsName: undefined,
      tags: req.tags,
    });
    return Promise.resolve({
      instanceId: this.launchWithoutId ? undefined : instanceId,
      clientToken: `tok-${this.counter}`,
    });
  }
}

export function awsError(kind: AwsError['kind'], code: string, message: string): AwsError {
  return new AwsError(kind, code, message);
}

let hostCounter = 0;
export function poolHost(name: string, over: Partial<HostView> = {}): HostView {
  hostCounter += 1;
  return {
    hostId: `h-${hostCounter.toString(16).padStart(17, '0')}`,
    state: 'available',
    tags: { Name: name, purpose: 'prod', PWPoolReady: 'true' },
    instanceIds: [],
    macCapacity: 1,
    ...over,
  };
}

// ---- Remote ------------------------------------------------------------------------------------
import type { ProbeFacts } from '../../src/pw-lib/core/probe.js';
import { RemoteError } from '../../src/pw-lib/ports.js';
import type { Remote, RemoteSession, RemoteTarget } from '../../src/pw-lib/ports.js';

export const HEALTHY_FACTS: ProbeFacts = {
  remoteNowS: undefined,
  scriptsInstalled: true,
  setupStarted: true,
  setupStartedLast: '',
  setupStartedMtimeS: undefined,
  setupDone: true,
  setupFailed: false,
  setupFailedReason: '',
  setupLog: true,
  setupLogLast: '',
  supervisor: 'alive',
  listener: true,
  job: false,
  workerUser: true,
  timer: 'alive',
  recycleDeadlineS: undefined,
  drainStartedS: undefined,
  agentConfig: true,
  workerLog: { present: true, inode: '1', size: 10, registered: true, started: 1, finished: 1 },
};

export const FRESH_FACTS: ProbeFacts = {
  ...HEALTHY_FACTS,
  scriptsInstalled: false,
  setupStarted: false,
  setupDone: false,
  setupLog: false,
  supervisor: 'absent',
  listener: false,
  workerUser: false,
  timer: 'absent',
  agentConfig: false,
  workerLog: { present: false },
};

/** A scriptable Remote: per host, what connect and each operation do; every call is recorded. */
export class FakeRemote implements Remote {
  readonly calls: string[] = [];
  facts = new Map<string, ProbeFacts>();
  connectFailure = new Map<string, 'tcp' | 'ssh'>();
  /** Per host: connect waits for this promise before it answers (an instance that never answers
   *  until its connect timeout). */
  connectGate = new Map<string, Promise<void>>();
  opFailure = new Map<string, RemoteError>();
  secrets: string[] = [];
  connections = 0;

  async connect(target: RemoteTarget): Promise<RemoteSession> {
    const fail = this.connectFailure.get(target.name);
    this.calls.push(`connect ${target.name}`);
    await this.connectGate.get(target.name);
    if (fail) throw new RemoteError(fail, `${fail} failure`);
    this.connections += 1;
    const name = target.name;
    const op = (what: string): Promise<void> => {
      this.calls.push(`${what} ${name}`);
      const f = this.opFailure.get(`${what} ${name}`);
      return f ? Promise.reject(f) : Promise.resolve();
    };
    const session: RemoteSession = {
      probe: async () => {
        await op('probe');
        return this.facts.get(name) ?? FRESH_FACTS;
      },
      uploadScripts: () => op('upload'),
      installScripts: () => op('install'),
      startTimer: async (seconds) => {
        await op(`timer ${seconds}`);
        return { started: true, deadlineS: undefined };
      },
      startSetup: async (req, secret) => {
        this.secrets.push(secret);
        await op(`setup [${req.args.join('|')}]`);
      },
      maintenance: async () => {
        await op('maintenance');
        return { drain: 'none', drainStartedS: undefined };
      },
      forceStop: async (req) => {
        await op(`force-stop[${req.message}]`);
      },
      close: () => {
        this.calls.push(`close ${name}`);
        return Promise.resolve();
      },
    };
    return session;
  }
}
