/*
 * The simulated cloud's HTTP server: the EC2 Query API and the simulator's control API on one
 * port, bound to 127.0.0.1 only (port 0 = any free port).
 *
 * EC2 Query API (what @aws-sdk/client-ec2 speaks): `POST /` with a form-encoded body
 * (`Action=DescribeHosts&Version=2016-11-15&Filter.1.Name=tag:Name&Filter.1.Value.1=MacM1-*`), or
 * `GET /?Action=...`. Answers are EC2 XML; errors are EC2 error XML with HTTP 400 (401 AuthFailure,
 * 412 DryRunOperation, 500 InternalError, 503 RequestLimitExceeded). A request without an
 * `Authorization` header is refused with AuthFailure; signatures are not verified. Implemented:
 * DescribeHosts, DescribeInstances, RunInstances, CreateTags, DeleteTags, TerminateInstances,
 * StopInstances, DescribeLaunchTemplates, DescribeLaunchTemplateVersions, AllocateHosts,
 * ReleaseHosts; any other action is InvalidAction.
 *
 * Control API (JSON in and out; times are ISO-8601; unset fields are null; errors are
 * `{"error": "..."}` with 400 bad JSON or body, 404 unknown route or resource, 405 wrong method,
 * 409 conflict):
 *
 *   GET    /_sim/clock                 → {"now": ISO, "speed": x}
 *   POST   /_sim/clock                 {"speed": x} → {"now", "speed"}   (0 pauses virtual time)
 *   POST   /_sim/advance               {"seconds": N} → {"now": ISO}      (jumps virtual time)
 *   GET    /_sim/state                 → {"now", "costUsd", "sshPort", "hosts": [...],
 *                                         "instances": [...], "launchTemplates": [...]}
 *          host:     {hostId, name, state, instanceType, availabilityZone, allocationTime,
 *                     releaseTime, tags: {key: value}, instanceIds, availableCapacity, inHandOff,
 *                     capacityOverride, next: {at, to} | null, ...}
 *          instance: {instanceId, hostId, name, state, launchTime, publicDnsName, address, tags,
 *                     stateTransitionReason, shutdownBehavior, sshReadyAt, next, ...,
 *                     mac: <mac> | null}
 *          mac:      the simulated Mac (null when Macs are off): {instanceId, name, address,
 *                     sshPort, power: off|booting|on, reachable, bootedAt, sshReadyAt, hostname,
 *                     ssh: {listening, listenError, hostKey ("ssh-ed25519 AAAA..."),
 *                       hostKeyFingerprint ("SHA256:..."), hostKeyChanges, connections, open,
 *                       authenticated, authRejected, unreachable, hungSessions, dropped,
 *                       lastClientKey},
 *                     users, files: {"<abs path>": {type, mode: "0700", owner, group, size, inode,
 *                       mtime}}, processes: [{pid, user, role: setup|supervisor|listener|job|timer,
 *                       command, startedAt}],
 *                     setup: {phase: running|done|failed, kind, name, args, startedAt, endsAt,
 *                       finishedAt, step, failedReason, secretBytes} | null,
 *                     supervisor: {pid, mode: loop|draining, startedAt} | null,
 *                     listener: {pid, kind, startedAt} | null,
 *                     job: {pid, task, startedAt, endsAt} | null,
 *                     timer: {pid, deadline, deadlineEpoch, drainSeconds,
 *                       phase: sleeping|waiting-for-job} | null,
 *                     tasks: {started, finished, aborted}, walls: [{at, message}],
 *                     commands: [{at, command, commandBytes, form: stdin|secret|other, op, args,
 *                       env, stdinBytes, scriptBytes, secretSha256?, exitCode, fault}],
 *                     sftp: [{at, request, path, detail}], settings, overrides}
 *                    No secret is ever kept: the secret form's stdin is recorded as its byte count
 *                    and SHA-256 only, sensitive files (secret, cirrus config) as their size only.
 *   GET    /_sim/requests[?since=SEQ]  → {"requests": [{seq, requestId, virtualTime, realTime, action,
 *                                         params: {"Filter.1.Name": "tag:Name", ...}, status,
 *                                         errorCode?, errorMessage?, faults, durationMs}]}
 *   DELETE /_sim/requests              → {"cleared": n}
 *   GET    /_sim/faults                → {"faults": [{id, action, kind, value, target?, remaining,
 *                                         hits}]}
 *   POST   /_sim/faults                {"action": "RunInstances" | "*", "kind": "throttle" | "5xx" |
 *                                       "capacity" | "latencyMs", "value"?: ..., "count"?: n}
 *                                       → the fault (201). Each matching request uses one count
 *                                       (no count = until cleared). value: latencyMs = real ms to
 *                                       delay; capacity = host id or Name tag to target (action
 *                                       "AllocateHosts": InsufficientHostCapacity); 5xx = "after"
 *                                       to apply the action and lose only the answer
 *                                      Mac faults: {"kind": "unreachable" | "hang" | "drop" |
 *                                       "listener-crash" | "supervisor-crash" | "host-key-change" |
 *                                       "setup-fail", "target"?: instance id or Name (default:
 *                                       every Mac), "value"?: ..., "count"?: n}; action is
 *                                       optional. unreachable: accept TCP, send no banner; hang:
 *                                       handshake, then never answer a command (each uses one count
 *                                       per connection); drop: cut the connection in the middle of
 *                                       the next command, no exit status (value "before": before it
 *                                       runs; one count per command); listener-crash: the listener
 *                                       dies once (value "persistent": it cannot start again until
 *                                       the fault is removed); supervisor-crash: the supervisor
 *                                       dies, the listener keeps running; host-key-change: a new
 *                                       host key from now on; setup-fail: the next setup fails,
 *                                       value = the reason in .setup.failed. The last four act once
 *                                       per count (default count 1). For unreachable, hang,
 *                                       supervisor-crash and host-key-change a string value also
 *                                       names the target
 *   DELETE /_sim/faults                → {"cleared": n}
 *   DELETE /_sim/faults/<id>           → {"removed": true}
 *   POST   /_sim/hosts                 {name?, tags?, state?, availabilityZone?, instanceType?,
 *                                       allocationTime?, hostId?} or an array of them
 *                                       → {"hosts": [...]} (201; allocationTime defaults to now)
 *   GET    /_sim/hosts/<hostId|Name>   → the host
 *   POST   /_sim/hosts/<hostId|Name>   {state?, hold?, tags?, removeTags?, availableCapacity?}
 *                                       → the host. state: enter it now (the model continues from
 *                                       there unless hold); availableCapacity: an integer that
 *                                       replaces the computed capacity, null to stop replacing it
 *   GET    /_sim/instances/<id|Name>   → the instance
 *   POST   /_sim/instances/<id|Name>   {state?, hold?, tags?, removeTags?, sshReadyAt?}
 *                                       → the instance. state: as if that transition just happened
 *                                       (terminated frees the host, which hands off and scrubs)
 *   POST   /_sim/instances/<id|Name>/shutdown
 *                                       → the instance after an on-instance `shutdown -h now`
 *                                       (follows its InstanceInitiatedShutdownBehavior)
 *   GET    /_sim/macs                  → {"sshPort", "settings", "timings": {bootMinS, bootMaxS},
 *                                         "macs": [<mac>...]}   (404 when Macs are off)
 *   POST   /_sim/macs                  {setupSeconds?, setupJitterSeconds?, taskRatePerHour?,
 *                                       taskDurationSeconds?, supervisorPollSeconds?,
 *                                       registrationDelaySeconds?, shutdownPollSeconds?,
 *                                       noiseLines?, cirrusUpstream?, runnerVersion?,
 *                                       sshHandshakeMs?, sshCommandMs?, bootMinS?, bootMaxS?}
 *                                       → {"sshPort", "settings", "timings"}: fleet-wide from now
 *                                       on (bootMinS/bootMaxS: the boot delay of instances that
 *                                       reach `running` later). SSH latency, in real milliseconds
 *                                       (0..600000, default 0): sshHandshakeMs holds the banner of
 *                                       every later connection that long (no handshake is
 *                                       shorter); sshCommandMs delays each command's answer (exec)
 *                                       and each SFTP start that long. Faults act first: an
 *                                       unreachable Mac still sends no banner at all
 *   GET    /_sim/macs/<id|Name>        → <mac>
 *   POST   /_sim/macs/<id|Name>        {the same settings but boot*} → <mac>: this Mac's overrides
 *                                       (e.g. {"sshHandshakeMs": 300}: latency on one Mac only)
 *   POST   /_sim/macs/<id|Name>/task   {durationSeconds?, count?} → <mac>: a task starts now on the
 *                                       idle listener (409 when there is none); durationSeconds 0
 *                                       = it completes at once, and then `count` tasks run back to
 *                                       back (default duration: the Mac's taskDurationSeconds ±50%)
 *   POST   /_sim/macs/<id|Name>/worker-log  {lines: ["raw line", ...]} → <mac>: appends the lines
 *                                       verbatim to /private/tmp/<Name>-worker.log (409 until setup
 *                                       created it): for the counting rules and forged logs
 *
 * Every control request first brings the world to the virtual now, and a changing one returns
 * only once the simulated Macs' SSH listeners match it (a Mac listens from its sshReadyAt while
 * `running`, on <address>:<sshPort>).
 *   GET    /_sim/github/state          → the fake GitHub's state: {now, org, appId, installationId,
 *                                         runnerVersion, groups: [{id, name, visibility, default,
 *                                         allowsPublicRepositories, selectedRepositoryIds,
 *                                         canReceiveJobs, runnerIds, createdAt}], runners: [{id,
 *                                         name, os, status, busy, labels, groupId, groupName,
 *                                         registeredAt, replacements}], issued: {installationTokens,
 *                                         registrationTokens} (counts; no token is kept),
 *                                         requests: [{method, path, status, at, fault?}], faults}
 *   GET    /_sim/github/faults         → {"faults": [...]}
 *   POST   /_sim/github/faults         {"kind": "5xx" | "rate-limit" | "secondary-rate-limit",
 *                                       "path"?: substring of the request path, "count"?: n,
 *                                       "status"?: n, "retryAfterS"?: n} → the fault (201)
 *   DELETE /_sim/github/faults         → {"cleared": n}
 *   GET    /_sim/github/runners/<name> → the runner
 *   POST   /_sim/github/runners/<name>/status  {"status": "online" | "offline", "busy"?: bool}
 *                                       → the runner (a scripted change; the Mac's listener sets
 *                                       it again when it connects, goes away or runs a job)
 *          Every /_sim/github route is 404 when the simulated cloud runs without a fake GitHub.
 *   GET    /_sim/launch-templates      → {"launchTemplates": [...]}
 *   POST   /_sim/launch-templates      {name, description?, tags?, data?: {imageId?, instanceType?,
 *                                       keyName?, userData? (base64), instanceInitiatedShutdownBehavior?,
 *                                       metadataOptions?, tagSpecifications?}} → the template
 *                                       (a new default version when the name exists)
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { answerEc2Request } from './ec2-api.js';
import { FAULT_KINDS, FaultInjector, FaultSpecError } from './faults.js';
import {
  FakeGitHubScriptError,
  GITHUB_FAULT_KINDS,
  GitHubFaultSpecError,
  type FakeGitHub,
} from './github/index.js';
import type { SimMacFleet } from './mac/fleet.js';
import { checkMacSettingsPatch } from './mac/settings.js';
import { HOST_STATES, INSTANCE_STATES } from './model.js';
import { parseQuery } from './query.js';
import { SeededRandom } from './random.js';
import { RequestLog } from './request-log.js';
import { SimScriptError, type SimWorld } from './world.js';

export interface SimServerOptions {
  world: SimWorld;
  /** Default 0: pick a free port. */
  port?: number | undefined;
  requestLog?: RequestLog | undefined;
  faults?: FaultInjector | undefined;
  /** Seed for request ids (default 1). */
  seed?: number | undefined;
  /** Called after every control-API change (the driver re-arms its timer, the Macs follow);
   *  the answer waits for a returned promise. */
  onControlChange?: (() => void | Promise<void>) | undefined;
  /** The simulated Macs, if any (their state and routes). */
  macs?: SimMacFleet | undefined;
  /** The fake GitHub, if any (its state, faults and runners under /_sim/github). */
  github?: FakeGitHub | undefined;
}

