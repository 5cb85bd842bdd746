// The protocol operations of src/mac/PROTOCOL.md as a simulated Mac answers them: recognise the
// command form and the `# pw-pool-op: <op>` marker, validate the positional arguments, act on the
// Mac, and print `key=value` lines, then `pw-pool-<op>=end`. Exit 0 = done, 3 = refused (with an
// `error=` line before the sentinel), 127 = not a command the simulator knows.

import { createHash } from 'node:crypto';
import type { SimMac } from './mac.js';
import { epochSeconds, firstLine, isoSeconds, lastLine } from './mac.js';
import {
  CI_ENV_COPY,
  CIRRUS_CFG,
  DRAIN_STARTED,
  INSTALLED_SET,
  isAgentKind,
  LIBEXEC,
  NAME_PATTERN,
  PRIV,
  RECYCLE_DEADLINE,
  RECYCLE_PID,
  runnerDir,
  SECRET,
  SETUP_DONE,
  SETUP_FAILED,
  SETUP_LOG,
  SETUP_STARTED,
  STAGE,
  SUPERVISOR_PID,
  workerLog,
  workerUser,
  type AgentKind,
} from './paths.js';
import { ereToRegExp } from './posix-ere.js';
import { controlToSpace, hasControl, parseSetupArgs, RE } from './setup-args.js';
import { parseBashCommand, scriptOperation, shellQuote } from './shell-words.js';

export interface ExecRequest {
  command: string;
  /** Everything the client sent on the channel's stdin before EOF. */
  stdin: Buffer;
  /** Variables the client asked for with `env` requests. */
  env: Record<string, string>;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
  op: string | undefined;
}

/** One command as the Mac received it (the secret itself is never recorded). */
export interface CommandRecord {
  at: Date;
  /** The command string; an embedded script (secret form) is shown as `<script: N bytes>`. */
  command: string;
  commandBytes: number;
  form: 'stdin' | 'secret' | 'other';
  op: string | undefined;
  args: string[];
  env: Record<string, string>;
  stdinBytes: number;
  /** Size of the script text (stdin for the stdin form, the -c word for the secret form). */
  scriptBytes: number | undefined;
  /** Secret form: SHA-256 (hex) of the stdin bytes, so a test can tell which secret arrived. */
  secretSha256?: string;
  /** Undefined when the command never ran (a drop fault before it). */
  exitCode: number | undefined;
  fault: string | undefined;
}

export const OPERATIONS = [
  'probe',
  'install',
  'start-timer',
  'start-setup',
  'maintenance',
  'force-stop',
] as const;
export type Operation = (typeof OPERATIONS)[number];

class Refused extends Error {}

interface OpContext {
  mac: SimMac;
  args: string[];
  nowMs: number;
  /** start-setup: the bytes on stdin. */
  secret: Buffer | undefined;
}

type OpHandler = (ctx: OpContext) => [string, string][];

/** Runs one exec request (unless `fault` is "drop-before") and describes it for the record. */
export function runOperation(
  mac: SimMac,
  request: ExecRequest,
  nowMs: number,
  fault: string | undefined,
): { result: ExecResult; record: CommandRecord } {
  const parsed = parseBashCommand(request.command);
  const script =
    parsed === undefined
      ? undefined
      : parsed.form === 'stdin'
        ? request.stdin.toString('utf8')
        : parsed.script;
  const op = script === undefined ? undefined : scriptOperation(script);
  const args = parsed?.args ?? [];
  const record: CommandRecord = {
    at: new Date(nowMs),
    command:
      parsed?.form === 'secret'
        ? ['/bin/bash', '-c', `<script: ${Buffer.byteLength(parsed.script)} bytes>`, parsed.arg0]
            .concat(args.map(shellQuote))
            .join(' ')
        : request.command,
    commandBytes: Buffer.byteLength(request.command),
    form: parsed?.form ?? 'other',
    op,
    args: [...args],
    env: { ...request.env },
    stdinBytes: request.stdin.length,
    scriptBytes: script === undefined ? undefined : Buffer.byteLength(script),
    ...(parsed?.form === 'secret'
      ? { secretSha256: createHash('sha256').update(request.stdin).digest('hex') }
      : {}),
    exitCode: undefined,
    fault,
  };
  const result =
    fault === 'drop-before' ? undefined : answer(mac, parsed, op, args, request, nowMs);
  record.exitCode = result?.exitCode;
  return {
    result: result ?? { stdout: '', stderr: '', exitCode: 255, op },
    record,
  };
}

