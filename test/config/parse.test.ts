import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/pw-lib/errors.js';
import {
  configKeys,
  envLayers,
  envNameFor,
  flagLayers,
  parseConfig,
  renderConfigTable,
  validateAgentConfig,
  type Config,
  type ConfigLayer,
} from '../../src/pw-lib/config/index.js';

const ctx = { homeDir: '/home/ops', uid: 1000, cwd: '/work/dir' };

function parse(...values: Record<string, unknown>[]): Config {
  return parseConfig(
    values.map((v, i) => ({ source: `layer${i}.json`, values: v })),
    ctx,
  ).config;
}

/** The problems of the ConfigError that parsing these layers throws. */
function problemsOf(layers: ConfigLayer[]): readonly string[] {
  try {
    parseConfig(layers, ctx);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    assert.equal(error.exitCode, 3);
    return error.problems;
  }
  assert.fail('expected a ConfigError');
}

void describe('config defaults (§2)', () => {
  void it('fills every default and the derived ones for cirrus', () => {
    const c = parse();
    assert.equal(c.namePrefix, 'MacM1');
    assert.equal(c.purposeTagKey, 'purpose');
    assert.equal(c.purposeValue, 'prod');
    assert.equal(c.region, undefined);
    assert.equal(c.agent.kind, 'cirrus');
    assert.equal(c.launchTemplateName, 'CirrusMacM1PWinstance');
    assert.equal(c.stateDir, '/home/ops/.local/state/pw-pool/MacM1-prod');
    assert.equal(c.launchStaggerSeconds, 7200);
    assert.equal(c.launchWaitSeconds, 600);
    assert.equal(c.launchPollSeconds, 15);
    assert.equal(c.maxLifetimeSeconds, 86400);
    assert.equal(c.hardLifetimeSeconds, 172800);
    assert.equal(c.maxFinishedTasks, 24);
    assert.equal(c.minAliveWorkers, 3);
    assert.equal(c.setupTimeoutSeconds, 2400);
    assert.equal(c.listenerGraceSeconds, 60);
    assert.equal(c.agentDrainSeconds, 7200);
    assert.deepEqual(c.ssh, {
      user: 'ec2-user',
      connectTimeoutSeconds: 13,
      connectConcurrency: 256,
      port: 22,
      commandTimeoutSeconds: 60,
      hostKeyPolicy: 'accept-new',
      agentEnvFile: '/run/user/1000/ssh-agent.env',
    });
    assert.deepEqual(c.aws, { requestTimeoutSeconds: 30, maxAttempts: 3 });
    assert.equal(c.runDeadlineSeconds, 1200);
    assert.equal(c.observeConcurrency, 16);
    assert.deepEqual(c.cron, {
      intervalSeconds: 300,
      launchEverySeconds: 600,
      lockWaitSeconds: 300,
      logFile: '/home/ops/.local/state/pw-pool/MacM1-prod/Cron.log',
    });
    assert.equal(c.nightly.keepLogSeconds, 172800);
    assert.equal(c.utilization.historySeconds, 129600);
    assert.equal(c.chart.windowSeconds, 93600);
    assert.deepEqual(c.remote.brewTaps, ['libkrun/krun']);
    assert.deepEqual(c.remote.brewFormulas, [
      'go',
      'go-md2man',
      'coreutils',
      'pkg-config',
      'pstree',
      'gpgme',
      'zstd',
      'vfkit',
      'krunkit',
    ]);
    assert.equal(c.remote.ciEnv.CIRRUS_SHELL, '/bin/bash');
    assert.equal(c.remote.ciEnv.CIRRUS_TASK_ID, '0123456789');
    assert.equal(c.remote.ciEnv.CONTAINERS_MACHINE_PROVIDER, 'applehv');
    assert.ok(c.remote.ciEnv.CIRRUS_WORKING_DIR);
    assert.deepEqual(c.remote.runnerEnv, {});
    assert.deepEqual(c.cirrus, {});
    assert.deepEqual(c.github, {
      apiUrl: 'https://api.github.com',
      serverUrl: 'https://github.com',
      runnerGroup: 'prod',
      runnerVersion: 'latest',
      groupVisibility: 'all',
      allowPublicRepositories: false,
    });
    assert.deepEqual(c.testHost, { retrySeconds: 3 });
    assert.deepEqual(c.statusPage, {});
    assert.equal(c.metrics.textfilePath, '/home/ops/.local/state/pw-pool/MacM1-prod/pw-pool.prom');
    assert.equal(c.clock, 'system');
    assert.equal(c.logLevel, 'info');
  });

  void it('derives the github-actions defaults from the prefix and purpose', () => {
    const c = parse({
      agent: { kind: 'github-actions' },
      namePrefix: 'MacM2',
      purposeValue: 'ci-1',
    });
    assert.equal(c.launchTemplateName, 'GHAMacM2Runner');
    assert.equal(c.github.runnerGroup, 'ci-1');
    assert.equal(c.stateDir, '/home/ops/.local/state/pw-pool/MacM2-ci-1');
    assert.equal(c.cron.logFile, '/home/ops/.local/state/pw-pool/MacM2-ci-1/Cron.log');
    assert.deepEqual(c.remote.runnerEnv, {
      GOPATH: '/Users/<worker>/ci/.go',
      GOCACHE: '/Users/<worker>/ci/.go/cache',
    });
    assert.deepEqual(c.remote.ciEnv, {});
  });

  void it('derives after all sources merge, and explicit values win over derived ones', () => {
    const c = parse({ maxLifetimeSeconds: 50000 }, { stateDir: 'state' });
    assert.equal(c.hardLifetimeSeconds, 100000);
    assert.equal(c.stateDir, '/work/dir/state');
    assert.equal(c.cron.logFile, '/work/dir/state/Cron.log');
    const d = parse({
      launchTemplateName: 'Mine',
      hardLifetimeSeconds: 100000,
      stateDir: '~/s',
      cron: { logFile: '/var/log/pw.log' },
      ssh: { identityFile: 'keys/id', agentEnvFile: '/tmp/agent.env' },
      github: { runnerGroup: 'macs' },
      remote: { ciEnv: { A: 'b' } },
    });
    assert.equal(d.launchTemplateName, 'Mine');
    assert.equal(d.hardLifetimeSeconds, 100000);
    assert.equal(d.stateDir, '/home/ops/s');
    assert.equal(d.cron.logFile, '/var/log/pw.log');
    assert.equal(d.metrics.textfilePath, '/home/ops/s/pw-pool.prom');
    assert.equal(d.ssh.identityFile, '/work/dir/keys/id');
    assert.equal(d.ssh.agentEnvFile, '/tmp/agent.env');
    assert.equal(d.github.runnerGroup, 'macs');
    assert.deepEqual(d.remote.ciEnv, { A: 'b' }, 'a map replaces the default, it is not merged');
  });
});

