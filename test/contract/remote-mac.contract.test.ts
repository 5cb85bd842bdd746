// The remote-protocol contract (src/mac/PROTOCOL.md): one list of scenarios, each run against
// the sandbox Mac (the real on-instance scripts with real bash) and the simulated Mac (the model
// in virtual time), both driven through the product's MacRemote/RemoteSession. Every scenario
// asserts what behavior.md §4–§7 and PROTOCOL.md require, and notes the parsed answers
// (ProbeFacts, op outcomes, refusals) after normalising what legitimately differs (clock values,
// inodes, sizes, pids, the sandbox's root prefix); the two targets' notes must then be equal.
// The scripts are the reference: a disagreement is a bug of the simulated Mac.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { CirrusAgent } from '../../src/pw-lib/agents/cirrus.js';
import type { ProbeFacts } from '../../src/pw-lib/core/probe.js';
import type { ProbeRequest, RemoteSession, SetupRequest } from '../../src/pw-lib/ports.js';
import { RemoteError } from '../../src/pw-lib/ports.js';
import {
  NAME,
  PROBE,
  startTarget,
  type ProcessCounts,
  type Target,
  type TargetKind,
} from './targets.js';

// ------------------------------------------------------------------------------ the manager's side

const DRAIN_S = 7200;
const TIMER_S = 86_400;
const JOB = PROBE.patterns.job;
const AGENT = new CirrusAgent({
  poolTokenFile: undefined,
  env: {},
  purposeTagKey: 'purpose',
  purposeValue: 'prod',
});

/** setup.sh's arguments exactly as setup-instances builds them (§4.3 S10 C step 4). */
function setupArgs(drainS = DRAIN_S): string[] {
  return [
    ...AGENT.setupArgs(),
    `taps=${AGENT.brewTaps.join(' ')}`,
    `formulas=${AGENT.brewFormulas.join(' ')}`,
    `drain=${drainS}`,
  ];
}

function setupRequest(args = setupArgs()): SetupRequest {
  return { kind: 'cirrus', name: NAME, args };
}

/** behavior.md §7's github-actions patterns (probe only: the sandbox runs no runner here). */
const GH_TS = '[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}Z';
const GITHUB_PROBE: ProbeRequest = {
  kind: 'github-actions',
  name: NAME,
  patterns: {
    listener: 'Runner.Listener',
    job: 'Runner.Worker',
    registered: '^(√ )?Connected to GitHub$',
    started: `^${GH_TS}: Running job: .+$`,
    finished: `^${GH_TS}: Job .+ completed with result: [A-Za-z]+$`,
  },
};

/** A random pool token (the characters a Cirrus token has). */
function randomToken(): string {
  return `pwtok${randomBytes(30).toString('base64url').replace(/[-_]/g, 'x')}`;
}

// ------------------------------------------------------------------------------ normalisation

