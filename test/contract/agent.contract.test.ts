// The CI-agent contract (behavior.md §7, src/pw-lib/agents/types.ts): one list of checks run for
// both agent kinds — cirrus with a pool token in its environment, github-actions through the real
// Octokit adapter against the fake GitHub REST API (personal-token auth). What the engine relies
// on must hold for both: the §7 texts and patterns, the missing-secret precondition, a one-line
// secret that never reaches setup.sh's arguments, key=value arguments setup.sh accepts, and the
// harmless no-op cases (unknown names, no orphans).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createGitHubRunners } from '../../src/pw-lib/adapters/github.js';
import { CirrusAgent } from '../../src/pw-lib/agents/cirrus.js';
import type {
  AgentKind,
  AgentPatterns,
  AgentTexts,
  CiAgent,
} from '../../src/pw-lib/agents/types.js';
import { parseConfig } from '../../src/pw-lib/config/index.js';
import { PreconditionError } from '../../src/pw-lib/errors.js';
import { startFakeGitHub, type FakeGitHub } from '../../src/sim/github/index.js';
import { ereToRegExp } from '../../src/sim/mac/posix-ere.js';
import { parseSetupArgs } from '../../src/sim/mac/setup-args.js';
import { memoryLogger } from '../helpers/fakes.js';
import { GH_APP_ID, GH_ORG, captureLogger, fakePat, githubAgent } from '../helpers/github-agent.js';

/** §6.4: what setup.sh accepts as a secret on stdin. */
const SECRET_RE = /^[A-Za-z0-9._~+/=:-]+$/;
const TS = '2026-11-28 16:05:12Z';
const CIRRUS_TOKEN = 'cirrus-pool-token_0123456789abcdef';

interface Rig {
  readonly agent: CiAgent;
  /** The same kind without any credentials. */
  readonly missing: CiAgent;
  /** A name no runner or agent has ever used. */
  readonly newName: string;
  /** Log lines written while the rig ran (secrets must not be there). */
  readonly logText: () => string;
}

interface Target {
  readonly kind: AgentKind;
  readonly texts: AgentTexts;
  /** The exact §7 process patterns. */
  readonly listener: string;
  readonly job: string;
  readonly brewTaps: readonly string[];
  readonly brewFormulas: readonly string[];
  /** Full process command lines `pgrep -f` must find, and ones it must not. */
  readonly processes: {
    listener: readonly string[];
    job: readonly string[];
    neither: readonly string[];
  };
  /** Log lines each pattern must count, and lines no pattern may count. */
  readonly lines: {
    registered: readonly string[];
    started: readonly string[];
    finished: readonly string[];
    never: readonly string[];
  };
  /** Lines that count for exactly one pattern although they look like another's. */
  readonly onlyAs?: readonly { line: string; as: keyof AgentPatterns }[];
  start(): Promise<Rig>;
  stop(): Promise<void>;
}

const cirrus: Target = {
  kind: 'cirrus',
  texts: { listener: 'Cirrus worker listener', tasks: 'tasks', workers: 'workers' },
  listener: 'cirrus worker run',
  job: 'cirrus-[0-9][^ ]*-darwin-arm64 agent ',
  brewTaps: ['cirruslabs/cli'],
  brewFormulas: ['cirruslabs/cli/cirrus'],
  processes: {
    listener: ['/opt/homebrew/bin/cirrus worker run --file /dev/stdin'],
    job: [
      '/Users/MacM1-1-worker/Library/Caches/cirrus/agent/cirrus-0.135.0-darwin-arm64 agent -api-endpoint https://grpc.cirrus-ci.com:443',
    ],
    neither: ['/opt/homebrew/bin/cirrus --version', 'sudo -iu MacM1-1-worker bash'],
  },
  lines: {
    registered: [
      'time="2024-08-06T15:00:00Z" level=info msg="worker successfully registered on upstream https://grpc.cirrus-ci.com:443"',
      'worker successfully registered on upstream grpc.cirrus-ci.com:443',
    ],
    started: [
      'time="2024-08-06T15:01:00Z" level=info msg="started task 6543210987654321"',
      'started task 42',
    ],
    finished: [
      'time="2024-08-06T15:09:00Z" level=info msg="task 6543210987654321 completed"',
      'task 42 completed',
    ],
    never: [
      // the original's unanchored, case-insensitive greps counted these (§7 "Never counted")
      'time="2024-08-06T15:01:00Z" level=error msg="failed to notify the server about the started task 42: rpc error: code = Unavailable"',
      'time="2024-08-06T15:09:00Z" level=warning msg="spurious task 42 completed"',
      '##### Cirrus worker Listener started at 2024-08-06T15:00:00Z #####',
      'time="2024-08-06T15:01:00Z" level=error msg="failed to create an instance for the task 42: no isolation"',
      '# Log created 2024-08-06T15:00:00Z',
      // wrong level, case or anchoring
      'time="2024-08-06T15:01:00Z" level=warning msg="started task 42"',
      'Started task 42',
      'started task 42 ',
      ' task 42 completed',
      'the worker successfully registered on upstream x',
      'worker successfully registered on upstream ',
      'started task x42',
    ],
  },
  start() {
    const agent = new CirrusAgent({
      poolTokenFile: undefined,
      env: { POOLTOKEN: CIRRUS_TOKEN },
      purposeTagKey: 'purpose',
      purposeValue: 'prod',
    });
    const missing = new CirrusAgent({
      poolTokenFile: undefined,
      env: { POOLTOKEN: '  ' },
      purposeTagKey: 'purpose',
      purposeValue: 'prod',
    });
    return Promise.resolve({ agent, missing, newName: 'MacM1-1', logText: () => '' });
  },
  stop: () => Promise.resolve(),
};

