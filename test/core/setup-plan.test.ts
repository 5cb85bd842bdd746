// Table-driven verdicts for every branch of behavior.md §4.3 (S1–S14), the reduction and the texts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseProbeReport, PROBE_KEYS, PROBE_SENTINEL } from '../../src/pw-lib/core/probe.js';
import type { ProbeFacts } from '../../src/pw-lib/core/probe.js';
import {
  formatPwStatus,
  formatPwStatusLine,
  parsePwStatus,
} from '../../src/pw-lib/core/pw-status.js';
import {
  INITIAL_STATE,
  TimerReduction,
  applyTaskLimit,
  decideBeforeRemote,
  decideFromProbe,
  stopTimeS,
  timerComment,
  toLine,
} from '../../src/pw-lib/core/setup-plan.js';
import type {
  EntryState,
  ProbeContext,
  SetupPolicy,
  Verdict,
} from '../../src/pw-lib/core/setup-plan.js';
import { parseIsoStrict } from '../../src/pw-lib/core/time.js';
import type { InstanceView } from '../../src/pw-lib/ports.js';
import { testPolicy } from '../helpers/setup-fixtures.js';

const T = (iso: string): number => parseIsoStrict(iso) ?? assert.fail(iso);
const NOW = T('2024-08-06T15:00:00Z');
const policy: SetupPolicy = testPolicy();
const entry = { name: 'MacM1-1', instanceId: 'i-0123456789abcdef0' };

function inst(over: Partial<InstanceView> = {}): InstanceView {
  return {
    instanceId: entry.instanceId,
    state: 'running',
    launchTime: '2024-08-06T12:00:00.000Z',
    hostId: 'h-0123456789abcdef0',
    publicDnsName: 'ec2-3-80-1-2.compute-1.amazonaws.com',
    tags: { Name: 'MacM1-1', purpose: 'prod', PWPoolReady: 'true' },
    ...over,
  };
}

const healthy: ProbeFacts = {
  remoteNowS: NOW,
  scriptsInstalled: true,
  setupStarted: true,
  setupStartedLast: '2024-08-06T12:30:00+00:00',
  setupStartedMtimeS: T('2024-08-06T12:30:00Z'),
  setupDone: true,
  setupFailed: false,
  setupFailedReason: '',
  setupLog: true,
  setupLogLast: '##### done',
  supervisor: 'alive',
  listener: true,
  job: false,
  workerUser: true,
  timer: 'alive',
  recycleDeadlineS: NOW + 3600,
  drainStartedS: undefined,
  agentConfig: true,
  workerLog: { present: true, inode: '12', size: 100, registered: true, started: 5, finished: 4 },
};

function describeVerdict(v: Verdict): string {
  const s = v.state;
  return `${v.kind} ${s.setup} ${s.listener} ${s.started} ${s.finished}${s.warn ? ' ⚠' : ''} # ${s.comment}`;
}

