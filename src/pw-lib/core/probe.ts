// The probe's report (src/mac/PROTOCOL.md): one key=value line per fact, in a fixed order, ending
// with a sentinel. A report that is incomplete in any way makes every fact unknown (§9 R2).

export const PROBE_KEYS = [
  'protocol',
  'now',
  'scripts',
  'setup.started',
  'setup.started.last',
  'setup.started.mtime',
  'setup.done',
  'setup.failed',
  'setup.failed.reason',
  'setup.log',
  'setup.log.last',
  'supervisor',
  'listener',
  'job',
  'worker.user',
  'timer',
  'recycle.deadline',
  'drain.started',
  'agent.config',
  'worker.log',
  'worker.log.inode',
  'worker.log.size',
  'worker.log.registered',
  'worker.log.started',
  'worker.log.finished',
] as const;
export type ProbeKey = (typeof PROBE_KEYS)[number];

export const PROBE_SENTINEL = 'pw-pool-probe=end';

/** The facts of one completed probe; every field is a definite answer. */
export interface ProbeFacts {
  readonly remoteNowS: number | undefined;
  readonly scriptsInstalled: boolean;
  readonly setupStarted: boolean;
  readonly setupStartedLast: string;
  readonly setupStartedMtimeS: number | undefined;
  readonly setupDone: boolean;
  readonly setupFailed: boolean;
  readonly setupFailedReason: string;
  readonly setupLog: boolean;
  readonly setupLogLast: string;
  readonly supervisor: 'alive' | 'dead' | 'absent';
  readonly listener: boolean;
  readonly job: boolean;
  readonly workerUser: boolean;
  readonly timer: 'alive' | 'dead' | 'absent';
  readonly recycleDeadlineS: number | undefined;
  readonly drainStartedS: number | undefined;
  readonly agentConfig: boolean;
  readonly workerLog:
    | { readonly present: false }
    | {
        readonly present: true;
        readonly inode: string;
        readonly size: number;
        readonly registered: boolean;
        readonly started: number;
        readonly finished: number;
      };
}

export type ProbeParse =
  | { readonly ok: true; readonly facts: ProbeFacts }
  | { readonly ok: false; readonly problem: string };

function presence(v: string, key: string): boolean {
  if (v === 'present') return true;
  if (v === 'absent') return false;
  throw new Error(`${key}=${v}: expected present or absent`);
}

function count(v: string, key: string): number {
  if (!/^[0-9]+$/.test(v)) throw new Error(`${key}=${v}: expected a count`);
  return Number(v);
}

function optionalEpoch(v: string): number | undefined {
  return /^[0-9]+$/.test(v) ? Number(v) : undefined;
}

function oneOf<T extends string>(v: string, key: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(v)) return v as T;
  throw new Error(`${key}=${v}: expected ${allowed.join(' or ')}`);
}

/** Parses a probe's stdout. Any missing key, unknown value or missing sentinel is a failure. */
export function parseProbeReport(stdout: string): ProbeParse {
  const lines = stdout.split('\n').map((l) => l.replace(/\r$/, ''));
  const sentinelAt = lines.indexOf(PROBE_SENTINEL);
  if (sentinelAt < 0) return { ok: false, problem: 'incomplete report: no sentinel' };
  const values = new Map<string, string>();
  for (const line of lines.slice(0, sentinelAt)) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    values.set(line.slice(0, eq), line.slice(eq + 1));
  }
  const missing = PROBE_KEYS.filter((k) => !values.has(k));
  if (missing.length > 0)
    return { ok: false, problem: `incomplete report: missing ${missing.join(', ')}` };
  const get = (k: ProbeKey): string => values.get(k) ?? '';
  try {
    if (get('protocol') !== '1') throw new Error(`protocol=${get('protocol')}: expected 1`);
    const workerLog = presence(get('worker.log'), 'worker.log');
    return {
      ok: true,
      facts: {
        remoteNowS: optionalEpoch(get('now')),
        scriptsInstalled: oneOf(get('scripts'), 'scripts', ['installed', 'absent']) === 'installed',
        setupStarted: presence(get('setup.started'), 'setup.started'),
        setupStartedLast: get('setup.started.last'),
        setupStartedMtimeS: optionalEpoch(get('setup.started.mtime')),
        setupDone: presence(get('setup.done'), 'setup.done'),
        setupFailed: presence(get('setup.failed'), 'setup.failed'),
        setupFailedReason: get('setup.failed.reason'),
        setupLog: presence(get('setup.log'), 'setup.log'),
        setupLogLast: get('setup.log.last'),
        supervisor: oneOf(get('supervisor'), 'supervisor', ['alive', 'dead', 'absent']),
        listener: oneOf(get('listener'), 'listener', ['alive', 'absent']) === 'alive',
        job: oneOf(get('job'), 'job', ['alive', 'absent']) === 'alive',
        workerUser: presence(get('worker.user'), 'worker.user'),
        timer: oneOf(get('timer'), 'timer', ['alive', 'dead', 'absent']),
        recycleDeadlineS: optionalEpoch(get('recycle.deadline')),
        drainStartedS: optionalEpoch(get('drain.started')),
        agentConfig: presence(get('agent.config'), 'agent.config'),
        workerLog: workerLog
          ? {
              present: true,
              inode: get('worker.log.inode'),
              size: count(get('worker.log.size'), 'worker.log.size'),
              registered:
                oneOf(get('worker.log.registered'), 'worker.log.registered', ['yes', 'no']) ===
                'yes',
              started: count(get('worker.log.started'), 'worker.log.started'),
              finished: count(get('worker.log.finished'), 'worker.log.finished'),
            }
          : { present: false },
      },
    };
  } catch (error) {
    return { ok: false, problem: (error as Error).message };
  }
}

/** Parses the `key=value` reply of any other operation; undefined when its sentinel is missing. */
export function parseOpReply(stdout: string, op: string): Map<string, string> | undefined {
  const lines = stdout.split('\n').map((l) => l.replace(/\r$/, ''));
  const end = lines.indexOf(`pw-pool-${op}=end`);
  if (end < 0) return undefined;
  const out = new Map<string, string>();
  for (const line of lines.slice(0, end)) {
    const eq = line.indexOf('=');
    if (eq > 0) out.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return out;
}
