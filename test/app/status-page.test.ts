import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readStatusView, writeStatusPage } from '../../src/pw-lib/app/status-page.js';
import type { StatusPageSettings } from '../../src/pw-lib/app/status-page.js';
import { MemoryStore } from '../helpers/fakes.js';
import { byId, byTag, parseMarkup } from '../helpers/markup.js';
import { CSV, DH, NOW, PW, SETTINGS, withHeaderTime } from '../helpers/status-fixtures.js';

const PAGE: StatusPageSettings = { ...SETTINGS, chartWindowSeconds: 93600, link: undefined };

describe('writeStatusPage (§5.3)', () => {
  it('writes html/utilization.svg, then html/index.html, from the files as they are', async () => {
    const store = new MemoryStore();
    store.files.set('dh_status.txt', withHeaderTime(DH, NOW - 60));
    store.files.set('pw_status.txt', withHeaderTime(PW, NOW - 30));
    store.files.set('utilization.csv', CSV);
    const order: string[] = [];
    const write = store.writeAtomic.bind(store);
    store.writeAtomic = (name, content) => {
      order.push(name);
      return write(name, content);
    };
    await writeStatusPage(store, PAGE, NOW);
    assert.deepEqual(order, ['html/utilization.svg', 'html/index.html']);
    const svg = parseMarkup(store.files.get('html/utilization.svg') ?? '');
    assert.equal(
      byTag(
        byId(svg, 'series-workers-online') ? [byId(svg, 'series-workers-online')!] : [],
        'circle',
      ).length,
      2,
    );
    const page = parseMarkup(store.files.get('html/index.html') ?? '');
    assert.equal(byTag(byTag(page, 'tbody')[0] ? [byTag(page, 'tbody')[0]!] : [], 'tr').length, 8);
    assert.equal(byId(page, 'stale-banner'), undefined);
  });

  it('renders a STALE page from missing files without throwing', async () => {
    const store = new MemoryStore();
    await writeStatusPage(store, PAGE, NOW);
    const page = parseMarkup(store.files.get('html/index.html') ?? '');
    assert.match(byId(page, 'stale-banner')?.text ?? '', /dh_status\.txt is missing/);
    const view = await readStatusView(store, SETTINGS, NOW);
    assert.equal(view.incomplete, true);
  });

  it('an unreadable file is reported, not thrown; a failed write throws', async () => {
    const store = new MemoryStore();
    store.files.set('pw_status.txt', PW);
    store.read = (name) =>
      name === 'dh_status.txt'
        ? Promise.reject(Object.assign(new Error('denied'), { code: 'EACCES' }))
        : Promise.resolve(store.files.get(name));
    const view = await readStatusView(store, SETTINGS, NOW);
    assert.equal(view.files.dhStatus.error, 'EACCES');
    store.failWrites = true;
    await assert.rejects(writeStatusPage(store, PAGE, NOW), /EACCES/);
  });
});