function answer(
  mac: SimMac,
  parsed: ReturnType<typeof parseBashCommand>,
  op: string | undefined,
  args: string[],
  request: ExecRequest,
  nowMs: number,
): ExecResult {
  if (parsed === undefined) {
    const first = request.command.trim().split(/\s+/)[0] ?? '';
    return {
      stdout: '',
      stderr: `simulated Mac: ${first || 'empty command'}: command not found (only pw-pool's protocol operations are modelled)\n`,
      exitCode: 127,
      op: undefined,
    };
  }
  if (op === undefined || !(OPERATIONS as readonly string[]).includes(op)) {
    return {
      stdout: '',
      stderr: `simulated Mac: ${op === undefined ? 'a script without a pw-pool-op marker' : `unknown operation '${op}'`} is not modelled\n`,
      exitCode: 127,
      op,
    };
  }
  const operation = op as Operation;
  const lines: [string, string][] = [];
  let exitCode = 0;
  try {
    if (operation === 'start-setup' && parsed.form !== 'secret') {
      throw new Refused('start-setup must be sent in the secret form (/bin/bash -c)');
    }
    lines.push(
      ...HANDLERS[operation]({
        mac,
        args,
        nowMs,
        secret: parsed.form === 'secret' ? request.stdin : undefined,
      }),
    );
  } catch (error) {
    if (!(error instanceof Refused)) throw error;
    lines.push(['error', error.message]);
    exitCode = 3;
  }
  const stdout =
    lines.map(([k, v]) => `${k}=${controlToSpace(v)}\n`).join('') + `pw-pool-${operation}=end\n`;
  return { stdout, stderr: '', exitCode, op: operation };
}

// ---------------------------------------------------------------- argument checks (lib.sh)

const USAGE: Readonly<Record<Operation, string>> = {
  probe:
    'usage: probe <kind> <name> <listenerPattern> <jobPattern> <registeredRe> <startedRe> <finishedRe>',
  install: 'usage: install (no arguments)',
  'start-timer': 'usage: start-timer <seconds> <drainSeconds> <jobPattern>',
  'start-setup': 'usage: start-setup <kind> <name> <setup args...>',
  maintenance: 'usage: maintenance <kind> <name> <listenerPattern> <jobPattern> <drainSeconds>',
  'force-stop': 'usage: force-stop <kind> <name> <listenerPattern> <message>',
};

function refuseUnless(ok: boolean, message: string): void {
  if (!ok) throw new Refused(message);
}

/** pw_valid_pattern: non-empty, one line, no leading '-', a valid ERE. */
function validPattern(value: string): boolean {
  if (value === '' || hasControl(value) || value.startsWith('-')) return false;
  try {
    ereToRegExp(value);
    return true;
  } catch {
    return false;
  }
}

/** pw_priv_ok: ~/.pw-pool is a directory of ec2-user with mode exactly 0700. */
function requirePriv(mac: SimMac): void {
  const node = mac.fs.get(PRIV);
  refuseUnless(
    node !== undefined &&
      node.type === 'dir' &&
      node.owner === 'ec2-user' &&
      (node.mode & 0o7777) === 0o700,
    `${PRIV} must be a directory owned by ec2-user with mode 0700`,
  );
}

/** pw_read_line: the first line of a file, empty when absent. */
function readLine(mac: SimMac, path: string): string {
  return firstLine(mac.fs.readText(path) ?? '');
}

// ---------------------------------------------------------------- the operations (src/mac/ops)

