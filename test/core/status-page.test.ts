import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runInNewContext } from 'node:vm';
import { renderStatusPage } from '../../src/pw-lib/core/status-page.js';
import { buildStatusView } from '../../src/pw-lib/core/status-view.js';
import { byId, byTag, findAll, parseMarkup } from '../helpers/markup.js';
import { NOW, freshInput, input } from '../helpers/status-fixtures.js';

const fresh = () => freshInput();

describe('status page (§5.3)', () => {
  it('is one well-formed document with the generation time, the chart and no external resources', () => {
    const html = renderStatusPage(buildStatusView(fresh()), {
      generatedAtS: NOW,
      intervalSeconds: 300,
    });
    assert.match(html, /^<!DOCTYPE html>\n/);
    const doc = parseMarkup(html);
    assert.equal(byTag(doc, 'title')[0]?.text, 'pw-pool status');
    const body = byTag(doc, 'body')[0];
    assert.equal(body?.attrs['data-generated-at'], String(NOW));
    assert.equal(body?.attrs['data-stale-after-seconds'], '600');
    assert.equal(byTag(doc, 'time')[0]?.attrs.datetime, '2024-08-06T15:07:00+00:00');
    const imgs = byTag(doc, 'img');
    assert.deepEqual(
      imgs.map((i) => i.attrs.src),
      ['utilization.svg'],
    );
    // nothing loaded from elsewhere: no src/href except the chart (and the optional link)
    assert.deepEqual(findAll(doc, (e) => 'src' in e.attrs || 'href' in e.attrs).length, 1);
    assert.equal(byTag(doc, 'link').length, 0);
    assert.equal(byId(doc, 'stale-banner'), undefined, 'fresh files: no STALE banner');
  });

  it('has one table row per host with its instance, states, counts and comment', () => {
    const doc = parseMarkup(
      renderStatusPage(buildStatusView(fresh()), { generatedAtS: NOW, intervalSeconds: 300 }),
    );
    const table = byId(doc, 'hosts');
    assert.ok(table);
    const head = byTag(byTag([table], 'thead'), 'th').map((th) => th.text);
    assert.deepEqual(head, [
      'Host',
      'Block',
      'Instance',
      'Age',
      'Setup',
      'Listener',
      'Started',
      'Finished',
      'Time left',
      'Comment',
    ]);
    const rows = byTag(byTag([table], 'tbody'), 'tr');
    assert.equal(rows.length, 8);
    const cells = (name: string) =>
      byTag(
        rows.filter((r) => r.attrs['data-name'] === name),
        'td',
      ).map((td) => td.text);
    assert.deepEqual(cells('MacM1-1'), [
      'MacM1-1',
      'entry',
      'i-0b3e4f2a9c8d71e05',
      '23h04m',
      'complete',
      'alive',
      '12',
      '11',
      '55m',
      '',
    ]);
    assert.deepEqual(cells('MacM1-2'), [
      'MacM1-2',
      'HOST BUSY',
      '',
      '',
      '',
      '',
      '',
      '',
      '',
      'pending',
    ]);
    assert.equal(rows.find((r) => r.attrs['data-name'] === 'MacM1-1')?.attrs.class, 'alive');
    assert.equal(rows.find((r) => r.attrs['data-name'] === 'MacM1-5')?.attrs.class, 'error');
    // the dh_status comment blocks and pw_status notes, with detail lines
    const comments = byId(doc, 'comments')?.text ?? '';
    assert.match(
      comments,
      /^MacM1-5 HOST ERROR: Unsupported dedicated host state 'permanent-failure'\.$/m,
    );
    assert.match(comments, /^ {6}"HostId": "h-05e619438b9cd6b30",$/m);
    assert.match(comments, /SWEEP: Instance i-0123456789abcdef0 is stopped/);
  });

  it('escapes every text (tag values come from EC2)', () => {
    const evil = '<script>alert("x")</script>&';
    const dh = `# LaunchInstances.sh run 2024-08-06T15:00:00+00:00\n#\n# MacM1-9 HOST ERROR: ${evil}\n#    aws CLI output: ${evil}\n`;
    const pw = `# SetupInstances.sh run 2024-08-06T15:05:00+00:00\n#\nMacM1-1 complete alive 1 0 # Inst. name '${evil}' != DH name 'MacM1-1'.\n`;
    const html = renderStatusPage(
      buildStatusView(input({ dh: { text: dh, mtimeS: NOW }, pw: { text: pw, mtimeS: NOW } })),
      { generatedAtS: NOW, intervalSeconds: 300, link: 'https://ci.example/pool?a=1&b="2"' },
    );
    assert.equal((html.match(/<script>/g) ?? []).length, 1, 'only the page’s own script');
    assert.doesNotMatch(html, /alert\("x"\)/);
    const doc = parseMarkup(html);
    assert.equal(byTag(doc, 'script').length, 1);
    const row = byTag(byId(doc, 'hosts') ? [byId(doc, 'hosts')!] : [], 'tr').find(
      (r) => r.attrs['data-name'] === 'MacM1-1',
    );
    assert.match(
      byTag(row ? [row] : [], 'td').at(-1)?.text ?? '',
      /<script>alert\("x"\)<\/script>&/,
    );
    assert.match(byId(doc, 'comments')?.text ?? '', /HOST ERROR: <script>/);
    const a = byTag(doc, 'a')[0];
    assert.equal(a?.attrs.href, 'https://ci.example/pool?a=1&b="2"');
  });

  it('a link that is not http(s) is shown as text, never as a link', () => {
    const doc = parseMarkup(
      renderStatusPage(buildStatusView(fresh()), {
        generatedAtS: NOW,
        intervalSeconds: 300,
        link: 'javascript:alert(1)',
      }),
    );
    assert.equal(byTag(doc, 'a').length, 0);
    assert.equal(byId(doc, 'link')?.text, 'javascript:alert(1)');
  });

  it('shows the STALE banner with the reasons when the view is stale', () => {
    const doc = parseMarkup(
      renderStatusPage(buildStatusView(input()), { generatedAtS: NOW, intervalSeconds: 300 }),
    );
    const banner = byId(doc, 'stale-banner');
    assert.ok(banner);
    assert.match(banner.text, /STALE/);
    assert.deepEqual(
      byTag([banner], 'li').map((li) => li.text),
      ['dh_status.txt is 56m old (limit 20m)'],
    );
  });

  it('carries a hidden clock banner and a script that shows it after 2 × interval', () => {
    const html = renderStatusPage(buildStatusView(fresh()), {
      generatedAtS: NOW,
      intervalSeconds: 300,
    });
    const doc = parseMarkup(html);
    assert.equal(byId(doc, 'stale-clock')?.attrs.hidden, 'hidden');
    const script = byTag(doc, 'script')[0]?.text ?? '';
    // run the script against a minimal DOM at two instants
    const run = (nowMs: number) => {
      const clock = { hidden: true };
      const attrs: Record<string, string> = {
        'data-generated-at': String(NOW),
        'data-stale-after-seconds': '600',
      };
      const document = {
        body: { getAttribute: (k: string) => attrs[k] ?? null },
        getElementById: (id: string) => (id === 'stale-clock' ? clock : null),
      };
      runInNewContext(script, { document, Date: { now: () => nowMs }, setInterval: () => 0 });
      return clock.hidden;
    };
    assert.equal(run((NOW + 600) * 1000), true, 'exactly 2 × interval: not yet');
    assert.equal(run((NOW + 601) * 1000), false, 'older: STALE shown');
  });
});
