// The two-phase orphan-runner sweep, pure part (behavior.md §7 github-actions `sweep`): which
// offline runners are recorded, which are deleted on a later run, and runner-sweep.json's format.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  RUNNER_SWEEP_FILE,
  formatSweepState,
  parseSweepState,
  planRunnerSweep,
  type SweepCandidate,
  type SweepRunner,
} from '../../src/pw-lib/core/runner-sweep.js';

const T0 = Date.parse('2026-11-28T16:00:00Z') / 1000;
const T1 = T0 + 600;

const offline = (id: number, name: string): SweepRunner => ({
  id,
  name,
  status: 'offline',
  busy: false,
});
const none: ReadonlySet<string> = new Set();

void describe('planRunnerSweep', () => {
  void it('phase 1: an offline runner without a live instance is recorded, not deleted', () => {
    const plan = planRunnerSweep({
      runners: [offline(7, 'MacM1-2')],
      liveNames: none,
      previous: [],
      nowS: T0,
    });
    assert.deepEqual(plan.delete, []);
    assert.deepEqual(plan.record, [{ id: 7, name: 'MacM1-2', firstSeenS: T0 }]);
  });

  void it('phase 2: recorded by an earlier run, same id and name, still orphaned → deleted', () => {
    const previous: SweepCandidate[] = [{ id: 7, name: 'MacM1-2', firstSeenS: T0 }];
    const plan = planRunnerSweep({
      runners: [offline(7, 'MacM1-2')],
      liveNames: none,
      previous,
      nowS: T1,
    });
    assert.deepEqual(plan.delete, [{ id: 7, name: 'MacM1-2', firstSeenS: T0 }]);
    assert.deepEqual(plan.record, []);
  });

  void it('the same name under a new id (re-registered) is recorded again, not deleted', () => {
    const plan = planRunnerSweep({
      runners: [offline(9, 'MacM1-2')],
      liveNames: none,
      previous: [{ id: 7, name: 'MacM1-2', firstSeenS: T0 }],
      nowS: T1,
    });
    assert.deepEqual(plan.delete, []);
    assert.deepEqual(plan.record, [{ id: 9, name: 'MacM1-2', firstSeenS: T1 }]);
  });

  void it('the same id under another name is recorded again, not deleted', () => {
    const plan = planRunnerSweep({
      runners: [offline(7, 'MacM1-3')],
      liveNames: none,
      previous: [{ id: 7, name: 'MacM1-2', firstSeenS: T0 }],
      nowS: T1,
    });
    assert.deepEqual(plan.delete, []);
    assert.deepEqual(plan.record, [{ id: 7, name: 'MacM1-3', firstSeenS: T1 }]);
  });

  void it('online, busy or live runners are not orphans, and leave the record', () => {
    const previous: SweepCandidate[] = [
      { id: 1, name: 'MacM1-1', firstSeenS: T0 },
      { id: 2, name: 'MacM1-2', firstSeenS: T0 },
      { id: 3, name: 'MacM1-3', firstSeenS: T0 },
      { id: 4, name: 'MacM1-4', firstSeenS: T0 },
    ];
    const plan = planRunnerSweep({
      runners: [
        { id: 1, name: 'MacM1-1', status: 'online', busy: false },
        { id: 2, name: 'MacM1-2', status: 'online', busy: true },
        // offline but still reported busy (the job's end not seen yet): not an orphan either
        { id: 3, name: 'MacM1-3', status: 'offline', busy: true },
        offline(4, 'MacM1-4'),
      ],
      liveNames: new Set(['MacM1-4']),
      previous,
      nowS: T1,
    });
    assert.deepEqual(plan, { delete: [], record: [] });
  });

  void it('a recorded runner that is gone is dropped; results are ordered by id', () => {
    const plan = planRunnerSweep({
      runners: [offline(30, 'MacM1-3'), offline(10, 'MacM1-1'), offline(20, 'MacM1-2')],
      liveNames: none,
      previous: [
        { id: 20, name: 'MacM1-2', firstSeenS: T0 },
        { id: 99, name: 'MacM1-9', firstSeenS: T0 },
      ],
      nowS: T1,
    });
    assert.deepEqual(plan.delete, [{ id: 20, name: 'MacM1-2', firstSeenS: T0 }]);
    assert.deepEqual(plan.record, [
      { id: 10, name: 'MacM1-1', firstSeenS: T1 },
      { id: 30, name: 'MacM1-3', firstSeenS: T1 },
    ]);
  });

  void it('nothing to do with no runners', () => {
    assert.deepEqual(
      planRunnerSweep({
        runners: [],
        liveNames: none,
        previous: [{ id: 1, name: 'MacM1-1', firstSeenS: T0 }],
        nowS: T1,
      }),
      { delete: [], record: [] },
    );
  });
});

void describe('runner-sweep.json', () => {
  void it('is named runner-sweep.json', () => {
    assert.equal(RUNNER_SWEEP_FILE, 'runner-sweep.json');
  });

  void it('formats sorted by id, whole-second UTC times, one trailing newline', () => {
    const text = formatSweepState([
      { id: 12, name: 'MacM1-2', firstSeenS: T1 },
      { id: 5, name: 'MacM1-1', firstSeenS: T0 },
    ]);
    assert.ok(text.endsWith('}\n') && !text.endsWith('\n\n'));
    assert.deepEqual(JSON.parse(text), {
      version: 1,
      candidates: [
        { id: 5, name: 'MacM1-1', firstSeen: '2026-11-28T16:00:00Z' },
        { id: 12, name: 'MacM1-2', firstSeen: '2026-11-28T16:10:00Z' },
      ],
    });
    assert.deepEqual(JSON.parse(formatSweepState([])), { version: 1, candidates: [] });
  });

  void it('round-trips', () => {
    const candidates: SweepCandidate[] = [
      { id: 3, name: 'MacM1-3', firstSeenS: T0 },
      { id: 40, name: 'MacM1-4', firstSeenS: T1 },
    ];
    assert.deepEqual(parseSweepState(formatSweepState(candidates)), candidates);
    const again = formatSweepState(parseSweepState(formatSweepState(candidates)));
    assert.equal(again, formatSweepState(candidates));
  });

  void it('a missing, empty or unreadable file is no candidates (phase 1 again)', () => {
    for (const text of [
      '',
      '  \n',
      '{',
      'not json',
      'null',
      '[]',
      '42',
      '{"version":1}',
      '{"version":1,"candidates":{}}',
      '{"version":1,"candidates":"x"}',
    ]) {
      assert.deepEqual(parseSweepState(text), [], JSON.stringify(text));
    }
  });

  void it('skips malformed entries and keeps the good ones', () => {
    const text = JSON.stringify({
      version: 1,
      candidates: [
        null,
        7,
        { id: 1.5, name: 'MacM1-1', firstSeen: '2026-11-28T16:00:00Z' },
        { id: '2', name: 'MacM1-2', firstSeen: '2026-11-28T16:00:00Z' },
        { id: 3, firstSeen: '2026-11-28T16:00:00Z' },
        { id: 4, name: 'MacM1-4', firstSeen: 'yesterday' },
        { id: 5, name: 'MacM1-5' },
        { id: 6, name: 'MacM1-6', firstSeen: '2026-11-28T16:10:00Z' },
      ],
    });
    assert.deepEqual(parseSweepState(text), [{ id: 6, name: 'MacM1-6', firstSeenS: T1 }]);
  });
});