const HANDLERS: Readonly<Record<Operation, OpHandler>> = {
  probe({ mac, args, nowMs }) {
    refuseUnless(args.length === 7, USAGE.probe);
    const [kind, name, ...patterns] = args as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    refuseUnless(isAgentKind(kind), 'invalid agent kind');
    refuseUnless(NAME_PATTERN.test(name), 'invalid instance name');
    for (const p of patterns) refuseUnless(validPattern(p), 'invalid pattern argument');
    const [listenerRe, jobRe, registeredRe, startedRe, finishedRe] = patterns.map(ereToRegExp) as [
      RegExp,
      RegExp,
      RegExp,
      RegExp,
      RegExp,
    ];
    const worker = workerUser(name);
    const userExists = mac.hasUser(worker);
    const out: [string, string][] = [
      ['protocol', '1'],
      ['now', String(epochSeconds(nowMs))],
      ['scripts', mac.fs.isFile(`${LIBEXEC}/setup.sh`) ? 'installed' : 'absent'],
    ];
    const started = mac.fs.get(SETUP_STARTED);
    out.push(
      ['setup.started', started === undefined ? 'absent' : 'present'],
      ['setup.started.last', lastLine(mac.fs.readText(SETUP_STARTED) ?? '')],
      ['setup.started.mtime', started === undefined ? '' : String(epochSeconds(started.mtimeMs))],
      ['setup.done', mac.fs.get(SETUP_DONE) === undefined ? 'absent' : 'present'],
    );
    const failed = mac.fs.get(SETUP_FAILED) !== undefined;
    out.push(
      ['setup.failed', failed ? 'present' : 'absent'],
      ['setup.failed.reason', failed ? readLine(mac, SETUP_FAILED) : ''],
    );
    const setupLog =
      mac.fs.get(SETUP_LOG) === undefined ? undefined : (mac.fs.readText(SETUP_LOG) ?? '');
    out.push(
      ['setup.log', setupLog === undefined ? 'absent' : 'present'],
      ['setup.log.last', setupLog === undefined ? '' : lastNonBlankLine(setupLog)],
      ['supervisor', mac.pidFileState(SUPERVISOR_PID, 'service_pool.sh')],
      [
        'listener',
        userExists && mac.processesMatching(worker, listenerRe).length > 0 ? 'alive' : 'absent',
      ],
      ['job', userExists && mac.processesMatching(worker, jobRe).length > 0 ? 'alive' : 'absent'],
      ['worker.user', userExists ? 'present' : 'absent'],
      ['timer', mac.pidFileState(RECYCLE_PID, 'pw-pool-recycle')],
      ['recycle.deadline', readLine(mac, RECYCLE_DEADLINE)],
      ['drain.started', readLine(mac, DRAIN_STARTED)],
      ['agent.config', mac.agentConfigPresent(kind as AgentKind, name) ? 'present' : 'absent'],
    );
    const logPath = workerLog(name);
    const log = mac.fs.get(logPath);
    if (log !== undefined && log.type === 'file') {
      const lines = logLines(mac.fs.readText(logPath) ?? '');
      const count = (re: RegExp, within = lines): number => within.filter((l) => re.test(l)).length;
      out.push(
        ['worker.log', 'present'],
        ['worker.log.inode', String(log.inode)],
        ['worker.log.size', String(log.size)],
        ['worker.log.registered', count(registeredRe, lines.slice(0, 10)) > 0 ? 'yes' : 'no'],
        ['worker.log.started', String(count(startedRe))],
        ['worker.log.finished', String(count(finishedRe))],
      );
    } else {
      out.push(
        ['worker.log', 'absent'],
        ['worker.log.inode', ''],
        ['worker.log.size', ''],
        ['worker.log.registered', ''],
        ['worker.log.started', ''],
        ['worker.log.finished', ''],
      );
    }
    return out;
  },

  install({ mac, args, nowMs }) {
    refuseUnless(args.length === 0, USAGE.install);
    requirePriv(mac);
    for (const file of INSTALLED_SET) {
      refuseUnless(mac.fs.isFile(`${STAGE}/${file}`), `staged file ${file} is missing`);
    }
    const root = { mode: 0o755, owner: 'root', group: 'wheel' };
    Object.assign(mac.fs.mkdirp(LIBEXEC, root, nowMs), root);
    for (const file of INSTALLED_SET) {
      mac.fs.copy(`${STAGE}/${file}`, `${LIBEXEC}/${file}`, root, nowMs);
    }
    mac.fs.copy(
      `${STAGE}/ci_env.sh`,
      CI_ENV_COPY,
      { mode: 0o755, owner: 'ec2-user', group: 'staff' },
      nowMs,
    );
    return [['install', 'ok']];
  },

  'start-timer'({ mac, args, nowMs }) {
    refuseUnless(args.length === 3, USAGE['start-timer']);
    const [seconds, drain, jobPattern] = args as [string, string, string];
    refuseUnless(RE.uint.test(seconds), 'seconds must be an integer >= 1');
    refuseUnless(RE.uint.test(drain), 'drainSeconds must be an integer >= 1');
    refuseUnless(validPattern(jobPattern), 'invalid job pattern');
    requirePriv(mac);
    refuseUnless(mac.fs.isFile(`${LIBEXEC}/shutdown.sh`), 'installed scripts are missing');
    if (mac.pidFileState(RECYCLE_PID, 'pw-pool-recycle') === 'alive') {
      return [
        ['timer', 'existing'],
        ['deadline', readLine(mac, RECYCLE_DEADLINE)],
      ];
    }
    const deadline = mac.startTimer(Number(seconds), Number(drain), jobPattern, nowMs);
    return [
      ['timer', 'started'],
      ['deadline', String(deadline)],
    ];
  },

  'start-setup'({ mac, args, nowMs, secret }) {
    refuseUnless(args.length >= 2, USAGE['start-setup']);
    const [kind, name] = args as [string, string];
    refuseUnless(isAgentKind(kind), 'invalid agent kind');
    refuseUnless(NAME_PATTERN.test(name), 'invalid instance name');
    const words = args.slice(2);
    const options = parseSetupArgs(kind as AgentKind, words);
    if (typeof options === 'string') throw new Refused(options);
    requirePriv(mac);
    refuseUnless(mac.fs.isFile(`${LIBEXEC}/setup.sh`), 'installed scripts are missing');
    // The secret: exactly one non-empty line of token characters (never kept, never echoed).
    const text = (secret ?? Buffer.alloc(0)).toString('utf8');
    const nl = text.indexOf('\n');
    const line = nl < 0 ? text : text.slice(0, nl);
    refuseUnless(nl < 0 || nl === text.length - 1, 'the secret on stdin must be a single line');
    refuseUnless(RE.secret.test(line), 'the secret on stdin is empty or has unexpected characters');
    if (mac.fs.get(SETUP_STARTED) === undefined) {
      mac.fs.appendText(SETUP_STARTED, `${isoSeconds(nowMs)}\n`, PRIVATE, nowMs);
    }
    // umask 077, then chmod 0600: only the size of `<secret>\n` is kept.
    mac.fs.remove(SECRET);
    mac.fs.writeSensitive(SECRET, Buffer.byteLength(line) + 1, PRIVATE, nowMs);
    const pid = mac.startSetup(
      {
        kind: kind as AgentKind,
        name,
        args: words,
        options,
        secretBytes: Buffer.byteLength(line) + 1,
      },
      nowMs,
      // setup.sh's config.sh may register with the fake GitHub: the value, never recorded.
      line,
    );
    return [
      ['setup', 'started'],
      ['pid', String(pid)],
    ];
  },

  maintenance({ mac, args, nowMs }) {
    refuseUnless(args.length === 5, USAGE.maintenance);
    const [kind, name, lpat, jpat, drain] = args as [string, string, string, string, string];
    refuseUnless(isAgentKind(kind), 'invalid agent kind');
    refuseUnless(NAME_PATTERN.test(name), 'invalid instance name');
    refuseUnless(validPattern(lpat), 'invalid listener pattern');
    refuseUnless(validPattern(jpat), 'invalid job pattern');
    refuseUnless(RE.uint.test(drain), 'drainSeconds must be an integer >= 1');
    requirePriv(mac);
    const worker = workerUser(name);
    const listenerRe = ereToRegExp(lpat);
    const jobRe = ereToRegExp(jpat);

    // Step 2: the recycling timer and any shutdown.sh still waiting for a job. (On a Mac, the
    // timer's bash may report its killed sleep as a `Terminated` line in setup.log, depending on
    // when the second signal lands: a shell artefact that is not modelled.)
    let timer = 'none';
    const timerPid = mac.pidFromFile(RECYCLE_PID);
    if (timerPid !== undefined && mac.pidFileState(RECYCLE_PID, 'pw-pool-recycle') === 'alive') {
      mac.kill(timerPid, nowMs);
      timer = 'cancelled';
    }
    if (mac.pkill('ec2-user', SHUTDOWN_SH, nowMs) > 0) timer = 'cancelled';
    mac.fs.remove(RECYCLE_PID);
    mac.fs.remove(RECYCLE_DEADLINE);

    // Step 3: a later PWPoolReady=true must lead to a full fresh setup.
    for (const path of [SETUP_STARTED, SETUP_DONE, SETUP_FAILED]) mac.fs.remove(path);
    removeAgentConfig(mac, kind as AgentKind, name);
    mac.configChanged(nowMs);

    // Step 4: the drain rule, here only when no supervisor does it.
    let drainState = 'none';
    const supervisorAlive = mac.pidFileState(SUPERVISOR_PID, 'service_pool.sh') === 'alive';
    if (mac.hasUser(worker) && mac.processesMatching(worker, listenerRe).length > 0) {
      if (supervisorAlive) {
        // The supervisor leaves its loop (config gone) and drains; a running job means the
        // drain starts now, so the marker is written here and this run already reports it.
        if (
          mac.fs.get(DRAIN_STARTED) === undefined &&
          mac.processesMatching(worker, jobRe).length > 0
        ) {
          mac.writeOwnFile(DRAIN_STARTED, `${epochSeconds(nowMs)}\n`, nowMs);
        }
        if (mac.fs.get(DRAIN_STARTED) !== undefined) drainState = 'waiting';
      } else {
        const now = epochSeconds(nowMs);
        if (mac.processesMatching(worker, jobRe).length > 0) {
          let started = readLine(mac, DRAIN_STARTED);
          if (!RE.epoch.test(started)) {
            started = String(now);
            mac.writeOwnFile(DRAIN_STARTED, `${started}\n`, nowMs);
          }
          if (now - Number(started) < Number(drain)) drainState = 'waiting';
        }
        if (drainState !== 'waiting') {
          mac.pkill(worker, listenerRe, nowMs);
          mac.fs.remove(DRAIN_STARTED);
          drainState = 'done';
        }
      }
    } else if (!supervisorAlive) {
      mac.fs.remove(DRAIN_STARTED);
    }
    return [
      ['timer', timer],
      ['drain', drainState],
      ['drain.started', readLine(mac, DRAIN_STARTED)],
    ];
  },

  'force-stop'({ mac, args, nowMs }) {
    refuseUnless(args.length === 4, USAGE['force-stop']);
    const [kind, name, lpat, message] = args as [string, string, string, string];
    refuseUnless(isAgentKind(kind), 'invalid agent kind');
    refuseUnless(NAME_PATTERN.test(name), 'invalid instance name');
    refuseUnless(validPattern(lpat), 'invalid listener pattern');
    refuseUnless(
      message !== '' && !hasControl(message) && message.length <= 1000,
      'the message must be one line of at most 1000 characters',
    );
    const worker = workerUser(name);
    mac.wall(message, nowMs);
    removeAgentConfig(mac, kind as AgentKind, name);
    for (const path of [SETUP_STARTED, SETUP_DONE, SETUP_FAILED]) mac.fs.remove(path);
    let supervisor = 'none';
    const supPid = mac.pidFromFile(SUPERVISOR_PID);
    if (supPid !== undefined && mac.pidFileState(SUPERVISOR_PID, 'service_pool.sh') === 'alive') {
      if (mac.terminateSupervisor(supPid, nowMs)) supervisor = 'stopped';
    }
    const killed = mac.hasUser(worker) ? mac.pkill(worker, ereToRegExp(lpat), nowMs) : 0;
    return [
      ['wall', 'ok'],
      ['supervisor', supervisor],
      ['listener', killed > 0 ? 'stopped' : 'none'],
    ];
  },
};