void describe('config validation (§2)', () => {
  void it('rejects unknown keys at every level, naming the source', () => {
    const problems = problemsOf([
      { source: '/etc/base.json', values: { bogus: 1 } },
      {
        source: '/tmp/overlay.json',
        values: { ssh: { prot: 2 }, github: { org: 'x', orgg: 'y' } },
      },
    ]);
    assert.deepEqual(problems, [
      'ssh.prot (from /tmp/overlay.json): unknown key',
      'github.orgg (from /tmp/overlay.json): unknown key',
      'bogus (from /etc/base.json): unknown key',
    ]);
  });

  void it('treats __proto__ as an unknown key, never touching Object.prototype', () => {
    const values = JSON.parse('{"__proto__": {"polluted": 1}, "ssh": {"__proto__": 2}}') as Record<
      string,
      unknown
    >;
    const problems = problemsOf([{ source: 'f', values }]);
    assert.deepEqual(problems, [
      'ssh.__proto__ (from f): unknown key',
      '__proto__ (from f): unknown key',
    ]);
    assert.equal((Object.prototype as Record<string, unknown>).polluted, undefined);
  });

  void it('requires integer durations ≥ 1, except a stagger of 0', () => {
    assert.equal(parse({ launchStaggerSeconds: 0 }).launchStaggerSeconds, 0);
    const problems = problemsOf([
      {
        source: 'f.json',
        values: { launchWaitSeconds: 0, launchPollSeconds: 1.5, cron: { intervalSeconds: '300' } },
      },
    ]);
    assert.deepEqual(problems, [
      'launchWaitSeconds (from f.json): expected an integer ≥ 1, got 0',
      'launchPollSeconds (from f.json): expected an integer ≥ 1, got 1.5',
      'cron.intervalSeconds (from f.json): expected an integer ≥ 1, got "300"',
    ]);
    assert.deepEqual(problemsOf([{ source: 'f', values: { launchStaggerSeconds: -1 } }]), [
      'launchStaggerSeconds (from f): expected an integer ≥ 0, got -1',
    ]);
  });

  void it('checks the name, purpose and enum patterns', () => {
    const problems = problemsOf([
      {
        source: 'f',
        values: {
          namePrefix: 'Mac-M1',
          purposeTagKey: 'Purpose',
          purposeValue: '-prod',
          agent: { kind: 'jenkins' },
          clock: 'wall',
          logLevel: 'loud',
        },
      },
    ]);
    assert.equal(problems.length, 6);
    assert.match(problems[0] ?? '', /^namePrefix \(from f\): expected a string matching/);
    assert.match(problems[1] ?? '', /^purposeTagKey \(from f\)/);
    assert.match(problems[2] ?? '', /^purposeValue \(from f\)/);
    assert.equal(
      problems[3],
      'agent.kind (from f): expected one of cirrus, github-actions, got "jenkins"',
    );
    assert.equal(problems[4], 'clock (from f): expected one of system, sim, got "wall"');
    assert.match(problems[5] ?? '', /^logLevel \(from f\): expected one of fatal, .*, got "loud"$/);
    assert.equal(parse({ purposeValue: 'a'.repeat(63) }).purposeValue.length, 63);
    assert.ok(problemsOf([{ source: 'f', values: { purposeValue: 'a'.repeat(64) } }]).length === 1);
  });

  void it('reports every problem at once: values, unknown keys and cross-field rules', () => {
    const problems = problemsOf([
      { source: '/c.json', values: { ssh: { port: 70000 }, maxLifetimeSeconds: 10000 } },
      { source: 'PW_POOL_LAUNCH_STAGGER_SECONDS', values: { launchStaggerSeconds: 'abc' } },
      { source: '/o.json', values: { nope: true, agentDrainSeconds: 12000 } },
    ]);
    assert.deepEqual(problems, [
      'launchStaggerSeconds (from PW_POOL_LAUNCH_STAGGER_SECONDS): expected an integer ≥ 0, got "abc"',
      'ssh.port (from /c.json): expected an integer from 1 to 65535, got 70000',
      'nope (from /o.json): unknown key',
      'hardLifetimeSeconds (default 2 × maxLifetimeSeconds): must be greater than' +
        ' maxLifetimeSeconds + agentDrainSeconds = 10000 (from /c.json) + 12000 (from /o.json)' +
        ' = 22000, got 20000',
    ]);
  });

  void it('enforces hardLifetime > maxLifetime + agentDrain', () => {
    assert.equal(parse({ hardLifetimeSeconds: 93601 }).hardLifetimeSeconds, 93601);
    assert.deepEqual(problemsOf([{ source: 'f', values: { hardLifetimeSeconds: 93600 } }]), [
      'hardLifetimeSeconds (from f): must be greater than maxLifetimeSeconds + agentDrainSeconds' +
        ' = 86400 (default) + 7200 (default) = 93600, got 93600',
    ]);
  });

  void it('enforces maxLifetime > 2 × launchStagger unless the stagger is 0', () => {
    const short = { maxLifetimeSeconds: 600, agentDrainSeconds: 60 };
    assert.equal(parse({ ...short, launchStaggerSeconds: 299 }).maxLifetimeSeconds, 600);
    assert.equal(parse({ ...short, launchStaggerSeconds: 0 }).maxLifetimeSeconds, 600);
    assert.deepEqual(
      problemsOf([{ source: 'f', values: { ...short, launchStaggerSeconds: 300 } }]),
      [
        'maxLifetimeSeconds (from f): must be greater than 2 × launchStaggerSeconds' +
          ' = 2 × 300 (from f) = 600 unless the stagger is 0, got 600',
      ],
    );
  });

  void it('validates lists, maps and URLs', () => {
    const problems = problemsOf([
      {
        source: 'f',
        values: {
          remote: { brewTaps: 'libkrun/krun', ciEnv: { 'NOT OK': 'x', N: 1 } },
          github: { apiUrl: 'ftp://x', allowPublicRepositories: 'yes' },
        },
      },
    ]);
    assert.deepEqual(problems, [
      'remote.brewTaps (from f): expected a list of strings, got "libkrun/krun"',
      'remote.ciEnv.NOT OK (from f): invalid key, expected a string matching ^[A-Za-z_][A-Za-z0-9_]*$',
      'remote.ciEnv.N (from f): expected a string, got 1',
      'github.apiUrl (from f): expected an http(s) URL, got "ftp://x"',
      'github.allowPublicRepositories (from f): expected true or false, got "yes"',
    ]);
  });
});

