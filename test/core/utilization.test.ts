import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  appendUtilization,
  formatUtilizationRow,
  parseUtilizationCsv,
  utilizationMaxRows,
  utilizationRow,
} from '../../src/pw-lib/core/utilization.js';
import type { UtilizationRow } from '../../src/pw-lib/core/utilization.js';

const PW = [
  '# SetupInstances.sh run 2024-08-06T14:10:42+00:00',
  '#',
  'MacM1-1 complete alive 12 11',
  'MacM1-10 started error 0 0 # Executing setup script.',
  'MacM1-2 complete dead 7 7 # Cirrus worker listener process NOT running, will recheck again.',
  'MacM1-3 complete alive 25 25 # Instance exceeded 24 apparent tasks. Terminating immediately!',
  'MacM1-4 disabled disabled 0 0 # complete alive 99 99',
  'MacM1-5 complete   alive 3 1',
  '# MacM1-9 i-0123456789abcdef0 SWEEP: complete alive 5 5',
  '',
].join('\n');

function row(ts: string, workers: number, started = 0, finished = 0): UtilizationRow {
  return { ts, timeS: Date.parse(ts) / 1000, workers, started, finished };
}

describe('utilization.csv (§5.2 steps 6–7)', () => {
  it('the row: header time, complete-alive lines parsed as fields, sums over those lines only', () => {
    const r = utilizationRow(PW);
    assert.ok(r);
    assert.equal(formatUtilizationRow(r), '2024-08-06T14:10:42+00:00,3,40,37');
  });

  it('no row without a parseable header time', () => {
    assert.equal(utilizationRow(''), undefined);
    assert.equal(
      utilizationRow('# SetupInstances.sh run yesterday\n#\nMacM1-1 complete alive 1 0\n'),
      undefined,
    );
  });

  it('a pw_status with no workers gives a zero row', () => {
    const r = utilizationRow('# SetupInstances.sh run 2024-08-06T14:15:00+00:00\n#\n');
    assert.equal(r && formatUtilizationRow(r), '2024-08-06T14:15:00+00:00,0,0,0');
  });

  it('parsing skips blank and malformed lines', () => {
    const rows = parseUtilizationCsv(
      [
        '2024-08-06T14:10:42+00:00,3,12,10',
        'garbage',
        '2024-08-06T14:15:42+00:00,3,12',
        '2024-08-06T14:20:42+00:00,x,1,1',
        '',
        '2024-13-06T14:25:42+00:00,1,1,1',
        '2024-08-06T14:30:42+00:00,4,13,10\r',
      ].join('\n'),
    );
    assert.deepEqual(
      rows.map((r) => [r.ts, r.workers, r.started, r.finished]),
      [
        ['2024-08-06T14:10:42+00:00', 3, 12, 10],
        ['2024-08-06T14:30:42+00:00', 4, 13, 10],
      ],
    );
    assert.deepEqual(parseUtilizationCsv(undefined), []);
  });

  it('append adds one line and trims to the last N rows', () => {
    let csv: string | undefined;
    for (let i = 0; i < 5; i++) {
      csv = appendUtilization(
        csv,
        row(`2024-08-06T14:${String(10 + i).padStart(2, '0')}:00+00:00`, i),
        3,
      );
    }
    assert.equal(
      csv,
      '2024-08-06T14:12:00+00:00,2,0,0\n2024-08-06T14:13:00+00:00,3,0,0\n2024-08-06T14:14:00+00:00,4,0,0\n',
    );
    assert.equal(
      appendUtilization('bad line\n', row('2024-08-06T14:10:00+00:00', 1, 2, 1), 432),
      '2024-08-06T14:10:00+00:00,1,2,1\n',
    );
  });

  it('N = ⌊history / interval⌋: 432 with the defaults', () => {
    assert.equal(utilizationMaxRows(129600, 300), 432);
    assert.equal(utilizationMaxRows(1000, 300), 3);
    assert.equal(utilizationMaxRows(100, 300), 1);
  });
});
