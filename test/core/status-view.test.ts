import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDhComments } from '../../src/pw-lib/core/dh-status.js';
import {
  buildStatusView,
  formatDuration,
  parsePwLines,
} from '../../src/pw-lib/core/status-view.js';
import {
  DH,
  NOW,
  PW,
  SETTINGS,
  at,
  freshInput,
  input,
  withHeaderTime,
} from '../helpers/status-fixtures.js';

describe('status view (§8.3)', () => {
  it('parses dh_status comment blocks with their detail lines', () => {
    const c = parseDhComments(DH);
    assert.deepEqual(
      c.map((b) => [b.name, b.label]),
      [
        ['MacM1-2', 'HOST BUSY'],
        ['MacM1-3', 'HOST THROTTLE'],
        ['MacM1-5', 'HOST ERROR'],
        ['MacM1-6', 'INST ERROR'],
        ['MacM1-8', 'INST BUSY'],
      ],
    );
    assert.deepEqual(c[2]?.details, [
      '{',
      '  "HostId": "h-05e619438b9cd6b30",',
      '  "State": "permanent-failure"',
      '}',
    ]);
    assert.deepEqual(c[3]?.details, [
      'InsufficientCapacityOnHost: Insufficient capacity on host h-0a1b2c3d4e5f60718.',
    ]);
  });

  it('parses pw_status lines with comments, and the trailing notes', () => {
    const { entries, notes } = parsePwLines(PW);
    assert.equal(entries.length, 3);
    assert.deepEqual(entries[1], {
      name: 'MacM1-10',
      setup: 'started',
      listener: 'error',
      started: 0,
      finished: 0,
      comment: 'Setup incomplete; running for 5 minutes (~10 typical).',
    });
    assert.equal(notes.length, 1);
    assert.match(notes[0] ?? '', /^MacM1-9 i-0123456789abcdef0 SWEEP: /);
  });

  it('merges one row per host, bytewise by name, with ages and time left', () => {
    const v = buildStatusView(input());
    assert.deepEqual(
      v.rows.map((r) => r.name),
      ['MacM1-1', 'MacM1-10', 'MacM1-2', 'MacM1-3', 'MacM1-5', 'MacM1-6', 'MacM1-7', 'MacM1-8'],
    );
    const r1 = v.rows[0];
    assert.equal(r1?.block, 'entry');
    assert.equal(r1?.instanceId, 'i-0b3e4f2a9c8d71e05');
    assert.equal(r1?.launchTime, '2024-08-05T16:02:11+00:00');
    assert.equal(r1?.launchAgeSeconds, NOW - at('2024-08-05T16:02:11Z'));
    assert.equal(r1?.lifetimeLeftSeconds, 86400 - (NOW - at('2024-08-05T16:02:11Z')));
    assert.equal(r1?.setup, 'complete');
    assert.equal(r1?.listener, 'alive');
    assert.equal(r1?.started, 12);
    assert.equal(r1?.finished, 11);
    assert.equal(r1?.comment, null);
    const busy = v.rows.find((r) => r.name === 'MacM1-2');
    assert.equal(busy?.block, 'HOST BUSY');
    assert.equal(busy?.comment, 'pending');
    assert.equal(busy?.instanceId, null);
    assert.equal(busy?.setup, null);
    assert.equal(v.rows.find((r) => r.name === 'MacM1-5')?.hostId, 'h-05e619438b9cd6b30');
    assert.equal(v.rows.find((r) => r.name === 'MacM1-6')?.hostId, 'h-0a1b2c3d4e5f60718');
    assert.equal(v.rows.find((r) => r.name === 'MacM1-8')?.instanceId, 'i-0c0ffee0c0ffee000');
    assert.equal(
      v.rows.find((r) => r.name === 'MacM1-7')?.comment,
      'Instance alive longer than soft max. Investigation recommended.',
    );
  });

  it('totals, next launch run, throttle and the last CSV row', () => {
    const v = buildStatusView(input());
    assert.deepEqual(v.totals, {
      hosts: 8,
      entries: 3,
      aliveWorkers: 2,
      taskLimitEnforced: true,
      minAliveWorkers: 1,
    });
    assert.equal(
      buildStatusView(input({ settings: { ...SETTINGS, minAliveWorkers: 2 } })).totals
        .taskLimitEnforced,
      false,
    );
    assert.equal(v.nextLaunchRun, '2024-08-06T14:20:03+00:00');
    assert.equal(v.throttledUntil, '2024-08-06T14:40:57+00:00');
    assert.deepEqual(v.lastUtilization, {
      ts: '2024-08-06T15:05:11+00:00',
      workers: 2,
      started: 19,
      finished: 17,
    });
    assert.equal(v.utilizationRows.length, 2);
    assert.equal(v.dhEntryCount, 3);
  });

  it('STALE: dh_status older than 2 × launchEvery, pw_status older than 2 × interval, or missing', () => {
    const edge = buildStatusView(
      freshInput({ dh: { text: withHeaderTime(DH, NOW - 1200), mtimeS: NOW } }),
    );
    assert.equal(edge.stale, false, 'exactly 2 × launchEvery is not stale');
    assert.equal(edge.files.dhStatus.ageSeconds, 1200, 'measured from the header time');
    assert.equal(edge.files.dhStatus.writtenAt, '2024-08-06T14:47:00+00:00');
    assert.equal(edge.files.dhStatus.mtime, '2024-08-06T15:07:00+00:00');
    assert.equal(edge.files.dhStatus.staleAfterSeconds, 1200);
    assert.equal(edge.incomplete, false);

    const v = buildStatusView(input());
    assert.equal(v.files.dhStatus.stale, true, '56 min > 20 min');
    assert.equal(v.files.pwStatus.stale, false);
    assert.equal(v.stale, true);
    assert.deepEqual(v.staleReasons, ['dh_status.txt is 56m old (limit 20m)']);

    const pwOld = buildStatusView(
      freshInput({ pw: { text: withHeaderTime(PW, NOW - 601), mtimeS: NOW } }),
    );
    assert.equal(pwOld.files.pwStatus.stale, true);
    assert.deepEqual(pwOld.staleReasons, ['pw_status.txt is 10m old (limit 10m)']);

    const noHeader = buildStatusView(
      freshInput({ pw: { text: PW.split('\n').slice(2).join('\n'), mtimeS: NOW - 700 } }),
    );
    assert.equal(noHeader.files.pwStatus.ageSeconds, 700, 'no header time: the mtime');
    assert.equal(noHeader.files.pwStatus.stale, true);

    const missing = buildStatusView(freshInput({ pw: { text: undefined, mtimeS: undefined } }));
    assert.equal(missing.stale, true);
    assert.equal(missing.incomplete, true);
    assert.equal(missing.files.pwStatus.present, false);
    assert.deepEqual(missing.staleReasons, ['pw_status.txt is missing']);
    assert.equal(missing.rows.find((r) => r.name === 'MacM1-1')?.setup, null);

    const unreadable = buildStatusView(
      freshInput({ dh: { text: undefined, mtimeS: NOW, error: 'EACCES' } }),
    );
    assert.deepEqual(unreadable.staleReasons, ['dh_status.txt is unreadable: EACCES']);
    assert.equal(unreadable.incomplete, true);

    const noCsv = buildStatusView(freshInput({ csv: { text: undefined, mtimeS: undefined } }));
    assert.equal(noCsv.stale, false, 'the CSV has no age limit');
    assert.equal(noCsv.incomplete, true, 'but a missing file makes status exit 4');
    assert.equal(noCsv.lastUtilization, null);
  });

  it('empty files give an empty view, not an error', () => {
    const v = buildStatusView(
      input({
        dh: { text: '', mtimeS: NOW },
        pw: { text: '', mtimeS: NOW },
        csv: { text: '', mtimeS: NOW },
      }),
    );
    assert.equal(v.rows.length, 0);
    assert.equal(v.nextLaunchRun, null);
    assert.equal(v.totals.hosts, 0);
  });

  it('formats durations', () => {
    assert.equal(formatDuration(45), '45s');
    assert.equal(formatDuration(3360), '56m');
    assert.equal(formatDuration(3 * 3600 + 5 * 60), '3h05m');
    assert.equal(formatDuration(2 * 86400 + 4 * 3600 + 7), '2d04h');
    assert.equal(formatDuration(-3700), '-1h01m');
  });
});
