// The `github-actions` agent kind (behavior.md §7): organisation self-hosted runners in a runner
// group named after the pool's purpose, a registration token minted per fresh setup, a quarantine
// group `<group>-draining` for cordons, deregistration at terminate and a two-phase orphan sweep.
// It talks to GitHub only through the GitHubRunners port; the adapter knows Octokit.
import type { Logger } from 'pino';
import { PreconditionError } from '../errors.js';
import type { GitHubRunner, GitHubRunners, Journal, RunnerGroup, StateStore } from '../ports.js';
import { NO_JOURNAL } from '../ports.js';
import {
  RUNNER_SWEEP_FILE,
  formatSweepState,
  parseSweepState,
  planRunnerSweep,
} from '../core/runner-sweep.js';
import type { AgentPatterns, CiAgent, PrepareOutcome, RunnerSweepReport } from './types.js';

const TS = '[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}Z';

export const GITHUB_ACTIONS_PATTERNS: AgentPatterns = {
  listener: 'Runner.Listener',
  job: 'Runner.Worker',
  registered: '^(√ )?Connected to GitHub$',
  started: `^${TS}: Running job: .+$`,
  finished: `^${TS}: Job .+ completed with result: [A-Za-z]+$`,
};

/** The quarantine group of a pool group: no repository can use it (§4.5). */
export function drainingGroupName(group: string): string {
  return `${group}-draining`;
}

export interface GitHubActionsOptions {
  /** Builds the client; throws PreconditionError/ConfigError when credentials are missing. */
  readonly connect: () => Promise<GitHubRunners>;
  readonly org: string;
  /** The web URL the runners register against (`github.serverUrl`). */
  readonly serverUrl: string;
  readonly group: string;
  /** `latest` or `x.y.z`. */
  readonly runnerVersion: string;
  readonly groupVisibility: RunnerGroup['visibility'];
  readonly allowPublicRepositories: boolean;
  /** Pool names are `^<prefix>-[0-9]+$`. */
  readonly namePrefix: string;
  /** Labels config.sh gives the runner besides GitHub's defaults. */
  readonly labels: readonly string[];
  /** `remote.runnerEnv`, `<worker>` still a placeholder. */
  readonly runnerEnv: Readonly<Record<string, string>>;
  readonly workerPlaceholder: string;
  readonly store: StateStore;
  readonly log: Logger;
  readonly journal?: Journal | undefined;
  /** Dry run: read GitHub, change nothing (no group creation, no deletion, no move). */
  readonly dryRun?: boolean | undefined;
}

interface Preflight {
  readonly group: RunnerGroup;
  readonly draining: RunnerGroup | undefined;
  readonly version: string;
  /** Org runners by name, with the id of the group each is in. */
  readonly runners: Map<string, { runner: GitHubRunner; groupId: number | undefined }>;
}

export class GitHubActionsAgent implements CiAgent {
  readonly kind = 'github-actions' as const;
  readonly texts = { listener: 'GitHub Actions runner', tasks: 'jobs', workers: 'runners' };
  readonly patterns = GITHUB_ACTIONS_PATTERNS;
  readonly drainBeforeStop = true;
  readonly brewTaps: readonly string[] = [];
  readonly brewFormulas: readonly string[] = ['jq'];
  private client: GitHubRunners | undefined;
  private state: Preflight | undefined;
  private readonly journal: Journal;

  constructor(private readonly opts: GitHubActionsOptions) {
    this.journal = opts.journal ?? NO_JOURNAL;
  }

  /** §4.1 precondition 1: GitHub credentials (App key and ids, or a token) are available. */
  async checkSecret(): Promise<void> {
    try {
      this.client = await this.opts.connect();
    } catch (error) {
      this.opts.log.error({ err: (error as Error).message }, 'GitHub credentials unavailable');
      throw new PreconditionError(`Missing CI secret for agent '${this.kind}'.`, { cause: error });
    }
  }

  private github(): GitHubRunners {
    if (this.client === undefined) throw new Error('checkSecret() was not called');
    return this.client;
  }