const MAX_BODY_BYTES = 1024 * 1024;

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export class SimServer {
  readonly world: SimWorld;
  readonly requestLog: RequestLog;
  readonly faults: FaultInjector;
  readonly macs: SimMacFleet | undefined;
  readonly github: FakeGitHub | undefined;
  readonly #server: Server;
  readonly #requestIds: SeededRandom;
  readonly #onControlChange: () => void | Promise<void>;
  readonly #delays = new Map<NodeJS.Timeout, () => void>();
  #port = 0;
  #closed = false;

  private constructor(options: SimServerOptions) {
    this.world = options.world;
    this.requestLog = options.requestLog ?? new RequestLog();
    this.faults = options.faults ?? new FaultInjector();
    this.macs = options.macs;
    this.github = options.github;
    this.#requestIds = new SeededRandom((options.seed ?? 1) ^ 0x5eed);
    this.#onControlChange = options.onControlChange ?? (() => undefined);
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((error: unknown) => {
        if (res.headersSent) res.destroy();
        else if (error instanceof HttpError) sendJson(res, error.status, { error: error.message });
        else sendJson(res, 500, { error: `simulator failure: ${String(error)}` });
      });
    });
  }

  static async start(options: SimServerOptions): Promise<SimServer> {
    const server = new SimServer(options);
    await new Promise<void>((resolve, reject) => {
      server.#server.once('error', reject);
      server.#server.listen(options.port ?? 0, '127.0.0.1', () => {
        server.#server.off('error', reject);
        resolve();
      });
    });
    server.#port = (server.#server.address() as AddressInfo).port;
    return server;
  }

  get port(): number {
    return this.#port;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** Stops listening, drops open connections and cancels injected delays. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const [timer, finish] of this.#delays) {
      clearTimeout(timer);
      finish();
    }
    this.#delays.clear();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await closed;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/_sim' || url.pathname.startsWith('/_sim/')) {
      await this.#control(req, res, url);
    } else {
      await this.#ec2(req, res, url);
    }
  }

  // ---------------------------------------------------------------- EC2

  async #ec2(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const seq = this.requestLog.nextSeq();
    const startedMs = performance.now();
    const realTime = new Date().toISOString();
    const virtualTime = this.world.clock.now().toISOString();
    const requestId = this.#requestIds.uuid();
    const body = await readBody(req);
    const params = parseQuery(url.search.slice(1));
    for (const [key, value] of parseQuery(body)) params.set(key, value);
    const action = params.get('Action');

    const latencyMs = action === undefined ? 0 : this.faults.takeLatencyMs(action);
    if (latencyMs > 0) await this.#delay(latencyMs);
    if (this.#closed) {
      res.destroy();
      return;
    }

    const authenticated = req.headers.authorization !== undefined || params.has('X-Amz-Credential');
    const answer = answerEc2Request(this.world, this.faults, { params, authenticated, requestId });
    const faults = latencyMs > 0 ? [`latencyMs:${latencyMs}`, ...answer.faults] : answer.faults;
    res.writeHead(answer.status, {
      'content-type': 'text/xml;charset=UTF-8',
      'x-amzn-requestid': requestId,
      'content-length': Buffer.byteLength(answer.body),
    });
    res.end(answer.body);
    this.requestLog.append({
      seq,
      requestId,
      virtualTime,
      realTime,
      action: action ?? '',
      params: Object.fromEntries(params),
      status: answer.status,
      ...(answer.errorCode === undefined ? {} : { errorCode: answer.errorCode }),
      ...(answer.errorMessage === undefined ? {} : { errorMessage: answer.errorMessage }),
      faults,
      durationMs: Math.round(performance.now() - startedMs),
    });
  }

  #delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#delays.delete(timer);
        resolve();
      }, ms);
      this.#delays.set(timer, resolve);
    });
  }

  // ---------------------------------------------------------------- control

  async #control(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    try {
      const method = req.method ?? 'GET';
      const path = url.pathname.replace(/\/+$/, '');
      const route = CONTROL_ROUTES.find((r) => r.pattern.test(path));
      if (route === undefined) throw new HttpError(404, `no control route ${path}`);
      const handler = route.methods[method];
      if (handler === undefined) {
        res.setHeader('allow', Object.keys(route.methods).join(', '));
        throw new HttpError(
          405,
          `${method} is not allowed on ${path} (allowed: ${Object.keys(route.methods).join(', ')})`,
        );
      }
      const text = await readBody(req);
      let body: unknown = undefined;
      if (text.trim() !== '') {
        try {
          body = JSON.parse(text);
        } catch (error) {
          throw new HttpError(400, `invalid JSON body: ${(error as Error).message}`);
        }
      }
      const match = route.pattern.exec(path) as RegExpExecArray;
      this.world.sync();
      await this.macs?.settled();
      const result = handler(this, {
        body,
        url,
        ref: match[1] === undefined ? '' : decodeURIComponent(match[1]),
      });
      if (method !== 'GET') await this.#onControlChange();
      sendJson(res, result.status ?? 200, result.json);
    } catch (error) {
      if (error instanceof HttpError) sendJson(res, error.status, { error: error.message });
      else if (error instanceof SimScriptError)
        sendJson(res, error.status, { error: error.message });
      else if (
        error instanceof FaultSpecError ||
        error instanceof GitHubFaultSpecError ||
        error instanceof FakeGitHubScriptError ||
        error instanceof RangeError
      ) {
        sendJson(res, 400, { error: error.message });
      } else if (error instanceof z.ZodError) sendJson(res, 400, { error: z.prettifyError(error) });
      else throw error;
    }
  }
}

