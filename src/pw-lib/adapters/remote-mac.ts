// The Remote port over SSH: the operations of src/mac/PROTOCOL.md. Each operation's script text is
// paths.sh + lib.sh + ops/<op>.sh, sent on stdin to `/bin/bash -s` (or, for start-setup, as the
// `-c` script with the secret on stdin). This is the only code that builds remote command lines.
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { ProbeFacts } from '../core/probe.js';
import { parseOpReply, parseProbeReport } from '../core/probe.js';
import type {
  ForceStopRequest,
  MaintenanceOutcome,
  MaintenanceRequest,
  ProbeRequest,
  Remote,
  RemoteSession,
  RemoteTarget,
  SetupRequest,
  TimerOutcome,
} from '../ports.js';
import { RemoteError } from '../ports.js';
import type { KnownHosts, SshAuth } from './ssh.js';
import { SshConnection, SshError, shQuote } from './ssh.js';

/** The scripts, next to this module after the build (dist/mac) and in the source tree (src/mac). */
export const MAC_DIR = new URL('../../mac/', import.meta.url);

/** The installed set (PROTOCOL.md), uploaded to `.pw-pool/stage/` for every fresh setup. */
export const INSTALLED_SET = [
  'paths.sh',
  'lib.sh',
  'setup.sh',
  'service_pool.sh',
  'shutdown.sh',
  'ci_env.sh',
  'cleanup_hook.sh',
] as const;

export type OpName =
  'probe' | 'install' | 'start-timer' | 'start-setup' | 'maintenance' | 'force-stop';

const scriptCache = new Map<string, string>();
function macFile(rel: string): string {
  let text = scriptCache.get(rel);
  if (text === undefined) {
    text = readFileSync(new URL(rel, MAC_DIR), 'utf8');
    scriptCache.set(rel, text);
  }
  return text;
}

/** The script text of an operation: paths.sh + lib.sh + ops/<op>.sh. */
export function opScript(op: OpName): string {
  const part = (t: string) => (t.endsWith('\n') ? t : `${t}\n`);
  return part(macFile('paths.sh')) + part(macFile('lib.sh')) + part(macFile(`ops/${op}.sh`));
}

export function stdinFormCommand(args: readonly string[]): string {
  return ['/bin/bash', '-s', '--', ...args.map(shQuote)].join(' ');
}

export function secretFormCommand(script: string, args: readonly string[]): string {
  return ['/bin/bash', '-c', shQuote(script), 'pw-pool', ...args.map(shQuote)].join(' ');
}

function toRemoteError(error: unknown): RemoteError {
  if (error instanceof RemoteError) return error;
  if (error instanceof SshError) {
    const kind =
      error.kind === 'tcp'
        ? 'tcp'
        : error.kind === 'ssh' || error.kind === 'host-key'
          ? 'ssh'
          : 'lost';
    return new RemoteError(kind, error.message, { cause: error });
  }
  return new RemoteError('lost', String((error as Error)?.message ?? error), { cause: error });
}

class MacSession implements RemoteSession {
  constructor(
    private readonly conn: SshConnection,
    private readonly log: Logger,
  ) {}

  /** Runs an operation; a missing sentinel, a transport error or a timeout is `lost`; exit 3 is `refused`. */
  private async run(
    op: OpName,
    args: readonly string[],
    secret?: string,
  ): Promise<Map<string, string>> {
    const command =
      secret === undefined ? stdinFormCommand(args) : secretFormCommand(opScript(op), args);
    const stdin = secret === undefined ? opScript(op) : `${secret}\n`;
    let result;
    try {
      result = await this.conn.exec(command, stdin);
    } catch (error) {
      throw toRemoteError(error);
    }
    const reply = parseOpReply(result.stdout, op);
    if (result.stderr.trim() !== '')
      this.log.debug({ op, stderr: result.stderr.slice(-2000) }, 'remote stderr');
    if (result.code === 3) {
      throw new RemoteError('refused', reply?.get('error') ?? `${op} refused (exit 3)`);
    }
    if (result.code !== 0 || reply === undefined) {
      throw new RemoteError(
        result.code === 0 ? 'lost' : 'failed',
        `${op} ${reply === undefined ? 'gave no complete reply' : 'failed'} (exit ${result.code ?? result.signal ?? '?'})`,
      );
    }
    return reply;
  }

