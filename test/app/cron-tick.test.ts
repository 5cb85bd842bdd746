import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { cronTick } from '../../src/pw-lib/app/cron-tick.js';
import type { CronPhases } from '../../src/pw-lib/app/cron-tick.js';
import { ConfigError } from '../../src/pw-lib/errors.js';
import { memoryLogger, MemoryStore, RecordingOutput } from '../helpers/fakes.js';

const T = Date.parse('2024-08-06T14:10:42Z') / 1000;
const SETTINGS = { launchEverySeconds: 600, intervalSeconds: 300, historySeconds: 900 };

const dh = (time: string) => `# LaunchInstances.sh run ${time}\n#\n`;
const pw = (time: string, lines: string[]) =>
  `# SetupInstances.sh run ${time}\n#\n${lines.join('\n')}\n`;

describe('cronTick (app, fakes)', () => {
  let store: MemoryStore;
  let out: RecordingOutput;
  let calls: string[];
  let phases: CronPhases;

  beforeEach(() => {
    store = new MemoryStore();
    out = new RecordingOutput();
    calls = [];
    phases = {
      launch: () => {
        calls.push('launch');
        return Promise.resolve(0);
      },
      setup: () => {
        calls.push('setup');
        store.files.set(
          'pw_status.txt',
          pw('2024-08-06T14:10:42+00:00', [
            'MacM1-1 complete alive 12 10',
            'MacM1-2 complete alive 3 2',
            'MacM1-3 complete dead 7 7',
            'MacM1-4 started error 0 0 # Setup incomplete',
          ]),
        );
        return Promise.resolve({ exitCode: 0, wrote: true });
      },
      renderPage: () => {
        calls.push('page');
        return Promise.resolve();
      },
    };
  });

  const tick = (tickStartS = T) =>
    cronTick(
      SETTINGS,
      { store, out, log: memoryLogger().log, phases, elapsedS: () => 0 },
      tickStartS,
    );

  it('launch due (no dh_status): launch, setup, CSV row of the complete-alive lines, page', async () => {
    const r = await tick();
    assert.deepEqual(calls, ['launch', 'setup', 'page']);
    assert.deepEqual(out.lines, [
      '2024-08-06T14:10+00:00',
      'Exit: 0',
      'Exit: 0',
      '2024-08-06T14:10:42+00:00,2,15,12',
    ]);
    assert.equal(store.files.get('utilization.csv'), '2024-08-06T14:10:42+00:00,2,15,12\n');
    assert.equal(r.exitCode, 0);
    assert.deepEqual(
      r.runs.map((x) => x.command),
      ['launch-instances', 'setup-instances'],
    );
  });

  it('launch not due one tick after the last launch run; due by elapsed time after a slow tick', async () => {
    store.files.set('dh_status.txt', dh('2024-08-06T14:05:00+00:00'));
    await tick(Date.parse('2024-08-06T14:10:00Z') / 1000);
    assert.deepEqual(calls, ['setup', 'page']);
    calls.length = 0;
    await tick(Date.parse('2024-08-06T14:12:30Z') / 1000); // 450 s: launchEvery − interval/2
    assert.deepEqual(calls, ['launch', 'setup', 'page']);
  });

  it('no CSV row when setup did not rewrite pw_status.txt', async () => {
    store.files.set('dh_status.txt', dh('2024-08-06T14:10:00+00:00'));
    phases.setup = () => Promise.resolve({ exitCode: 3, wrote: false });
    const r = await tick();
    assert.equal(store.files.has('utilization.csv'), false);
    assert.deepEqual(out.lines.slice(1), ['Exit: 3']);
    assert.equal(r.exitCode, 3);
  });

  it('trims the CSV to history / interval rows (3 here)', async () => {
    store.files.set(
      'utilization.csv',
      [
        '2024-08-06T13:55:00+00:00,1,1,1',
        'garbage',
        '2024-08-06T14:00:00+00:00,2,2,2',
        '2024-08-06T14:05:00+00:00,3,3,3',
      ].join('\n'),
    );
    await tick();
    assert.equal(
      store.files.get('utilization.csv'),
      '2024-08-06T14:00:00+00:00,2,2,2\n2024-08-06T14:05:00+00:00,3,3,3\n2024-08-06T14:10:42+00:00,2,15,12\n',
    );
  });

  it('a failing phase is logged and ranked (1 > 3 > 4 > 0); the next phases still run', async () => {
    phases.launch = () => Promise.reject(new ConfigError(['launchTemplateName: required']));
    let r = await tick();
    assert.deepEqual(calls, ['setup', 'page']);
    assert.equal(r.exitCode, 3);
    assert.deepEqual(out.lines.slice(0, 3), ['2024-08-06T14:10+00:00', 'Exit: 3', 'Exit: 0']);

    calls.length = 0;
    phases.launch = () => Promise.resolve(4);
    phases.setup = () => Promise.reject(new TypeError('bug'));
    r = await tick();
    assert.deepEqual(calls, ['page']);
    assert.equal(r.exitCode, 1);
  });

  it('an unwritable CSV or page is exit 4, after every phase ran', async () => {
    phases.renderPage = () => Promise.reject(new Error('EACCES'));
    const r = await tick();
    assert.deepEqual(calls, ['launch', 'setup']);
    assert.equal(r.exitCode, 4);
  });
});