const TS = /[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\+00:00/g;

/** A setup.log line made comparable: timestamps and pids replaced. */
function logLine(line: string): string {
  return line.replace(TS, '<ts>').replace(/\bpid [0-9]+/g, 'pid <pid>');
}

const epochOrNone = (v: number | undefined) => (v === undefined ? 'none' : 'epoch');

interface NormOptions {
  /** setup.log's last line races between setup.sh and the supervisor on a real Mac: not compared. */
  logLast?: boolean;
}

/** ProbeFacts with what legitimately differs replaced by its kind. */
function normFacts(t: Target, f: ProbeFacts, opts: NormOptions = {}): Record<string, unknown> {
  return {
    ...f,
    remoteNowS: epochOrNone(f.remoteNowS),
    setupStartedLast: f.setupStartedLast.replace(TS, '<ts>'),
    setupStartedMtimeS: epochOrNone(f.setupStartedMtimeS),
    setupLogLast: opts.logLast === false ? '<not compared>' : logLine(t.normalise(f.setupLogLast)),
    recycleDeadlineS: epochOrNone(f.recycleDeadlineS),
    drainStartedS: epochOrNone(f.drainStartedS),
    workerLog: f.workerLog.present
      ? { ...f.workerLog, inode: '<inode>', size: '<size>' }
      : f.workerLog,
  };
}

/** The facts of a Mac nobody touched yet (PROTOCOL.md, probe). */
const FRESH: Record<string, unknown> = {
  remoteNowS: 'epoch',
  scriptsInstalled: false,
  setupStarted: false,
  setupStartedLast: '',
  setupStartedMtimeS: 'none',
  setupDone: false,
  setupFailed: false,
  setupFailedReason: '',
  setupLog: false,
  setupLogLast: '',
  supervisor: 'absent',
  listener: false,
  job: false,
  workerUser: false,
  timer: 'absent',
  recycleDeadlineS: 'none',
  drainStartedS: 'none',
  agentConfig: false,
  workerLog: { present: false },
};

/** The facts of a worker set up by the manager (timer started first), listener idle. */
const SET_UP: Record<string, unknown> = {
  remoteNowS: 'epoch',
  scriptsInstalled: true,
  setupStarted: true,
  setupStartedLast: '<ts>',
  setupStartedMtimeS: 'epoch',
  setupDone: true,
  setupFailed: false,
  setupFailedReason: '',
  setupLog: true,
  setupLogLast: '<not compared>',
  supervisor: 'alive',
  listener: true,
  job: false,
  workerUser: true,
  timer: 'alive',
  recycleDeadlineS: 'epoch',
  drainStartedS: 'none',
  agentConfig: true,
  workerLog: {
    present: true,
    inode: '<inode>',
    size: '<size>',
    registered: true,
    started: 0,
    finished: 0,
  },
};

// ------------------------------------------------------------------------------ scenario plumbing

interface Run {
  t: Target;
  s: RemoteSession;
  /** Records a normalised observation; both targets must record the same list. */
  note(label: string, value: unknown): void;
  /** Probes now and returns the normalised facts. */
  facts(opts?: NormOptions): Promise<Record<string, unknown>>;
}

interface Scenario {
  name: string;
  run(r: Run): Promise<void>;
}

/** Asserts the listed normalised facts (the others are compared between the targets only). */
function expectFacts(actual: Record<string, unknown>, expected: Record<string, unknown>): void {
  const picked = Object.fromEntries(Object.keys(expected).map((k) => [k, actual[k]]));
  assert.deepEqual(picked, expected);
}

/** The failure of `promise`, which must be a RemoteError, as `{kind, message}` (normalised). */
async function remoteFailure(t: Target, promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof RemoteError, `a RemoteError, got ${String(error)}`);
    return { kind: error.kind, message: t.normalise(error.message) };
  }
  assert.fail('the operation succeeded, a refusal was expected');
}

async function refused(r: Run, label: string, promise: Promise<unknown>, message: string) {
  const failure = await remoteFailure(r.t, promise);
  assert.deepEqual(failure, { kind: 'refused', message }, label);
  r.note(label, failure);
}

/** Waits (real time, bounded) until the process counts satisfy `check`: processes end a little
 *  after the signal on a real Mac; the simulated Mac shows them at once. */