void describe('config sources', () => {
  void it('merges sections deeply and lets later layers replace values and lists', () => {
    const c = parse(
      { ssh: { user: 'admin', port: 2222 }, remote: { brewTaps: ['a/b', 'c/d'] } },
      { ssh: { port: 2200 }, remote: { brewTaps: ['e/f'] } },
    );
    assert.equal(c.ssh.user, 'admin');
    assert.equal(c.ssh.port, 2200);
    assert.deepEqual(c.remote.brewTaps, ['e/f']);
  });

  void it('records the origin of every key set', () => {
    const { origins } = parseConfig(
      [
        { source: '/c.json', values: { ssh: { user: 'a', port: 1 } } },
        { source: '/o.json', values: { ssh: { port: 2 } } },
      ],
      ctx,
    );
    assert.equal(origins['ssh.user'], '/c.json');
    assert.equal(origins['ssh.port'], '/o.json');
    assert.equal(origins.stateDir, undefined);
  });

  void it('maps keys to PW_POOL_* names', () => {
    assert.equal(envNameFor('ssh.connectTimeoutSeconds'), 'PW_POOL_SSH_CONNECT_TIMEOUT_SECONDS');
    assert.equal(envNameFor('agent.kind'), 'PW_POOL_AGENT_KIND');
    assert.equal(envNameFor('launchStaggerSeconds'), 'PW_POOL_LAUNCH_STAGGER_SECONDS');
    assert.equal(envNameFor('ssh.user'), 'PW_POOL_SSH_USER');
    assert.equal(envNameFor('github.appPrivateKeyFile'), 'PW_POOL_GITHUB_APP_PRIVATE_KEY_FILE');
    const names = configKeys.map((k) => k.env);
    assert.equal(new Set(names).size, names.length, 'no two keys share a variable');
    assert.ok(!names.includes('PW_POOL_CONFIG'));
  });

  void it('coerces environment values by the key type', () => {
    const { layers, problems } = envLayers({
      PW_POOL_LAUNCH_STAGGER_SECONDS: '0',
      PW_POOL_GITHUB_ALLOW_PUBLIC_REPOSITORIES: 'true',
      PW_POOL_REMOTE_BREW_TAPS: ' a/b\tc/d\n',
      PW_POOL_REMOTE_CI_ENV: '{"X":"1"}',
      PW_POOL_SSH_USER: 'admin',
      PW_POOL_REGION: '',
      PW_POOL_CONFIG: '/x.json',
      PW_POOL_ROOT: '/sandbox',
      PW_POOL_IMDS_URL: 'http://127.0.0.1:1',
      HOME: '/home/ops',
    });
    assert.deepEqual(problems, []);
    const c = parseConfig(layers, ctx).config;
    assert.equal(c.launchStaggerSeconds, 0);
    assert.equal(c.github.allowPublicRepositories, true);
    assert.deepEqual(c.remote.brewTaps, ['a/b', 'c/d']);
    assert.deepEqual(c.remote.ciEnv, { X: '1' });
    assert.equal(c.ssh.user, 'admin');
    assert.equal(c.region, undefined, 'an empty variable counts as unset');
  });

  void it('rejects PW_POOL_* variables that map to no key, and bad values', () => {
    const { layers, problems } = envLayers({
      PW_POOL_SSH_PROT: '22',
      PW_POOL_LAUNCH_STAGGER_SECONDS: '1e3',
      PW_POOL_REMOTE_CI_ENV: '{bad',
    });
    assert.deepEqual(problems, [
      'PW_POOL_SSH_PROT (from environment): no configuration key maps to this variable',
    ]);
    assert.deepEqual(problemsOf(layers), [
      'launchStaggerSeconds (from PW_POOL_LAUNCH_STAGGER_SECONDS): expected an integer ≥ 0, got "1e3"',
      'remote.ciEnv (from PW_POOL_REMOTE_CI_ENV): expected a JSON object of strings, got "{bad"',
    ]);
  });

  void it('accepts flags by dotted or nested key, coercing strings', () => {
    const layers = flagLayers({
      stateDir: '/s',
      logLevel: 'debug',
      'ssh.port': '2022',
      cron: { lockWaitSeconds: 5 },
      region: undefined,
    });
    const c = parseConfig(layers, ctx).config;
    assert.equal(c.stateDir, '/s');
    assert.equal(c.logLevel, 'debug');
    assert.equal(c.ssh.port, 2022);
    assert.equal(c.cron.lockWaitSeconds, 5);
    assert.deepEqual(problemsOf(flagLayers({ logLevel: 'loud' })), [
      'logLevel (from --log-level): expected one of fatal, error, warn, info, debug, trace, silent, got "loud"',
    ]);
  });

  void it('renders the README table from the key list', () => {
    const table = renderConfigTable();
    const lines = table.trimEnd().split('\n');
    assert.equal(lines[0], '| key | env var | default | meaning | secret |');
    assert.equal(lines[1], '|---|---|---|---|---|');
    assert.equal(lines.length, configKeys.length + 2);
    assert.ok(
      lines.includes(
        '| `ssh.connectTimeoutSeconds` | `PW_POOL_SSH_CONNECT_TIMEOUT_SECONDS` | `13` | ' +
          'seconds allowed for TCP connect plus SSH handshake |  |',
      ),
    );
    assert.ok(
      lines.includes(
        '| `github.tokenFile` | `PW_POOL_GITHUB_TOKEN_FILE` | — (env `GITHUB_TOKEN`) | ' +
          'PAT with org "Self-hosted runners" read/write (or env `GITHUB_TOKEN`); ' +
          'file must be 0600 and owned by the user | yes (file) |',
      ),
    );
    assert.deepEqual(
      configKeys.filter((k) => k.secret).map((k) => k.key),
      ['ssh.identityFile', 'cirrus.poolTokenFile', 'github.tokenFile', 'github.appPrivateKeyFile'],
    );
  });
});

