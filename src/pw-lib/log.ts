// pino logging: JSON on stderr through a synchronous destination (a short cron process must not
// lose its last lines), pino-pretty as a synchronous stream on a terminal, and redaction of every
// secret path. Messages are fixed; data goes in fields.
import pino from 'pino';
import type { DestinationStream, Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/** Field paths that may hold secrets; their values are replaced by `[redacted]`. */
export const REDACT_PATHS = [
  'token',
  'secret',
  'password',
  'privateKey',
  'poolToken',
  'registrationToken',
  'installationToken',
  'authorization',
  '*.token',
  '*.secret',
  '*.password',
  '*.privateKey',
  '*.poolToken',
  '*.registrationToken',
  '*.installationToken',
  '*.authorization',
  '*.Authorization',
  'headers.authorization',
  'headers.Authorization',
  '*.headers.authorization',
  '*.headers.Authorization',
  'env.POOLTOKEN',
  'env.GITHUB_TOKEN',
  'env.AWS_SECRET_ACCESS_KEY',
  'env.AWS_SESSION_TOKEN',
];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  readonly level: LogLevel;
  /** Human-readable output; defaults to whether stderr is a terminal. */
  readonly pretty?: boolean;
  /** Where to write; defaults to file descriptor 2. Tests inject a stream. */
  readonly destination?: DestinationStream;
}

export function createLogger(opts: LoggerOptions): Logger {
  const wantPretty = opts.pretty ?? process.stderr.isTTY === true;
  const destination =
    opts.destination ??
    (wantPretty
      ? pretty({ destination: 2, sync: true, colorize: true, translateTime: 'SYS:standard' })
      : pino.destination({ fd: 2, sync: true }));
  return pino(
    {
      level: opts.level,
      base: null,
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