async function counts(
  t: Target,
  check: (c: ProcessCounts) => boolean,
  what: string,
): Promise<ProcessCounts> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const c = await t.processCounts();
    if (check(c)) return c;
    if (Date.now() > deadline) assert.fail(`${t.kind}: ${what}: ${JSON.stringify(c)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The manager's fresh setup (§4.3 S10 C): upload, install, the timer, start-setup; then wait
 *  until the worker runs: setup done, supervisor and listener alive, registered. */
async function setUpWorker(r: Run, args = setupArgs()): Promise<ProbeFacts> {
  await r.s.uploadScripts();
  await r.s.installScripts();
  const timer = await r.s.startTimer(TIMER_S, DRAIN_S, JOB);
  assert.equal(timer.started, true);
  await r.s.startSetup(setupRequest(args), randomToken());
  return r.t.until(
    'setup done, supervisor and listener alive, registered',
    r.s,
    (f) =>
      f.setupFailed ||
      (f.setupDone &&
        f.supervisor === 'alive' &&
        f.listener &&
        f.workerLog.present &&
        f.workerLog.registered),
  );
}

const isWorking = (f: ProbeFacts) => f.supervisor === 'alive' && f.listener;
const isStopped = (f: ProbeFacts) => f.supervisor !== 'alive' && !f.listener && !f.job;
/** The probe reads setup.log before it looks at the supervisor, and the supervisor logs its
 *  last line just before it exits: one probe may see it gone without that line. */
const supervisorExited = (line: RegExp) => (f: ProbeFacts) =>
  isStopped(f) && line.test(f.setupLogLast);
const STOPPED_LINE = /Stopped Cirrus worker listener; supervisor exiting$/;

// ------------------------------------------------------------------------------ the scenarios

const SCENARIOS: Scenario[] = [
  {
    name: 'probe on a fresh Mac: every fact absent',
    async run(r) {
      const f = await r.facts();
      assert.deepEqual(f, FRESH);
      r.note('fresh', f);
      // The github-actions probe (its §7 patterns; the agent config is the runner's .runner).
      const gha = normFacts(r.t, await r.s.probe(GITHUB_PROBE));
      assert.deepEqual(gha, FRESH);
      r.note('fresh, github-actions', gha);
    },
  },

  {
    name: 'upload and install: scripts installed, nothing else changes',
    async run(r) {
      await r.s.uploadScripts();
      const staged = await r.facts();
      assert.deepEqual(staged, FRESH, 'staged only: not installed yet');
      r.note('uploaded', staged);
      await r.s.installScripts();
      const installed = await r.facts();
      assert.deepEqual(installed, { ...FRESH, scriptsInstalled: true });
      r.note('installed', installed);
      // A second upload and install (every fresh setup does both) replaces the files.
      await r.s.uploadScripts();
      await r.s.installScripts();
      r.note('installed again', await r.facts());
    },
  },

  {
    name: 'start-timer twice: started, then existing with the same deadline',
    async run(r) {
      await r.s.uploadScripts();
      await r.s.installScripts();
      const before = await r.s.probe(PROBE);
      const first = await r.s.startTimer(TIMER_S, DRAIN_S, JOB);
      const after = await r.s.probe(PROBE);
      assert.equal(first.started, true);
      assert.ok(first.deadlineS !== undefined && before.remoteNowS !== undefined);
      assert.ok(first.deadlineS >= before.remoteNowS + TIMER_S, 'deadline = now + seconds');
      assert.ok(first.deadlineS <= (after.remoteNowS ?? 0) + TIMER_S, 'deadline = now + seconds');
      r.note('first', { started: first.started, deadline: epochOrNone(first.deadlineS) });
      const second = await r.s.startTimer(3600, DRAIN_S, JOB);
      assert.deepEqual(second, { started: false, deadlineS: first.deadlineS });
      r.note('second', { started: second.started, sameDeadline: true });
      const f = await r.s.probe(PROBE);
      assert.equal(f.timer, 'alive');
      assert.equal(f.recycleDeadlineS, first.deadlineS);
      r.note('probe', normFacts(r.t, f));
      r.note('processes', await counts(r.t, (c) => c.timers === 1, 'one timer'));
    },
  },

  {
    name: 'start-setup with a random token: the worker runs and is registered',
    async run(r) {
      await r.s.uploadScripts();
      await r.s.installScripts();
      await r.s.startTimer(TIMER_S, DRAIN_S, JOB);
      await r.s.startSetup(setupRequest(), randomToken());
      // The first state change happens before start-setup answers.
      const started = await r.facts({ logLast: false });
      expectFacts(started, { setupStarted: true, setupStartedLast: '<ts>', setupFailed: false });
      r.note('right after start-setup', {
        setupStarted: started.setupStarted,
        setupStartedLast: started.setupStartedLast,
        setupStartedMtimeS: started.setupStartedMtimeS,
      });
      const done = await r.t.until('setup done and a registered listener', r.s, (f) =>
        Boolean(
          f.setupFailed ||
          (f.setupDone && isWorking(f) && f.workerLog.present && f.workerLog.registered),
        ),
      );
      const f = normFacts(r.t, done, { logLast: false });
      assert.deepEqual(f, SET_UP);
      r.note('set up', f);
      r.note(
        'processes',
        await counts(
          r.t,
          (c) => c.supervisors === 1 && c.listeners === 1 && c.timers === 1 && c.jobs === 0,
          'one supervisor, listener and timer, no job',
        ),
      );
    },
  },

  {
    name: 'worker-log counting: the same lines count the same on both sides (§7 cirrus)',
    async run(r) {
      await setUpWorker(r);
      const countsOf = async () => {
        const f = await r.s.probe(PROBE);
        assert.ok(f.workerLog.present);
        const { registered, started, finished } = f.workerLog;
        return { registered, started, finished };
      };
      await r.t.completeTasks(2);
      const tasks = await countsOf();
      assert.deepEqual(tasks, { registered: true, started: 2, finished: 2 });
      r.note('two tasks', tasks);

      const ESC = '\u001b';
      const ts = 'time="2024-08-06T12:00:00Z"';
      // behavior.md §7: never counted (the original's unanchored greps over-counted these),
      // and look-alikes that the anchored patterns must reject.
      const never = [
        `${ts} level=error msg="failed to notify the server about the started task 77: rpc error: code = Unavailable desc = connection reset"`,
        `${ts} level=warning msg="spurious task 77 completed"`,
        '##### 2024-08-06T12:00:00+00:00 Listener started at 2024-08-06T12:00:00+00:00',
        `${ts} level=error msg="failed to create an instance for the task 78: no isolation"`,
        '# Log created 2024-08-06T12:00:00+00:00 - do not manually remove or modify!',
        `${ts} level=info msg="started task 79" extra="field"`,
        `${ts} level=debug msg="started task 80"`,
        `${ts} level=info msg="started task abc"`,
        '  started task 81',
        'started task 82 ',
        'Started task 83',
        `${ts} level=info msg="task 84 completed successfully"`,
        'task 85 completed\r\r',
        'started task 1\r86',
        `${ESC}[2Kstarted task 87`,
        `time="2024-08-06T12:00:00Z" level=info msg="task 88 completed"x`,
        `${ts} level=info msg="worker successfully registered on upstream grpc.cirrus-ci.com:443"`,
      ];
      await r.t.writeWorkerLog(never);
      const afterNever = await countsOf();
      assert.deepEqual(afterNever, tasks, 'no look-alike counts');
      r.note('after the look-alikes', afterNever);

      // Counted: logrus lines and bare messages, with CRLF endings and ANSI SGR colours.
      const counted = [
        `time="2024-08-06T12:00:01Z" level=info msg="started task 90"\r`,
        `${ESC}[32mtime="2024-08-06T12:00:02Z" level=info msg="task 90 completed"${ESC}[0m\r`,
        `time="2024-08-06T12:00:03Z" level=${ESC}[1;34minfo${ESC}[0m msg="started task 91"`,
        'started task 92',
        'task 92 completed\r',
        `${ESC}[mtask 93 completed${ESC}[39m`,
        `time="ünïcödé" level=info msg="started task 94"`,
        `started task 9${ESC}[0m5\r`,
      ];
      await r.t.writeWorkerLog(counted);
      const afterCounted = await countsOf();
      assert.deepEqual(afterCounted, { registered: true, started: 2 + 5, finished: 2 + 3 });
      r.note('after the counted lines', afterCounted);
      // (`registered` looks at the first 10 lines only; the product cannot rewrite the log, so
      // that rule's negative side stays with test/mac/probe-counts and the simulator's tests.)
      r.note('probe', normFacts(r.t, await r.s.probe(PROBE), { logLast: false }));
    },
  },

  {
    name: 'maintenance on a healthy worker (tag still true): the config gone stops the listener',
    async run(r) {
      await setUpWorker(r);
      const m = await r.s.maintenance({ ...PROBE, drainSeconds: DRAIN_S });
      // A live supervisor owns the drain: `none`. On a real Mac the supervisor may just have
      // seen the config gone and be stopping the listener, so the script may apply the drain
      // rule itself (no job: `done`). Both mean "nothing to wait for".
      assert.ok(m.drain === 'none' || m.drain === 'done', m.drain);
      assert.equal(m.drainStartedS, undefined);
      r.note('maintenance', { drain: 'none-or-done', drainStartedS: epochOrNone(m.drainStartedS) });
      const right = await r.facts({ logLast: false });
      const cleared = {
        setupStarted: false,
        setupDone: false,
        setupFailed: false,
        agentConfig: false,
        timer: 'absent',
        recycleDeadlineS: 'none',
        drainStartedS: 'none',
      };
      expectFacts(right, cleared);
      r.note('right after', Object.fromEntries(Object.keys(cleared).map((k) => [k, right[k]])));
      await counts(r.t, (c) => c.timers === 0, 'the timer cancelled');
      r.note('timer process', 'cancelled');

      const stopped = await r.t.until(
        'the supervisor stops the listener',
        r.s,
        supervisorExited(STOPPED_LINE),
      );
      const f = normFacts(r.t, stopped);
      expectFacts(f, {
        ...cleared,
        supervisor: 'dead',
        listener: false,
        job: false,
        workerUser: true,
        setupLogLast: '##### <ts> Stopped Cirrus worker listener; supervisor exiting',
      });
      r.note('stopped', f);
      const again = await r.s.maintenance({ ...PROBE, drainSeconds: DRAIN_S });
      assert.deepEqual(again, { drain: 'none', drainStartedS: undefined });
      r.note('maintenance again', again);
    },
  },

  {
    name: 'PWPoolReady=false: the supervisor stops the idle listener; maintenance has nothing to drain',
    async run(r) {
      await setUpWorker(r);
      await r.t.setReadyTag('false');
      const stopped = await r.t.until(
        'the supervisor leaves its loop',
        r.s,
        supervisorExited(STOPPED_LINE),
      );
      const f = normFacts(r.t, stopped);
      expectFacts(f, {
        supervisor: 'dead',
        agentConfig: true,
        setupDone: true,
        timer: 'alive',
        drainStartedS: 'none',
        setupLogLast: '##### <ts> Stopped Cirrus worker listener; supervisor exiting',
      });
      r.note('stopped by the supervisor', f);
      const m = await r.s.maintenance({ ...PROBE, drainSeconds: DRAIN_S });
      assert.deepEqual(m, { drain: 'none', drainStartedS: undefined });
      r.note('maintenance', m);
      // On a Mac the timer's bash may report its killed sleep (`Terminated`) in setup.log: the
      // last line is a shell artefact here, not compared.
      const after = normFacts(r.t, await r.s.probe(PROBE), { logLast: false });
      expectFacts(after, { agentConfig: false, setupDone: false, timer: 'absent' });
      r.note('after maintenance', after);
      await counts(r.t, (c) => c.timers === 0, 'the timer cancelled');
      r.note('timer process', 'cancelled');
    },
  },

  {
    name: 'maintenance while the supervisor drains a running job: drain=waiting, listener kept',
    async run(r) {
      // A drain that is not whole hours: the supervisor logs it with pw_hours (1.01 hours).
      const drainS = 3636;
      await setUpWorker(r, setupArgs(drainS));
      await r.t.startJob();
      await r.t.setReadyTag('false');
      // (The supervisor writes the marker, then logs: wait for both.)
      const draining = await r.t.until(
        'the supervisor drains',
        r.s,
        (f) => f.drainStartedS !== undefined && /Draining/.test(f.setupLogLast),
      );
      const d = normFacts(r.t, draining);
      expectFacts(d, {
        supervisor: 'alive',
        listener: true,
        job: true,
        setupLogLast: '##### <ts> Draining: waiting up to 1.01 hours for the running job',
      });
      r.note('draining', d);
      const m = await r.s.maintenance({ ...PROBE, drainSeconds: drainS });
      assert.deepEqual(m, { drain: 'waiting', drainStartedS: draining.drainStartedS });
      r.note('maintenance', { drain: m.drain, sameMarker: true });
      // (setup.log's last line may be the timer's `Terminated` shell report: not compared.)
      const kept = normFacts(r.t, await r.s.probe(PROBE), { logLast: false });
      expectFacts(kept, { listener: true, job: true, agentConfig: false, supervisor: 'alive' });
      r.note('listener kept', kept);

      await r.t.finishJob();
      const stopped = await r.t.until(
        'the supervisor stops the listener',
        r.s,
        supervisorExited(STOPPED_LINE),
      );
      const f = normFacts(r.t, stopped);
      expectFacts(f, {
        supervisor: 'dead',
        drainStartedS: 'none',
        setupLogLast: '##### <ts> Stopped Cirrus worker listener; supervisor exiting',
      });
      assert.ok(stopped.workerLog.present);
      assert.equal(stopped.workerLog.started, 1);
      assert.equal(stopped.workerLog.finished, 1);
      r.note('stopped', f);
      const again = await r.s.maintenance({ ...PROBE, drainSeconds: drainS });
      assert.deepEqual(again, { drain: 'none', drainStartedS: undefined });
      r.note('maintenance again', again);
    },
  },

  {
    name: 'no supervisor, a job running: maintenance applies the drain rule itself',
    async run(r) {
      await setUpWorker(r);
      await r.t.startJob();
      await r.t.crashSupervisor();
      const crashed = normFacts(r.t, await r.s.probe(PROBE), { logLast: false });
      expectFacts(crashed, { supervisor: 'dead', listener: true, job: true });
      r.note('supervisor crashed', crashed);
      // A young marker: wait, keep the listener.
      const first = await r.s.maintenance({ ...PROBE, drainSeconds: 2 });
      assert.equal(first.drain, 'waiting');
      assert.notEqual(first.drainStartedS, undefined);
      r.note('first', { drain: first.drain, drainStartedS: epochOrNone(first.drainStartedS) });
      const waiting = await r.s.probe(PROBE);
      assert.equal(waiting.drainStartedS, first.drainStartedS);
      assert.ok(waiting.listener && waiting.job);
      r.note('waiting', normFacts(r.t, waiting, { logLast: false }));
      // The marker older than the drain: the listener is killed (its task with it).
      await r.t.elapse(3);
      const second = await r.s.maintenance({ ...PROBE, drainSeconds: 2 });
      assert.deepEqual(second, { drain: 'done', drainStartedS: undefined });
      r.note('second', second);
      const f = normFacts(
        r.t,
        await r.t.until('the listener and its job end', r.s, (x) => !x.listener && !x.job),
        { logLast: false },
      );
      expectFacts(f, { drainStartedS: 'none', supervisor: 'dead', agentConfig: false });
      r.note('drained', f);
    },
  },

  {
    name: 'no supervisor, no job: maintenance stops the listener at once (drain=done)',
    async run(r) {
      await setUpWorker(r);
      await r.t.crashSupervisor();
      const m = await r.s.maintenance({ ...PROBE, drainSeconds: DRAIN_S });
      assert.deepEqual(m, { drain: 'done', drainStartedS: undefined });
      r.note('maintenance', m);
      const f = normFacts(r.t, await r.t.until('the listener ends', r.s, (x) => !x.listener), {
        logLast: false,
      });
      expectFacts(f, { supervisor: 'dead', listener: false, drainStartedS: 'none' });
      r.note('after', f);
    },
  },

  {
    name: 'force-stop: wall, the supervisor and the listener stopped at once, the timer left',
    async run(r) {
      await setUpWorker(r);
      const message = `${NAME} i-0123456789abcdef0 Terminating immediately!`;
      await r.s.forceStop({ ...PROBE, message });
      const stopped = await r.t.until(
        'supervisor and listener gone',
        r.s,
        supervisorExited(/Supervisor received SIGTERM; exiting, the listener is left alone$/),
      );
      const f = normFacts(r.t, stopped);
      expectFacts(f, {
        supervisor: 'dead',
        listener: false,
        job: false,
        agentConfig: false,
        setupStarted: false,
        setupDone: false,
        setupFailed: false,
        timer: 'alive',
        workerUser: true,
        setupLogLast: '##### <ts> Supervisor received SIGTERM; exiting, the listener is left alone',
      });
      r.note('stopped', f);
      const walls = await r.t.walls();
      assert.deepEqual(walls, [message]);
      r.note('walls', walls);
      r.note(
        'processes',
        await counts(
          r.t,
          (c) => c.supervisors === 0 && c.listeners === 0 && c.timers === 1,
          'no supervisor or listener, the timer',
        ),
      );
    },
  },

  {
    name: 'refusals (exit 3 → RemoteError refused), each before any change',
    async run(r) {
      // Before the first upload there is no ~/.pw-pool: the private-directory check comes first.
      const privMessage =
        '/Users/ec2-user/.pw-pool must be a directory owned by ec2-user with mode 0700';
      await refused(r, 'timer before upload', r.s.startTimer(TIMER_S, DRAIN_S, JOB), privMessage);
      await refused(r, 'install before upload', r.s.installScripts(), privMessage);
      await r.s.uploadScripts();
      const missing = 'installed scripts are missing';
      await refused(r, 'timer before install', r.s.startTimer(TIMER_S, DRAIN_S, JOB), missing);
      await refused(
        r,
        'setup before install',
        r.s.startSetup(setupRequest(), randomToken()),
        missing,
      );
      await r.t.setPrivMode(0o755);
      await refused(r, 'install with .pw-pool 0755', r.s.installScripts(), privMessage);
      await refused(
        r,
        'maintenance with .pw-pool 0755',
        r.s.maintenance({ ...PROBE, drainSeconds: DRAIN_S }),
        privMessage,
      );
      r.note('after the 0755 refusals', await r.facts());
      await r.s.uploadScripts(); // the manager's upload sets 0700 again
      await r.s.installScripts();

      const secretMessage = 'the secret on stdin is empty or has unexpected characters';
      await refused(r, 'empty secret', r.s.startSetup(setupRequest(), ''), secretMessage);
      await refused(
        r,
        'secret with a space',
        r.s.startSetup(setupRequest(), 'pool token'),
        secretMessage,
      );
      await refused(
        r,
        'secret of two lines',
        r.s.startSetup(setupRequest(), 'pooltoken\nsecond'),
        'the secret on stdin must be a single line',
      );
      await refused(
        r,
        'bad label',
        r.s.startSetup(setupRequest(['label=Purpose: prod']), randomToken()),
        "setup argument 'label' must match ^[a-z0-9]+: ?[A-Za-z0-9-]+$",
      );
      await refused(
        r,
        'unknown setup key',
        r.s.startSetup(setupRequest([...setupArgs(), 'colour=blue']), randomToken()),
        "unknown setup argument 'colour'",
      );
      await refused(
        r,
        'no label',
        r.s.startSetup(setupRequest(['drain=7200']), randomToken()),
        "agent 'cirrus' needs the setup argument 'label'",
      );
      await refused(
        r,
        'timer of 0 seconds',
        r.s.startTimer(0, DRAIN_S, JOB),
        'seconds must be an integer >= 1',
      );
      await refused(
        r,
        'maintenance with a drain of 0',
        r.s.maintenance({ ...PROBE, drainSeconds: 0 }),
        'drainSeconds must be an integer >= 1',
      );
      const messageRule = 'the message must be one line of at most 1000 characters';
      await refused(
        r,
        'force-stop with a long message',
        r.s.forceStop({ ...PROBE, message: 'x'.repeat(1001) }),
        messageRule,
      );
      await refused(
        r,
        'force-stop with two lines',
        r.s.forceStop({ ...PROBE, message: 'one\ntwo' }),
        messageRule,
      );
      // probe has no refusal outcome: any non-zero exit makes every fact unknown.
      const badProbe = await remoteFailure(r.t, r.s.probe({ ...PROBE, name: 'not a name' }));
      assert.equal((badProbe as { kind: string }).kind, 'lost');
      r.note('probe with a bad name', badProbe);

      const f = await r.facts();
      assert.deepEqual(f, { ...FRESH, scriptsInstalled: true }, 'nothing changed');
      r.note('after every refusal', f);
      const walls = await r.t.walls();
      assert.deepEqual(walls, []);
      r.note('walls', walls);
    },
  },

  {
    name: 'setup while PWPoolReady is not true: .setup.failed with a one-line reason',
    async run(r) {
      await r.t.setReadyTag('false');
      await r.s.uploadScripts();
      await r.s.installScripts();
      await r.s.startSetup(setupRequest(), randomToken());
      const failed = await r.t.until('setup fails', r.s, (f) => f.setupFailed);
      const reason = "instance tag 'PWPoolReady' is not 'true'";
      const f = normFacts(r.t, failed);
      expectFacts(f, {
        setupStarted: true,
        setupDone: false,
        setupFailed: true,
        setupFailedReason: reason,
        setupLogLast: `##### <ts> Setup failed: ${reason}`,
        supervisor: 'absent',
        listener: false,
        workerUser: false,
        agentConfig: false,
        workerLog: { present: false },
      });
      r.note('failed', f);
    },
  },

  {
    name: 'force-stop on a Mac that never got set up: wall only, nothing to stop',
    async run(r) {
      const message = `${NAME} i-0123456789abcdef0 Terminating immediately!`;
      await r.s.forceStop({ ...PROBE, message });
      const walls = await r.t.walls();
      assert.deepEqual(walls, [message]);
      r.note('walls', walls);
      const f = await r.facts();
      assert.deepEqual(f, FRESH);
      r.note('after', f);
    },
  },

  {
    name: 'a second start-setup on a set-up Mac: no second supervisor, listener or timer',
    async run(r) {
      const first = await setUpWorker(r);
      await r.s.startSetup(setupRequest(), randomToken());
      const again = await r.t.until('setup.sh sees .setup.done', r.s, (f) =>
        /Appears setup script already ran at/.test(f.setupLogLast),
      );
      const f = normFacts(r.t, again);
      expectFacts(f, {
        ...SET_UP,
        setupLogLast: '##### Appears setup script already ran at <ts>',
      });
      r.note('again', f);
      const timer = await r.s.startTimer(3600, DRAIN_S, JOB);
      assert.deepEqual(timer, { started: false, deadlineS: first.recycleDeadlineS });
      r.note('timer again', { started: timer.started, sameDeadline: true });
      r.note(
        'processes',
        await counts(
          r.t,
          (c) => c.supervisors === 1 && c.listeners === 1 && c.timers === 1,
          'one supervisor, listener and timer',
        ),
      );
    },
  },

  {
    name: 'a fresh setup after maintenance (repair of a set-up Mac, §4.5 step 3)',
    async run(r) {
      await setUpWorker(r);
      await r.s.maintenance({ ...PROBE, drainSeconds: DRAIN_S });
      await r.t.until('the supervisor stops the listener', r.s, supervisorExited(STOPPED_LINE));
      // PWPoolReady is true again: the manager sets the Mac up from scratch.
      const repaired = await setUpWorker(r);
      const f = normFacts(r.t, repaired, { logLast: false });
      assert.deepEqual(f, SET_UP);
      r.note('set up again', f);
      r.note(
        'processes',
        await counts(
          r.t,
          (c) => c.supervisors === 1 && c.listeners === 1 && c.timers === 1 && c.jobs === 0,
          'one supervisor, listener and timer',
        ),
      );
    },
  },
];

// ------------------------------------------------------------------------------ the runner

type Notes = [string, unknown][];

async function runOn(kind: TargetKind, scenario: Scenario): Promise<Notes> {
  const notes: Notes = [];
  const t = await startTarget(kind);
  try {
    const s = await t.session();
    await scenario.run({
      t,
      s,
      note: (label, value) => notes.push([label, value]),
      facts: async (opts) => normFacts(t, await s.probe(PROBE), opts),
    });
    return notes;
  } catch (error) {
    if (error instanceof Error) {
      const log = await t.diagnostics().catch((e: unknown) => `(no diagnostics: ${String(e)})`);
      error.message = `[${kind}] ${error.message}`;
      error.stack = `[${kind}] ${error.stack ?? ''}\n--- setup.log of the ${kind} Mac:\n${log}`;
    }
    throw error;
  } finally {
    await t.close();
  }
}

describe(
  'remote-mac contract: the simulated Mac answers like the real scripts',
  { concurrency: 4 },
  () => {
    for (const scenario of SCENARIOS) {
      test(scenario.name, async () => {
        const [sim, sandbox] = await Promise.allSettled([
          runOn('sim', scenario),
          runOn('sandbox', scenario),
        ]);
        if (sandbox.status === 'rejected') throw sandbox.reason;
        if (sim.status === 'rejected') throw sim.reason;
        const simNotes = sim.value;
        const sandboxNotes = sandbox.value;
        assert.deepEqual(
          simNotes.map(([label]) => label),
          sandboxNotes.map(([label]) => label),
          'the same steps',
        );
        for (const [i, [label, simValue]] of simNotes.entries()) {
          assert.deepEqual(simValue, sandboxNotes[i]?.[1], `sim vs sandbox at '${label}'`);
        }
      });
    }
  },
);
