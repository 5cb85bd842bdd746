// The CI agent interface (behavior.md §7): everything the engine needs from an agent kind, so that
// setup-instances and the on-instance scripts stay the same for cirrus and github-actions.

export type AgentKind = 'cirrus' | 'github-actions';

/** The process patterns (`pgrep -u <worker> -f`) and anchored log EREs the probe counts with. */
export interface AgentPatterns {
  readonly listener: string;
  readonly job: string;
  readonly registered: string;
  readonly started: string;
  readonly finished: string;
}

/** The words the status texts use: `<L>`, `<tasks>`, `<workers>`. */
export interface AgentTexts {
  readonly listener: string;
  readonly tasks: string;
  readonly workers: string;
}

/** Why a fresh setup cannot go ahead for one instance (S10 C step 0). */
export type PrepareOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'token' | 'conflict'; readonly detail: string };

export interface CiAgent {
  readonly kind: AgentKind;
  readonly texts: AgentTexts;
  readonly patterns: AgentPatterns;
  /** Killing the listener cancels a running task, so stops wait for the job process. */
  readonly drainBeforeStop: boolean;
  /** Brew taps and formulas this agent adds to `remote.brewTaps` / `remote.brewFormulas`. */
  readonly brewTaps: readonly string[];
  readonly brewFormulas: readonly string[];
  /** §4.1 precondition 1: throws PreconditionError `Missing CI secret for agent '<kind>'.` */
  checkSecret(): Promise<void>;
  /** Once per setup run (runner group, version…); a failure only defers fresh setups. */
  preflight(): Promise<void>;
  /** Per instance, before any remote change of a fresh setup. */
  prepare(name: string): Promise<PrepareOutcome>;
  /** The secret for one fresh setup; it only ever goes to the SSH channel's stdin. */
  secretFor(name: string): Promise<string>;
  /** setup.sh's `key=value` arguments after kind and name, agent-specific part only. */
  setupArgs(name: string): string[];
  /** After pw-pool terminated the instance (§4.4 step 6). */
  onTerminate(name: string): Promise<void>;
  /**
   * Stops new work from reaching the instance's agent (§4.5 step 1, §4.3 recycle cordon); true when
   * this call changed something. Agents without routing control do nothing.
   */
  cordon(name: string): Promise<boolean>;
  /** End of each setup run: remove the agent's leftovers of instances that are gone (§7 sweep). */
  sweep(liveNames: ReadonlySet<string>, nowS: number): Promise<RunnerSweepReport>;
}

/** What one end-of-run sweep did (names only). */
export interface RunnerSweepReport {
  /** Orphans seen for the first time (deleted on a later run if still orphaned). */
  readonly recorded: readonly string[];
  readonly deleted: readonly string[];
  /** Deletions that failed (retried next run). */
  readonly failed: readonly string[];
  /** Runners named like this pool in some other group (two pools sharing a prefix?). */
  readonly elsewhere: readonly string[];
}

export const NOTHING_SWEPT: RunnerSweepReport = {
  recorded: [],
  deleted: [],
  failed: [],
  elsewhere: [],
};
