import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderUtilizationSvg } from '../../src/pw-lib/core/chart.js';
import { parseUtilizationCsv } from '../../src/pw-lib/core/utilization.js';
import { byId, byTag, findAll, parseMarkup } from '../helpers/markup.js';

const NOW = Date.parse('2024-08-06T14:00:00Z') / 1000;
const WINDOW = 93600;

function csv(
  lines: [offsetS: number, workers: number, started: number, finished: number][],
): string {
  return lines
    .map(
      ([o, w, s, f]) =>
        `${new Date((NOW + o) * 1000).toISOString().slice(0, 19)}+00:00,${w},${s},${f}`,
    )
    .join('\n');
}

function points(attr: string | undefined): [number, number][] {
  if (attr === undefined || attr === '') return [];
  return attr.split(' ').map((p) => p.split(',').map(Number) as [number, number]);
}

describe('utilization chart (§5.3)', () => {
  const rows = parseUtilizationCsv(
    csv([
      [-WINDOW - 600, 9, 9, 0], // outside the window
      [-3600, 4, 10, 8],
      [-3300, 0, 0, 0], // workers = 0: left out
      [-3000, 4, 12, 8],
      [-300, 2, 5, 5],
      [0, 8, 20, 10],
    ]),
  );
  const svg = renderUtilizationSvg(rows, { nowS: NOW, windowS: WINDOW, dhEntryCount: 4 });
  const doc = parseMarkup(svg);

  it('is a standalone 1400×800 SVG', () => {
    const root = byTag(doc, 'svg')[0];
    assert.ok(root);
    assert.equal(root.attrs.width, '1400');
    assert.equal(root.attrs.height, '800');
    assert.equal(root.attrs.xmlns, 'http://www.w3.org/2000/svg');
    assert.doesNotMatch(svg, /href=|<image|<script/);
  });

  it('has the axes: time ticks in UTC, "Workers", "Utilization %" 0–100', () => {
    assert.equal(byId(doc, 'y-left-title')?.text, 'Workers');
    assert.equal(byId(doc, 'y-right-title')?.text, 'Utilization %');
    const xTicks = findAll(doc, (e) => e.attrs.class === 'x-tick').map((e) => e.text);
    assert.ok(xTicks.length >= 6 && xTicks.length <= 14, xTicks.join(' '));
    for (const t of xTicks) assert.match(t, /^(\d\d-\d\d )?\d\d:\d\d$/);
    assert.ok(xTicks.includes('08-06 00:00'), 'midnight carries the date');
    assert.ok(xTicks.includes('12:00'));
    const right = findAll(doc, (e) => e.attrs.class === 'y-right-tick').map((e) => e.text);
    assert.deepEqual(right, ['0', '20', '40', '60', '80', '100']);
    const left = findAll(doc, (e) => e.attrs.class === 'y-left-tick').map((e) => Number(e.text));
    assert.equal(left[0], 0);
    assert.equal(Math.max(...left), 10, 'max(1, ⌈1.5×4⌉=6, largest value 10)');
  });

  it('plots workers as points, active tasks and utilization as lines; workers=0 and old rows left out', () => {
    const workers = byId(doc, 'series-workers-online');
    assert.equal(workers?.attrs['data-series'], 'Workers online');
    const circles = byTag(workers ? [workers] : [], 'circle');
    assert.equal(circles.length, 4);
    const active = points(byId(doc, 'series-active-tasks')?.attrs.points);
    const util = points(byId(doc, 'series-utilization')?.attrs.points);
    assert.equal(active.length, 4);
    assert.equal(util.length, 4);
    // x increases; the last point is at the right edge (now)
    assert.deepEqual(
      active.map((p) => p[0]),
      [...active.map((p) => p[0])].sort((a, b) => a - b),
    );
    assert.equal(active[3]?.[0], 1310);
    // y: the active values 2, 4, 0, 10 on a 0..10 axis (bottom 700, top 80)
    assert.deepEqual(
      active.map((p) => p[1]),
      [576, 452, 700, 80],
    );
    // utilization 50 %, 100 %, 0 %, 125 % → clamped 100 %
    assert.deepEqual(
      util.map((p) => p[1]),
      [390, 80, 700, 80],
    );
    // workers 4, 4, 2, 8
    assert.deepEqual(
      circles.map((c) => Number(c.attrs.cy)),
      [452, 452, 576, 204],
    );
  });

  it('has a legend naming the three series', () => {
    const legend = byId(doc, 'legend');
    assert.ok(legend);
    assert.deepEqual(
      findAll([legend], (e) => e.attrs.class === 'legend-item').map((e) => e.text),
      ['Workers online', 'Active tasks', 'Utilization %'],
    );
  });

  it('the left axis reaches ⌈1.5 × dh entries⌉, at least 1', () => {
    const axisMax = (dh: number) => {
      const d = parseMarkup(
        renderUtilizationSvg([], { nowS: NOW, windowS: WINDOW, dhEntryCount: dh }),
      );
      return Math.max(
        ...findAll(d, (e) => e.attrs.class === 'y-left-tick').map((e) => Number(e.text)),
      );
    };
    assert.equal(axisMax(0), 1);
    assert.equal(axisMax(3), 5);
    assert.equal(axisMax(40), 60);
  });

  it('with no data says so and stays well-formed', () => {
    const d = parseMarkup(
      renderUtilizationSvg([], { nowS: NOW, windowS: WINDOW, dhEntryCount: 2 }),
    );
    assert.equal(byId(d, 'no-data')?.text, 'No data in this window');
    assert.equal(byId(d, 'series-active-tasks')?.attrs.points, '');
  });

  it('is deterministic', () => {
    assert.equal(renderUtilizationSvg(rows, { nowS: NOW, windowS: WINDOW, dhEntryCount: 4 }), svg);
  });
});