let gh: FakeGitHub | undefined;
const PAT = fakePat();
const githubActions: Target = {
  kind: 'github-actions',
  texts: { listener: 'GitHub Actions runner', tasks: 'jobs', workers: 'runners' },
  listener: 'Runner.Listener',
  job: 'Runner.Worker',
  brewTaps: [],
  brewFormulas: ['jq'],
  processes: {
    listener: [
      '/Users/MacM1-1-worker/actions-runner/bin/Runner.Listener run --startuptype service',
    ],
    job: ['/Users/MacM1-1-worker/actions-runner/bin/Runner.Worker spawnclient 123 456'],
    neither: ['/bin/bash /Users/MacM1-1-worker/actions-runner/run.sh', 'Runner.Listen'],
  },
  lines: {
    registered: ['√ Connected to GitHub', 'Connected to GitHub'],
    started: [`${TS}: Running job: build (macos-14, arm64)`, `${TS}: Running job: x`],
    finished: [
      `${TS}: Job build (macos-14, arm64) completed with result: Succeeded`,
      `${TS}: Job x completed with result: Failed`,
    ],
    never: [
      // lines without the timestamp prefix never count
      'Running job: build',
      'Job build completed with result: Succeeded',
      '2026-11-28T16:05:12Z: Running job: build',
      `${TS}: Job build completed with result: `,
      `${TS}: Job  completed with result: Succeeded!`,
      ' Connected to GitHub',
      'Connected to GitHub.',
      'x Connected to GitHub',
      '√ Connected to GitHub Enterprise',
      `${TS}: Listening for Jobs`,
    ],
  },
  // a `Running job:` line whose job name contains `completed with result:` is a start only
  onlyAs: [{ line: `${TS}: Running job: Job z completed with result: Succeeded`, as: 'started' }],
  async start() {
    gh = await startFakeGitHub({ org: GH_ORG, appId: GH_APP_ID, personalTokens: [PAT] });
    const rig = githubAgent(gh, { auth: { kind: 'token', token: PAT } });
    const { log } = memoryLogger();
    const unconfigured = parseConfig(
      [
        {
          source: 'test.json',
          values: { agent: { kind: 'github-actions' }, github: { org: GH_ORG, apiUrl: gh.apiUrl } },
        },
      ],
      { homeDir: '/home/ops', uid: 1000, cwd: '/' },
    ).config;
    const missing = githubAgent(gh, {
      // the CLI's own factory, with no App key and no token anywhere
      connect: () => createGitHubRunners(unconfigured, {}, log),
      log: captureLogger().log,
    }).agent;
    return { agent: rig.agent, missing, newName: 'MacM1-1', logText: () => rig.lines.join('') };
  },
  async stop() {
    await gh?.close();
  },
};

