// The configuration schema (behavior.md §2): the single source of truth for keys, types, defaults,
// environment variable names (keys.ts) and the README's config table.
import { z } from 'zod';

/** Per-key facts the schema alone cannot express; attached with withMeta to every leaf key. */
export interface KeyMeta {
  /**
   * One line for operators: what the key controls, with units where useful (Markdown inline code
   * allowed, no `|`). Shown in the README's config table; test/config/keys.test.ts requires it on
   * every leaf key.
   */
  readonly meaning: string;
  /** The key names a secret file (checked by readSecretFile, redacted in logs). */
  readonly secret?: true;
  /** The value is a path: `~` is expanded and it is made absolute against the cwd. */
  readonly path?: true;
  /** Markdown for a default derived after all sources merge (resolveConfig) or found elsewhere. */
  readonly defaultNote?: string;
}
export const keyMeta = z.registry<KeyMeta>();

/** Appended to every secret file's meaning: what readSecretFile enforces. */
export const SECRET_FILE_NOTE = 'file must be 0600 and owned by the user';

const seconds = (defaultValue: number, min = 1) => z.int().min(min).default(defaultValue);
const count = (defaultValue: number, min = 0) => z.int().min(min).default(defaultValue);
const matching = (re: RegExp) =>
  z.string().regex(re, { error: `expected a string matching ${re.source}` });
const pathString = () => z.string().min(1, { error: 'expected a non-empty path' });
const withMeta = <T extends z.ZodType>(schema: T, meta: KeyMeta): T => {
  keyMeta.add(schema, meta);
  return schema;
};
/** A leaf key with only a meaning (the common case). */
const key = <T extends z.ZodType>(schema: T, meaning: string): T => withMeta(schema, { meaning });
const secretFile = (meaning: string, defaultNote = '—') =>
  withMeta(pathString().optional(), {
    meaning: `${meaning}; ${SECRET_FILE_NOTE}`,
    secret: true,
    path: true,
    defaultNote,
  });
const derived = <T extends z.ZodType>(schema: T, meta: KeyMeta & { defaultNote: string }) =>
  withMeta(schema.optional(), meta);