  /**
   * Once per setup run: the pool's group and its quarantine group exist (created when missing,
   * never modified), the runner version is concrete, and the org's runners are known with their
   * groups. Any failure defers fresh setups only.
   */
  async preflight(): Promise<void> {
    const gh = this.github();
    const { group: name, dryRun, log } = this.opts;
    // One listing of the groups; ensureRunnerGroup (which lists again) only for a missing one.
    const groups = await gh.listRunnerGroups();
    const ensure = async (
      groupName: string,
      visibility: RunnerGroup['visibility'],
      allowsPublicRepositories: boolean,
    ): Promise<RunnerGroup | undefined> => {
      const existing = groups.find((g) => g.name === groupName);
      if (existing !== undefined || dryRun) return existing;
      const g = await gh.ensureRunnerGroup(groupName, { visibility, allowsPublicRepositories });
      if (g.created) log.info({ group: g.name, visibility }, 'created runner group');
      return g;
    };
    const group = await ensure(name, this.opts.groupVisibility, this.opts.allowPublicRepositories);
    if (group === undefined) {
      // Dry run against an org without the group: the real run would create it.
      log.info({ group: name }, 'dry run: the runner group would be created');
    }
    const draining = await ensure(drainingGroupName(name), 'selected', false);
    const version =
      this.opts.runnerVersion === 'latest'
        ? (await gh.latestRunnerRelease()).version
        : this.opts.runnerVersion;
    const runners = new Map<string, { runner: GitHubRunner; groupId: number | undefined }>();
    for (const r of await gh.listRunners()) runners.set(r.name, { runner: r, groupId: undefined });
    const defaultGroup = groups.find((g) => g.isDefault);
    for (const g of [defaultGroup, group, draining]) {
      if (g === undefined) continue;
      for (const r of await gh.listGroupRunners(g.id)) {
        runners.set(r.name, { runner: r, groupId: g.id });
      }
    }
    this.state = {
      group: group ?? {
        id: 0,
        name,
        visibility: 'all',
        allowsPublicRepositories: false,
        isDefault: false,
      },
      draining,
      version,
      runners,
    };
    log.info(
      {
        group: name,
        groupId: group?.id,
        drainingGroupId: draining?.id,
        runnerVersion: version,
        runners: runners.size,
      },
      'github preflight done',
    );
  }

  private preflighted(): Preflight {
    if (this.state === undefined) throw new Error('preflight() has not succeeded');
    return this.state;
  }

  /**
   * Name conflicts (§7): a runner of this name in another group is deleted when offline, else the
   * instance is skipped. One in the quarantine group is moved back first, because config.sh's
   * `--replace` keeps the group of the runner it takes over.
   */
  async prepare(name: string): Promise<PrepareOutcome> {
    const st = this.preflighted();
    const known = st.runners.get(name);
    if (known === undefined) return { ok: true };
    const { runner, groupId } = known;
    if (groupId === st.group.id) return { ok: true };
    const log = this.opts.log.child({ host: name, runnerId: runner.id });
    if (st.draining !== undefined && groupId === st.draining.id) {
      if (!this.opts.dryRun) await this.github().moveRunnerToGroup(st.group.id, runner.id);
      st.runners.set(name, { runner, groupId: st.group.id });
      log.info('runner moved back from the quarantine group for a fresh setup');
      return { ok: true };
    }
    if (runner.status === 'offline' && !runner.busy) {
      if (!this.opts.dryRun) {
        await this.github().deleteRunner(runner.id);
        await this.journal.record({
          action: 'runner-delete',
          reason: 'name-conflict',
          name,
          detail: `offline runner ${runner.id} in another group`,
        });
      }
      st.runners.delete(name);
      log.warn('deleted an offline runner of the same name in another group');
      return { ok: true };
    }
    return {
      ok: false,
      reason: 'conflict',
      detail: `runner ${runner.id} '${name}' is ${runner.status}${runner.busy ? ' and busy' : ''} in another runner group`,
    };
  }

  /** A registration token (1 h), minted just before the push; it goes to stdin only. */
  async secretFor(name: string): Promise<string> {
    const token = await this.github().createRegistrationToken();
    this.opts.log.debug({ host: name, expiresAt: token.expiresAt }, 'registration token minted');
    return token.token;
  }

  setupArgs(name: string): string[] {
    const st = this.preflighted();
    const worker = `${name}-worker`;
    const env = Object.entries(this.opts.runnerEnv)
      .map(([k, v]) => `${k}=${v.split(this.opts.workerPlaceholder).join(worker)}`)
      .join(',');
    return [
      `url=${this.opts.serverUrl.replace(/\/+$/, '')}`,
      `org=${this.opts.org}`,
      `group=${this.opts.group}`,
      `version=${st.version}`,
      ...(this.opts.labels.length > 0 ? [`labels=${this.opts.labels.join(',')}`] : []),
      `runnerenv=${env}`,
    ];
  }

