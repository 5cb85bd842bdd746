import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { epochMinute, formatUtc, parseIsoStrict } from '../../src/pw-lib/core/time.js';

describe('UTC time (R10)', () => {
  it('parses strictly, with offsets and fractions', () => {
    assert.equal(parseIsoStrict('1970-01-01T00:01:00Z'), 60);
    assert.equal(parseIsoStrict('1970-01-01T01:00:00+01:00'), 0);
    assert.equal(parseIsoStrict('1970-01-01T00:00:01.999Z'), 1);
    for (const bad of [
      '',
      'null',
      '20240806',
      '2024-08-06',
      '2024-08-06T25:00:00Z',
      '2024-02-30T00:00:00Z',
      '2024-08-06T12:00:00',
    ]) {
      assert.equal(parseIsoStrict(bad), undefined, bad);
    }
    assert.equal(parseIsoStrict(undefined), undefined);
  });
  it('formats as YYYY-MM-DDTHH:MM:SS+00:00', () => {
    assert.equal(formatUtc(1722953403), '2024-08-06T14:10:03+00:00');
    assert.equal(formatUtc(new Date('2024-08-06T14:10:03.999Z')), '2024-08-06T14:10:03+00:00');
  });
  it('truncates to whole minutes', () => {
    assert.equal(epochMinute(119), 1);
    assert.equal(epochMinute(120), 2);
  });
});
