import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDhStatus, parseDhStatus } from '../../src/pw-lib/core/dh-status.js';
import type { DhBlock } from '../../src/pw-lib/core/dh-status.js';
import { parseIsoStrict } from '../../src/pw-lib/core/time.js';

const at = (iso: string): number => parseIsoStrict(iso) ?? assert.fail(iso);

describe('dh_status.txt format (§3.4)', () => {
  it('writes the header, then blocks sorted bytewise by "<Name> <HostId>"', () => {
    const blocks: DhBlock[] = [
      {
        kind: 'comment',
        name: 'MacM1-2',
        hostId: 'h-2',
        label: 'HOST BUSY',
        text: 'pending',
        details: [],
      },
      {
        kind: 'entry',
        name: 'MacM1-10',
        hostId: 'h-10',
        instanceId: 'i-07c1d2e3f4a5b6c78',
        launchTimeS: at('2024-08-06T12:40:57Z'),
      },
      {
        kind: 'entry',
        name: 'MacM1-1',
        hostId: 'h-1',
        instanceId: 'i-0b3e4f2a9c8d71e05',
        launchTimeS: at('2024-08-05T16:02:11Z'),
      },
      {
        kind: 'comment',
        name: 'MacM1-6',
        hostId: 'h-6',
        label: 'INST ERROR',
        text: 'Failed to create new instance on available host.',
        details: ['InsufficientCapacityOnHost: Insufficient capacity on host h-0a1b2c3d4e5f60718.'],
      },
    ];
    assert.equal(
      formatDhStatus(at('2024-08-06T14:10:03Z'), blocks),
      [
        '# LaunchInstances.sh run 2024-08-06T14:10:03+00:00',
        '#',
        'MacM1-1 i-0b3e4f2a9c8d71e05 2024-08-05T16:02:11+00:00',
        'MacM1-10 i-07c1d2e3f4a5b6c78 2024-08-06T12:40:57+00:00',
        '# MacM1-2 HOST BUSY: pending',
        '# MacM1-6 INST ERROR: Failed to create new instance on available host.',
        '#    aws CLI output: InsufficientCapacityOnHost: Insufficient capacity on host h-0a1b2c3d4e5f60718.',
        '',
      ].join('\n'),
    );
  });

  it('an empty pool gives a header-only file', () => {
    assert.equal(formatDhStatus(0, []), '# LaunchInstances.sh run 1970-01-01T00:00:00+00:00\n#\n');
  });

  it('reads entries as the contract says and ignores comments, indented and empty lines', () => {
    const parsed = parseDhStatus(
      [
        '# LaunchInstances.sh run 2024-08-06T14:10:03+00:00',
        '#',
        'MacM1-1 i-0b3e4f2a9c8d71e05 2024-08-05T16:02:11+00:00 extra fields',
        '# MacM1-2 HOST BUSY: pending',
        '#    aws CLI output: x',
        '  indented line',
        '',
        'MacM1-3\ti-0992a1b2c3d4e5f60   2024-08-06T02:15:40+00:00',
        'MacM1-4 lonely',
      ].join('\n'),
    );
    assert.equal(parsed.headerTimeS, at('2024-08-06T14:10:03Z'));
    assert.deepEqual(
      parsed.entries.map((e) => [e.name, e.instanceId, e.launchTime]),
      [
        ['MacM1-1', 'i-0b3e4f2a9c8d71e05', '2024-08-05T16:02:11+00:00'],
        ['MacM1-3', 'i-0992a1b2c3d4e5f60', '2024-08-06T02:15:40+00:00'],
      ],
    );
    assert.deepEqual(
      parsed.malformed.map((m) => m.line),
      ['MacM1-4 lonely'],
    );
  });

  it('round-trips: what it writes, it reads back', () => {
    const text = formatDhStatus(at('2024-08-06T14:10:03Z'), [
      {
        kind: 'entry',
        name: 'MacM1-7',
        hostId: 'h-7',
        instanceId: 'i-0992a1b2c3d4e5f60',
        launchTimeS: at('2024-08-06T02:15:40Z'),
      },
    ]);
    assert.deepEqual(
      parseDhStatus(text).entries.map((e) => e.instanceId),
      ['i-0992a1b2c3d4e5f60'],
    );
  });

  it('control characters in comments become spaces', () => {
    const text = formatDhStatus(0, [
      {
        kind: 'comment',
        name: 'Mac\tM1',
        hostId: 'h',
        label: 'HOST ERROR',
        text: 'a\nb',
        details: ['x\ty'],
      },
    ]);
    assert.match(text, /^# Mac\?M1 HOST ERROR: a b$/m);
    assert.match(text, /^# {4}aws CLI output: x y$/m);
  });
});