void describe('validateAgentConfig (§2)', () => {
  const problemsFor = (values: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) => {
    try {
      validateAgentConfig(parse(values), env);
      return [];
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      return error.problems;
    }
  };
  const gha = { kind: 'github-actions' };

  void it('needs the cirrus pool token from the environment or a file', () => {
    assert.deepEqual(problemsFor({}, { POOLTOKEN: 't' }), []);
    assert.deepEqual(problemsFor({ cirrus: { poolTokenFile: '/t' } }), []);
    assert.equal(problemsFor({}).length, 1);
  });

  void it('needs github.org and credentials for github-actions', () => {
    assert.deepEqual(
      problemsFor({ agent: gha, github: { org: 'acme' } }, { GITHUB_TOKEN: 't' }),
      [],
    );
    assert.deepEqual(problemsFor({ agent: gha, github: { org: 'acme', tokenFile: '/t' } }), []);
    const app = { appId: 1, appPrivateKeyFile: '/k', installationId: 2 };
    assert.deepEqual(problemsFor({ agent: gha, github: { org: 'acme', ...app } }), []);
    const problems = problemsFor({ agent: gha });
    assert.equal(problems.length, 2);
    assert.match(problems[0] ?? '', /^github\.org: required/);
    assert.match(problems[1] ?? '', /needs credentials/);
  });

  void it('wants App auth all-or-none and exclusive with a token', () => {
    const partial = problemsFor(
      { agent: gha, github: { org: 'acme', appId: 1 } },
      { GITHUB_TOKEN: 't' },
    );
    assert.equal(partial.length, 2);
    assert.match(partial[0] ?? '', /missing github\.appPrivateKeyFile, github\.installationId$/);
    assert.match(partial[1] ?? '', /^GITHUB_TOKEN .*exclusive/);
    const both = problemsFor({
      agent: gha,
      github: {
        org: 'acme',
        tokenFile: '/t',
        appId: 1,
        appPrivateKeyFile: '/k',
        installationId: 2,
      },
    });
    assert.equal(both.length, 1);
    assert.match(both[0] ?? '', /^github\.tokenFile: GitHub App auth is exclusive/);
  });
});
