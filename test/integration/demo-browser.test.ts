// Issue 6's promise in a real browser: sign in to the demo through its proxy, fill the cart, kill
// the node that served the session with the dashboard's button, reload: still signed in, cart
// intact, served by another node. Then restart the node from the dashboard and watch it rejoin.

import { it, after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { startDemo, type Demo } from '../../src/cli/demo-command.js';
import { artifactPath, launchBrowser, updateDocsScreenshot } from '../helpers/browser.js';

describe('sessionmesh demo in Chromium', () => {
  let demo: Demo;
  before(async () => {
    demo = await startDemo({ nodes: 3, port: 0 });
    await demo.whenReady(30_000);
  });
  after(() => demo.stop());

  it('keeps the user signed in with the cart after the dashboard kills the serving node', async (t) => {
    const browser = await launchBrowser(t);
    if (!browser) return;
    const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
    context.setDefaultTimeout(15_000);
    const app = await context.newPage();
    const dashboard = await context.newPage();

    await app.goto(`${demo.url}/`);
    await app.fill('input[name=user]', 'ada');
    await app.getByTestId('login').click();
    await app.getByTestId('who').waitFor();
    for (const item of ['apple', 'pear']) {
      await app.fill('input[name=item]', item);
      await app.getByTestId('add').click();
      await app.locator('[data-testid=cart] li', { hasText: item }).waitFor();
    }
    const before = await app.reload();
    const servedBy = before!.headers()['x-served-by']!;
    assert.ok(servedBy, 'X-Served-By');
    assert.equal(await app.getByTestId('node').innerText(), servedBy);

    await dashboard.goto(`${demo.url}/_mesh/`);
    for (const name of ['node1', 'node2', 'node3'])
      await dashboard.locator(`[data-testid="member-${name}"][data-state="alive"]`).waitFor();
    await dashboard
      .locator(`[data-testid="partition-map"] .cell[data-owner="${servedBy}"]`)
      .first()
      .waitFor();
    await visitors(demo.url, 24);

    await dashboard.getByTestId(`kill-${servedBy}`).click();
    await dashboard.locator(`[data-testid="member-${servedBy}"][data-state="stopped"]`).waitFor();
    await dashboard
      .locator(`[data-testid="timeline"] li[data-kind="kill"][data-member="${servedBy}"]`)
      .waitFor();

    const after = await app.reload();
    const failover = after!.headers()['x-served-by']!;
    assert.notEqual(failover, servedBy, 'served by another node');
    assert.match(await app.getByTestId('who').innerText(), /ada/);
    assert.deepEqual(await app.locator('[data-testid=cart] li').allInnerTexts(), ['apple', 'pear']);
    assert.equal(await app.getByTestId('node').innerText(), failover);

    // The killed node's partitions move to the survivors.
    await waitUntil(
      dashboard,
      (name) => {
        const cells = document.querySelectorAll('[data-testid="partition-map"] .cell');
        return (
          cells.length === 271 &&
          [...cells].every((c) => {
            const owner = (c as HTMLElement).dataset.owner;
            return owner !== '' && owner !== name;
          })
        );
      },
      servedBy,
    );

    await dashboard.getByTestId(`restart-${servedBy}`).click();
    await dashboard
      .locator(`[data-testid="member-${servedBy}"][data-state="alive"]`)
      .waitFor({ timeout: 20_000 });
    await visitors(demo.url, 12);
    await dashboard.mouse.move(0, 0); // no member row under the pointer: the whole map shows
    await dashboard.waitForTimeout(1500); // one more snapshot in the charts
    await dashboard.screenshot({ path: artifactPath('demo-dashboard.png'), fullPage: true });
    updateDocsScreenshot(artifactPath('demo-dashboard.png'));
    await context.close();
  });
});

/** Some traffic for the charts: `n` visitors sign in and fill a cart, a few at a time. */
async function visitors(url: string, n: number): Promise<void> {
  for (let i = 0; i < n; i += 4) {
    await Promise.all(
      Array.from({ length: Math.min(4, n - i) }, async (_, k) => {
        const login = await fetch(`${url}/login`, {
          method: 'POST',
          headers: {
            accept: 'application/json',
            'content-type': 'application/x-www-form-urlencoded',
          },
          body: `user=visitor${i + k}`,
        });
        const cookie = login.headers
          .getSetCookie()
          .map((c) => c.split(';')[0])
          .join('; ');
        await login.text();
        const cart = await fetch(`${url}/cart`, {
          method: 'POST',
          headers: {
            accept: 'application/json',
            cookie,
            'content-type': 'application/x-www-form-urlencoded',
          },
          body: 'item=tea',
        });
        await cart.text();
      }),
    );
    await new Promise((r) => setTimeout(r, 150));
  }
}

function waitUntil(page: Page, check: (arg: string) => boolean, arg: string): Promise<unknown> {
  return page.waitForFunction(check, arg, { timeout: 15_000 });
}
