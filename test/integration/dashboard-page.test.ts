// The dashboard in Chromium against a stand-in admin API: members and the partition map render
// from the first snapshot, timeline events appear live, the buttons send their POSTs, bad
// messages are ignored, and nothing is fetched from another origin. Saves a screenshot to
// test-artifacts/ (docs/dashboard.png comes from the demo's browser test).

import { it, after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { artifactPath, launchBrowser } from '../helpers/browser.js';
import { PARTITIONS, startFakeBackend, type FakeBackend } from '../helpers/dashboard-backend.js';

describe('dashboard page in Chromium', () => {
  let backend: FakeBackend;
  before(async () => {
    backend = await startFakeBackend([
      { name: 'node1', state: 'alive', sessions: 120, requests: 5000 },
      { name: 'node2', state: 'alive', sessions: 110, requests: 4800 },
      { name: 'node3', state: 'suspect', sessions: 95, requests: 4100 },
    ]);
  });
  after(() => backend.close());

  it('renders members, partitions and live events, and its buttons send the node controls', async (t) => {
    const browser = await launchBrowser(t);
    if (!browser) return;
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const requests: string[] = [];
    const errors: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.setDefaultTimeout(5000);

    await page.goto(`${backend.url}/_mesh/`);
    const node1 = page.getByTestId('member-node1');
    await node1.waitFor();
    assert.match(await node1.innerText(), /node1\s+alive\s+120/);
    assert.equal(await page.getByTestId('member-node3').getAttribute('data-state'), 'suspect');
    assert.equal(await page.getByTestId('sum-members').innerText(), '3 / 3');

    const cells = page.getByTestId('partition-map').locator('.cell');
    assert.equal(await cells.count(), PARTITIONS);
    const first = cells.first();
    assert.equal(await first.getAttribute('data-owner'), 'node1');
    assert.match((await first.getAttribute('title'))!, /owner: node1\nbackups: node2/);
    const swatch = node1.locator('.swatch');
    assert.equal(await cssBackground(first), await cssBackground(swatch), 'owner colour');

    // A member's death arrives as a timeline event and a new snapshot.
    backend.emit('timeline', { at: Date.now(), kind: 'dead', member: 'node3', detail: 'no ack' });
    await page
      .locator('[data-testid="timeline"] li[data-kind="dead"][data-member="node3"]')
      .waitFor();
    backend.members[2]!.state = 'stopped';
    await feedSnapshots(page, backend, 12);
    await page.locator('[data-testid="member-node3"][data-state="stopped"]').waitFor();
    assert.equal(await page.getByTestId('kill-node3').isDisabled(), true);
    const node3Cells = page.locator('[data-testid="partition-map"] .cell[data-owner="node3"]');
    assert.equal(await node3Cells.count(), 0, 'partitions moved');

    await page.getByTestId('kill-node2').click();
    await waitFor(() => backend.calls.includes('POST /_mesh/api/nodes/node2/kill'));
    await page.locator('[data-testid="notice"]', { hasText: 'kill node2: accepted' }).waitFor();
    await page.getByTestId('restart-node3').click();
    await page.getByTestId('add-node').click();
    await waitFor(() => backend.calls.includes('POST /_mesh/api/nodes'));
    assert.deepEqual(backend.calls, [
      'POST /_mesh/api/nodes/node2/kill',
      'POST /_mesh/api/nodes/node3/restart',
      'POST /_mesh/api/nodes',
    ]);

    backend.emit('timeline', { at: Date.now(), kind: 'restart', member: 'node3' });
    backend.members[2]!.state = 'starting';
    await feedSnapshots(page, backend, 4);
    await page.locator('[data-testid="member-node3"][data-state="starting"]').waitFor();
    await page.getByTestId('member-node2').hover(); // the map lights up node2's partitions
    const owned = await page.getByTestId('member-node2').locator('td').nth(3).innerText();
    const map = page.getByTestId('partition-map');
    assert.equal(await map.locator('.cell.owned[data-owner="node2"]').count(), Number(owned));
    assert.equal(await map.locator('.cell.owned').count(), Number(owned));
    await page.mouse.move(0, 0);
    await page.screenshot({ path: artifactPath('dashboard.png'), fullPage: true });

    assert.deepEqual(errors, []);
    const foreign = requests.filter((u) => !u.startsWith(`${backend.url}/`));
    assert.deepEqual(foreign, [], 'everything is self-served');
  });

  it('shows a refused control as an error and keeps the page', async (t) => {
    const browser = await launchBrowser(t);
    if (!browser) return;
    const page = await browser.newPage();
    page.setDefaultTimeout(5000);
    await page.goto(`${backend.url}/_mesh/`);
    await page.getByTestId('member-node1').waitFor();
    const ghost = { ...backend.snapshot() } as { members: Record<string, unknown>[] };
    ghost.members = [...ghost.members, { name: 'ghost', state: 'alive', sessions: 0, requests: 0 }];
    backend.emit('snapshot', ghost);
    await page.getByTestId('kill-ghost').click();
    await page
      .locator('[data-testid="notice"].error', { hasText: 'no node named ghost' })
      .waitFor();
  });

  it('ignores malformed messages and keeps rendering the good ones', async (t) => {
    const browser = await launchBrowser(t);
    if (!browser) return;
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.setDefaultTimeout(5000);
    await page.goto(`${backend.url}/_mesh/`);
    await page.getByTestId('member-node1').waitFor();
    const before = Number(await page.locator('body').getAttribute('data-snapshots'));
    for (const bad of ['not json', '{"members": 5}', 'null', '{"members":[{"name":1}]}'])
      backend.emit('snapshot', bad);
    backend.emit('timeline', '{"kind": 3}');
    backend.emit('timeline', { at: Date.now(), kind: '<b>x</b>', member: '<img src=x>' });
    backend.emit('snapshot', backend.snapshot());
    await waitForSnapshots(page, before + 1);
    await page.getByTestId('member-node1').waitFor();
    const odd = page.locator('[data-testid="timeline"] li').first();
    assert.equal(await odd.locator('img').count(), 0, 'text is never parsed as markup');
    assert.match(await odd.innerText(), /<img src=x>/);
    assert.deepEqual(errors, []);
  });

  it('reconnects after the stream drops, without repeating the replayed history', async (t) => {
    const browser = await launchBrowser(t);
    if (!browser) return;
    const page = await browser.newPage();
    page.setDefaultTimeout(5000);
    await page.goto(`${backend.url}/_mesh/`);
    const joins = page.locator('[data-testid="timeline"] li[data-kind="join"]');
    await joins.first().waitFor();
    assert.equal(await joins.count(), 1);
    const before = Number(await page.locator('body').getAttribute('data-snapshots'));
    backend.dropStreams();
    await page.waitForFunction(() => Number(document.body.dataset.disconnects) >= 1);
    await waitForSnapshots(page, before + 1); // the new stream's first snapshot
    await page.locator('[data-testid="connection"]', { hasText: 'live' }).waitFor();
    assert.equal(await joins.count(), 1, 'the replayed join is shown once');
  });
});

async function feedSnapshots(page: Page, backend: FakeBackend, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    for (const m of backend.members) {
      if (m.state === 'stopped') continue;
      m.requests += 20 + ((i * 7 + m.name.length * 13) % 30);
      m.sessions += i % 3 === 0 ? 2 : 0;
    }
    const before = Number(await page.locator('body').getAttribute('data-snapshots'));
    backend.emit('snapshot', backend.snapshot());
    await waitForSnapshots(page, before + 1);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function waitForSnapshots(page: Page, count: number): Promise<unknown> {
  return page.waitForFunction((n) => Number(document.body.dataset.snapshots) >= n, count);
}

async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not true within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function cssBackground(locator: ReturnType<Page['locator']>): Promise<string> {
  return locator.evaluate((node) => getComputedStyle(node).backgroundColor);
}
