// The dashboard handler over real HTTP: the page, the stylesheet and the browser modules under
// /_mesh/, self-served under a strict CSP; every other path or method falls through untouched.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startFakeBackend, type FakeBackend } from '../helpers/dashboard-backend.js';

const BUILT = new URL('../../dist/dashboard/index.js', import.meta.url);

describe('dashboard handler', () => {
  let backend: FakeBackend;
  before(async () => {
    backend = await startFakeBackend([{ name: 'node1', state: 'alive', sessions: 1, requests: 1 }]);
  });
  after(() => backend.close());

  it('serves the page at /_mesh/ with its testids, script and stylesheet, under a same-origin CSP', async () => {
    const res = await fetch(`${backend.url}/_mesh/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /^text\/html/);
    assert.match(res.headers.get('content-security-policy')!, /script-src 'self'/);
    const html = await res.text();
    for (const id of ['partition-map', 'timeline', 'members', 'add-node', 'chart-sessions'])
      assert.ok(html.includes(`data-testid="${id}"`), id);
    assert.ok(html.includes('src="/_mesh/dashboard.js"'));
    assert.ok(!/https?:\/\//.test(html), 'no third-party origin in the page');
  });

  it('escapes the title', async () => {
    const { renderPage } = await import('../../src/dashboard/page.js');
    const html = renderPage('<script>alert(1)</script>');
    assert.ok(!html.includes('<script>alert'));
    assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  });

  it('serves the client entry and each module it imports as JavaScript', async () => {
    const entry = await fetch(`${backend.url}/_mesh/dashboard.js`);
    assert.equal(entry.status, 200);
    assert.match(entry.headers.get('content-type')!, /^text\/javascript/);
    const code = await entry.text();
    const imports = [...code.matchAll(/from\s+["']\.\/([a-z-]+)\.js["']/g)].map((m) => m[1]!);
    assert.ok(imports.length >= 5, `imports: ${imports.join(', ')}`);
    assert.ok(!code.includes('interface '), 'types are stripped');
    for (const name of imports) {
      const res = await fetch(`${backend.url}/_mesh/${name}.js`);
      assert.equal(res.status, 200, name);
      await res.text();
    }
    const css = await fetch(`${backend.url}/_mesh/dashboard.css`);
    assert.match(css.headers.get('content-type')!, /^text\/css/);
    assert.ok((await css.text()).includes('.state-alive'));
  });

  it('answers HEAD with the headers and no body', async () => {
    const res = await fetch(`${backend.url}/_mesh/dashboard.js`, { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.ok(Number(res.headers.get('content-length')) > 0);
    assert.equal(await res.text(), '');
  });

  it('leaves unknown files, traversal attempts and other methods to the next handler', async () => {
    for (const path of [
      '/_mesh/nope.js',
      '/_mesh/handler.js',
      '/_mesh/..%2Fhandler.js',
      '/_mesh/../dashboard.js',
      '/_mesh/client/dashboard.js',
      '/_mesh/Dashboard.js',
      '/_mesh/dashboard.ts',
      '/_meshdashboard.js',
    ]) {
      const res = await fetch(`${backend.url}${path}`);
      assert.equal(res.status, 404, path);
      assert.deepEqual(await res.json(), { error: 'not found' }, path);
    }
    const post = await fetch(`${backend.url}/_mesh/`, { method: 'POST' });
    assert.equal(post.status, 404);
    await post.text();
  });

  it('serves the compiled modules from dist/ as an installed package does (npm test builds first)', async (t) => {
    if (!existsSync(BUILT)) {
      if (process.env.CI === 'true') assert.fail('dist/dashboard is missing: run `npm run build`');
      t.skip('dist/dashboard is not built (npm run build)');
      return;
    }
    const built = (await import(BUILT.href)) as typeof import('../../src/dashboard/index.js');
    const dashboard = built.createDashboardHandler();
    const server = createServer((req, res) => {
      if (!dashboard(req, res)) res.writeHead(404).end();
    });
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    t.after(() => server.close());
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/_mesh/`;
    const entry = await (await fetch(`${base}dashboard.js`)).text();
    const imports = [...entry.matchAll(/from\s+["']\.\/([a-z-]+)\.js["']/g)].map((m) => m[1]!);
    assert.ok(imports.length >= 5);
    for (const name of ['dashboard', ...imports]) {
      const res = await fetch(`${base}${name}.js`);
      assert.equal(res.status, 200, name);
      assert.ok(!(await res.text()).includes('sourceMappingURL'), name);
    }
    const test = await fetch(`${base}model.test.js`);
    assert.equal(test.status, 404);
    await test.text();
  });
});
