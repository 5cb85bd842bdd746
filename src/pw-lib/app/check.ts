// The check use case (behavior.md §2 `pw-pool check`): the operator's pre-flight before the crontab
// is installed. Read-only, no lock. Every check runs whatever the others found; one line each.
import type { Logger } from 'pino';
import type { Finding } from '../core/check.js';
import {
  checkExitCode,
  fail,
  formatFinding,
  hostFindings,
  ok,
  templateFindings,
} from '../core/check.js';
import type { PoolId } from '../core/pool.js';
import { AwsError, PwPoolError } from '../errors.js';
import type { Ec2, HostView, Output } from '../ports.js';

export interface CheckSettings {
  readonly pool: PoolId;
  readonly launchTemplateName: string;
}

/** A probe returns the text of its `ok` line, or throws; the error's message is the FAIL text. */
export type Probe = () => Promise<string>;

export interface CheckDeps {
  /** Builds the EC2 port (resolves the region); a throw fails the aws check. */
  readonly ec2: () => Promise<Ec2>;
  /** The ssh-agent with at least one key, or ssh.identityFile (§4.1 precondition 3). */
  readonly sshAccess: Probe;
  /** The CI agent's secret (§4.1 precondition 1); never part of any text. */
  readonly agentSecret: Probe;
  /** The state directory can be written. */
  readonly stateDir: Probe;
  readonly out: Output;
  readonly log: Logger;
}

export interface CheckOutcome {
  readonly exitCode: 0 | 3;
  readonly findings: readonly Finding[];
}

function messageOf(error: unknown): string {
  if (error instanceof AwsError) return error.detail;
  if (error instanceof PwPoolError) return error.message;
  return error instanceof Error ? error.message : String(error);
}

async function probe(check: string, fn: Probe): Promise<Finding> {
  try {
    return ok(check, await fn());
  } catch (error) {
    return fail(check, messageOf(error));
  }
}

/**
 * Runs every check in a fixed order and prints each finding as it is made. `prior` holds findings
 * made before (the config check). Exit 0 when nothing failed (warnings allowed), else 3.
 */
export async function runChecks(
  settings: CheckSettings,
  deps: CheckDeps,
  prior: readonly Finding[] = [],
): Promise<CheckOutcome> {
  const findings: Finding[] = [];
  const emit = (list: readonly Finding[]) => {
    for (const f of list) {
      findings.push(f);
      deps.out.line(formatFinding(f));
    }
  };
  emit(prior);

  let ec2: Ec2 | undefined;
  try {
    ec2 = await deps.ec2();
  } catch (error) {
    emit([fail('aws', `could not set up the EC2 client: ${messageOf(error)}`)]);
  }
  if (ec2 !== undefined) await checkAws(settings, ec2, emit);
  else
    emit([
      fail('hosts', 'not checked: no EC2 client'),
      fail('launch-template', 'not checked: no EC2 client'),
    ]);

  emit([await probe('ssh', deps.sshAccess)]);
  emit([await probe('agent-secret', deps.agentSecret)]);
  emit([await probe('state-dir', deps.stateDir)]);

  const exitCode = checkExitCode(findings);
  deps.log.info(
    {
      failed: findings.filter((f) => f.status === 'FAIL').length,
      warnings: findings.filter((f) => f.status === 'warn').length,
    },
    'check finished',
  );
  return { exitCode, findings };
}

async function checkAws(
  settings: CheckSettings,
  ec2: Ec2,
  emit: (list: readonly Finding[]) => void,
): Promise<void> {
  // DescribeHosts is the one cheap call that proves credentials, region and permissions at once.
  let hosts: HostView[] | undefined;
  try {
    hosts = await ec2.listPoolHosts(settings.pool);
    emit([ok('aws', `region ${ec2.region}; credentials accepted (DescribeHosts answered)`)]);
  } catch (error) {
    const why =
      error instanceof AwsError && error.kind === 'auth'
        ? `credentials refused or missing in region ${ec2.region}`
        : `DescribeHosts failed in region ${ec2.region}`;
    emit([
      fail('aws', `${why}: ${messageOf(error)}`),
      fail('hosts', 'not checked: DescribeHosts failed'),
    ]);
  }
  if (hosts !== undefined) emit(hostFindings(settings.pool, hosts));

  try {
    const t = await ec2.getLaunchTemplate(settings.launchTemplateName);
    emit(templateFindings(t));
  } catch (error) {
    const notFound =
      error instanceof AwsError &&
      (error.kind === 'not-found' || /NotFound|InvalidLaunchTemplateName/.test(error.code));
    emit([
      fail(
        'launch-template',
        notFound
          ? `'${settings.launchTemplateName}' not found (launchTemplateName): ${messageOf(error)}`
          : `could not read '${settings.launchTemplateName}': ${messageOf(error)}`,
      ),
    ]);
  }
}
