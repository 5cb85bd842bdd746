// The status page's utilization chart, drawn as a standalone SVG (behavior.md §5.3): no gnuplot,
// no external process. Deterministic: the same rows and options give the same bytes.
import type { UtilizationRow } from './utilization.js';

export const CHART_WIDTH = 1400;
export const CHART_HEIGHT = 800;

export interface ChartOptions {
  /** The right edge of the x axis (epoch seconds). */
  readonly nowS: number;
  /** The span of the x axis in seconds (`chart.windowSeconds`). */
  readonly windowS: number;
  /** dh_status entry count: the left axis reaches at least ⌈1.5 × this⌉. */
  readonly dhEntryCount: number;
}

/** One plotted instant: the row's values as the chart draws them. */
export interface ChartPoint {
  readonly timeS: number;
  readonly workers: number;
  /** started − finished, never below 0. */
  readonly active: number;
  /** active / workers × 100, within 0–100. */
  readonly utilizationPct: number;
}

const PLOT = { left: 90, right: 1310, top: 80, bottom: 700 } as const;

/** Escapes text for XML/HTML content and attribute values. */
export function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** The rows the chart plots: inside the window, workers > 0, in time order. */
export function chartPoints(rows: readonly UtilizationRow[], opts: ChartOptions): ChartPoint[] {
  const from = opts.nowS - opts.windowS;
  return rows
    .filter((r) => r.workers > 0 && r.timeS >= from && r.timeS <= opts.nowS)
    .map((r) => {
      const active = Math.max(0, r.started - r.finished);
      return {
        timeS: r.timeS,
        workers: r.workers,
        active,
        utilizationPct: Math.min(100, (active / r.workers) * 100),
      };
    })
    .sort((a, b) => a.timeS - b.timeS);
}

/** The left axis maximum: max(1, ⌈1.5 × dh entries⌉, largest plotted value). */
export function leftAxisMax(points: readonly ChartPoint[], dhEntryCount: number): number {
  let max = Math.max(1, Math.ceil(1.5 * dhEntryCount));
  for (const p of points) max = Math.max(max, p.workers, p.active);
  return max;
}

const TIME_STEPS_S = [300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800];

function timeStep(windowS: number): number {
  return TIME_STEPS_S.find((s) => windowS / s <= 14) ?? 604800;
}

function valueStep(max: number): number {
  for (const s of [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000]) {
    if (max / s <= 10) return s;
  }
  return Math.ceil(max / 10);
}

