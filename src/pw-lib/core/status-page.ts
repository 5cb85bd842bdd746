// The status page (behavior.md §5.3): one self-contained HTML document with no external resources.
// Well-formed (XHTML-compatible) markup; every text is escaped (tag values come from EC2).
import { escapeXml } from './chart.js';
import type { StatusRow, StatusView } from './status-view.js';
import { formatDuration } from './status-view.js';
import { formatUtc } from './time.js';

export const STATUS_PAGE_FILE = 'html/index.html';
export const CHART_FILE = 'html/utilization.svg';

export interface StatusPageOptions {
  readonly generatedAtS: number;
  /** `statusPage.link`, shown when set. */
  readonly link?: string | undefined;
  /** `cron.intervalSeconds`: the browser shows STALE when the page is older than twice this. */
  readonly intervalSeconds: number;
}

const e = escapeXml;

function cell(value: string | number | null, cls?: string): string {
  const c = cls === undefined ? '' : ` class="${cls}"`;
  return `<td${c}>${value === null ? '' : e(String(value))}</td>`;
}

function rowClass(r: StatusRow): string {
  if (r.block !== null && r.block !== 'entry') {
    return r.block.endsWith('ERROR') ? 'error' : 'comment';
  }
  if (r.setup === 'complete' && r.listener === 'alive') return 'alive';
  if (r.setup === 'error' || r.listener === 'error' || r.listener === 'dead') return 'error';
  if (r.setup === 'disabled') return 'disabled';
  return 'pending';
}

function safeHref(link: string): string | undefined {
  return /^https?:\/\//i.test(link) ? link : undefined;
}

const CSS = `
body { font-family: sans-serif; margin: 1em 2em; color: #222; }
h1 { font-size: 1.5em; }
.stale { background: #c00; color: #fff; font-weight: bold; padding: 0.6em 1em; margin: 0.5em 0; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; white-space: nowrap; }
td.comment-text { white-space: normal; max-width: 40em; }
tr.alive td { background: #eefaee; }
tr.error td { background: #fdecec; }
tr.disabled td, tr.comment td { background: #f4f4f4; }
tr.pending td { background: #fffbe6; }
img.chart { max-width: 100%; height: auto; border: 1px solid #ddd; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; }
.meta { color: #555; }
`;