describe('§4.3 S1–S6: decisions from EC2 alone', () => {
  const rows: [string, InstanceView | undefined, boolean, string][] = [
    [
      'S1 batch failed',
      inst(),
      true,
      'done error error 0 0 ⚠ # Could not query instance i-0123456789abcdef0.',
    ],
    [
      'S1 id missing',
      undefined,
      false,
      'done error error 0 0 # Instance i-0123456789abcdef0 no longer exists.',
    ],
    [
      'S2 shutting-down',
      inst({ state: 'shutting-down' }),
      false,
      'done error error 0 0 # Instance i-0123456789abcdef0 is shutting-down.',
    ],
    [
      'S2 terminated',
      inst({ state: 'terminated' }),
      false,
      'done error error 0 0 # Instance i-0123456789abcdef0 is terminated.',
    ],
    [
      'S4 purpose absent',
      inst({ tags: { Name: 'MacM1-1' } }),
      false,
      'done error error 0 0 ⚠ # Could not look up instance purpose tag.',
    ],
    [
      'S4 purpose different',
      inst({ tags: { Name: 'MacM1-1', purpose: 'test' } }),
      false,
      "done error error 0 0 ⚠ # Required inst. 'purpose' tag != 'prod'.",
    ],
    [
      'S5 Name absent',
      inst({ tags: { purpose: 'prod' } }),
      false,
      'done error error 0 0 ⚠ # Could not look up instance Name tag.',
    ],
    [
      'S5 Name different',
      inst({ tags: { Name: 'MacM1-2', purpose: 'prod' } }),
      false,
      "done error error 0 0 ⚠ # Inst. name 'MacM1-2' != DH name 'MacM1-1'.",
    ],
    [
      'S3 past hard',
      inst({ launchTime: '2024-08-04T14:25:00.000Z' }),
      false,
      'terminate error error 0 0 # Excess instance lifetime; 35m past hard max limit. Terminating immediately!',
    ],
    [
      'S3 past hard without DNS or ready tag',
      inst({
        launchTime: '2024-08-04T14:25:00.000Z',
        publicDnsName: undefined,
        tags: { Name: 'MacM1-1', purpose: 'prod', PWPoolReady: 'false' },
      }),
      false,
      'terminate error error 0 0 # Excess instance lifetime; 35m past hard max limit. Terminating immediately!',
    ],
    [
      'S3 stopped too long',
      inst({
        state: 'stopped',
        publicDnsName: undefined,
        stateTransitionReason: 'User initiated (2024-08-06 14:00:00 GMT)',
      }),
      false,
      'terminate error error 0 0 # Instance i-0123456789abcdef0 is stopped. Terminating immediately!',
    ],
    [
      'S3 stopped briefly → S6',
      inst({
        state: 'stopped',
        publicDnsName: undefined,
        stateTransitionReason: 'User initiated (2024-08-06 14:50:00 GMT)',
      }),
      false,
      'done error error 0 0 ⚠ # Could not look up public DNS for instance i-0123456789abcdef0.',
    ],
    [
      'S3 soft, then S6',
      inst({ launchTime: '2024-08-05T12:00:00.000Z', publicDnsName: '' }),
      false,
      'done error error 0 0 ⚠ # Could not look up public DNS for instance i-0123456789abcdef0.',
    ],
    [
      'S3 soft, reachable',
      inst({ launchTime: '2024-08-05T12:00:00.000Z' }),
      false,
      'connect error error 0 0 # Instance alive longer than soft max. Investigation recommended.',
    ],
    [
      'S6 bad DNS characters',
      inst({ publicDnsName: 'a;rm -rf /' }),
      false,
      'done error error 0 0 ⚠ # Could not look up public DNS for instance i-0123456789abcdef0.',
    ],
    ['healthy → connect', inst(), false, 'connect error error 0 0 # '],
  ];
  for (const [label, i, failed, expected] of rows) {
    it(label, () =>
      assert.equal(describeVerdict(decideBeforeRemote(entry, i, failed, NOW, policy)), expected),
    );
  }
  it('S4/S5 outcomes mark the instance as having left the pool (never terminated)', () => {
    const v = decideBeforeRemote(
      entry,
      inst({ tags: { Name: 'MacM1-1', purpose: 'test' } }),
      false,
      NOW,
      policy,
    );
    assert.equal(v.kind === 'done' && v.leftPool, true);
  });
  it('the hard backstop applies with the ready tag false (R9)', () => {
    const v = decideBeforeRemote(
      entry,
      inst({
        launchTime: '2024-08-01T00:00:00.000Z',
        tags: { Name: 'MacM1-1', purpose: 'prod', PWPoolReady: 'false' },
      }),
      false,
      NOW,
      policy,
    );
    assert.equal(v.kind, 'terminate');
    assert.equal(v.kind === 'terminate' && v.ssh, false, 'the backstop acts without SSH');
  });
  it('reads the stop time from StateTransitionReason', () => {
    assert.equal(stopTimeS('User initiated (2024-08-06 14:10:03 GMT)'), T('2024-08-06T14:10:03Z'));
    assert.equal(stopTimeS(''), undefined);
  });
});