  /**
   * §4.4 step 6: deregister (looked up by name); a busy runner is left to the sweep, and one that
   * preflight saw in a group that is not this pool's belongs to someone else and is left alone.
   */
  async onTerminate(name: string): Promise<void> {
    if (this.opts.dryRun) return;
    const gh = this.github();
    const log = this.opts.log.child({ host: name });
    for (const r of await gh.runnersNamed(name)) {
      if (this.inForeignGroup(r)) {
        log.warn({ runnerId: r.id }, 'runner of that name is in another runner group; left alone');
        continue;
      }
      if (r.busy) {
        log.warn({ runnerId: r.id }, 'runner busy; left to the sweep');
        continue;
      }
      await gh.deleteRunner(r.id);
      await this.journal.record({
        action: 'runner-delete',
        reason: 'terminated',
        name,
        detail: `runner ${r.id}`,
      });
      log.info({ runnerId: r.id }, 'runner deregistered');
    }
  }

  /** Preflight listed it in the org but in none of this pool's groups (pool, quarantine, Default). */
  private inForeignGroup(r: GitHubRunner): boolean {
    const known = this.state?.runners.get(r.name);
    return known !== undefined && known.runner.id === r.id && known.groupId === undefined;
  }

  /** Moves the runner into the quarantine group, so no new job reaches it (§4.5). */
  async cordon(name: string): Promise<boolean> {
    const st = this.preflighted();
    if (st.draining === undefined) {
      if (this.opts.dryRun) return false; // the real run creates the group first
      throw new Error(`no ${drainingGroupName(this.opts.group)} group`);
    }
    const known = st.runners.get(name);
    if (known === undefined) return false;
    if (known.groupId === st.draining.id) return false;
    if (!this.opts.dryRun) await this.github().moveRunnerToGroup(st.draining.id, known.runner.id);
    st.runners.set(name, { runner: known.runner, groupId: st.draining.id });
    this.opts.log.info(
      { host: name, runnerId: known.runner.id },
      'runner cordoned (quarantine group)',
    );
    return true;
  }

  /**
   * The two-phase orphan sweep (§7): offline runners named like pool hosts, in the pool's group,
   * its quarantine group or Default, with no live instance, are recorded on one run and deleted on
   * a later one if still orphaned.
   */
  async sweep(liveNames: ReadonlySet<string>, nowS: number): Promise<RunnerSweepReport> {
    const gh = this.github();
    const { log, store } = this.opts;
    const groups = await gh.listRunnerGroups();
    const poolGroups = groups.filter(
      (g) =>
        g.name === this.opts.group || g.name === drainingGroupName(this.opts.group) || g.isDefault,
    );
    const inPool = new Map<number, GitHubRunner>();
    for (const g of poolGroups)
      for (const r of await gh.listGroupRunners(g.id)) inPool.set(r.id, r);
    const nameRe = new RegExp(`^${this.opts.namePrefix}-[0-9]+$`);
    // The org's runners as preflight listed them (one listing per run), else listed now.
    const orgRunners =
      this.state !== undefined
        ? [...this.state.runners.values()].map((k) => k.runner)
        : await gh.listRunners();
    const elsewhere = orgRunners.filter((r) => nameRe.test(r.name) && !inPool.has(r.id));
    for (const r of elsewhere) {
      log.warn(
        { runner: r.name, runnerId: r.id },
        'a runner named like this pool sits in another runner group (do two pools share a prefix?)',
      );
    }
    const previous = parseSweepState((await store.read(RUNNER_SWEEP_FILE)) ?? '');
    const plan = planRunnerSweep({
      runners: [...inPool.values()].filter((r) => nameRe.test(r.name)),
      liveNames,
      previous,
      nowS,
    });
    const deleted: string[] = [];
    const failed: string[] = [];
    if (!this.opts.dryRun) {
      for (const c of plan.delete) {
        try {
          await gh.deleteRunner(c.id);
          deleted.push(c.name);
          await this.journal.record({
            action: 'runner-delete',
            reason: 'orphan-sweep',
            name: c.name,
            detail: `runner ${c.id} offline since ${new Date(c.firstSeenS * 1000).toISOString()}`,
          });
          log.info({ runner: c.name, runnerId: c.id }, 'orphaned runner deleted');
        } catch (error) {
          failed.push(c.name);
          log.warn(
            { runner: c.name, runnerId: c.id, err: (error as Error).message },
            'could not delete an orphaned runner; retried next run',
          );
        }
      }
      const keep = plan.record.concat(plan.delete.filter((c) => failed.includes(c.name)));
      await store.writeAtomic(RUNNER_SWEEP_FILE, formatSweepState(keep));
    }
    if (plan.record.length > 0) {
      log.info(
        { runners: plan.record.map((c) => c.name) },
        'offline runners recorded for the sweep',
      );
    }
    return {
      recorded: plan.record.map((c) => c.name),
      deleted,
      failed,
      elsewhere: elsewhere.map((r) => r.name),
    };
  }
}
