// The fake GitHub organisation's state: runner groups, self-hosted runners, and the credentials
// it has issued (installation access tokens, registration tokens) with their expiry on the
// virtual clock. Credentials are kept only as SHA-256 digests, so no token can leak through
// `snapshot()` or a debugger dump of this object.

import { createHash, randomBytes } from 'node:crypto';

export const DEFAULT_GROUP_ID = 1;
export const DEFAULT_GROUP_NAME = 'Default';
export const INSTALLATION_TOKEN_TTL_MS = 60 * 60 * 1000;
export const REGISTRATION_TOKEN_TTL_MS = 60 * 60 * 1000;
/** The labels config.sh gives every macOS arm64 runner, before any `--labels`. */
export const DEFAULT_RUNNER_LABELS = ['self-hosted', 'macOS', 'ARM64'] as const;

export type RunnerStatus = 'online' | 'offline';
export type GroupVisibility = 'all' | 'selected' | 'private';

export interface GitHubRunnerGroupState {
  id: number;
  name: string;
  visibility: GroupVisibility;
  default: boolean;
  allowsPublicRepositories: boolean;
  /** The repositories a `selected` group is open to (ids as created; the fake keeps no repos). */
  selectedRepositoryIds: number[];
  /** Whether jobs can reach the group's runners: not a `selected` group without repositories
   *  (such as the quarantine group `<group>-draining` pw-pool creates). */
  canReceiveJobs: boolean;
  runnerIds: number[];
  createdAt: string;
}

export interface GitHubRunnerState {
  id: number;
  name: string;
  os: 'macOS';
  status: RunnerStatus;
  busy: boolean;
  /** Every label, the default read-only ones first. */
  labels: string[];
  groupId: number;
  groupName: string;
  registeredAt: string;
  /** How many times a `--replace` registration took this runner over. */
  replacements: number;
}

export type CredentialKind = 'installation' | 'registration' | 'personal';

interface Credential {
  kind: CredentialKind;
  /** Epoch ms; undefined = never expires (personal tokens). */
  expiresAtMs: number | undefined;
}

interface Label {
  id: number;
  name: string;
  type: 'read-only' | 'custom';
}

interface Runner {
  id: number;
  name: string;
  status: RunnerStatus;
  busy: boolean;
  labels: Label[];
  groupId: number;
  registeredAtMs: number;
  replacements: number;
}

interface Group {
  id: number;
  name: string;
  visibility: GroupVisibility;
  isDefault: boolean;
  allowsPublicRepositories: boolean;
  selectedRepositoryIds: number[];
  createdAtMs: number;
}

/** A registration with config.sh failed; the message is what the runner would print. */
export class RunnerRegistrationError extends Error {
  override readonly name = 'RunnerRegistrationError';
}

/** A scripted change named something that does not exist (unknown runner, bad status). */
export class FakeGitHubScriptError extends Error {
  override readonly name = 'FakeGitHubScriptError';
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

const ALNUM_UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

function randomString(alphabet: string, length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const byte of bytes) out += alphabet[byte % alphabet.length];
  return out;
}

export class GitHubOrgModel {
  readonly org: string;
  readonly #nowMs: () => number;
  readonly #groups = new Map<number, Group>();
  readonly #runners = new Map<number, Runner>();
  readonly #labelIds = new Map<string, number>();
  readonly #credentials = new Map<string, Credential>();
  #nextGroupId = DEFAULT_GROUP_ID + 1;
  #nextRunnerId = 1;
  #issued = { installation: 0, registration: 0 };

