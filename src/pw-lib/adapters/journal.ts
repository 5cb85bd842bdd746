// The audit trail (behavior.md §5.5): one JSON object per mutating action, appended to
// `<stateDir>/audit.jsonl`, and the per-run action counts that the metrics file accumulates.
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { AuditEvent, Clock, Journal } from '../ports.js';

export const AUDIT_FILE = 'audit.jsonl';

/** One line of audit.jsonl. */
export interface AuditRecord extends AuditEvent {
  /** ISO-8601 UTC, from the run's clock (virtual on the simulated cloud). */
  readonly time: string;
  /** The pw-pool command that acted (`cron`, `setup-instances`, `reap` …). */
  readonly command: string;
}

/** The key of one `pwpool_actions_total{action,reason}` series. */
export function actionKey(action: string, reason: string): string {
  return `${action}\t${reason}`;
}

export interface FileJournalOptions {
  readonly path: string;
  readonly command: string;
  readonly clock: Clock;
  readonly log: Logger;
}

/**
 * Appends each event as one line with one write (O_APPEND), so concurrent writers never
 * interleave within a line. A failed append is logged and counted, never thrown: the action
 * has already happened and must still be reported.
 */
export class FileJournal implements Journal {
  /** Actions recorded in this process, by actionKey. */
  readonly counts = new Map<string, number>();
  /** Appends that failed (the run reports them). */
  failures = 0;
  #dirReady = false;

  constructor(private readonly opts: FileJournalOptions) {}

  async record(event: AuditEvent): Promise<void> {
    const key = actionKey(event.action, event.reason);
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    try {
      const now = await this.opts.clock.now();
      const record: AuditRecord = {
        time: now.toISOString(),
        command: this.opts.command,
        ...definedOnly(event),
      };
      if (!this.#dirReady) {
        await mkdir(dirname(this.opts.path), { recursive: true });
        this.#dirReady = true;
      }
      await appendFile(this.opts.path, `${JSON.stringify(record)}\n`, { mode: 0o644 });
    } catch (error) {
      this.failures += 1;
      this.opts.log.error(
        { err: (error as Error)?.message ?? String(error), action: event.action },
        'could not append to the audit log',
      );
    }
  }
}

function definedOnly(event: AuditEvent): AuditEvent {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(event)) if (v !== undefined) out[k] = v;
  return out as unknown as AuditEvent;
}
