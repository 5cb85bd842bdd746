// Typed errors carrying their exit code (behavior.md §2). Only src/cli/main.ts sets process.exitCode.

export const ExitCode = {
  ok: 0,
  bug: 1,
  usage: 2,
  config: 3,
  partial: 4,
  lock: 5,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

const PRECEDENCE = [1, 3, 4];

/**
 * The exit code of a run made of phases (behavior.md §5.2 step 9): 1 > 3 > 4 > 0. Any other code
 * (2, 5: never returned by a phase) ranks like 1.
 */
export function combineExitCodes(codes: readonly number[]): number {
  let best = 0;
  const rank = (c: number) =>
    c === 0 ? 0 : PRECEDENCE.includes(c) ? 3 - PRECEDENCE.indexOf(c) : 3;
  for (const c of codes) if (rank(c) > rank(best)) best = c;
  return best;
}

export class PwPoolError extends Error {
  readonly exitCode: ExitCode;
  constructor(message: string, exitCode: ExitCode, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.exitCode = exitCode;
  }
}

/** Bad command line: unknown flag, bad argument (exit 2). */
export class UsageError extends PwPoolError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.usage, options);
  }
}

/** Invalid configuration or failed precondition (exit 3). `problems` lists every problem found. */
export class ConfigError extends PwPoolError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[], options?: { cause?: unknown }) {
    super(
      problems.length === 1
        ? `Invalid configuration: ${problems[0]}`
        : `Invalid configuration (${problems.length} problems):\n${problems.map((p) => `  - ${p}`).join('\n')}`,
      ExitCode.config,
      options,
    );
    this.problems = problems;
  }
}

/** A precondition of a command failed (exit 3); the message is printed as is. */
export class PreconditionError extends PwPoolError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.config, options);
  }
}

/** The pool lock could not be taken in time (exit 5). */
export class LockBusyError extends PwPoolError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.lock, options);
  }
}

export type AwsErrorKind = 'throttling' | 'capacity' | 'not-found' | 'auth' | 'other';

/** An AWS API call failed; `kind` is the classification made in the EC2 adapter. */
export class AwsError extends PwPoolError {
  readonly kind: AwsErrorKind;
  readonly code: string;
  constructor(kind: AwsErrorKind, code: string, message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.partial, options);
    this.kind = kind;
    this.code = code;
  }
  /** The `<ErrorCode>: <message>` form used in status-file detail lines. */
  get detail(): string {
    return `${this.code}: ${this.message}`;
  }
}

export type GitHubErrorKind =
  'rate-limited' | 'unavailable' | 'not-found' | 'auth' | 'conflict' | 'validation' | 'other';

/** A GitHub API failure, classified in one place (adapters/github.ts); never carries a token. */
export class GitHubError extends PwPoolError {
  readonly kind: GitHubErrorKind;
  /** HTTP status, 0 when no answer came. */
  readonly status: number;
  constructor(
    kind: GitHubErrorKind,
    status: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, ExitCode.partial, options);
    this.kind = kind;
    this.status = status;
  }
}
