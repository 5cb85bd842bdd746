// nightly's pure selections (behavior.md §5.4), table-driven.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  goneInstanceIds,
  knownHostsInstanceIds,
  lineTimeMs,
  pruneKnownHosts,
  selectRecent,
  selectTmpLeftovers,
} from '../../src/pw-lib/core/nightly.js';

const ms = (iso: string): number => Date.parse(iso);

describe('lineTimeMs: the timestamp rules of a log or audit line', () => {
  const cases: [string, string, number | undefined][] = [
    [
      'pino JSON, ISO time',
      '{"level":"info","time":"2024-08-06T14:10:03.120Z","msg":"x"}',
      ms('2024-08-06T14:10:03.120Z'),
    ],
    ['pino JSON, epoch ms', '{"level":30,"time":1722953403120,"msg":"x"}', 1722953403120],
    [
      'audit record',
      '{"time":"2024-08-06T14:10:03.000Z","command":"cron","action":"launch"}',
      ms('2024-08-06T14:10:03Z'),
    ],
    ['JSON without time', '{"msg":"x"}', undefined],
    ['JSON with a bad time', '{"time":"yesterday"}', undefined],
    ['torn JSON', '{"level":"info","ti', undefined],
    ['cron tick line (minutes)', '2024-08-06T14:10+00:00', ms('2024-08-06T14:10:00Z')],
    ['utilization row', '2024-08-06T14:10:42+00:00,3,12,10', ms('2024-08-06T14:10:42Z')],
    ['offset other than UTC', '2024-08-06T16:10:42+02:00 text', ms('2024-08-06T14:10:42Z')],
    ['Z suffix', '2024-08-06T14:10:42Z', ms('2024-08-06T14:10:42Z')],
    ['no offset is no time', '2024-08-06T14:10:42 something', undefined],
    ['time glued to text', '2024-08-06T14:10:42+00:00abc', undefined],
    ['impossible date', '2024-02-30T14:10+00:00', undefined],
    ['result line', 'Exit: 0', undefined],
    [
      'compat line with a time inside',
      'Operating on 4 dedicated hosts at 2024-08-06T14:10:03+00:00',
      undefined,
    ],
    ['nightly line', 'nightly running at 2024-08-06T04:59:00+00:00', undefined],
    ['empty', '', undefined],
    ['CRLF', '2024-08-06T14:10+00:00\r', ms('2024-08-06T14:10:00Z')],
  ];
  for (const [name, line, want] of cases) {
    it(name, () => assert.equal(lineTimeMs(line), want));
  }
});

describe('selectRecent: keep the lines of the last N seconds', () => {
  const cutoff = ms('2024-08-06T12:00:00Z');
  const cases: { name: string; lines: string[]; kept: string[] }[] = [
    {
      name: 'drops the old lines and keeps the recent end',
      lines: ['2024-08-06T10:00+00:00', 'Exit: 0', '2024-08-06T12:05+00:00', 'Exit: 4'],
      kept: ['2024-08-06T12:05+00:00', 'Exit: 4'],
    },
    {
      name: 'an untimed line goes with the line before it (old)',
      lines: [
        '{"time":"2024-08-06T11:59:59.999Z"}',
        'continuation',
        '{"time":"2024-08-06T12:00:00.000Z"}',
      ],
      kept: ['{"time":"2024-08-06T12:00:00.000Z"}'],
    },
    {
      name: 'the cutoff instant itself is kept',
      lines: ['2024-08-06T12:00+00:00', 'x'],
      kept: ['2024-08-06T12:00+00:00', 'x'],
    },
    {
      name: 'leading untimed lines go with the first timed line (kept)',
      lines: ['junk', '2024-08-06T13:00+00:00', 'y'],
      kept: ['junk', '2024-08-06T13:00+00:00', 'y'],
    },
    {
      name: 'leading untimed lines go with the first timed line (dropped)',
      lines: ['junk', '2024-08-06T11:00+00:00', '2024-08-06T13:00+00:00'],
      kept: ['2024-08-06T13:00+00:00'],
    },
    {
      name: 'everything old: nothing kept',
      lines: ['2024-08-05T10:00+00:00', 'Exit: 0'],
      kept: [],
    },
    {
      name: 'no timed line at all: kept whole',
      lines: ['Exit: 0', 'Exit: 4'],
      kept: ['Exit: 0', 'Exit: 4'],
    },
    {
      name: 'append order wins: an older stamp after the first recent line is kept',
      lines: ['2024-08-06T11:00+00:00', '2024-08-06T12:30+00:00', '2024-08-06T11:30+00:00'],
      kept: ['2024-08-06T12:30+00:00', '2024-08-06T11:30+00:00'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const text = c.lines.map((l) => `${l}\n`).join('');
      const sel = selectRecent(text, cutoff);
      assert.equal(text.slice(sel.keepFrom), c.kept.map((l) => `${l}\n`).join(''));
      assert.equal(sel.keptLines, c.kept.length);
      assert.equal(sel.droppedLines, c.lines.length - c.kept.length);
    });
  }
  it('a last line without a newline counts as a line', () => {
    const text = '2024-08-06T10:00+00:00\n2024-08-06T13:00+00:00 partial';
    assert.equal(text.slice(selectRecent(text, cutoff).keepFrom), '2024-08-06T13:00+00:00 partial');
  });
  it('an empty text keeps nothing and drops nothing', () => {
    assert.deepEqual(selectRecent('', cutoff), { keepFrom: 0, droppedLines: 0, keptLines: 0 });
  });
});