describe('§4.3 S9–S13: decisions from the probe', () => {
  const ctx: ProbeContext = {
    name: 'MacM1-1',
    instance: inst(),
    nowS: NOW,
    prevListener: 'alive',
    prevTimeS: NOW - 300,
  };
  const rows: [string, Partial<ProbeFacts>, Partial<ProbeContext>, string][] = [
    [
      'S9 ready false → maintenance',
      {},
      { instance: inst({ tags: { Name: 'MacM1-1', purpose: 'prod', PWPoolReady: 'false' } }) },
      "maintenance disabled disabled 0 0 # Instance disabled via tag 'PWPoolReady' == 'false'.",
    ],
    [
      'S9 ready absent → maintenance',
      {},
      { instance: inst({ tags: { Name: 'MacM1-1', purpose: 'prod' } }) },
      "maintenance disabled disabled 0 0 # Instance disabled via tag 'PWPoolReady' == 'absent'.",
    ],
    ['S10 A complete, healthy', {}, {}, 'count-tasks complete alive 5 4 # '],
    [
      'S10 B started, in time',
      { setupDone: false, setupStartedLast: '2024-08-06T14:55:00+00:00' },
      {},
      'done started error 0 0 # Setup incomplete; running for 5 minutes (~10 typical).',
    ],
    [
      'S10 B started, unparseable line → mtime',
      { setupDone: false, setupStartedLast: 'garbage', setupStartedMtimeS: NOW - 125 },
      {},
      'done started error 0 0 # Setup incomplete; running for 2 minutes (~10 typical).',
    ],
    [
      'S10 B timeout (strictly greater)',
      { setupDone: false, setupStartedLast: '2024-08-06T14:19:59+00:00' },
      {},
      'terminate started error 0 0 # Setup running for 2401s, max 2400s. Terminating immediately!',
    ],
    [
      'S10 B exactly at the timeout',
      { setupDone: false, setupStartedLast: '2024-08-06T14:20:00+00:00' },
      {},
      'done started error 0 0 # Setup incomplete; running for 40 minutes (~10 typical).',
    ],
    [
      'S10 B failed waits for the timeout',
      {
        setupDone: false,
        setupStartedLast: '2024-08-06T14:50:00+00:00',
        setupFailed: true,
        setupFailedReason: 'brew install failed',
      },
      {},
      'done started error 0 0 ⚠ # Setup failed: brew install failed.',
    ],
    [
      'S10 C fresh setup',
      { setupDone: false, setupStarted: false, setupLog: false },
      {},
      'fresh-setup error error 0 0 # ',
    ],
    [
      'S11 supervisor dead',
      { supervisor: 'dead' },
      {},
      'terminate complete error 0 0 # Pool servicing script (service_pool.sh) is not running. Terminating immediately!',
    ],
    [
      'S11 supervisor absent',
      { supervisor: 'absent' },
      {},
      'terminate complete error 0 0 # Pool servicing script (service_pool.sh) is not running. Terminating immediately!',
    ],
    [
      'S12 first strike (prev alive)',
      { listener: false },
      {},
      'done complete dead 0 0 # Cirrus worker listener process NOT running, will recheck again.',
    ],
    [
      'S12 first strike (no previous line)',
      { listener: false },
      { prevListener: undefined },
      'done complete dead 0 0 # Cirrus worker listener process NOT running, will recheck again.',
    ],
    [
      'S12 first strike (prev error)',
      { listener: false },
      { prevListener: 'error' },
      'done complete dead 0 0 # Cirrus worker listener process NOT running, will recheck again.',
    ],
    [
      'S12 prev dead but inside the grace',
      { listener: false },
      { prevListener: 'dead', prevTimeS: NOW - 59 },
      'done complete dead 0 0 # Cirrus worker listener process NOT running, will recheck again.',
    ],
    [
      'S12 second strike',
      { listener: false },
      { prevListener: 'dead', prevTimeS: NOW - 60 },
      "terminate complete error 0 0 # Pool listener 'dead' state fault. Terminating immediately!",
    ],
    [
      'S13 worker log missing',
      { workerLog: { present: false } },
      {},
      'terminate complete alive 0 0 # Missing worker log /private/tmp/MacM1-1-worker.log. Terminating immediately!',
    ],
    [
      'S13 no registration',
      {
        workerLog: {
          present: true,
          inode: '1',
          size: 9,
          registered: false,
          started: 2,
          finished: 1,
        },
      },
      {},
      'count-tasks complete alive 2 1 # Missing registration log entry.',
    ],
  ];
  for (const [label, facts, over, expected] of rows) {
    it(label, () => {
      const v = decideFromProbe(
        { ...healthy, ...facts },
        INITIAL_STATE,
        { ...ctx, ...over },
        policy,
      );
      assert.equal(describeVerdict(v), expected);
    });
  }
  it('the soft-lifetime comment stays on a healthy worker and is replaced by later messages', () => {
    const soft: EntryState = {
      ...INITIAL_STATE,
      comment: 'Instance alive longer than soft max. Investigation recommended.',
    };
    assert.equal(decideFromProbe(healthy, soft, ctx, policy).state.comment, soft.comment);
    assert.match(
      decideFromProbe({ ...healthy, listener: false }, soft, ctx, policy).state.comment,
      /NOT running/,
    );
  });
});

