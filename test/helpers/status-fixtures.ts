// Status files for the status view and page tests: the behavior.md §3.4 / §4.7 examples.
import type { StatusInput, StatusSettings } from '../../src/pw-lib/core/status-view.js';

export const at = (iso: string): number => Date.parse(iso) / 1000;
export const NOW = at('2024-08-06T15:07:00Z');

export const DH = [
  '# LaunchInstances.sh run 2024-08-06T14:10:03+00:00',
  '#',
  'MacM1-1 i-0b3e4f2a9c8d71e05 2024-08-05T16:02:11+00:00',
  'MacM1-10 i-07c1d2e3f4a5b6c78 2024-08-06T12:40:57+00:00',
  '# MacM1-2 HOST BUSY: pending',
  '# MacM1-3 HOST THROTTLE: Inst. creation delayed until 2024-08-06T14:40:57+00:00',
  "# MacM1-5 HOST ERROR: Unsupported dedicated host state 'permanent-failure'.",
  '#    aws CLI output: {',
  '#      "HostId": "h-05e619438b9cd6b30",',
  '#      "State": "permanent-failure"',
  '#    }',
  '# MacM1-6 INST ERROR: Failed to create new instance on available host.',
  '#    aws CLI output: InsufficientCapacityOnHost: Insufficient capacity on host h-0a1b2c3d4e5f60718.',
  'MacM1-7 i-0992a1b2c3d4e5f60 2024-08-06T02:15:40+00:00',
  '# MacM1-8 INST BUSY: i-0c0ffee0c0ffee000 shutting-down',
  '',
].join('\n');

export const PW = [
  '# SetupInstances.sh run 2024-08-06T15:05:11+00:00',
  '#',
  'MacM1-1 complete alive 12 11',
  'MacM1-10 started error 0 0 # Setup incomplete; running for 5 minutes (~10 typical).',
  'MacM1-7 complete alive 7 6 # Instance alive longer than soft max. Investigation recommended.',
  '# MacM1-9 i-0123456789abcdef0 SWEEP: Instance i-0123456789abcdef0 is stopped. Terminating immediately!',
  '',
].join('\n');

export const CSV = '2024-08-06T15:00:11+00:00,2,18,17\n2024-08-06T15:05:11+00:00,2,19,17\n';

export const SETTINGS: StatusSettings = {
  launchEverySeconds: 600,
  intervalSeconds: 300,
  maxLifetimeSeconds: 86400,
  hardLifetimeSeconds: 172800,
  minAliveWorkers: 1,
};

export function input(over: Partial<StatusInput> = {}): StatusInput {
  return {
    dh: { text: DH, mtimeS: at('2024-08-06T14:10:40Z') },
    pw: { text: PW, mtimeS: at('2024-08-06T15:05:30Z') },
    csv: { text: CSV, mtimeS: at('2024-08-06T15:05:31Z') },
    nowS: NOW,
    settings: SETTINGS,
    ...over,
  };
}

/** The text with its header line's time replaced by `timeS`. */
export function withHeaderTime(text: string, timeS: number): string {
  const iso = `${new Date(timeS * 1000).toISOString().slice(0, 19)}+00:00`;
  return text.replace(/^(# \S+ run )\S+/, `$1${iso}`);
}

/** dh_status written 1 min and pw_status 30 s before NOW: nothing is stale. */
export function freshInput(over: Partial<StatusInput> = {}): StatusInput {
  return input({
    dh: { text: withHeaderTime(DH, NOW - 60), mtimeS: NOW - 60 },
    pw: { text: withHeaderTime(PW, NOW - 30), mtimeS: NOW - 30 },
    ...over,
  });
}