function num(n: number): string {
  return (Math.round(n * 10) / 10).toFixed(1).replace(/\.0$/, '');
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

function tickLabel(timeS: number): string {
  const d = new Date(timeS * 1000);
  const hm = `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}`;
  return d.getUTCHours() === 0 && d.getUTCMinutes() === 0
    ? `${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ${hm}`
    : hm;
}

function isoMinute(timeS: number): string {
  return `${new Date(timeS * 1000).toISOString().slice(0, 16)}+00:00`;
}

function text(
  x: number,
  y: number,
  content: string,
  attrs: Record<string, string | number> = {},
): string {
  const a = Object.entries(attrs)
    .map(([k, v]) => ` ${k}="${escapeXml(String(v))}"`)
    .join('');
  return `<text x="${num(x)}" y="${num(y)}"${a}>${escapeXml(content)}</text>`;
}

/**
 * A standalone 1400×800 SVG: x axis the last `windowS` in UTC with time ticks; left axis
 * "Workers" with "Workers online" as points and "Active tasks" as a line; right axis
 * "Utilization %" (0–100) as a line; rows with workers = 0 left out; a legend.
 */
export function renderUtilizationSvg(rows: readonly UtilizationRow[], opts: ChartOptions): string {
  const points = chartPoints(rows, opts);
  const from = opts.nowS - opts.windowS;
  const width = PLOT.right - PLOT.left;
  const height = PLOT.bottom - PLOT.top;
  const yMax = leftAxisMax(points, opts.dhEntryCount);
  const x = (t: number) => PLOT.left + ((t - from) / Math.max(1, opts.windowS)) * width;
  const yLeft = (v: number) => PLOT.bottom - (v / yMax) * height;
  const yRight = (pct: number) => PLOT.bottom - (pct / 100) * height;

  const out: string[] = [];
  out.push('<?xml version="1.0" encoding="UTF-8"?>');
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${CHART_WIDTH}" height="${CHART_HEIGHT}" viewBox="0 0 ${CHART_WIDTH} ${CHART_HEIGHT}" font-family="sans-serif" font-size="14">`,
  );
  out.push(
    `<title>${escapeXml(`Pool utilization, ${isoMinute(from)} to ${isoMinute(opts.nowS)}`)}</title>`,
  );
  out.push(`<rect x="0" y="0" width="${CHART_WIDTH}" height="${CHART_HEIGHT}" fill="#ffffff"/>`);
  out.push(
    text(PLOT.left, 30, `Pool utilization, last ${num(opts.windowS / 3600)} h (UTC)`, {
      'text-anchor': 'start',
      'font-size': 20,
      id: 'chart-title',
    }),
  );

  // Grid and time axis.
  out.push('<g id="x-axis" stroke="#dddddd">');
  const step = timeStep(opts.windowS);
  const firstTick = Math.ceil(from / step) * step;
  const xLabels: string[] = [];
  for (let t = firstTick; t <= opts.nowS; t += step) {
    const xt = num(x(t));
    out.push(`<line x1="${xt}" y1="${PLOT.top}" x2="${xt}" y2="${PLOT.bottom}"/>`);
    xLabels.push(
      text(x(t), PLOT.bottom + 22, tickLabel(t), { 'text-anchor': 'middle', class: 'x-tick' }),
    );
  }
  out.push('</g>');
  out.push(`<g id="x-labels" fill="#333333">${xLabels.join('')}</g>`);
  out.push(
    text((PLOT.left + PLOT.right) / 2, PLOT.bottom + 55, 'Time (UTC)', {
      'text-anchor': 'middle',
      class: 'axis-title',
    }),
  );

  // Left axis: Workers.
  out.push('<g id="y-left-axis" fill="#333333">');
  const vStep = valueStep(yMax);
  for (let v = 0; v <= yMax; v += vStep) {
    out.push(
      `<line x1="${PLOT.left}" y1="${num(yLeft(v))}" x2="${PLOT.right}" y2="${num(yLeft(v))}" stroke="#eeeeee"/>`,
    );
    out.push(
      text(PLOT.left - 8, yLeft(v) + 5, String(v), { 'text-anchor': 'end', class: 'y-left-tick' }),
    );
  }
  out.push('</g>');
  out.push(
    text(25, (PLOT.top + PLOT.bottom) / 2, 'Workers', {
      'text-anchor': 'middle',
      transform: `rotate(-90 25 ${num((PLOT.top + PLOT.bottom) / 2)})`,
      class: 'axis-title',
      id: 'y-left-title',
    }),
  );

  // Right axis: Utilization %.
  out.push('<g id="y-right-axis" fill="#333333">');
  for (let pct = 0; pct <= 100; pct += 20) {
    out.push(
      text(PLOT.right + 8, yRight(pct) + 5, String(pct), {
        'text-anchor': 'start',
        class: 'y-right-tick',
      }),
    );
  }
  out.push('</g>');
  const rx = CHART_WIDTH - 25;
  out.push(
    text(rx, (PLOT.top + PLOT.bottom) / 2, 'Utilization %', {
      'text-anchor': 'middle',
      transform: `rotate(90 ${rx} ${num((PLOT.top + PLOT.bottom) / 2)})`,
      class: 'axis-title',
      id: 'y-right-title',
    }),
  );

  // Plot frame.
  out.push(
    `<rect x="${PLOT.left}" y="${PLOT.top}" width="${width}" height="${height}" fill="none" stroke="#333333"/>`,
  );

  // Series.
  const utilPts = points.map((p) => `${num(x(p.timeS))},${num(yRight(p.utilizationPct))}`);
  out.push(
    `<polyline id="series-utilization" class="series" data-series="Utilization %" fill="none" stroke="#2ca02c" stroke-width="1.5" stroke-dasharray="6 3" points="${utilPts.join(' ')}"/>`,
  );
  const activePts = points.map((p) => `${num(x(p.timeS))},${num(yLeft(p.active))}`);
  out.push(
    `<polyline id="series-active-tasks" class="series" data-series="Active tasks" fill="none" stroke="#d62728" stroke-width="2" points="${activePts.join(' ')}"/>`,
  );
  out.push(
    '<g id="series-workers-online" class="series" data-series="Workers online" fill="#1f77b4">',
  );
  for (const p of points) {
    out.push(`<circle cx="${num(x(p.timeS))}" cy="${num(yLeft(p.workers))}" r="3"/>`);
  }
  out.push('</g>');
  if (points.length === 0) {
    out.push(
      text((PLOT.left + PLOT.right) / 2, (PLOT.top + PLOT.bottom) / 2, 'No data in this window', {
        'text-anchor': 'middle',
        fill: '#999999',
        'font-size': 24,
        id: 'no-data',
      }),
    );
  }

  // Legend: one row above the plot, right-aligned, clear of the data.
  const lx = PLOT.right - 430;
  const ly = 40;
  out.push('<g id="legend">');
  out.push(`<rect x="${lx}" y="${ly}" width="430" height="24" fill="#ffffff" stroke="#999999"/>`);
  out.push(`<circle cx="${lx + 16}" cy="${ly + 12}" r="4" fill="#1f77b4"/>`);
  out.push(text(lx + 28, ly + 17, 'Workers online', { class: 'legend-item' }));
  out.push(
    `<line x1="${lx + 150}" y1="${ly + 12}" x2="${lx + 174}" y2="${ly + 12}" stroke="#d62728" stroke-width="2"/>`,
  );
  out.push(text(lx + 180, ly + 17, 'Active tasks', { class: 'legend-item' }));
  out.push(
    `<line x1="${lx + 285}" y1="${ly + 12}" x2="${lx + 309}" y2="${ly + 12}" stroke="#2ca02c" stroke-width="1.5" stroke-dasharray="6 3"/>`,
  );
  out.push(text(lx + 315, ly + 17, 'Utilization %', { class: 'legend-item' }));
  out.push('</g>');
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