/** The whole page. Deterministic for a given view and options. */
export function renderStatusPage(view: StatusView, opts: StatusPageOptions): string {
  const generated = formatUtc(opts.generatedAtS);
  const staleAfterS = 2 * opts.intervalSeconds;
  const out: string[] = [];
  out.push('<!DOCTYPE html>');
  out.push('<html xmlns="http://www.w3.org/1999/xhtml" lang="en">');
  out.push('<head>');
  out.push('<meta charset="utf-8"/>');
  out.push(`<meta http-equiv="refresh" content="${Math.max(30, opts.intervalSeconds)}"/>`);
  out.push('<meta name="viewport" content="width=device-width, initial-scale=1"/>');
  out.push('<title>pw-pool status</title>');
  out.push(`<style>${CSS}</style>`);
  out.push('</head>');
  out.push(
    `<body data-generated-at="${opts.generatedAtS}" data-stale-after-seconds="${staleAfterS}">`,
  );
  out.push('<h1>pw-pool status</h1>');
  out.push(
    `<p class="meta" id="generated">Generated at <time datetime="${e(generated)}">${e(generated)}</time></p>`,
  );
  if (view.stale) {
    out.push('<div class="stale" id="stale-banner">');
    out.push('<p>STALE: the manager has not updated the status files in time.</p>');
    out.push('<ul>');
    for (const reason of view.staleReasons) out.push(`<li>${e(reason)}</li>`);
    out.push('</ul>');
    out.push('</div>');
  }
  out.push(
    `<div class="stale" id="stale-clock" hidden="hidden">STALE: this page was generated more than ${e(formatDuration(staleAfterS))} ago; the manager has stopped updating it.</div>`,
  );
  if (opts.link !== undefined && opts.link !== '') {
    const href = safeHref(opts.link);
    out.push(
      href === undefined
        ? `<p id="link">${e(opts.link)}</p>`
        : `<p id="link"><a href="${e(href)}">${e(opts.link)}</a></p>`,
    );
  }
  out.push(
    '<p><img class="chart" id="chart" src="utilization.svg" width="1400" height="800" alt="Workers online, active tasks and utilization over time"/></p>',
  );

  const t = view.totals;
  out.push(
    `<p class="meta" id="totals">${t.hosts} hosts, ${t.entries} instances, ${t.aliveWorkers} alive workers; task limit ${t.taskLimitEnforced ? 'enforced' : 'not enforced'} (${t.aliveWorkers} alive, minimum ${t.minAliveWorkers}).</p>`,
  );
  const schedule: string[] = [];
  if (view.nextLaunchRun !== null) schedule.push(`next launch run ${view.nextLaunchRun}`);
  if (view.throttledUntil !== null)
    schedule.push(`launches throttled until ${view.throttledUntil}`);
  if (view.lastUtilization !== null) {
    const u = view.lastUtilization;
    schedule.push(
      `last utilization row ${u.ts}: ${u.workers} workers, ${u.started} started, ${u.finished} finished`,
    );
  }
  if (schedule.length > 0) out.push(`<p class="meta" id="schedule">${e(schedule.join('; '))}.</p>`);

  out.push('<table id="hosts">');
  out.push(
    '<thead><tr><th>Host</th><th>Block</th><th>Instance</th><th>Age</th><th>Setup</th><th>Listener</th><th>Started</th><th>Finished</th><th>Time left</th><th>Comment</th></tr></thead>',
  );
  out.push('<tbody>');
  for (const r of view.rows) {
    out.push(
      `<tr class="${rowClass(r)}" data-name="${e(r.name)}">` +
        cell(r.name) +
        cell(r.block) +
        cell(r.instanceId) +
        cell(r.launchAgeSeconds === null ? null : formatDuration(r.launchAgeSeconds)) +
        cell(r.setup) +
        cell(r.listener) +
        cell(r.started) +
        cell(r.finished) +
        cell(r.lifetimeLeftSeconds === null ? null : formatDuration(r.lifetimeLeftSeconds)) +
        cell(r.comment, 'comment-text') +
        '</tr>',
    );
  }
  out.push('</tbody>');
  out.push('</table>');

  out.push('<h2>Files</h2>');
  out.push('<table id="files">');
  out.push('<thead><tr><th>File</th><th>Written</th><th>Age</th><th>State</th></tr></thead>');
  out.push('<tbody>');
  for (const f of [view.files.dhStatus, view.files.pwStatus, view.files.utilization]) {
    const state =
      f.error !== null ? 'unreadable' : !f.present ? 'missing' : f.stale ? 'STALE' : 'ok';
    out.push(
      `<tr>${cell(f.file)}${cell(f.writtenAt)}${cell(f.ageSeconds === null ? null : formatDuration(f.ageSeconds))}${cell(state)}</tr>`,
    );
  }
  out.push('</tbody>');
  out.push('</table>');

  if (view.comments.length > 0 || view.notes.length > 0) {
    out.push('<h2>dh_status and pw_status comments</h2>');
    const lines: string[] = [];
    for (const c of view.comments) {
      lines.push(`${c.name} ${c.label}: ${c.text}`);
      for (const d of c.details) lines.push(`    ${d}`);
    }
    for (const n of view.notes) lines.push(n);
    out.push(`<pre id="comments">${e(lines.join('\n'))}</pre>`);
  }

  // The browser's clock decides whether the manager has stopped: no `<` or `&` in the script.
  out.push(
    '<script>(function () { var b = document.body; var g = Number(b.getAttribute("data-generated-at")); var lim = Number(b.getAttribute("data-stale-after-seconds")); function check() { if (Date.now() / 1000 - g > lim) { document.getElementById("stale-clock").hidden = false; } } check(); setInterval(check, 30000); })();</script>',
  );
  out.push('</body>');
  out.push('</html>');
  return `${out.join('\n')}\n`;
}
