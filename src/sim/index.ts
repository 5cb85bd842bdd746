// The simulated cloud: a model of EC2 Mac dedicated hosts and mac2.metal instances in virtual
// time, served over the real EC2 Query API on loopback (see server.ts for the control API).

import { VirtualClock } from './clock.js';
import { populateDefaultWorld } from './default-world.js';
import { TransitionDriver } from './driver.js';
import { FaultInjector } from './faults.js';
import { startFakeGitHub, type FakeGitHub } from './github/index.js';
import { SimMacFleet } from './mac/fleet.js';
import type { MacSettings } from './mac/settings.js';
import type { SimTimings } from './model.js';
import { RequestLog } from './request-log.js';
import { SimServer } from './server.js';
import { SimWorld } from './world.js';

export { VirtualClock, type ClockListener, type VirtualClockOptions } from './clock.js';
export {
  DEFAULT_HOST_AGE_S,
  DEFAULT_LAUNCH_TEMPLATE_NAMES,
  DEFAULT_NAME_PREFIX,
  launchTemplateNames,
  populateDefaultWorld,
  type DefaultWorldOptions,
} from './default-world.js';
export { TransitionDriver } from './driver.js';
export { answerEc2Request, SUPPORTED_ACTIONS, type Ec2Answer, type Ec2Request } from './ec2-api.js';
export { Ec2ApiError } from './ec2-error.js';
export {
  EC2_FAULT_KINDS,
  FAULT_KINDS,
  FaultInjector,
  FaultSpecError,
  MAC_FAULT_KINDS,
  type Fault,
  type FaultKind,
  type FaultSpec,
  type MacFaultKind,
} from './faults.js';
export * from './mac/index.js';
export { globToRegExp } from './filters.js';
export {
  GITHUB_FAULT_KINDS,
  GitHubFaultSpecError,
  RunnerRegistrationError,
  startFakeGitHub,
  type FakeGitHub,
  type FakeGitHubOptions,
  type FakeGitHubState,
  type GitHubFault,
  type GitHubFaultSpec,
  type GitHubRunnerGroupState,
  type GitHubRunnerState,
} from './github/index.js';
export * from './model.js';
export { SeededRandom } from './random.js';
export { RequestLog, type RequestLogEntry } from './request-log.js';
export { SimServer, startSimServer, type SimServerOptions } from './server.js';
export {
  SimScriptError,
  SimWorld,
  type AddHostSpec,
  type HostPatch,
  type InstancePatch,
  type LaunchTemplateSpec,
  type SimWorldOptions,
} from './world.js';

export interface StartSimCloudOptions {
  /** 0 / undefined = pick a free port. */
  port?: number | undefined;
  /** Default pool size: hosts MacM1-1..n (default 10; 0 = an empty pool). */
  hosts?: number | undefined;
  /** The default pool's name prefix (default MacM1; the templates follow it). */
  namePrefix?: string | undefined;
  /** The default pool's purpose tag (default purpose=prod). */
  purposeTagKey?: string | undefined;
  purposeValue?: string | undefined;
  /** Virtual seconds per real second (default 1; 0 = paused until advanced). */
  speed?: number | undefined;
  /** Virtual start time (default: now). */
  startTime?: Date | undefined;
  timings?: Partial<SimTimings> | undefined;
  /** Seed of every random choice (default 1). */
  seed?: number | undefined;
  /** Apply due transitions on a real timer, so event listeners fire without requests (default true). */
  realTimeDriver?: boolean | undefined;
  /** The port every simulated Mac's sshd listens on, at its instance's address (0 / undefined =
   *  a free port). */
  sshPort?: number | undefined;
  /** Simulated Macs (default: on, with DEFAULT_MAC_SETTINGS); false = no Macs, no SSH. Real-time
   *  SSH latency on every Mac: `{ sshHandshakeMs: 300, sshCommandMs: 80 }` (see MacSettings). */
  macs?: Partial<MacSettings> | false | undefined;
  /**
   * A fake GitHub (src/sim/github) for the `github-actions` agent, on the sim's virtual clock:
   * its App (id `appId`, default SIM_GITHUB_APP_ID) is installed on `org` (installation
   * `installationId`, default 4242) and publishes runner `runnerVersion` (default 2.321.0). The
   * simulated Macs' config.sh registers through it and their runners' status follows their
   * listeners. Undefined = no fake GitHub (runners register locally only).
   */
  github?: SimGitHubOptions | undefined;
}