  constructor(org: string, nowMs: () => number, personalTokens: readonly string[]) {
    this.org = org;
    this.#nowMs = nowMs;
    this.#groups.set(DEFAULT_GROUP_ID, {
      id: DEFAULT_GROUP_ID,
      name: DEFAULT_GROUP_NAME,
      visibility: 'all',
      isDefault: true,
      allowsPublicRepositories: false,
      selectedRepositoryIds: [],
      createdAtMs: nowMs(),
    });
    for (const token of personalTokens) {
      this.#credentials.set(sha256Hex(token), { kind: 'personal', expiresAtMs: undefined });
    }
  }

  now(): number {
    return this.#nowMs();
  }

  // ------------------------------------------------------------ credentials

  /** A new installation access token (`ghs_` + 36 characters), valid 1 h. */
  issueInstallationToken(): { token: string; expiresAtMs: number } {
    const token = `ghs_${randomString(ALNUM, 36)}`;
    const expiresAtMs = this.#nowMs() + INSTALLATION_TOKEN_TTL_MS;
    this.#credentials.set(sha256Hex(token), { kind: 'installation', expiresAtMs });
    this.#issued.installation += 1;
    return { token, expiresAtMs };
  }

  /** A new runner registration token (29 upper-case characters like GitHub's), valid 1 h. */
  issueRegistrationToken(): { token: string; expiresAtMs: number } {
    const token = randomString(ALNUM_UPPER, 29);
    const expiresAtMs = this.#nowMs() + REGISTRATION_TOKEN_TTL_MS;
    this.#credentials.set(sha256Hex(token), { kind: 'registration', expiresAtMs });
    this.#issued.registration += 1;
    return { token, expiresAtMs };
  }

  /** What `token` is: an unexpired credential's kind, 'expired', or 'unknown'. */
  checkCredential(token: string): CredentialKind | 'expired' | 'unknown' {
    const credential = this.#credentials.get(sha256Hex(token));
    if (credential === undefined) return 'unknown';
    if (credential.expiresAtMs !== undefined && this.#nowMs() >= credential.expiresAtMs) {
      return 'expired';
    }
    return credential.kind;
  }

  // ------------------------------------------------------------ groups

  groups(): Group[] {
    return [...this.#groups.values()].sort((a, b) => a.id - b.id);
  }

  group(id: number): Group | undefined {
    return this.#groups.get(id);
  }

  groupByName(name: string): Group | undefined {
    const wanted = name.toLowerCase();
    return this.groups().find((g) => g.name.toLowerCase() === wanted);
  }

  /** Creates a group; undefined when a group of that name (case-insensitive) exists. */
  createGroup(spec: {
    name: string;
    visibility: GroupVisibility;
    allowsPublicRepositories: boolean;
    runnerIds: readonly number[];
    selectedRepositoryIds?: readonly number[] | undefined;
  }): Group | undefined {
    if (this.groupByName(spec.name) !== undefined) return undefined;
    const group: Group = {
      id: this.#nextGroupId++,
      name: spec.name,
      visibility: spec.visibility,
      isDefault: false,
      allowsPublicRepositories: spec.allowsPublicRepositories,
      selectedRepositoryIds: [...(spec.selectedRepositoryIds ?? [])],
      createdAtMs: this.#nowMs(),
    };
    this.#groups.set(group.id, group);
    for (const runnerId of spec.runnerIds) {
      const runner = this.#runners.get(runnerId);
      if (runner !== undefined) runner.groupId = group.id;
    }
    return group;
  }

  /**
   * Whether workflow jobs can reach runners of this group: every group but a `selected` one
   * without repositories (GitHub routes no repository's job there).
   */
  groupCanReceiveJobs(group: Group): boolean {
    return group.visibility !== 'selected' || group.selectedRepositoryIds.length > 0;
  }

  // ------------------------------------------------------------ runners

  runners(): Runner[] {
    return [...this.#runners.values()].sort((a, b) => a.id - b.id);
  }

  runner(id: number): Runner | undefined {
    return this.#runners.get(id);
  }

  runnerByName(name: string): Runner | undefined {
    const wanted = name.toLowerCase();
    return this.runners().find((r) => r.name.toLowerCase() === wanted);
  }

  runnersInGroup(groupId: number): Runner[] {
    return this.runners().filter((r) => r.groupId === groupId);
  }

  /** Moves a runner into a group (both must exist). */
  moveRunner(runnerId: number, groupId: number): void {
    const runner = this.#runners.get(runnerId);
    if (runner !== undefined && this.#groups.has(groupId)) runner.groupId = groupId;
  }

  /** Removes a runner: 'deleted', 'not-found', or 'busy' (GitHub refuses while a job runs). */
  deleteRunner(runnerId: number): 'deleted' | 'not-found' | 'busy' {
    const runner = this.#runners.get(runnerId);
    if (runner === undefined) return 'not-found';
    if (runner.busy) return 'busy';
    this.#runners.delete(runnerId);
    return 'deleted';
  }

  /**
   * What config.sh does: checks the registration token, finds the group by name, and adds the
   * runner (offline until its listener connects). With `replace`, a same-named runner is taken
   * over: it keeps its id and its group (GitHub ignores `--runnergroup` then), gets the new
   * labels and goes offline. Without it, a same-named runner is an error.
   */
  registerRunner(req: {
    token: string;
    name: string;
    labels: readonly string[];
    group: string;
    replace: boolean;
  }): Runner {
    const credential = this.checkCredential(req.token);
    if (credential === 'expired') {
      throw new RunnerRegistrationError(
        "Http response code: NotFound from 'POST /actions/runner-registration': the registration token has expired",
      );
    }
    if (credential !== 'registration') {
      throw new RunnerRegistrationError(
        "Http response code: NotFound from 'POST /actions/runner-registration': unknown registration token",
      );
    }
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(req.name)) {
      throw new RunnerRegistrationError(`Invalid runner name '${req.name}'`);
    }
    const group = this.groupByName(req.group === '' ? DEFAULT_GROUP_NAME : req.group);
    if (group === undefined) {
      throw new RunnerRegistrationError(
        `Could not find any self-hosted runner group named "${req.group}".`,
      );
    }
    const labels = this.#labels(req.labels);
    const existing = this.runnerByName(req.name);
    const nowMs = this.#nowMs();
    if (existing !== undefined) {
      if (!req.replace) {
        throw new RunnerRegistrationError(
          `A runner exists with the same name ${req.name}. Use --replace to replace it.`,
        );
      }
      existing.labels = labels;
      existing.status = 'offline';
      existing.busy = false;
      existing.registeredAtMs = nowMs;
      existing.replacements += 1;
      return existing;
    }
    const runner: Runner = {
      id: this.#nextRunnerId++,
      name: req.name,
      status: 'offline',
      busy: false,
      labels,
      groupId: group.id,
      registeredAtMs: nowMs,
      replacements: 0,
    };
    this.#runners.set(runner.id, runner);
    return runner;
  }

  /** The runner of that name exists, is online, and its group can receive jobs. */
  runnerCanReceiveJobs(name: string): boolean {
    const runner = this.runnerByName(name);
    if (runner === undefined || runner.status !== 'online') return false;
    const group = this.#groups.get(runner.groupId);
    return group !== undefined && this.groupCanReceiveJobs(group);
  }

  setRunnerStatus(name: string, status: RunnerStatus, busy?: boolean): Runner {
    const runner = this.runnerByName(name);
    if (runner === undefined) throw new FakeGitHubScriptError(`no runner named '${name}'`);
    if (status !== 'online' && status !== 'offline') {
      throw new FakeGitHubScriptError(
        `runner status must be online or offline, got '${String(status)}'`,
      );
    }
    if (status === 'offline' && busy === true) {
      throw new FakeGitHubScriptError('an offline runner cannot be busy');
    }
    runner.status = status;
    runner.busy = status === 'online' ? (busy ?? runner.busy) : false;
    return runner;
  }

  #labels(custom: readonly string[]): Label[] {
    const names: string[] = [...DEFAULT_RUNNER_LABELS];
    for (const name of custom) {
      const trimmed = name.trim();
      if (trimmed !== '' && !names.some((n) => n.toLowerCase() === trimmed.toLowerCase())) {
        names.push(trimmed);
      }
    }
    return names.map((name) => ({
      id: this.#labelId(name),
      name,
      type: (DEFAULT_RUNNER_LABELS as readonly string[]).includes(name) ? 'read-only' : 'custom',
    }));
  }

  #labelId(name: string): number {
    const key = name.toLowerCase();
    let id = this.#labelIds.get(key);
    if (id === undefined) {
      id = this.#labelIds.size + 1;
      this.#labelIds.set(key, id);
    }
    return id;
  }

  // ------------------------------------------------------------ views

  runnerState(runner: Runner): GitHubRunnerState {
    return {
      id: runner.id,
      name: runner.name,
      os: 'macOS',
      status: runner.status,
      busy: runner.busy,
      labels: runner.labels.map((l) => l.name),
      groupId: runner.groupId,
      groupName: this.#groups.get(runner.groupId)?.name ?? DEFAULT_GROUP_NAME,
      registeredAt: new Date(runner.registeredAtMs).toISOString(),
      replacements: runner.replacements,
    };
  }

  groupState(group: Group): GitHubRunnerGroupState {
    return {
      id: group.id,
      name: group.name,
      visibility: group.visibility,
      default: group.isDefault,
      allowsPublicRepositories: group.allowsPublicRepositories,
      selectedRepositoryIds: [...group.selectedRepositoryIds],
      canReceiveJobs: this.groupCanReceiveJobs(group),
      runnerIds: this.runnersInGroup(group.id).map((r) => r.id),
      createdAt: new Date(group.createdAtMs).toISOString(),
    };
  }

  issuedCounts(): { installationTokens: number; registrationTokens: number } {
    return {
      installationTokens: this.#issued.installation,
      registrationTokens: this.#issued.registration,
    };
  }
}

export type { Group as GitHubGroupRecord, Runner as GitHubRunnerRecord, Label as GitHubLabel };