const url = () => z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' });
const envMap = () =>
  z.record(matching(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string({ error: 'expected a string value' }));

export const PREFIX_RE = /^[A-Za-z0-9]+$/;
export const PURPOSE_KEY_RE = /^[a-z0-9]+$/;
export const PURPOSE_VALUE_RE = /^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/;

export const AGENT_KINDS = ['cirrus', 'github-actions'] as const;
export type AgentKind = (typeof AGENT_KINDS)[number];
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * Placeholder in the default `remote.runnerEnv` / `remote.ciEnv` values for the per-instance worker
 * user (`<name>-worker`); whoever writes the values to an instance substitutes it.
 */
export const WORKER_PLACEHOLDER = '<worker>';

export const configSchema = z.strictObject({
  namePrefix: key(
    matching(PREFIX_RE).default('MacM1'),
    'pool hosts and instances are named `<prefix>-<n>`; letters and digits only',
  ),
  purposeTagKey: key(
    matching(PURPOSE_KEY_RE).default('purpose'),
    'tag key that partitions pools within the AWS account; lowercase letters and digits',
  ),
  purposeValue: key(
    matching(PURPOSE_VALUE_RE).default('prod'),
    "this pool's purpose tag value; also the CI label value and the default runner group",
  ),
  region: withMeta(matching(/^[a-z0-9-]+$/).optional(), {
    meaning:
      'AWS region; unset uses the SDK resolution (`AWS_REGION`, profile), resolved once per run',
    defaultNote: 'SDK resolution, else `us-east-1`',
  }),
  launchTemplateName: derived(matching(/^[A-Za-z0-9().\-/_]{3,128}$/), {
    meaning: 'EC2 launch template for new instances; its `$Default` version is used',
    defaultNote: '`Cirrus<prefix>PWinstance` (cirrus) / `GHA<prefix>Runner` (github-actions)',
  }),
  stateDir: derived(pathString(), {
    meaning:
      'directory for status files, utilization CSV, html page, lock, known_hosts and audit log',
    defaultNote: '`~/.local/state/pw-pool/<prefix>-<purposeValue>`',
    path: true,
  }),
  agent: z
    .strictObject({
      kind: key(
        z.enum(AGENT_KINDS).default('cirrus'),
        'CI agent run by the workers; `github-actions` is recommended for new pools (Cirrus CI ended)',
      ),
    })
    .prefault({}),
  launchStaggerSeconds: key(
    seconds(7200, 0),
    'minimum pool-wide gap in seconds between non-forced launches; 0 disables it',
  ),
  launchWaitSeconds: key(
    seconds(600),
    'seconds to wait for a new instance to reach `running` before reporting an error',
  ),
  launchPollSeconds: key(
    seconds(15),
    'seconds between state polls while waiting for new instances to reach `running`',
  ),
  maxLifetimeSeconds: key(
    seconds(86400),
    'soft lifetime in seconds: the on-instance recycling timer; older instances get a warning',
  ),
  hardLifetimeSeconds: derived(z.int().min(1), {
    meaning:
      'age in seconds at which the manager force-terminates; must exceed max lifetime + agent drain',
    defaultNote: '2 × `maxLifetimeSeconds`',
  }),
  maxFinishedTasks: key(
    count(24),
    'a worker that has finished more CI tasks than this is force-terminated (recycled)',
  ),
  minAliveWorkers: key(
    count(3),
    'the task limit is enforced only while more than this many workers were alive last run',
  ),
  setupTimeoutSeconds: key(
    seconds(2400),
    'seconds a setup may run, or an instance stay stopped, before it is force-terminated',
  ),
  listenerGraceSeconds: key(
    seconds(60),
    'seconds a listener must be seen dead across runs before its worker is force-terminated',
  ),
  agentDrainSeconds: key(
    seconds(7200),
    'seconds recycling and maintenance wait for a running CI task before stopping the agent',
  ),
  ssh: z
    .strictObject({
      user: key(matching(/^[a-z_][a-z0-9_-]*$/).default('ec2-user'), 'login user on the instances'),
      connectTimeoutSeconds: key(seconds(13), 'seconds allowed for TCP connect plus SSH handshake'),
      connectConcurrency: key(
        count(256, 1),
        'SSH connection attempts in flight at once, apart from the `observeConcurrency` of commands',
      ),
      port: key(z.int().min(1).max(65535).default(22), 'SSH port on the instances'),
      identityFile: secretFile('unencrypted SSH private key, used when no ssh-agent is available'),
      commandTimeoutSeconds: key(seconds(60), 'timeout in seconds for each remote command'),
      hostKeyPolicy: key(
        z.enum(['accept-new', 'strict', 'insecure']).default('accept-new'),
        '`accept-new` pins the first key per instance, `strict` needs a known key, `insecure` takes any',
      ),
      agentEnvFile: derived(pathString(), {
        meaning: 'sh-syntax ssh-agent environment file, loaded when `SSH_AUTH_SOCK` is unset',
        defaultNote: '`/run/user/<uid>/ssh-agent.env`',
        path: true,
      }),
    })
    .prefault({}),
  aws: z
    .strictObject({
      requestTimeoutSeconds: key(seconds(30), 'timeout in seconds for each AWS API request'),
      maxAttempts: key(count(3, 1), 'attempts per AWS API call, the first one included'),
    })
    .prefault({}),
  runDeadlineSeconds: key(
    seconds(1200),
    'seconds into a run after which no new remote work starts; the rest is reported unprocessed',
  ),
  observeConcurrency: key(count(16, 1), 'how many instances are observed over SSH in parallel'),
  cron: z
    .strictObject({
      intervalSeconds: key(
        seconds(300),
        'seconds between `pw-pool cron` runs; must match the crontab schedule',
      ),
      launchEverySeconds: key(
        seconds(600),
        'seconds between the launch-instances runs that cron makes',
      ),
      lockWaitSeconds: key(
        seconds(300),
        'seconds any command waits for the pool lock before giving up (exit 5)',
      ),
      logFile: derived(pathString(), {
        meaning: 'log file the crontab appends to; `pw-pool nightly` trims it',
        defaultNote: '`<stateDir>/Cron.log`',
        path: true,
      }),
    })
    .prefault({}),
  nightly: z
    .strictObject({
      keepLogSeconds: key(
        seconds(172800),
        'the nightly trim keeps the `cron.logFile` lines younger than this many seconds',
      ),
    })
    .prefault({}),
  utilization: z
    .strictObject({
      historySeconds: key(
        seconds(129600),
        'seconds of history kept in `utilization.csv` (rows = history / `cron.intervalSeconds`)',
      ),
    })
    .prefault({}),
  chart: z
    .strictObject({
      windowSeconds: key(seconds(93600), "time span in seconds of the status page's chart"),
    })
    .prefault({}),
  remote: z
    .strictObject({
      brewTaps: key(
        z.array(matching(/^[A-Za-z0-9][A-Za-z0-9@._+/-]*$/)).default(['libkrun/krun']),
        "Homebrew taps added at setup, besides the agent's own; keep the names current",
      ),
      brewFormulas: key(
        z
          .array(matching(/^[A-Za-z0-9][A-Za-z0-9@._+/-]*$/))
          .default([
            'go',
            'go-md2man',
            'coreutils',
            'pkg-config',
            'pstree',
            'gpgme',
            'zstd',
            'vfkit',
            'krunkit',
          ]),
        "Homebrew formulas installed at setup, besides the agent's own; a stale name fails setup",
      ),
      runnerEnv: derived(envMap(), {
        meaning:
          "extra environment (JSON object) for CI jobs, written to the GitHub runner's `.env`",
        defaultNote: 'per agent (behavior.md §7)',
      }),
      ciEnv: derived(envMap(), {
        meaning: 'variables (JSON object) that `ci_env.sh` exports for a CI-like operator shell',
        defaultNote: 'per agent (behavior.md §7)',
      }),
    })
    .prefault({}),
  cirrus: z
    .strictObject({
      poolTokenFile: secretFile(
        'Cirrus pool token for worker registration (or env `POOLTOKEN`)',
        '— (env `POOLTOKEN`)',
      ),
    })
    .prefault({}),
  github: z
    .strictObject({
      org: key(
        matching(/^[A-Za-z0-9][A-Za-z0-9-]{0,38}$/).optional(),
        'GitHub organisation the runners register in; required for `github-actions`',
      ),
      tokenFile: secretFile(
        'PAT with org "Self-hosted runners" read/write (or env `GITHUB_TOKEN`)',
        '— (env `GITHUB_TOKEN`)',
      ),
      appId: key(
        z.int().min(1).optional(),
        'GitHub App id, for App auth (with the key file and installation id) instead of a PAT',
      ),
      appPrivateKeyFile: secretFile('GitHub App private key, for App auth'),
      installationId: key(
        z.int().min(1).optional(),
        "the GitHub App's installation id in the organisation, for App auth",
      ),
      apiUrl: key(
        url().default('https://api.github.com'),
        'GitHub REST API base URL; change it with `github.serverUrl` for GitHub Enterprise Server',
      ),
      serverUrl: key(
        url().default('https://github.com'),
        'GitHub web URL the runners register against; change it with `github.apiUrl` for GHES',
      ),
      runnerGroup: derived(z.string().min(1).max(200), {
        meaning: 'org runner group the runners join; workflows use `runs-on: { group: <group> }`',
        defaultNote: '`purposeValue`',
      }),
      runnerVersion: key(
        matching(/^(latest|[0-9]+\.[0-9]+\.[0-9]+)$/).default('latest'),
        'actions runner release to install, `x.y.z` or `latest` (resolved once per run)',
      ),
      groupVisibility: key(
        z.enum(['all', 'selected', 'private']).default('all'),
        'which repositories may use the runner group; applied only when pw-pool creates it',
      ),
      allowPublicRepositories: key(
        z.boolean().default(false),
        'let public repositories use a newly created runner group; false keeps fork PRs off the Macs',
      ),
    })
    .prefault({}),
  testHost: z
    .strictObject({
      availabilityZone: key(
        matching(/^[a-z0-9-]+$/).optional(),
        'availability zone where `allocate-test-host` allocates its host; required by it',
      ),
      retrySeconds: key(seconds(3), 'seconds between the launch attempts of `allocate-test-host`'),
    })
    .prefault({}),
  statusPage: z
    .strictObject({
      link: key(
        url().optional(),
        'optional URL shown on the status page, e.g. the CI pool or runner-group page',
      ),
    })
    .prefault({}),
  metrics: z
    .strictObject({
      textfilePath: derived(pathString(), {
        meaning:
          'Prometheus textfile (`.prom`) rewritten by every cron, nightly, launch and setup run',
        defaultNote: '`<stateDir>/pw-pool.prom`',
        path: true,
      }),
    })
    .prefault({}),
  clock: key(
    z.enum(['system', 'sim']).default('system'),
    "decision clock: `system`, or `sim` for the simulated cloud's virtual clock (tests, demos)",
  ),
  logLevel: key(z.enum(LOG_LEVELS).default('info'), 'pino level of the JSON logs on stderr'),
});

/** What a config file, overlay or flag set may contain. */
export type ConfigInput = z.input<typeof configSchema>;
/** The parsed values before the derived defaults are filled in (resolveConfig). */
export type ConfigValues = z.output<typeof configSchema>;

type Filled<T, K extends keyof T> = Omit<T, K> & { [P in K]-?: Exclude<T[P], undefined> };

/** The fully resolved configuration: every key with a default (derived or not) is present. */
export type Config = Omit<
  Filled<ConfigValues, 'launchTemplateName' | 'stateDir' | 'hardLifetimeSeconds'>,
  'ssh' | 'cron' | 'remote' | 'github' | 'metrics'
> & {
  ssh: Filled<ConfigValues['ssh'], 'agentEnvFile'>;
  cron: Filled<ConfigValues['cron'], 'logFile'>;
  remote: Filled<ConfigValues['remote'], 'runnerEnv' | 'ciEnv'>;
  github: Filled<ConfigValues['github'], 'runnerGroup'>;
  metrics: Filled<ConfigValues['metrics'], 'textfilePath'>;
};