const PRIVATE = { mode: 0o600, owner: 'ec2-user', group: 'staff' };
const SHUTDOWN_SH = ereToRegExp(`^/bin/bash ${LIBEXEC.replaceAll('.', '[.]')}/shutdown[.]sh( |$)`);

/** pw_agent_config_remove (sudo rm -f). */
function removeAgentConfig(mac: SimMac, kind: AgentKind, name: string): void {
  if (kind === 'cirrus') mac.fs.remove(CIRRUS_CFG);
  else for (const file of ['.runner', '.credentials']) mac.fs.remove(`${runnerDir(name)}/${file}`);
}

/** Worker-log lines as `grep` sees them, after dropping a trailing CR and ANSI SGR sequences. */
function logLines(text: string): string[] {
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  if (body === '' && !text.endsWith('\n')) return [];
  return body.split('\n').map((raw) => {
    const line = stripSgr(raw);
    return line.endsWith('\r') ? line.slice(0, -1) : line;
  });
}

const ESC = String.fromCharCode(27);
const SGR = new RegExp(`${ESC}\\[[0-9;]*m`, 'g');

function stripSgr(line: string): string {
  return line.includes(ESC) ? line.replace(SGR, '') : line;
}

/** awk 'NF { last = $0 } END { print last }': the last line with a non-blank field. */
function lastNonBlankLine(text: string): string {
  const lines = text.split('\n').filter((l) => /[^ \t\n]/.test(l));
  return lines.at(-1) ?? '';
}
