// The github-actions agent's on-instance part (behavior.md §7): install (download + SHA-256
// check + unpack as the worker), register through config.sh with the token only in its
// environment, .env, and the supervisor running run.sh. The manager's GitHub side comes later.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startSandboxMac, type SandboxMac } from '../sandbox/sandbox-mac.js';
import {
  connect,
  installScripts,
  processesMatching,
  randomToken,
  waitFor,
  type MacSession,
} from './helpers.js';

const NAME = 'GHA1-3';
const WORKER = `${NAME}-worker`;
const VERSION = '2.330.0';
const GHA = {
  listener: 'Runner.Listener',
  job: 'Runner.Worker',
  registered: '^(√ )?Connected to GitHub$',
  started: '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}Z: Running job: .+$',
  finished:
    '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}Z: Job .+ completed with result: [A-Za-z]+$',
};

/** A runner tarball whose config.sh and run.sh behave like the real ones, as far as we need. */
function runnerTarball(): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'pw-runner-'));
  try {
    const files: Record<string, string> = {
      'config.sh': `#!/bin/bash
set -eu
[ -n "\${ACTIONS_RUNNER_INPUT_TOKEN:-}" ] || { echo 'no registration token' >&2; exit 1; }
printf '%s\\n' "$@" >config.args
printf '%s' "$ACTIONS_RUNNER_INPUT_TOKEN" | sha256sum | cut -c1-64 >token.sha256
echo '{"agentName":"runner"}' >.runner
echo '{"scheme":"OAuth"}' >.credentials
`,
      'run.sh': `#!/bin/bash
exec /bin/bash "$(cd "$(dirname "$0")" && pwd)/bin/Runner.Listener" run
`,
      'bin/Runner.Listener': `#!/bin/bash
trap 'exit 0' TERM INT
echo '√ Connected to GitHub'
echo "$(date -u '+%Y-%m-%d %H:%M:%SZ'): Listening for Jobs"
while :; do sleep 1 & wait $!; done
`,
    };
    mkdirSync(join(dir, 'bin'));
    for (const [name, text] of Object.entries(files)) {
      writeFileSync(join(dir, name), text);
      chmodSync(join(dir, name), 0o755);
    }
    execFileSync('tar', [
      '-czf',
      join(dir, 'runner.tar.gz'),
      '-C',
      dir,
      'config.sh',
      'run.sh',
      'bin',
    ]);
    return readFileSync(join(dir, 'runner.tar.gz'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('github-actions setup (on-instance part)', () => {
  let mac: SandboxMac;
  let session: MacSession;
  const token = randomToken();
  const tarball = runnerTarball();
  const sha = createHash('sha256').update(tarball).digest('hex');
  const runnerDir = `/Users/${WORKER}/actions-runner`;
  const setupArgs = [
    'url=https://github.com',
    'org=containers',
    `group=${NAME.split('-')[0]}`,
    `version=${VERSION}`,
    `runnerenv=GOPATH=/Users/${WORKER}/ci/.go,GOCACHE=/Users/${WORKER}/ci/.go/cache`,
    'labels=pw-pool,GHA1.prod_x-1',
    'drain=7200',
  ];

  before(async () => {
    const release = JSON.stringify({
      tag_name: `v${VERSION}`,
      body: `## Packages\n<!-- BEGIN SHA osx-arm64 -->${sha}<!-- END SHA osx-arm64 -->\n`,
    });
    mac = await startSandboxMac({
      name: NAME,
      httpRoutes: {
        [`/gh/api/v${VERSION}`]: { body: release },
        [`/gh/dl/v${VERSION}/actions-runner-osx-arm64-${VERSION}.tar.gz`]: { body: tarball },
      },
    });
    session = await connect(mac);
    await installScripts(session);
    const r = await session.secretOp('start-setup', ['github-actions', NAME, ...setupArgs], token);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    await waitFor('the runner to listen', async () => {
      const p = await session.op('probe', [
        'github-actions',
        NAME,
        GHA.listener,
        GHA.job,
        GHA.registered,
        GHA.started,
        GHA.finished,
      ]);
      if (p.reply?.get('setup.failed') === 'present') {
        throw new Error(
          `setup failed: ${p.reply.get('setup.failed.reason')}\n${await mac.readText('/Users/ec2-user/setup.log')}`,
        );
      }
      return p.reply?.get('listener') === 'alive' && p.reply.get('worker.log.registered') === 'yes'
        ? p.reply
        : undefined;
    });
  });
  after(async () => {
    session?.close();
    await mac?.close();
  });

  it('unpacks the verified release as the worker and registers with config.sh', async () => {
    assert.equal(await mac.readText(`${runnerDir}/config.sh`), readFileSync0(tarball, 'config.sh'));
    const args = (await mac.readText(`${runnerDir}/config.args`))?.trim().split('\n');
    assert.deepEqual(args, [
      '--unattended',
      '--replace',
      '--disableupdate',
      '--url',
      'https://github.com/containers',
      '--name',
      NAME,
      '--runnergroup',
      'GHA1',
      '--labels',
      'pw-pool,GHA1.prod_x-1',
      '--work',
      mac.hostPath(`/Users/${WORKER}/ci`),
    ]);
    const got = (await mac.readText(`${runnerDir}/token.sha256`))?.trim();
    assert.equal(got, createHash('sha256').update(token).digest('hex'));
    const calls = await mac.standInLog();
    const config = calls.find(
      (c) => c.tool === 'sudo' && c.argv.includes('--preserve-env=ACTIONS_RUNNER_INPUT_TOKEN'),
    );
    assert.equal(config?.argv[1], '-u');
    assert.equal(config?.argv[2], WORKER);
    for (const c of calls)
      assert.ok(!JSON.stringify(c).includes(token), `token in a ${c.tool} call`);
    assert.equal(await mac.file('/Users/ec2-user/.pw-pool/secret'), undefined);
    const brew = calls.filter((c) => c.tool === 'brew' && c.argv[0] === 'install');
    assert.deepEqual(
      brew.map((c) => c.argv),
      [['install', 'jq']],
    );
  });

  it('writes .env with the job-completed hook and the runner environment', async () => {
    assert.equal(
      await mac.readText(`${runnerDir}/.env`),
      [
        `ACTIONS_RUNNER_HOOK_JOB_COMPLETED=${mac.hostPath('/usr/local/libexec/pw-pool/cleanup_hook.sh')}`,
        `GOPATH=/Users/${WORKER}/ci/.go`,
        `GOCACHE=/Users/${WORKER}/ci/.go/cache`,
        '',
      ].join('\n'),
    );
    assert.equal((await mac.file(`${runnerDir}/.env`))?.owner, `${WORKER}:staff`);
  });

  it('the supervisor runs run.sh as the worker, output into the worker log', async () => {
    const [listener] = await processesMatching(mac, /Runner\.Listener run$/);
    assert.equal(listener?.user, WORKER);
    const log = (await mac.readText(`/private/tmp/${NAME}-worker.log`)) ?? '';
    assert.match(
      log,
      /^# Log created .* - do not manually remove or modify!\n√ Connected to GitHub\n/,
    );
    assert.ok(!log.includes(token));
  });

  it('cleanup_hook.sh empties the CI temp dir and ~/ci as the worker, and exits 0', async () => {
    const ci = mac.hostPath(`/Users/${WORKER}/ci`);
    const tmp = mac.hostPath('/private/tmp/ci');
    const arrange = await mac.shell(
      `mkdir -p "${ci}/work/ro" "${tmp}/job" && touch "${ci}/work/ro/f" "${tmp}/job/g" "${tmp}/.hidden" && chmod 0500 "${ci}/work/ro"`,
    );
    assert.equal(arrange.code, 0, arrange.stderr);
    const r = await mac.shell(
      `sudo -u ${WORKER} /bin/bash "$PW_POOL_ROOT/usr/local/libexec/pw-pool/cleanup_hook.sh"`,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^##### cleanup_hook\.sh starting at .*\n##### cleanup_hook\.sh finished at /m,
    );
    const left = await mac.shell(`ls -A "${ci}" "${tmp}"`);
    assert.equal(left.stdout.replace(/^\S+:\n/gm, '').trim(), '');
  });

  it('maintenance removes .runner and .credentials, and the supervisor stops the runner', async () => {
    const m = await session.op('maintenance', [
      'github-actions',
      NAME,
      GHA.listener,
      GHA.job,
      '7200',
    ]);
    assert.equal(m.code, 0, m.stderr);
    assert.equal(await mac.file(`${runnerDir}/.runner`), undefined);
    assert.equal(await mac.file(`${runnerDir}/.credentials`), undefined);
    await waitFor('the runner to stop', async () =>
      (await processesMatching(mac, /Runner\.Listener run$/)).length === 0 &&
      (await processesMatching(mac, /service_pool\.sh/)).length === 0
        ? true
        : undefined,
    );
  });
});

describe('github-actions setup with a tampered runner tarball', () => {
  let mac: SandboxMac;
  let session: MacSession;
  before(async () => {
    const release = JSON.stringify({
      body: `<!-- BEGIN SHA osx-arm64 -->${'0'.repeat(64)}<!-- END SHA osx-arm64 -->`,
    });
    mac = await startSandboxMac({
      name: NAME,
      httpRoutes: {
        [`/gh/api/v${VERSION}`]: { body: release },
        [`/gh/dl/v${VERSION}/actions-runner-osx-arm64-${VERSION}.tar.gz`]: {
          body: runnerTarball(),
        },
      },
    });
    session = await connect(mac);
    await installScripts(session);
  });
  after(async () => {
    session?.close();
    await mac?.close();
  });

  it('start-setup refuses labels that do not match the ERE (the simulated Mac says the same)', async () => {
    const base = ['url=https://github.com', 'org=containers', 'group=GHA1', `version=${VERSION}`];
    for (const labels of ['', 'a,,b', 'a b', ',a', 'a,', 'a;b']) {
      const r = await session.secretOp(
        'start-setup',
        ['github-actions', NAME, ...base, `labels=${labels}`],
        randomToken(),
      );
      assert.equal(r.code, 3, `labels=${labels}: ${r.stdout}${r.stderr}`);
      assert.equal(
        r.reply?.get('error'),
        "setup argument 'labels' must match ^[A-Za-z0-9._-]+(,[A-Za-z0-9._-]+)*$",
      );
    }
    assert.equal(await mac.file('/Users/ec2-user/.setup.started'), undefined);
  });

  it('fails the setup before anything is unpacked', async () => {
    const args = ['url=https://github.com', 'org=containers', 'group=GHA1', `version=${VERSION}`];
    const r = await session.secretOp(
      'start-setup',
      ['github-actions', NAME, ...args],
      randomToken(),
    );
    assert.equal(r.code, 0, r.stderr);
    const reason = await waitFor('.setup.failed', () =>
      mac.readText('/Users/ec2-user/.setup.failed'),
    );
    assert.equal(
      reason,
      `actions-runner-osx-arm64-${VERSION}.tar.gz does not match its published SHA-256\n`,
    );
    assert.equal(await mac.file(`/Users/${WORKER}/actions-runner/config.sh`), undefined);
    assert.equal(await mac.file('/Users/ec2-user/.pw-pool/secret'), undefined);
  });
});

function readFileSync0(tarball: Buffer, member: string): string {
  return execFileSync('tar', ['-xzOf', '-', member], { input: tarball }).toString('utf8');
}
