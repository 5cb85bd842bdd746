// A cron tick's decisions (behavior.md §5.2): whether launch-instances is due, by elapsed time.

/**
 * Launch is due when dh_status.txt has no parseable header time, or when at least
 * `launchEvery − interval/2` seconds passed between that time and the tick's start (recorded
 * before the lock wait). Port: the original tested `minute % 10 == 0` after the wait, so one slow
 * tick could skip launches for a long time; elapsed time cannot be skipped.
 */
export function isLaunchDue(
  headerTimeS: number | undefined,
  tickStartS: number,
  launchEveryS: number,
  intervalS: number,
): boolean {
  if (headerTimeS === undefined) return true;
  return tickStartS - headerTimeS >= launchEveryS - intervalS / 2;
}
