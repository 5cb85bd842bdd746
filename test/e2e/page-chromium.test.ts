// Smoke test in a real browser (issue 4): headless Chromium (Debian's `chromium`, installed by
// .ci/run) loads the page served by `pw-pool serve` and shows the chart and the table. Without
// Chromium the test is skipped with the reason, except under CI=true, where it fails.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import puppeteer from 'puppeteer-core';
import type { Browser } from 'puppeteer-core';
import { renderedStateDir, startServe } from '../helpers/serve.js';

/** The DOM members the page functions read (the test compiles without the DOM lib). */
interface ElLike {
  readonly innerText: string;
  readonly offsetParent: unknown;
  getBoundingClientRect(): { width: number; height: number };
  getAttribute(name: string): string | null;
}
interface ImgLike extends ElLike {
  readonly complete: boolean;
  readonly naturalWidth: number;
  readonly naturalHeight: number;
}

const CHROMIUM = process.env.PW_POOL_TEST_CHROMIUM ?? '/usr/bin/chromium';

function chromiumOrSkip(t: TestContext): boolean {
  if (existsSync(CHROMIUM)) return true;
  const reason = `${CHROMIUM} not found (apt-get install chromium, or set PW_POOL_TEST_CHROMIUM)`;
  if (process.env.CI === 'true') assert.fail(`CI=true and ${reason}`);
  process.stdout.write(`# skipping the Chromium smoke test: ${reason}\n`);
  t.skip(reason);
  return false;
}

async function launch(t: TestContext): Promise<Browser> {
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  t.after(() => browser.close());
  return browser;
}

describe('status page in headless Chromium', () => {
  it('shows the chart and every table row; the clock banner follows the browser clock', async (t) => {
    if (!chromiumOrSkip(t)) return;
    // Rendered now: fresh for the browser's clock.
    const nowS = Math.floor(Date.now() / 1000);
    const { home, stateDir, store } = await renderedStateDir(t, nowS);
    const site = await startServe(t, stateDir, home);
    const browser = await launch(t);
    const page = await browser.newPage();
    await page.setViewport({ width: 1600, height: 1200 });
    const failed: string[] = [];
    page.on('requestfailed', (r) => failed.push(r.url()));
    page.on('response', (r) => {
      if (r.status() >= 400 && !r.url().endsWith('/favicon.ico'))
        failed.push(`${r.status()} ${r.url()}`);
    });
    const res = await page.goto(site.url, { waitUntil: 'networkidle0' });
    assert.equal(res?.status(), 200);
    assert.equal(await page.title(), 'pw-pool status');

    const chart = await page.$eval('#chart', (img) => {
      const el = img as unknown as ImgLike;
      const box = el.getBoundingClientRect();
      return {
        complete: el.complete,
        naturalWidth: el.naturalWidth,
        naturalHeight: el.naturalHeight,
        width: box.width,
        height: box.height,
      };
    });
    assert.equal(chart.complete, true);
    assert.equal(chart.naturalWidth, 1400, 'the SVG loaded and decoded');
    assert.equal(chart.naturalHeight, 800);
    assert.ok(chart.width > 100 && chart.height > 50, JSON.stringify(chart));

    const rows = await page.$$eval('#hosts tbody tr', (trs) =>
      trs.map((tr) => {
        const el = tr as unknown as ElLike;
        const box = el.getBoundingClientRect();
        return {
          name: el.getAttribute('data-name'),
          width: box.width,
          height: box.height,
          text: el.innerText,
        };
      }),
    );
    assert.equal(rows.length, 8);
    for (const r of rows) assert.ok(r.width > 0 && r.height > 0, JSON.stringify(r));
    assert.match(rows[0]?.text ?? '', /MacM1-1\s+entry\s+i-0b3e4f2a9c8d71e05/);

    const clockBannerVisible = () =>
      page.$eval('#stale-clock', (el) => (el as unknown as ElLike).offsetParent !== null);
    assert.equal(await clockBannerVisible(), false, 'fresh page: no STALE from the browser clock');
    assert.deepEqual(failed, []);

    // The same page generated long ago: the script shows STALE against the browser's clock.
    await writePageAt(store, nowS - 3600);
    await page.reload({ waitUntil: 'networkidle0' });
    assert.equal(await clockBannerVisible(), true, 'an old page shows STALE');
    const bannerText = await page.$eval(
      '#stale-clock',
      (el) => (el as unknown as ElLike).innerText,
    );
    assert.match(bannerText, /^STALE/);
  });
});

async function writePageAt(
  store: Awaited<ReturnType<typeof renderedStateDir>>['store'],
  atS: number,
): Promise<void> {
  const { writeStatusPage } = await import('../../src/pw-lib/app/status-page.js');
  const { SETTINGS } = await import('../helpers/status-fixtures.js');
  await writeStatusPage(store, { ...SETTINGS, chartWindowSeconds: 93600, link: undefined }, atS);
}
