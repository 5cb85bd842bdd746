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