export async function startSimServer(options: SimServerOptions): Promise<SimServer> {
  return SimServer.start(options);
}

// ---------------------------------------------------------------- control routes

interface ControlRequest {
  body: unknown;
  url: URL;
  /** The decoded `<hostId|Name>` / `<id>` path segment, if the route has one. */
  ref: string;
}

type ControlHandler = (
  server: SimServer,
  req: ControlRequest,
) => { status?: number; json: unknown };

interface ControlRoute {
  pattern: RegExp;
  methods: Partial<Record<string, ControlHandler>>;
}

const isoDate = z.iso.datetime({ offset: true }).transform((s) => new Date(s));
const tagObject = z.record(z.string(), z.string());

const addHostSchema = z
  .object({
    name: z.string().min(1).optional(),
    tags: tagObject.optional(),
    state: z.enum(HOST_STATES).optional(),
    availabilityZone: z.string().min(1).optional(),
    instanceType: z.string().min(1).optional(),
    allocationTime: isoDate.optional(),
    hostId: z.string().optional(),
  })
  .strict();

const hostPatchSchema = z
  .object({
    state: z.enum(HOST_STATES).optional(),
    hold: z.boolean().optional(),
    tags: tagObject.optional(),
    removeTags: z.array(z.string()).optional(),
    availableCapacity: z.number().int().min(0).nullable().optional(),
  })
  .strict();