describe('known_hosts pruning selection', () => {
  const text = [
    '# pinned by pw-pool',
    'i-0123456789abcdef0 ssh-ed25519 AAAAone',
    'i-0123456789abcdef1 ssh-ed25519 AAAAtwo',
    'i-0123456789abcdef1 ecdsa-sha2-nistp256 AAAAtwoB',
    'i-0123456789abcdef2,i-0123456789abcdef3 ssh-ed25519 AAAAshared',
    'bastion.example.com ssh-ed25519 AAAAother',
    '@revoked i-0123456789abcdef0 ssh-ed25519 AAAArevoked',
    '',
  ].join('\n');

  it('lists the instance-id host fields, sorted, once each', () => {
    assert.deepEqual(knownHostsInstanceIds(text), [
      'i-0123456789abcdef0',
      'i-0123456789abcdef1',
      'i-0123456789abcdef2',
      'i-0123456789abcdef3',
    ]);
  });

  const gone: [string, { instanceId: string; state: string }[], string[]][] = [
    ['absent from the answer → gone', [], ['i-a', 'i-b']],
    ['terminated → gone', [{ instanceId: 'i-a', state: 'terminated' }], ['i-a', 'i-b']],
    [
      'shutting-down, stopped, running → still there',
      [
        { instanceId: 'i-a', state: 'shutting-down' },
        { instanceId: 'i-b', state: 'stopped' },
      ],
      [],
    ],
    ['running one, absent other', [{ instanceId: 'i-b', state: 'running' }], ['i-a']],
  ];
  for (const [name, described, want] of gone) {
    it(name, () => assert.deepEqual([...goneInstanceIds(['i-a', 'i-b'], described)], want));
  }

  it('removes every line of a gone id, shortens shared lines, keeps everything else byte for byte', () => {
    const r = pruneKnownHosts(text, new Set(['i-0123456789abcdef1', 'i-0123456789abcdef2']));
    assert.deepEqual(r.removed, ['i-0123456789abcdef1', 'i-0123456789abcdef2']);
    assert.equal(
      r.text,
      [
        '# pinned by pw-pool',
        'i-0123456789abcdef0 ssh-ed25519 AAAAone',
        'i-0123456789abcdef3 ssh-ed25519 AAAAshared',
        'bastion.example.com ssh-ed25519 AAAAother',
        '@revoked i-0123456789abcdef0 ssh-ed25519 AAAArevoked',
        '',
      ].join('\n'),
    );
  });

  it('nothing gone: the same text', () => {
    assert.deepEqual(pruneKnownHosts(text, new Set()), { text, removed: [] });
  });
});

describe('temp leftovers', () => {
  const now = ms('2024-08-06T12:00:00Z');
  const day = 86_400_000;
  const cases: [string, { name: string; isFile: boolean; mtimeMs: number }, boolean][] = [
    [
      'old temp file',
      { name: '.dh_status.txt.123.abcd.tmp', isFile: true, mtimeMs: now - day - 1 },
      true,
    ],
    ['exactly one day old', { name: 'x.tmp', isFile: true, mtimeMs: now - day }, false],
    ['young temp file', { name: 'x.tmp', isFile: true, mtimeMs: now - 60_000 }, false],
    ['backup of a temp name', { name: 'x.tmp~', isFile: true, mtimeMs: 0 }, false],
    ['backup', { name: 'dh_status.txt~', isFile: true, mtimeMs: 0 }, false],
    ['status file', { name: 'pw_status.txt', isFile: true, mtimeMs: 0 }, false],
    ['directory named .tmp', { name: 'old.tmp', isFile: false, mtimeMs: 0 }, false],
    ['metrics temp', { name: '.pw-pool.prom.9.ffff.tmp', isFile: true, mtimeMs: 0 }, true],
  ];
  for (const [name, entry, removed] of cases) {
    it(name, () => assert.deepEqual(selectTmpLeftovers([entry], now), removed ? [entry.name] : []));
  }
});
