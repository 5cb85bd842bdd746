// The `cirrus` agent kind (behavior.md §7): a static pool token, `cirrus worker run` as the
// listener, logrus log lines. Cirrus CI's hosted service ended on 2026-06-01; the kind remains for
// fidelity, tests and self-hosted use.
import { readSecretFile } from '../config/index.js';
import { PreconditionError } from '../errors.js';
import { NOTHING_SWEPT } from './types.js';
import type { AgentPatterns, CiAgent, PrepareOutcome, RunnerSweepReport } from './types.js';

/** Message M matches a whole logrus info line with msg="M", or the bare line M (§7). */
function logrusInfo(message: string): string {
  return `^(time="[^"]*" level=info msg="${message}"|${message})$`;
}

export const CIRRUS_PATTERNS: AgentPatterns = {
  listener: 'cirrus worker run',
  job: 'cirrus-[0-9][^ ]*-darwin-arm64 agent ',
  registered: logrusInfo('worker successfully registered on upstream [^[:space:]]+'),
  started: logrusInfo('started task [0-9]+'),
  finished: logrusInfo('task [0-9]+ completed'),
};

export interface CirrusOptions {
  readonly poolTokenFile: string | undefined;
  readonly env: NodeJS.ProcessEnv;
  readonly purposeTagKey: string;
  readonly purposeValue: string;
}

export class CirrusAgent implements CiAgent {
  readonly kind = 'cirrus' as const;
  readonly texts = { listener: 'Cirrus worker listener', tasks: 'tasks', workers: 'workers' };
  readonly patterns = CIRRUS_PATTERNS;
  readonly drainBeforeStop = true;
  readonly brewTaps = ['cirruslabs/cli'];
  readonly brewFormulas = ['cirruslabs/cli/cirrus'];
  private token: string | undefined;

  constructor(private readonly opts: CirrusOptions) {}

  /** POOLTOKEN from the environment wins over `cirrus.poolTokenFile` (environment beats files, §2). */
  async checkSecret(): Promise<void> {
    const fromEnv = this.opts.env.POOLTOKEN;
    if (fromEnv !== undefined && fromEnv.trim() !== '') {
      this.token = fromEnv.trim();
    } else if (this.opts.poolTokenFile !== undefined) {
      this.token = await readSecretFile(this.opts.poolTokenFile, 'cirrus.poolTokenFile');
    }
    if (this.token === undefined || this.token === '') {
      throw new PreconditionError(`Missing CI secret for agent '${this.kind}'.`);
    }
    if (/[\r\n]/.test(this.token)) {
      throw new PreconditionError(`The CI secret for agent '${this.kind}' must be one line.`);
    }
  }

  preflight(): Promise<void> {
    return Promise.resolve();
  }

  prepare(): Promise<PrepareOutcome> {
    return Promise.resolve({ ok: true });
  }

  secretFor(): Promise<string> {
    if (this.token === undefined) return Promise.reject(new Error('checkSecret() was not called'));
    return Promise.resolve(this.token);
  }

  setupArgs(): string[] {
    return [`label=${this.opts.purposeTagKey}: ${this.opts.purposeValue}`];
  }

  onTerminate(): Promise<void> {
    return Promise.resolve();
  }

  /** No routing control (the service is gone): a drain only waits for the running task. */
  cordon(): Promise<boolean> {
    return Promise.resolve(false);
  }

  sweep(): Promise<RunnerSweepReport> {
    return Promise.resolve(NOTHING_SWEPT);
  }
}