const instancePatchSchema = z
  .object({
    state: z.enum(INSTANCE_STATES).optional(),
    hold: z.boolean().optional(),
    tags: tagObject.optional(),
    removeTags: z.array(z.string()).optional(),
    sshReadyAt: isoDate.nullable().optional(),
  })
  .strict();

const faultSchema = z
  .object({
    action: z.string().min(1).optional(),
    kind: z.enum(FAULT_KINDS),
    value: z.union([z.string(), z.number()]).optional(),
    target: z.string().min(1).optional(),
    count: z.number().int().min(1).optional(),
  })
  .strict();

const macsPatchSchema = z
  .object({
    bootMinS: z.number().min(0).optional(),
    bootMaxS: z.number().min(0).optional(),
  })
  .catchall(z.unknown());

const taskSchema = z
  .object({
    durationSeconds: z.number().min(0).optional(),
    count: z.number().int().min(1).max(1000).optional(),
  })
  .strict()
  .refine((t) => t.count === undefined || t.count === 1 || t.durationSeconds === 0, {
    message: 'count > 1 needs durationSeconds 0 (tasks that complete at once)',
  });

const logLinesSchema = z.object({ lines: z.array(z.string().regex(/^[^\n]*$/)).min(1) }).strict();

const githubFaultSchema = z
  .object({
    kind: z.enum(GITHUB_FAULT_KINDS),
    path: z.string().optional(),
    count: z.number().int().min(1).optional(),
    status: z.number().int().optional(),
    retryAfterS: z.number().int().min(0).optional(),
  })
  .strict();

