// The worker-log counts of the probe (behavior.md §7 log parsing, §4.3 S13): the cirrus stand-in
// writes counted lines (also with CRLF endings and ANSI colours) and lines that must never count.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startSandboxMac, type SandboxMac } from '../sandbox/sandbox-mac.js';
import { connect, probe, setUpWorker, waitFor, type MacSession } from './helpers.js';

const NAME = 'MacM1-8';
const LOG = `/private/tmp/${NAME}-worker.log`;
const ESC = '\u001b';

describe('probe counts of the worker log', () => {
  let mac: SandboxMac;
  let session: MacSession;
  before(async () => {
    mac = await startSandboxMac({ name: NAME });
    session = await connect(mac);
    await setUpWorker(mac, session, { name: NAME });
  });
  after(async () => {
    session?.close();
    await mac?.close();
  });

  const counts = async () => {
    const r = await probe(session, NAME);
    assert.ok(r.reply, r.stdout + r.stderr);
    return {
      registered: r.reply.get('worker.log.registered'),
      started: Number(r.reply.get('worker.log.started')),
      finished: Number(r.reply.get('worker.log.finished')),
      size: Number(r.reply.get('worker.log.size')),
      inode: r.reply.get('worker.log.inode'),
    };
  };
  const logLines = async () => ((await mac.readText(LOG)) ?? '').split('\n').length - 1;
  const waitForLines = (n: number) =>
    waitFor(`${n} worker-log lines`, async () => ((await logLines()) >= n ? true : undefined));

  it('counts the tasks the listener logs', async () => {
    assert.deepEqual(await counts().then((c) => [c.registered, c.started, c.finished]), [
      'yes',
      0,
      0,
    ]);
    await mac.cirrus([{ tasks: 3 }, { startTask: true }]);
    await waitForLines(2 + 7);
    const c = await counts();
    assert.equal(c.started, 4);
    assert.equal(c.finished, 3);
  });

  it('never counts the look-alike lines of behavior.md §7', async () => {
    const ts = 'time="2026-01-01T00:00:00Z"';
    const before = await logLines();
    const noise = [
      `${ts} level=error msg="failed to notify the server about the started task 77: rpc error: code = Unavailable"`,
      `${ts} level=warning msg="spurious task 77 completed"`,
      '##### 2026-01-01T00:00:00+00:00 Cirrus worker listener started at 2026-01-01T00:00:00+00:00',
      `${ts} level=error msg="failed to create an instance for the task 78: no isolation"`,
      '# Log created 2026-01-01T00:00:00+00:00 - do not manually remove or modify!',
      `${ts} level=info msg="started task 79" extra="field"`,
      `${ts} level=debug msg="started task 80"`,
      `${ts} level=info msg="started task abc"`,
      `  started task 81`,
      `started task 82 `,
      `Started task 83`,
      `${ts} level=info msg="task 84 completed successfully"`,
      `${ts} level=info msg="worker successfully registered on upstream grpc.cirrus-ci.com:443"`,
    ];
    await mac.cirrus(noise.map((line) => ({ line })));
    await waitForLines(before + noise.length);
    const c = await counts();
    assert.equal(c.started, 4);
    assert.equal(c.finished, 3);
  });

  it('counts lines with CRLF endings and ANSI colours once each', async () => {
    const before = await logLines();
    const counted = [
      `time="2026-01-01T00:00:01Z" level=info msg="started task 90"\r`,
      `${ESC}[32mtime="2026-01-01T00:00:02Z" level=info msg="task 90 completed"${ESC}[0m\r`,
      `time="2026-01-01T00:00:03Z" level=${ESC}[1;34minfo${ESC}[0m msg="started task 91"`,
      'started task 92',
      `task 92 completed\r`,
      `${ESC}[mtask 93 completed${ESC}[39m`,
    ];
    await mac.cirrus(counted.map((line) => ({ line })));
    await waitForLines(before + counted.length);
    const c = await counts();
    assert.equal(c.started, 4 + 3);
    assert.equal(c.finished, 3 + 3);
  });

  it('registered looks at the first 10 lines only', async () => {
    // A forged registration line far down the log does not count (R17: the log is untrusted).
    await mac.shell(
      `f="$PW_POOL_ROOT${LOG}"; head -n 1 "$f" >"$f.new"; for i in 1 2 3 4 5 6 7 8 9 10; do echo "filler $i" >>"$f.new"; done; ` +
        `echo 'time="2026-01-01T00:00:00Z" level=info msg="worker successfully registered on upstream x:1"' >>"$f.new"; cat "$f.new" >"$f"; rm "$f.new"`,
    );
    const c = await counts();
    assert.equal(c.registered, 'no');
    assert.equal(c.started, 0);
    assert.equal(c.finished, 0);
  });

  it('reports the inode and size, and the absence of the log', async () => {
    const c = await counts();
    const st = await mac.shell(`stat -c '%i %s' "$PW_POOL_ROOT${LOG}"`);
    assert.equal(`${c.inode} ${c.size}`, st.stdout.trim());
    await mac.shell(`rm "$PW_POOL_ROOT${LOG}"`);
    const r = await probe(session, NAME);
    assert.equal(r.reply?.get('worker.log'), 'absent');
    for (const k of ['inode', 'size', 'registered', 'started', 'finished']) {
      assert.equal(r.reply?.get(`worker.log.${k}`), '', k);
    }
  });
});