export interface SimGitHubOptions {
  org: string;
  appId?: number | undefined;
  installationId?: number | undefined;
  runnerVersion?: string | undefined;
  /** Personal access tokens the fake accepts besides App installation tokens (tests). */
  personalTokens?: readonly string[] | undefined;
}

/** The fake GitHub App's id when `github.appId` is not given. */
export const SIM_GITHUB_APP_ID = 100001;

export interface SimCloud {
  /** `http://127.0.0.1:<port>`: the EC2 endpoint and the control API (`/_sim/...`). */
  endpoint: string;
  port: number;
  world: SimWorld;
  clock: VirtualClock;
  requestLog: RequestLog;
  faults: FaultInjector;
  /** The port of every Mac's SSH endpoint (`<instance address>:<sshPort>`); 0 when Macs are off. */
  sshPort: number;
  /** The simulated Macs; undefined when started with `macs: false`. */
  macs: SimMacFleet | undefined;
  /** The fake GitHub (`apiUrl`, App key and ids, `state()`, `faults`); undefined unless started
   *  with `github`. */
  github: FakeGitHub | undefined;
  /**
   * Jumps virtual time forward and waits until the Macs' SSH listeners follow (a Mac whose
   * sshReadyAt passed is listening, a stopped one is not); returns the new virtual now.
   */
  advance(seconds: number): Promise<Date>;
  /** Stops the server, the driver, the Macs and every timer; idempotent. */
  close(): Promise<void>;
}

export async function startSimCloud(opts: StartSimCloudOptions = {}): Promise<SimCloud> {
  const clock = new VirtualClock({
    ...(opts.startTime === undefined ? {} : { start: opts.startTime }),
    speed: opts.speed ?? 1,
  });
  const world = new SimWorld({ clock, timings: opts.timings, seed: opts.seed ?? 1 });
  populateDefaultWorld(world, {
    hosts: opts.hosts ?? 10,
    namePrefix: opts.namePrefix,
    purposeTagKey: opts.purposeTagKey,
    purposeValue: opts.purposeValue,
  });
  const driver = opts.realTimeDriver === false ? undefined : new TransitionDriver(world, clock);
  const requestLog = new RequestLog();
  const faults = new FaultInjector();
  // Tokens expire on virtual time: inside a scheduled Mac action, world.sync() is that action's
  // instant, so a registration in a long advance sees the time it happens at.
  const github =
    opts.github === undefined
      ? undefined
      : await startFakeGitHub({
          org: opts.github.org,
          appId: opts.github.appId ?? SIM_GITHUB_APP_ID,
          installationId: opts.github.installationId,
          runnerVersion: opts.github.runnerVersion,
          personalTokens: opts.github.personalTokens,
          nowMs: () => world.sync().getTime(),
        });
  let macs: SimMacFleet | undefined;
  let server: SimServer;
  try {
    macs =
      opts.macs === false
        ? undefined
        : await SimMacFleet.start({
            world,
            faults,
            sshPort: opts.sshPort,
            settings: opts.macs,
            seed: opts.seed,
            github,
          });
  } catch (error) {
    await github?.close();
    throw error;
  }
  try {
    server = await SimServer.start({
      world,
      port: opts.port,
      requestLog,
      faults,
      macs,
      github,
      seed: opts.seed,
      onControlChange: async () => {
        driver?.poke();
        macs?.reconcile();
        await macs?.settled();
      },
    });
  } catch (error) {
    await macs?.close();
    await github?.close();
    throw error;
  }
  driver?.start();
  let closed = false;
  return {
    endpoint: server.endpoint,
    port: server.port,
    world,
    clock,
    requestLog,
    faults,
    sshPort: macs?.sshPort ?? 0,
    macs,
    github,
    async advance(seconds: number) {
      clock.advance(seconds);
      const now = world.sync();
      await macs?.settled();
      return now;
    },
    async close() {
      if (closed) return;
      closed = true;
      driver?.stop();
      await server.close();
      await macs?.close();
      await github?.close();
    },
  };
}