const runnerStatusSchema = z
  .object({ status: z.enum(['online', 'offline']), busy: z.boolean().optional() })
  .strict();

const launchTemplateSchema = z
  .object({
    name: z.string().min(1),
    description: z.string().optional(),
    tags: tagObject.optional(),
    data: z
      .object({
        imageId: z.string().min(1).optional(),
        instanceType: z.string().min(1).optional(),
        keyName: z.string().min(1).optional(),
        userData: z.base64().optional(),
        instanceInitiatedShutdownBehavior: z.enum(['stop', 'terminate']).optional(),
        metadataOptions: z
          .object({
            httpTokens: z.enum(['optional', 'required']).optional(),
            httpEndpoint: z.enum(['enabled', 'disabled']).optional(),
            httpPutResponseHopLimit: z.number().int().min(1).max(64).optional(),
            instanceMetadataTags: z.enum(['enabled', 'disabled']).optional(),
          })
          .strict()
          .optional(),
        tagSpecifications: z
          .array(z.object({ resourceType: z.string().min(1), tags: tagObject }).strict())
          .optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

const CONTROL_ROUTES: readonly ControlRoute[] = [
  {
    pattern: /^\/_sim\/clock$/,
    methods: {
      GET: (s) => ({ json: clockJson(s) }),
      POST: (s, { body }) => {
        const { speed } = z
          .object({ speed: z.number().min(0) })
          .strict()
          .parse(body);
        s.world.sync();
        s.world.clock.setSpeed(speed);
        return { json: clockJson(s) };
      },
    },
  },
  {
    pattern: /^\/_sim\/advance$/,
    methods: {
      POST: (s, { body }) => {
        const { seconds } = z
          .object({ seconds: z.number().min(0) })
          .strict()
          .parse(body);
        s.world.clock.advance(seconds);
        return { json: { now: s.world.sync() } };
      },
    },
  },
  {
    pattern: /^\/_sim\/state$/,
    methods: {
      GET: (s) => ({
        json: {
          now: s.world.sync(),
          costUsd: Math.round(s.world.costUsd() * 100) / 100,
          sshPort: s.macs?.sshPort,
          hosts: s.world.hosts(),
          instances: s.world
            .instances()
            .map((i) => ({ ...i, mac: s.macs?.macState(i.instanceId) })),
          launchTemplates: s.world.launchTemplates(),
        },
      }),
    },
  },
  {
    pattern: /^\/_sim\/requests$/,
    methods: {
      GET: (s, { url }) => {
        const since = url.searchParams.get('since');
        if (since !== null && !/^[0-9]+$/.test(since)) {
          throw new HttpError(400, `since must be a sequence number, got '${since}'`);
        }
        return { json: { requests: s.requestLog.list(since === null ? 0 : Number(since)) } };
      },
      DELETE: (s) => ({ json: { cleared: s.requestLog.clear() } }),
    },
  },
  {
    pattern: /^\/_sim\/faults$/,
    methods: {
      GET: (s) => ({ json: { faults: s.faults.list() } }),
      POST: (s, { body }) => {
        return { status: 201, json: s.faults.add(faultSchema.parse(body)) };
      },
      DELETE: (s) => ({ json: { cleared: s.faults.clear() } }),
    },
  },
  {
    pattern: /^\/_sim\/faults\/([^/]+)$/,
    methods: {
      DELETE: (s, { ref }) => {
        if (!/^[0-9]+$/.test(ref) || !s.faults.remove(Number(ref))) {
          throw new HttpError(404, `no fault ${ref}`);
        }
        return { json: { removed: true } };
      },
    },
  },
  {
    pattern: /^\/_sim\/hosts$/,
    methods: {
      POST: (s, { body }) => {
        const specs = z.union([addHostSchema, z.array(addHostSchema).min(1)]).parse(body);
        const hosts = (Array.isArray(specs) ? specs : [specs]).map((spec) => s.world.addHost(spec));
        return { status: 201, json: { hosts } };
      },
    },
  },
  {
    pattern: /^\/_sim\/hosts\/([^/]+)$/,
    methods: {
      GET: (s, { ref }) => ({ json: found(s.world.host(ref), `no host '${ref}'`) }),
      POST: (s, { body, ref }) => ({
        json: s.world.scriptHost(ref, hostPatchSchema.parse(body ?? {})),
      }),
    },
  },
  {
    pattern: /^\/_sim\/instances\/([^/]+)$/,
    methods: {
      GET: (s, { ref }) => ({ json: found(s.world.instance(ref), `no instance '${ref}'`) }),
      POST: (s, { body, ref }) => ({
        json: s.world.scriptInstance(ref, instancePatchSchema.parse(body ?? {})),
      }),
    },
  },
  {
    pattern: /^\/_sim\/instances\/([^/]+)\/shutdown$/,
    methods: {
      POST: (s, { ref }) => ({ json: s.world.shutdownFromInstance(ref) }),
    },
  },
  {
    pattern: /^\/_sim\/macs$/,
    methods: {
      GET: (s) => ({ json: { ...macsJson(s), macs: fleetOf(s).list() } }),
      POST: (s, { body }) => {
        const fleet = fleetOf(s);
        const { bootMinS, bootMaxS, ...settings } = macsPatchSchema.parse(body ?? {});
        checkMacSettingsPatch(settings); // all or nothing: validate before changing anything
        s.world.updateTimings({ bootMinS, bootMaxS });
        fleet.configure(settings);
        return { json: macsJson(s) };
      },
    },
  },
  {
    pattern: /^\/_sim\/macs\/([^/]+)$/,
    methods: {
      GET: (s, { ref }) => ({ json: found(fleetOf(s).macState(ref), `no Mac '${ref}'`) }),
      POST: (s, { body, ref }) => ({
        json: found(fleetOf(s).configureMac(ref, body ?? {}), `no Mac '${ref}'`),
      }),
    },
  },
  {
    pattern: /^\/_sim\/macs\/([^/]+)\/task$/,
    methods: {
      POST: (s, { body, ref }) => {
        const fleet = fleetOf(s);
        const { durationSeconds, count } = taskSchema.parse(body ?? {});
        const mac = found(fleet.mac(ref), `no Mac '${ref}'`);
        if (!mac.startTaskNow(s.world.sync().getTime(), durationSeconds, count)) {
          throw new HttpError(409, `Mac '${ref}' has no idle listener`);
        }
        return { json: fleet.macState(ref) };
      },
    },
  },
  {
    pattern: /^\/_sim\/macs\/([^/]+)\/worker-log$/,
    methods: {
      POST: (s, { body, ref }) => {
        const fleet = fleetOf(s);
        const { lines } = logLinesSchema.parse(body);
        const mac = found(fleet.mac(ref), `no Mac '${ref}'`);
        if (!mac.appendWorkerLog(lines, s.world.sync().getTime())) {
          throw new HttpError(409, `Mac '${ref}' has no worker log`);
        }
        return { json: fleet.macState(ref) };
      },
    },
  },
  {
    pattern: /^\/_sim\/github\/state$/,
    methods: { GET: (s) => ({ json: githubOf(s).state() }) },
  },
  {
    pattern: /^\/_sim\/github\/faults$/,
    methods: {
      GET: (s) => ({ json: { faults: githubOf(s).faults.list() } }),
      POST: (s, { body }) => {
        const github = githubOf(s);
        return { status: 201, json: github.faults.add(githubFaultSchema.parse(body)) };
      },
      DELETE: (s) => ({ json: { cleared: githubOf(s).faults.clear() } }),
    },
  },
  {
    pattern: /^\/_sim\/github\/runners\/([^/]+)$/,
    methods: {
      GET: (s, { ref }) => ({ json: found(githubOf(s).runner(ref), `no runner '${ref}'`) }),
    },
  },
  {
    pattern: /^\/_sim\/github\/runners\/([^/]+)\/status$/,
    methods: {
      POST: (s, { body, ref }) => {
        const github = githubOf(s);
        const { status, busy } = runnerStatusSchema.parse(body);
        found(github.runner(ref), `no runner '${ref}'`);
        return { json: github.setRunnerStatus(ref, status, busy) };
      },
    },
  },
  {
    pattern: /^\/_sim\/launch-templates$/,
    methods: {
      GET: (s) => ({ json: { launchTemplates: s.world.launchTemplates() } }),
      POST: (s, { body }) => ({
        status: 201,
        json: s.world.putLaunchTemplate(launchTemplateSchema.parse(body)),
      }),
    },
  },
];

function clockJson(s: SimServer): { now: Date; speed: number } {
  return { now: s.world.sync(), speed: s.world.clock.speed };
}

function fleetOf(s: SimServer): SimMacFleet {
  if (s.macs === undefined) throw new HttpError(404, 'the simulated Macs are off');
  return s.macs;
}

function githubOf(s: SimServer): FakeGitHub {
  if (s.github === undefined) {
    throw new HttpError(
      404,
      'the fake GitHub is off: start the simulated cloud with github (sim serve --agent github-actions)',
    );
  }
  return s.github;
}

function macsJson(s: SimServer): { sshPort: number; settings: unknown; timings: unknown } {
  const fleet = fleetOf(s);
  const { bootMinS, bootMaxS } = s.world.timings;
  return { sshPort: fleet.sshPort, settings: fleet.settings, timings: { bootMinS, bootMaxS } };
}

function found<T>(value: T | undefined, message: string): T {
  if (value === undefined) throw new HttpError(404, message);
  return value;
}

// ---------------------------------------------------------------- HTTP helpers

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES)
      throw new HttpError(413, `request body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** JSON with undefined members written as null, so every field is always present. */
function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = `${JSON.stringify(value, (_key, v: unknown) => (v === undefined ? null : v), 2)}\n`;
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}
