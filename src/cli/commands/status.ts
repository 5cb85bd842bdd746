// `pw-pool status [--json]` (behavior.md §8.3): the pool as the status files describe it. Reads
// the files only: no AWS call, no lock, so it works while AWS, SSH or the agent is down.
import type { Command } from 'commander';
import { readStatusView } from '../../pw-lib/app/status-page.js';
import type { StatusPageSettings } from '../../pw-lib/app/status-page.js';
import type { Config } from '../../pw-lib/config/index.js';
import type { FileStatus, StatusRow, StatusView } from '../../pw-lib/core/status-view.js';
import { formatDuration } from '../../pw-lib/core/status-view.js';
import { ExitCode } from '../../pw-lib/errors.js';
import type { Output } from '../../pw-lib/ports.js';
import { createContext } from '../context.js';
import type { CommandResult, GlobalOptions } from '../context.js';

/** The settings of the view and the page, from the configuration (cron and demo use this too). */
export function statusPageSettings(c: Config): StatusPageSettings {
  return {
    launchEverySeconds: c.cron.launchEverySeconds,
    intervalSeconds: c.cron.intervalSeconds,
    maxLifetimeSeconds: c.maxLifetimeSeconds,
    hardLifetimeSeconds: c.hardLifetimeSeconds,
    minAliveWorkers: c.minAliveWorkers,
    chartWindowSeconds: c.chart.windowSeconds,
    link: c.statusPage.link,
  };
}

/** `status --json`: the view without the CSV history. Field names are stable (README). */
export function statusJson(view: StatusView): Record<string, unknown> {
  return {
    now: view.now,
    stale: view.stale,
    staleReasons: view.staleReasons,
    incomplete: view.incomplete,
    files: view.files,
    totals: view.totals,
    dhHeaderTime: view.dhHeaderTime,
    pwHeaderTime: view.pwHeaderTime,
    nextLaunchRun: view.nextLaunchRun,
    throttledUntil: view.throttledUntil,
    lastUtilization: view.lastUtilization,
    hosts: view.rows,
    comments: view.comments,
    notes: view.notes,
  };
}

function dur(seconds: number | null): string {
  return seconds === null ? '-' : formatDuration(seconds);
}

function fileLine(f: FileStatus): string {
  const state =
    f.error !== null
      ? `UNREADABLE (${f.error})`
      : !f.present
        ? 'MISSING'
        : f.stale
          ? `STALE (limit ${dur(f.staleAfterSeconds)})`
          : 'ok';
  return `  ${f.file.padEnd(16)} ${(f.writtenAt ?? '-').padEnd(25)} age ${dur(f.ageSeconds).padEnd(7)} ${state}`;
}

function table(rows: readonly StatusRow[]): string[] {
  const head = ['HOST', 'BLOCK', 'INSTANCE', 'AGE', 'SETUP', 'LISTENER', 'B/E', 'LEFT', 'COMMENT'];
  const body = rows.map((r) => [
    r.name,
    r.block ?? '-',
    r.instanceId ?? '-',
    dur(r.launchAgeSeconds),
    r.setup ?? '-',
    r.listener ?? '-',
    r.started === null ? '-' : `${r.started}/${r.finished ?? 0}`,
    dur(r.lifetimeLeftSeconds),
    r.comment ?? '',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  const fmt = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [fmt(head), ...body.map(fmt)];
}

export function printStatus(view: StatusView, out: Output): void {
  out.line(`pw-pool status at ${view.now}${view.stale ? '  STALE' : ''}`);
  for (const reason of view.staleReasons) out.line(`STALE: ${reason}`);
  out.line('Files:');
  out.line(fileLine(view.files.dhStatus));
  out.line(fileLine(view.files.pwStatus));
  out.line(fileLine(view.files.utilization));
  out.line('');
  if (view.rows.length === 0) out.line('No hosts in the status files.');
  else for (const line of table(view.rows)) out.line(line);
  for (const n of view.notes) out.line(`# ${n}`);
  out.line('');
  const t = view.totals;
  out.line(
    `Totals: ${t.hosts} hosts, ${t.entries} instances, ${t.aliveWorkers} alive workers; task limit ${t.taskLimitEnforced ? 'enforced' : 'not enforced'} (more than ${t.minAliveWorkers} alive needed)`,
  );
  out.line(
    `Next launch run: ${view.nextLaunchRun ?? 'unknown (no dh_status header)'}${view.throttledUntil === null ? '' : `; launches throttled until ${view.throttledUntil}`}`,
  );
  const u = view.lastUtilization;
  out.line(
    `Last utilization row: ${u === null ? 'none' : `${u.ts},${u.workers},${u.started},${u.finished}`}`,
  );
}

export function registerStatus(program: Command, result: CommandResult): void {
  program
    .command('status')
    .description(
      'show hosts, instances, ages and stale flags from the status files (no AWS, no lock)',
    )
    .option('--json', 'print one JSON object (stable field names) instead of the table')
    .action(async (_opts: unknown, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions & { json?: boolean }>();
      const ctx = await createContext(globals, { mutating: false });
      try {
        const view = await readStatusView(ctx.store, statusPageSettings(ctx.config), ctx.nowS);
        if (globals.json === true) ctx.out.line(JSON.stringify(statusJson(view), null, 2));
        else printStatus(view, ctx.out);
        result.exitCode = view.incomplete ? ExitCode.partial : ExitCode.ok;
      } finally {
        await ctx.close();
      }
    });
}
