// The two-phase orphan-runner sweep (behavior.md §7, github-actions): an offline runner named like
// a pool host with no live instance is recorded on one run and deleted on a later run if it is
// still orphaned. The state between runs is `<stateDir>/runner-sweep.json`.

export const RUNNER_SWEEP_FILE = 'runner-sweep.json';

export interface SweepCandidate {
  readonly id: number;
  readonly name: string;
  /** When a run first saw it orphaned (epoch seconds). */
  readonly firstSeenS: number;
}

export interface SweepRunner {
  readonly id: number;
  readonly name: string;
  readonly status: 'online' | 'offline';
  readonly busy: boolean;
}

/** The recorded candidates; a missing, empty or unreadable file is no candidates (phase 1 again). */
export function parseSweepState(text: string): SweepCandidate[] {
  if (text.trim() === '') return [];
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return [];
  }
  const list = (data as { candidates?: unknown })?.candidates;
  if (!Array.isArray(list)) return [];
  return list.flatMap((c: unknown) => {
    const { id, name, firstSeen } = (c ?? {}) as Record<string, unknown>;
    const firstSeenS = typeof firstSeen === 'string' ? Date.parse(firstSeen) / 1000 : NaN;
    return Number.isInteger(id) && typeof name === 'string' && Number.isFinite(firstSeenS)
      ? [{ id: id as number, name, firstSeenS: Math.floor(firstSeenS) }]
      : [];
  });
}

export function formatSweepState(candidates: readonly SweepCandidate[]): string {
  const sorted = [...candidates].sort((a, b) => a.id - b.id);
  return `${JSON.stringify(
    {
      version: 1,
      candidates: sorted.map((c) => ({
        id: c.id,
        name: c.name,
        firstSeen: new Date(c.firstSeenS * 1000).toISOString().replace('.000Z', 'Z'),
      })),
    },
    null,
    2,
  )}\n`;
}

/**
 * Which orphans to delete now (recorded by an earlier run, same id, still orphaned) and which to
 * record (orphaned now; kept with their first-seen time). Runners no longer orphaned are dropped.
 */
export function planRunnerSweep(input: {
  readonly runners: readonly SweepRunner[];
  readonly liveNames: ReadonlySet<string>;
  readonly previous: readonly SweepCandidate[];
  readonly nowS: number;
}): { delete: SweepCandidate[]; record: SweepCandidate[] } {
  const before = new Map(input.previous.map((c) => [c.id, c]));
  const del: SweepCandidate[] = [];
  const record: SweepCandidate[] = [];
  const sorted = [...input.runners].sort((a, b) => a.id - b.id);
  for (const r of sorted) {
    const orphaned = r.status === 'offline' && !r.busy && !input.liveNames.has(r.name);
    if (!orphaned) continue;
    const seen = before.get(r.id);
    if (seen !== undefined && seen.name === r.name) del.push(seen);
    else record.push({ id: r.id, name: r.name, firstSeenS: input.nowS });
  }
  return { delete: del, record };
}
