// Injected GitHub failures: server errors, the primary rate limit, the secondary rate limit.
// A fault matches a request whose path contains `path` (every request when unset) and uses one
// count per match; without `count` it stays until cleared.

export const GITHUB_FAULT_KINDS = ['5xx', 'rate-limit', 'secondary-rate-limit'] as const;
export type GitHubFaultKind = (typeof GITHUB_FAULT_KINDS)[number];

export interface GitHubFaultSpec {
  kind: GitHubFaultKind;
  /** Substring of the request path (without the query) that the fault applies to. */
  path?: string | undefined;
  /** Requests it applies to (default: until cleared). */
  count?: number | undefined;
  /** 5xx: 500, 502 (default), 503 or 504; secondary-rate-limit: 403 (default) or 429. */
  status?: number | undefined;
  /** secondary-rate-limit: the `retry-after` seconds (default 60). */
  retryAfterS?: number | undefined;
}

export interface GitHubFault extends Required<Pick<GitHubFaultSpec, 'kind'>> {
  id: number;
  path: string | undefined;
  remaining: number | undefined;
  status: number;
  retryAfterS: number;
  hits: number;
}

export class GitHubFaultSpecError extends Error {
  override readonly name = 'GitHubFaultSpecError';
}

export class GitHubFaults {
  #faults: GitHubFault[] = [];
  #nextId = 1;

  add(spec: GitHubFaultSpec): GitHubFault {
    if (!(GITHUB_FAULT_KINDS as readonly string[]).includes(spec.kind)) {
      throw new GitHubFaultSpecError(
        `fault kind must be one of ${GITHUB_FAULT_KINDS.join(', ')}, got '${String(spec.kind)}'`,
      );
    }
    if (spec.count !== undefined && (!Number.isInteger(spec.count) || spec.count < 1)) {
      throw new GitHubFaultSpecError(`fault count must be a positive integer, got ${spec.count}`);
    }
    const status = spec.status ?? defaultStatus(spec.kind);
    const allowed = allowedStatuses(spec.kind);
    if (!allowed.includes(status)) {
      throw new GitHubFaultSpecError(
        `a ${spec.kind} fault answers ${allowed.join(' or ')}, not ${status}`,
      );
    }
    const retryAfterS = spec.retryAfterS ?? 60;
    if (!Number.isInteger(retryAfterS) || retryAfterS < 0) {
      throw new GitHubFaultSpecError(`retryAfterS must be a whole number ≥ 0, got ${retryAfterS}`);
    }
    const fault: GitHubFault = {
      id: this.#nextId++,
      kind: spec.kind,
      path: spec.path === '' ? undefined : spec.path,
      remaining: spec.count,
      status,
      retryAfterS,
      hits: 0,
    };
    this.#faults.push(fault);
    return { ...fault };
  }

  clear(): number {
    const n = this.#faults.length;
    this.#faults = [];
    return n;
  }

  list(): GitHubFault[] {
    return this.#faults.map((f) => ({ ...f }));
  }

  /** The first fault matching `path`, using one of its counts; undefined when none. */
  take(path: string): GitHubFault | undefined {
    const fault = this.#faults.find((f) => f.path === undefined || path.includes(f.path));
    if (fault === undefined) return undefined;
    fault.hits += 1;
    if (fault.remaining !== undefined) {
      fault.remaining -= 1;
      if (fault.remaining <= 0) this.#faults = this.#faults.filter((f) => f !== fault);
    }
    return { ...fault };
  }
}

function defaultStatus(kind: GitHubFaultKind): number {
  switch (kind) {
    case '5xx':
      return 502;
    case 'rate-limit':
    case 'secondary-rate-limit':
      return 403;
  }
}

function allowedStatuses(kind: GitHubFaultKind): number[] {
  switch (kind) {
    case '5xx':
      return [500, 502, 503, 504];
    case 'rate-limit':
      return [403, 429];
    case 'secondary-rate-limit':
      return [403, 429];
  }
}
