import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { contentTypeOf, startStaticSite } from '../../src/pw-lib/adapters/static-site.js';

describe('static site adapter (pw-pool serve)', () => {
  it('serves files and index.html, never through a symlink out of the directory', async (t) => {
    const base = await mkdtemp(join(tmpdir(), 'pw-pool-site-'));
    t.after(() => rm(base, { recursive: true, force: true }));
    const dir = join(base, 'html');
    await mkdir(join(dir, 'sub'), { recursive: true });
    await writeFile(join(dir, 'index.html'), '<p>top</p>');
    await writeFile(join(dir, 'sub', 'index.html'), '<p>sub</p>');
    await writeFile(join(base, 'secret.txt'), 'outside');
    await symlink(join(base, 'secret.txt'), join(dir, 'leak.txt'));
    await symlink(base, join(dir, 'up'));
    const site = await startStaticSite({ dir, port: 0 });
    t.after(() => site.close());
    assert.match(site.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const get = async (p: string) => {
      const r = await fetch(new URL(p, site.url));
      return { status: r.status, body: await r.text(), type: r.headers.get('content-type') };
    };
    assert.deepEqual(await get('/'), {
      status: 200,
      body: '<p>top</p>',
      type: 'text/html; charset=utf-8',
    });
    assert.equal((await get('/sub/')).body, '<p>sub</p>');
    assert.equal((await get('/leak.txt')).status, 404);
    assert.equal((await get('/up/secret.txt')).status, 404);
    const r = await get('/up/secret.txt');
    assert.doesNotMatch(r.body, /outside/);
  });

  it('answers 404 while the directory does not exist yet, and reports a busy port', async (t) => {
    const base = await mkdtemp(join(tmpdir(), 'pw-pool-site-'));
    t.after(() => rm(base, { recursive: true, force: true }));
    const site = await startStaticSite({ dir: join(base, 'html'), port: 0 });
    t.after(() => site.close());
    assert.equal((await fetch(site.url)).status, 404);
    await assert.rejects(startStaticSite({ dir: base, port: site.port }), /EADDRINUSE/);
  });

  it('knows the content types of the page', () => {
    assert.equal(contentTypeOf('a/index.html'), 'text/html; charset=utf-8');
    assert.equal(contentTypeOf('utilization.svg'), 'image/svg+xml');
    assert.equal(contentTypeOf('x.bin'), 'application/octet-stream');
  });
});
