import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isLaunchDue } from '../../src/pw-lib/core/cron.js';

const T = Date.parse('2024-08-06T14:00:00Z') / 1000;

describe('cron tick decisions (§5.2)', () => {
  it('launch is due by elapsed time since the dh_status header (launchEvery 600, interval 300)', () => {
    const rows: [string, number | undefined, number, boolean][] = [
      ['no header time', undefined, T, true],
      ['one tick later (300 s)', T, T + 300, false],
      ['449 s later', T, T + 449, false],
      ['450 s later (launchEvery − interval/2)', T, T + 450, true],
      ['two ticks later', T, T + 600, true],
      ['a slow tick: 17 minutes later', T, T + 1020, true],
      ['hours later (no minute rule can skip it)', T, T + 7 * 3600 + 60, true],
      ['a header from the future (clock skew)', T + 60, T, false],
    ];
    for (const [label, header, tick, due] of rows) {
      assert.equal(isLaunchDue(header, tick, 600, 300), due, label);
    }
  });

  it('a slow tick that started before the lock wait still launches on time', () => {
    // Tick recorded at T+600 (due), then waited 280 s for the lock: due is decided on tickStart.
    assert.equal(isLaunchDue(T, T + 600, 600, 300), true);
  });
});