for (const target of [cirrus, githubActions]) {
  void describe(`CI agent contract: ${target.kind}`, () => {
    let rig: Rig;
    before(async () => {
      rig = await target.start();
    });
    after(() => target.stop());

    void it('has the §7 kind, texts, process patterns, brew additions and drainBeforeStop', () => {
      const { agent } = rig;
      assert.equal(agent.kind, target.kind);
      assert.deepEqual({ ...agent.texts }, target.texts);
      assert.equal(agent.patterns.listener, target.listener);
      assert.equal(agent.patterns.job, target.job);
      assert.deepEqual([...agent.brewTaps], target.brewTaps);
      assert.deepEqual([...agent.brewFormulas], target.brewFormulas);
      assert.equal(agent.drainBeforeStop, true);
    });

    void it('process patterns find the listener and the job process (pgrep -f)', () => {
      const listener = ereToRegExp(rig.agent.patterns.listener);
      const job = ereToRegExp(rig.agent.patterns.job);
      for (const cmd of target.processes.listener) {
        assert.ok(listener.test(cmd), `listener: ${cmd}`);
        assert.ok(!job.test(cmd), `job must not match the listener: ${cmd}`);
      }
      for (const cmd of target.processes.job) {
        assert.ok(job.test(cmd), `job: ${cmd}`);
        assert.ok(!listener.test(cmd), `listener must not match the job: ${cmd}`);
      }
      for (const cmd of target.processes.neither) {
        assert.ok(!listener.test(cmd) && !job.test(cmd), `neither: ${cmd}`);
      }
    });

    void it('log patterns are anchored EREs that count the §7 lines and no others', () => {
      const { patterns } = rig.agent;
      const res = {
        registered: ereToRegExp(patterns.registered),
        started: ereToRegExp(patterns.started),
        finished: ereToRegExp(patterns.finished),
      };
      for (const [key, re] of Object.entries(res)) {
        const source = patterns[key as keyof typeof res];
        assert.ok(source.startsWith('^') && source.endsWith('$'), `${key} is anchored: ${source}`);
        assert.equal(re.flags, '', `${key} is case-sensitive`);
      }
      for (const key of ['registered', 'started', 'finished'] as const) {
        for (const line of target.lines[key]) {
          for (const other of ['registered', 'started', 'finished'] as const) {
            assert.equal(
              res[other].test(line),
              other === key,
              `${other} vs ${JSON.stringify(line)}`,
            );
          }
        }
      }
      for (const line of target.lines.never) {
        for (const key of ['registered', 'started', 'finished'] as const) {
          assert.ok(!res[key].test(line), `${key} must not count ${JSON.stringify(line)}`);
        }
      }
      for (const { line, as } of target.onlyAs ?? []) {
        for (const key of ['registered', 'started', 'finished'] as const) {
          assert.equal(res[key].test(line), key === as, `${key} vs ${JSON.stringify(line)}`);
        }
      }
    });

    void it('checkSecret without credentials: PreconditionError "Missing CI secret for agent \'<kind>\'."', async () => {
      await assert.rejects(
        rig.missing.checkSecret(),
        (e: unknown) =>
          e instanceof PreconditionError &&
          e.message === `Missing CI secret for agent '${target.kind}'.` &&
          e.exitCode === 3,
      );
    });

    void it('after checkSecret and preflight: prepare, a one-line secret, clean key=value args', async () => {
      const { agent, newName } = rig;
      await agent.checkSecret();
      await agent.preflight();
      assert.deepEqual(await agent.prepare(newName), { ok: true });
      const secret = await agent.secretFor(newName);
      assert.match(secret, SECRET_RE);
      assert.ok(!/[\r\n]/.test(secret));
      const args = agent.setupArgs(newName);
      assert.ok(args.length > 0);
      for (const word of args) {
        assert.match(word, /^[a-z]+=/, `key=value: ${word}`);
        assert.ok(!word.includes(secret), `the secret is not in ${word.split('=')[0]}=`);
      }
      assert.ok(!args.join(' ').includes(secret));
      // setup.sh's own parser (mirrored by the simulated Mac) accepts them as sent (§4.3 S10 C).
      const parsed = parseSetupArgs(target.kind, [
        ...args,
        `taps=${agent.brewTaps.join(' ')}`,
        `formulas=${agent.brewFormulas.join(' ')}`,
        'drain=7200',
      ]);
      assert.notEqual(typeof parsed, 'string', typeof parsed === 'string' ? parsed : '');
      assert.ok(!rig.logText().includes(secret), 'the secret is never logged');
    });

    void it('onTerminate of an unknown name resolves', async () => {
      await rig.agent.onTerminate('MacM1-99');
    });

    void it('cordon answers a boolean (false for an unknown name)', async () => {
      const changed = await rig.agent.cordon('MacM1-98');
      assert.equal(typeof changed, 'boolean');
      assert.equal(changed, false);
    });

    void it('sweep with no orphans reports nothing', async () => {
      const report = await rig.agent.sweep(new Set([rig.newName]), Date.now() / 1000);
      assert.deepEqual({ ...report }, { recorded: [], deleted: [], failed: [], elsewhere: [] });
    });
  });
}