  async probe(req: ProbeRequest): Promise<ProbeFacts> {
    const args = [
      req.kind,
      req.name,
      req.patterns.listener,
      req.patterns.job,
      req.patterns.registered,
      req.patterns.started,
      req.patterns.finished,
    ];
    let result;
    try {
      result = await this.conn.exec(stdinFormCommand(args), opScript('probe'));
    } catch (error) {
      throw toRemoteError(error);
    }
    const parsed = parseProbeReport(result.stdout);
    if (result.code !== 0 || !parsed.ok) {
      throw new RemoteError('lost', `probe ${parsed.ok ? `exit ${result.code}` : parsed.problem}`);
    }
    return parsed.facts;
  }

  async uploadScripts(): Promise<void> {
    try {
      await this.conn.upload(
        [
          { path: '.pw-pool', mode: 0o700 },
          { path: '.pw-pool/stage', mode: 0o700 },
        ],
        INSTALLED_SET.map((f) => ({
          path: `.pw-pool/stage/${f}`,
          data: Buffer.from(macFile(f)),
          mode: 0o700,
        })),
      );
    } catch (error) {
      throw toRemoteError(error);
    }
  }

  async installScripts(): Promise<void> {
    await this.run('install', []);
  }

  async startTimer(
    seconds: number,
    drainSeconds: number,
    jobPattern: string,
  ): Promise<TimerOutcome> {
    const reply = await this.run('start-timer', [
      String(seconds),
      String(drainSeconds),
      jobPattern,
    ]);
    const deadline = Number(reply.get('deadline'));
    return {
      started: reply.get('timer') === 'started',
      deadlineS: Number.isFinite(deadline) && deadline > 0 ? deadline : undefined,
    };
  }

  async startSetup(req: SetupRequest, secret: string): Promise<void> {
    await this.run('start-setup', [req.kind, req.name, ...req.args], secret);
  }

  async maintenance(req: MaintenanceRequest): Promise<MaintenanceOutcome> {
    const reply = await this.run('maintenance', [
      req.kind,
      req.name,
      req.patterns.listener,
      req.patterns.job,
      String(req.drainSeconds),
    ]);
    const drain = reply.get('drain');
    const since = Number(reply.get('drain.started'));
    return {
      drain: drain === 'waiting' || drain === 'done' ? drain : 'none',
      drainStartedS: Number.isFinite(since) && since > 0 ? since : undefined,
    };
  }

  async forceStop(req: ForceStopRequest): Promise<void> {
    await this.run('force-stop', [req.kind, req.name, req.patterns.listener, req.message]);
  }

  close(): Promise<void> {
    this.conn.close();
    return Promise.resolve();
  }
}

export interface MacRemoteOptions {
  readonly user: string;
  readonly port: number;
  readonly connectTimeoutSeconds: number;
  readonly commandTimeoutSeconds: number;
  /** Read at each connect: the credentials are resolved after the §4.1 preconditions ran. */
  readonly auth: () => SshAuth;
  readonly knownHosts: KnownHosts;
  readonly log: Logger;
}

export class MacRemote implements Remote {
  constructor(private readonly opts: MacRemoteOptions) {}

  async connect(target: RemoteTarget, log: Logger): Promise<RemoteSession> {
    try {
      const conn = await SshConnection.open(target.host, target.instanceId, {
        user: this.opts.user,
        port: this.opts.port,
        connectTimeoutMs: this.opts.connectTimeoutSeconds * 1000,
        commandTimeoutMs: this.opts.commandTimeoutSeconds * 1000,
        auth: this.opts.auth(),
        knownHosts: this.opts.knownHosts,
        log,
      });
      return new MacSession(conn, log);
    } catch (error) {
      throw toRemoteError(error);
    }
  }

  /** Persists newly pinned host keys. */
  async finish(): Promise<void> {
    await this.opts.knownHosts.save();
  }
}