describe('§4.3 S14: the task limit with the min-alive guard, in sorted order', () => {
  const counted = (name: string, finished: number) => ({
    name,
    state: {
      ...INITIAL_STATE,
      setup: 'complete' as const,
      listener: 'alive' as const,
      started: finished,
      finished,
    },
  });
  it('terminates over-limit workers only while the budget stays above minAlive', () => {
    const out = applyTaskLimit(
      [
        counted('MacM1-1', 25),
        counted('MacM1-2', 30),
        counted('MacM1-3', 10),
        counted('MacM1-4', 26),
      ],
      5,
      policy,
    );
    assert.equal(
      describeVerdict(out.get('MacM1-1') as Verdict),
      'terminate complete alive 25 25 # Instance exceeded 24 apparent tasks. Terminating immediately!',
    );
    assert.equal(
      describeVerdict(out.get('MacM1-2') as Verdict),
      'terminate complete alive 30 30 # Instance exceeded 24 apparent tasks. Terminating immediately!',
    );
    assert.equal(describeVerdict(out.get('MacM1-3') as Verdict), 'done complete alive 10 10 # ');
    assert.equal(
      describeVerdict(out.get('MacM1-4') as Verdict),
      'done complete alive 26 26 # Not enforcing max-tasks limit, only 3 workers alive last run.',
    );
  });
  it('exactly max finished tasks is within the limit', () => {
    assert.equal(applyTaskLimit([counted('MacM1-1', 24)], 9, policy).get('MacM1-1')?.kind, 'done');
  });
  it('with prevAlive at minAlive nothing is terminated (Port: no cascades)', () => {
    const out = applyTaskLimit([counted('MacM1-1', 99)], 3, policy);
    assert.equal(
      out.get('MacM1-1')?.state.comment,
      'Not enforcing max-tasks limit, only 3 workers alive last run.',
    );
  });
});

describe('recycling timers and --force reductions (§4.3)', () => {
  it('without --force every timer is maxLifetime', () => {
    const r = new TimerReduction(false, 86400, 7200);
    assert.deepEqual([r.next(), (r.advance(), r.next())], [86400, 86400]);
  });
  it('with --force the defaults give 22, 20, …, 4 h, then 22 h again; a failed setup does not advance', () => {
    const r = new TimerReduction(true, 86400, 7200);
    const hours: number[] = [];
    for (let i = 0; i < 12; i += 1) {
      hours.push(r.next() / 3600);
      if (i !== 3) r.advance(); // the 4th setup failed before step 5
    }
    assert.deepEqual(hours, [22, 20, 18, 16, 16, 14, 12, 10, 8, 6, 4, 22]);
    assert.equal(timerComment(79200), 'Starting automatic instance recycling in 22 hours');
  });
});

