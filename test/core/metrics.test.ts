import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import {
  EMPTY_METRICS_STATE,
  parseMetricsState,
  poolSnapshot,
  renderMetrics,
  updateMetricsState,
} from '../../src/pw-lib/core/metrics.js';
import { parseDhComments } from '../../src/pw-lib/core/dh-status.js';

const DH = `# LaunchInstances.sh run 2024-08-06T14:10:03+00:00
#
MacM1-1 i-0123456789abcdef0 2024-08-06T12:00:00+00:00
# MacM1-2 HOST BUSY: pending
# MacM1-3 HOST THROTTLE: Inst. creation delayed until 2024-08-06T14:40:57+00:00
# MacM1-4 HOST DISABLED: PWPoolReady==false
# MacM1-5 HOST ERROR: Unsupported dedicated host state 'permanent-failure'.
#    aws CLI output: {
#      "HostId": "h-05e619438b9cd6b30",
#      "State": "permanent-failure"
#    }
# MacM1-6 INST ERROR: Failed to create new instance on available host.
#    aws CLI output: InsufficientCapacityOnHost: Insufficient capacity on host h-0a1b2c3d4e5f60718.
MacM1-7 i-0123456789abcdef7 2024-08-06T12:00:00+00:00
# MacM1-8 INST BUSY: i-0c0ffee0c0ffee000 shutting-down
`;

const PW = `# SetupInstances.sh run 2024-08-06T15:05:11+00:00
#
MacM1-1 complete alive 12 11
MacM1-2 started error 0 0 # Setup incomplete; running for 5 minutes (~10 typical).
MacM1-3 complete dead 4 4 # Cirrus worker listener process NOT running, will recheck again.
MacM1-4 disabled disabled 0 0 # Instance disabled via tag 'PWPoolReady' == 'false'.
MacM1-5 complete alive 25 25 # Instance exceeded 24 apparent tasks. Terminating immediately!
MacM1-7 error error 0 0 # Could not connect to port 22 on 'ec2-3-80-1-2.compute-1.amazonaws.com'.
# SWEEP MacM1-9 i-0abc: Excess instance lifetime
`;

type Families = ReturnType<typeof parsePrometheusTextFormat>;

function sample(families: Families, name: string, labels: Record<string, string> = {}): number {
  const fam = families.find((f) => f.name === name);
  assert.ok(fam, `family ${name} present`);
  const m = fam.metrics.find((s) =>
    Object.entries(labels).every(([k, v]) => (s.labels ?? {})[k] === v),
  );
  assert.ok(m, `${name}${JSON.stringify(labels)} present`);
  return Number(m.value);
}

describe('metrics textfile (§5.5)', () => {
  it('counts workers and hosts by state from the status files, by field', () => {
    const snap = poolSnapshot(DH, PW);
    assert.deepEqual(snap.workers, { alive: 2, dead: 1, setup: 1, disabled: 1, error: 1 });
    assert.deepEqual(snap.hosts, { occupied: 2, busy: 2, throttled: 1, disabled: 1, error: 2 });
    assert.equal(snap.tasksStarted, 41);
    assert.equal(snap.tasksFinished, 40);
  });

  it('reads dh_status comment blocks with their detail lines', () => {
    const comments = parseDhComments(DH);
    assert.deepEqual(
      comments.map((c) => `${c.name} ${c.label} ${c.details.length}`),
      [
        'MacM1-2 HOST BUSY 0',
        'MacM1-3 HOST THROTTLE 0',
        'MacM1-4 HOST DISABLED 0',
        'MacM1-5 HOST ERROR 4',
        'MacM1-6 INST ERROR 1',
        'MacM1-8 INST BUSY 0',
      ],
    );
    assert.equal(comments[3]?.details[0], '{');
  });

  it('renders a file a real exposition-format parser reads, with every required family', () => {
    const state = updateMetricsState(
      EMPTY_METRICS_STATE,
      [{ command: 'setup-instances', durationSeconds: 12.3456, exitCode: 0, endS: 1722956711 }],
      new Map([
        ['terminate\tmax-tasks', 1],
        ['tag\tmax-tasks', 1],
      ]),
    );
    const families = parsePrometheusTextFormat(renderMetrics(poolSnapshot(DH, PW), state));
    assert.equal(sample(families, 'pwpool_workers', { state: 'alive' }), 2);
    assert.equal(sample(families, 'pwpool_hosts', { state: 'occupied' }), 2);
    assert.equal(sample(families, 'pwpool_tasks_started'), 41);
    assert.equal(sample(families, 'pwpool_tasks_finished'), 40);
    assert.equal(
      sample(families, 'pwpool_actions_total', { action: 'terminate', reason: 'max-tasks' }),
      1,
    );
    assert.equal(
      sample(families, 'pwpool_run_duration_seconds', { command: 'setup-instances' }),
      12.346,
    );
    assert.equal(
      sample(families, 'pwpool_last_success_timestamp_seconds', { command: 'setup-instances' }),
      1722956711,
    );
    const types = Object.fromEntries(families.map((f) => [f.name, f.type]));
    assert.equal(types.pwpool_actions_total, 'COUNTER');
    assert.equal(types.pwpool_workers, 'GAUGE');
  });

  it('counters persist and grow across runs; last success only moves on exit 0', () => {
    const first = updateMetricsState(
      EMPTY_METRICS_STATE,
      [{ command: 'cron', durationSeconds: 1, exitCode: 0, endS: 100 }],
      new Map([['launch\tempty-host', 2]]),
    );
    const text = JSON.stringify(first);
    const { state, problem } = parseMetricsState(text);
    assert.equal(problem, undefined);
    const second = updateMetricsState(
      state,
      [{ command: 'cron', durationSeconds: 2, exitCode: 4, endS: 400 }],
      new Map([
        ['launch\tempty-host', 1],
        ['terminate\thard-lifetime', 1],
      ]),
    );
    assert.deepEqual(second.actions, { 'launch\tempty-host': 3, 'terminate\thard-lifetime': 1 });
    assert.deepEqual(second.runs.cron, { durationSeconds: 2, exitCode: 4, lastSuccessS: 100 });
  });

  it('an unreadable state restarts from zero and says why', () => {
    assert.equal(parseMetricsState('{not json').problem, 'not JSON');
    assert.deepEqual(parseMetricsState('{not json').state, EMPTY_METRICS_STATE);
    const junk = parseMetricsState(
      JSON.stringify({ actions: { 'launch\tok': -1, 'bad key': 3 }, runs: { cron: { x: 1 } } }),
    );
    assert.deepEqual(junk.state, EMPTY_METRICS_STATE);
  });

  it('absent files count nothing, and labels are escaped', () => {
    const snap = poolSnapshot(undefined, undefined);
    assert.equal(snap.hosts.occupied, 0);
    const text = renderMetrics(snap, {
      actions: {},
      runs: { 'x-"y': { durationSeconds: 1, exitCode: 0, lastSuccessS: undefined } },
    });
    assert.match(text, /command="x-\\"y"/);
    assert.doesNotMatch(text, /pwpool_last_success_timestamp_seconds\{/);
  });
});
