// `pw-pool check` verdicts (behavior.md §2, §3.3 a): one line per check, `ok`, `warn` or `FAIL`.
// Warnings never fail the check; any FAIL makes it exit 3. Pure: data in, findings out.
import type { PoolId, Tags } from './pool.js';
import { compareBytewise, isReady, matchesPoolFilter } from './pool.js';

export type CheckStatus = 'ok' | 'warn' | 'FAIL';

export interface Finding {
  readonly status: CheckStatus;
  /** Short stable name of the check: `config`, `aws`, `launch-template`, `hosts` … */
  readonly check: string;
  readonly text: string;
}

export function ok(check: string, text: string): Finding {
  return { status: 'ok', check, text };
}
export function warn(check: string, text: string): Finding {
  return { status: 'warn', check, text };
}
export function fail(check: string, text: string): Finding {
  return { status: 'FAIL', check, text };
}

/** `ok   hosts: 4 found …`: the status padded to 4, so the columns line up. */
export function formatFinding(f: Finding): string {
  return `${f.status.padEnd(4)} ${f.check}: ${f.text.replace(/[\r\n]+/g, ' ')}`;
}

/** 0 when nothing failed (warnings allowed), else 3. */
export function checkExitCode(findings: readonly Finding[]): 0 | 3 {
  return findings.some((f) => f.status === 'FAIL') ? 3 : 0;
}

export interface TemplateFacts {
  readonly name: string;
  readonly version: string | undefined;
  readonly shutdownBehavior: string | undefined;
  readonly httpTokens: string | undefined;
  readonly instanceMetadataTags: string | undefined;
  /** The decoded user data; undefined when the template has none. */
  readonly userDataText: string | undefined;
}

/**
 * The template's settings: the three that RunInstances overrides only warn (§3.3 a); user data
 * without a `shutdown` command warns that the on-instance lifetime layer is missing (§1.7).
 */
export function templateFindings(t: TemplateFacts): Finding[] {
  const check = 'launch-template';
  const out: Finding[] = [ok(check, `'${t.name}' found, $Default is version ${t.version ?? '?'}`)];
  const shutdown = t.shutdownBehavior ?? 'stop';
  if (shutdown !== 'terminate')
    out.push(
      warn(
        check,
        `InstanceInitiatedShutdownBehavior is '${shutdown}', not 'terminate' (pw-pool overrides it at launch)`,
      ),
    );
  if (t.httpTokens !== 'required')
    out.push(
      warn(
        check,
        `MetadataOptions.HttpTokens is '${t.httpTokens ?? 'absent'}', not 'required' (IMDSv2; pw-pool overrides it at launch)`,
      ),
    );
  if (t.instanceMetadataTags !== 'enabled')
    out.push(
      warn(
        check,
        `MetadataOptions.InstanceMetadataTags is '${t.instanceMetadataTags ?? 'absent'}', not 'enabled' (pw-pool overrides it at launch)`,
      ),
    );
  out.push(userDataFinding(t.userDataText));
  return out;
}

/** Looks for a `shutdown` command in the user data (the template's own self-termination timer). */
export function userDataFinding(userDataText: string | undefined): Finding {
  const check = 'user-data';
  if (userDataText === undefined || userDataText.trim() === '')
    return warn(
      check,
      'the launch template has no user data, so no self-termination timer: add one (README: recommended user-data)',
    );
  if (!/\bshutdown\b/.test(userDataText))
    return warn(
      check,
      'the launch template user data sets no self-termination timer (no `shutdown` command): see README, recommended user-data',
    );
  return ok(check, 'the launch template user data sets a self-termination timer (`shutdown`)');
}

export interface HostFacts {
  readonly hostId: string | undefined;
  readonly state: string | undefined;
  readonly tags: Tags;
}

/** Hosts found by the pool's tags, counted by state; none is a failure. */
export function hostFindings(pool: PoolId, hosts: readonly HostFacts[]): Finding[] {
  const check = 'hosts';
  const mine = hosts.filter((h) => matchesPoolFilter(pool, h.tags));
  const filter = `Name=${pool.namePrefix}-*, ${pool.purposeTagKey}=${pool.purposeValue}`;
  if (mine.length === 0) return [fail(check, `no dedicated hosts found with tags ${filter}`)];
  const byState = new Map<string, number>();
  for (const h of mine)
    byState.set(h.state ?? 'unknown', (byState.get(h.state ?? 'unknown') ?? 0) + 1);
  const states = [...byState.entries()]
    .sort(([a], [b]) => compareBytewise(a, b))
    .map(([s, n]) => `${n} ${s}`)
    .join(', ');
  const out = [ok(check, `${mine.length} found with tags ${filter}: ${states}`)];
  const disabled = mine.filter((h) => !isReady(h.tags)).length;
  if (disabled > 0)
    out.push(
      warn(
        check,
        `${disabled} of them disabled (PWPoolReady is not 'true'): nothing is launched there`,
      ),
    );
  if (!byState.has('available'))
    out.push(warn(check, 'none is available: no instance can be launched now'));
  return out;
}