describe('probe report parsing (R2)', () => {
  const report = (over: Record<string, string> = {}, sentinel = true): string => {
    const values: Record<string, string> = {
      protocol: '1',
      now: '1722956400',
      scripts: 'installed',
      'setup.started': 'present',
      'setup.started.last': '2024-08-06T12:30:00+00:00',
      'setup.started.mtime': '1722947400',
      'setup.done': 'present',
      'setup.failed': 'absent',
      'setup.failed.reason': '',
      'setup.log': 'present',
      'setup.log.last': '##### x',
      supervisor: 'alive',
      listener: 'alive',
      job: 'absent',
      'worker.user': 'present',
      timer: 'alive',
      'recycle.deadline': '1723000000',
      'drain.started': '',
      'agent.config': 'present',
      'worker.log': 'present',
      'worker.log.inode': '77',
      'worker.log.size': '1234',
      'worker.log.registered': 'yes',
      'worker.log.started': '3',
      'worker.log.finished': '2',
      ...over,
    };
    return `${PROBE_KEYS.map((k) => `${k}=${values[k]}`).join('\n')}\n${sentinel ? `${PROBE_SENTINEL}\n` : ''}`;
  };
  it('parses a complete report', () => {
    const r = parseProbeReport(report());
    assert.ok(r.ok);
    if (!r.ok) return;
    assert.equal(r.facts.supervisor, 'alive');
    assert.deepEqual(r.facts.workerLog, {
      present: true,
      inode: '77',
      size: 1234,
      registered: true,
      started: 3,
      finished: 2,
    });
  });
  it('a missing sentinel, a missing key or an unknown value make every fact unknown', () => {
    assert.equal(parseProbeReport(report({}, false)).ok, false);
    assert.equal(parseProbeReport(report().replace(/^listener=alive\n/m, '')).ok, false);
    assert.equal(parseProbeReport(report({ supervisor: 'maybe' })).ok, false);
    assert.equal(parseProbeReport(report({ 'worker.log.started': '-1' })).ok, false);
    assert.equal(parseProbeReport('').ok, false);
  });
});

describe('pw_status.txt (§4.7)', () => {
  it('writes the header, entries in bytewise order, then trailing comments', () => {
    const text = formatPwStatus(
      T('2024-08-06T15:05:11Z'),
      [
        toLine('MacM1-2', {
          ...INITIAL_STATE,
          setup: 'started',
          comment: 'Setup incomplete; running for 5 minutes (~10 typical).',
        }),
        toLine('MacM1-10', {
          ...INITIAL_STATE,
          setup: 'started',
          comment: 'Executing setup script.',
        }),
        toLine('MacM1-1', {
          ...INITIAL_STATE,
          setup: 'complete',
          listener: 'alive',
          started: 12,
          finished: 11,
        }),
      ],
      [
        '# MacM1-9 i-0123456789abcdef0 SWEEP: Excess instance lifetime; 3m past hard max limit. Terminating immediately!',
      ],
    );
    assert.equal(
      text,
      [
        '# SetupInstances.sh run 2024-08-06T15:05:11+00:00',
        '#',
        'MacM1-1 complete alive 12 11',
        'MacM1-10 started error 0 0 # Executing setup script.',
        'MacM1-2 started error 0 0 # Setup incomplete; running for 5 minutes (~10 typical).',
        '# MacM1-9 i-0123456789abcdef0 SWEEP: Excess instance lifetime; 3m past hard max limit. Terminating immediately!',
        '',
      ].join('\n'),
    );
  });
  it('comments lose control characters and trailing space', () => {
    assert.equal(
      formatPwStatusLine({
        name: 'MacM1-1',
        setup: 'error',
        listener: 'error',
        started: 0,
        finished: 0,
        comment: 'a\tb\n ',
      }),
      'MacM1-1 error error 0 0 # a b',
    );
  });
  it('reads the previous file by fields: prevAlive counts only complete alive lines', () => {
    const prev = parsePwStatus(
      '# SetupInstances.sh run 2024-08-06T15:05:11+00:00\n#\nMacM1-1 complete alive 12 11\nMacM1-2 started error 0 0 # x\nMacM1-3 complete dead 0 0 # alive alive\nMacM1-4 complete alive 3 3 # y\n',
    );
    assert.equal(prev.timeS, T('2024-08-06T15:05:11Z'));
    assert.equal(prev.alive, 2);
    assert.equal(prev.listenerByName.get('MacM1-3'), 'dead');
    assert.deepEqual([prev.startedSum, prev.finishedSum], [15, 14]);
  });
});
