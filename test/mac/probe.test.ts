// The probe on a fresh instance: every key in order, absent values, the sentinel; refusals;
// and that a probe never changes anything.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startSandboxMac, type SandboxMac } from '../sandbox/sandbox-mac.js';
import { CIRRUS, PROBE_KEYS, connect, probe, type MacSession } from './helpers.js';

describe('probe on a fresh instance', () => {
  let mac: SandboxMac;
  let session: MacSession;
  before(async () => {
    mac = await startSandboxMac({ name: 'MacM1-7' });
    session = await connect(mac);
  });
  after(async () => {
    session?.close();
    await mac?.close();
  });

  it('prints every key in order, then the sentinel, and exits 0', async () => {
    const before = Math.floor(Date.now() / 1000);
    const r = await probe(session, 'MacM1-7');
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.reply, `no sentinel in: ${r.stdout}`);
    assert.deepEqual(r.reply.keys, [...PROBE_KEYS]);
    assert.ok(r.stdout.endsWith('pw-pool-probe=end\n'));
    const now = Number(r.reply.get('now'));
    assert.ok(now >= before - 1 && now <= before + 5, `now=${now}`);
    const expected: Record<string, string> = {
      protocol: '1',
      scripts: 'absent',
      'setup.started': 'absent',
      'setup.started.last': '',
      'setup.started.mtime': '',
      'setup.done': 'absent',
      'setup.failed': 'absent',
      'setup.failed.reason': '',
      'setup.log': 'absent',
      'setup.log.last': '',
      supervisor: 'absent',
      listener: 'absent',
      job: 'absent',
      'worker.user': 'absent',
      timer: 'absent',
      'recycle.deadline': '',
      'drain.started': '',
      'agent.config': 'absent',
      'worker.log': 'absent',
      'worker.log.inode': '',
      'worker.log.size': '',
      'worker.log.registered': '',
      'worker.log.started': '',
      'worker.log.finished': '',
    };
    for (const [k, v] of Object.entries(expected)) assert.equal(r.reply.get(k), v, k);
  });

  it('arrives as a stdin-form command', () => {
    const sent = mac.commands().at(-1);
    assert.ok(sent);
    assert.match(sent.command, /^\/bin\/bash -s -- 'cirrus' 'MacM1-7' 'cirrus worker run' /);
  });

  it('changes nothing on the instance', async () => {
    const filesBefore = await mac.files();
    await probe(session, 'MacM1-7');
    assert.deepEqual(await mac.files(), filesBefore);
  });

  it('reports the drop files, the setup log and the pid files', async () => {
    const home = '"$HOME"';
    await mac.shell(
      [
        `printf '2026-01-01T00:00:00+00:00\\n2026-01-01T00:05:00+00:00\\n' >${home}/.setup.started`,
        `printf 'brew install failed\\nsecond line\\n' >${home}/.setup.failed`,
        `printf 'one\\n##### last words\\n\\n   \\n' >${home}/setup.log`,
        `mkdir -m 700 ${home}/.pw-pool`,
        `echo 999999 >${home}/.pw-pool/supervisor.pid`,
        `echo $$ >${home}/.pw-pool/recycle.pid`,
        `echo 1800000000 >${home}/.pw-pool/recycle.deadline`,
      ].join(' && '),
    );
    const r = await probe(session, 'MacM1-7');
    assert.ok(r.reply);
    assert.equal(r.reply.get('setup.started'), 'present');
    assert.equal(r.reply.get('setup.started.last'), '2026-01-01T00:05:00+00:00');
    assert.match(r.reply.get('setup.started.mtime'), /^[0-9]+$/);
    assert.equal(r.reply.get('setup.failed'), 'present');
    assert.equal(r.reply.get('setup.failed.reason'), 'brew install failed');
    assert.equal(r.reply.get('setup.log.last'), '##### last words');
    assert.equal(r.reply.get('supervisor'), 'dead');
    // a live process that is not a pw-pool-recycle timer is no timer
    assert.equal(r.reply.get('timer'), 'dead');
    assert.equal(r.reply.get('recycle.deadline'), '1800000000');
  });

  it('refuses bad arguments with exit 3, error= and the sentinel', async () => {
    const bad: string[][] = [
      ['cirrus', 'MacM1-7'],
      [
        'jenkins',
        'MacM1-7',
        CIRRUS.listener,
        CIRRUS.job,
        CIRRUS.registered,
        CIRRUS.started,
        CIRRUS.finished,
      ],
      [
        'cirrus',
        'MacM1-x',
        CIRRUS.listener,
        CIRRUS.job,
        CIRRUS.registered,
        CIRRUS.started,
        CIRRUS.finished,
      ],
      [
        'cirrus',
        "MacM1-7'; touch /tmp/x; '",
        CIRRUS.listener,
        CIRRUS.job,
        CIRRUS.registered,
        CIRRUS.started,
        CIRRUS.finished,
      ],
      ['cirrus', 'MacM1-7', '-v', CIRRUS.job, CIRRUS.registered, CIRRUS.started, CIRRUS.finished],
      [
        'cirrus',
        'MacM1-7',
        CIRRUS.listener,
        '(unclosed',
        CIRRUS.registered,
        CIRRUS.started,
        CIRRUS.finished,
      ],
    ];
    for (const args of bad) {
      const r = await session.op('probe', args);
      assert.equal(r.code, 3, `args ${JSON.stringify(args)}: ${r.stdout}${r.stderr}`);
      assert.ok(r.reply, r.stdout);
      assert.deepEqual(r.reply.keys, ['error']);
      assert.notEqual(r.reply.get('error'), '');
    }
  });
});
