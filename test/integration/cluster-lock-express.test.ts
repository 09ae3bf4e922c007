// lock: 'cluster' through Express (issue 3): three cluster members in this process on the
// in-memory network, each with its own Express app on a real HTTP port and a ClusterStore;
// concurrent read-modify-write requests of one session spread over the three count every
// increment. Without the lock some are lost (reported as a diagnostic, not asserted).

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import express from 'express';
import { ClusterStore } from '../../src/cluster/cluster-store.js';
import type { LockOptions } from '../../src/cluster/session-lock.js';
import { session } from '../../src/http/express.js';
import { SimCluster } from '../helpers/cluster-node.js';
import { listen, SECRET } from '../helpers/http-client.js';

const REQUESTS = 50;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Three members, each serving the same app; returns their base URLs. */
async function members(lock: 'none' | 'cluster', lockOptions?: LockOptions) {
  const sim = new SimCluster({ operationTimeoutMs: 5000, requestTimeoutMs: 300 });
  after(() => sim.close());
  const list = await sim.add('a', 'b', 'c');
  await sim.whenReady();
  const stores = list.map((m) => new ClusterStore(m.map, lockOptions ? { lock: lockOptions } : {}));
  const bases: string[] = [];
  for (const store of stores) {
    const app = express();
    app.use(session({ secret: SECRET, store, lock, logger: { error() {}, warn() {} } }));
    app.get('/inc', async (req, res) => {
      const n = (req.session.n as number | undefined) ?? 0;
      await sleep(1 + Math.floor(Math.random() * 4)); // the app's work between read and write
      req.session.n = n + 1;
      res.json({ n: req.session.n });
    });
    app.get('/peek', (req, res) => res.json({ n: req.session.n ?? null, id: req.sessionID }));
    const { base, close } = await listen(createServer(app));
    after(close);
    bases.push(base);
  }
  return { bases, stores };
}

async function get(base: string, path: string, cookie?: string) {
  const res = await fetch(`${base}${path}`, {
    headers: cookie ? { cookie } : {},
    signal: AbortSignal.timeout(30_000),
  });
  const setCookie = res.headers.getSetCookie()[0];
  return { status: res.status, body: await res.text(), setCookie };
}

/** One session, then REQUESTS concurrent increments round-robin over the members; the final n. */
async function run(bases: string[]): Promise<number> {
  const first = await get(bases[0]!, '/inc');
  assert.equal(first.status, 200);
  const cookie = first.setCookie!.split(';')[0]!;
  const replies = await Promise.all(
    Array.from({ length: REQUESTS }, (_, i) => get(bases[i % bases.length]!, '/inc', cookie)),
  );
  for (const reply of replies) assert.equal(reply.status, 200, reply.body);
  const peek = await get(bases[1]!, '/peek', cookie);
  return (JSON.parse(peek.body) as { n: number }).n;
}

describe("lock: 'cluster' with Express on three members", () => {
  it('counts every increment of concurrent read-modify-write requests spread over the members', async () => {
    // A generous wait: the last of 50 serialized requests on a loaded machine must not time out.
    const { bases } = await members('cluster', { waitMs: 30_000 });
    assert.equal(await run(bases), REQUESTS + 1);
  });

  it("loses increments without the lock (a diagnostic: what lock: 'cluster' is for)", async (t) => {
    const { bases } = await members('none');
    const n = await run(bases);
    t.diagnostic(`lock 'none': ${n} of ${REQUESTS + 1} increments kept`);
  });

  it('answers 503 when the lock is not granted within its wait', async () => {
    const { bases, stores } = await members('cluster', { waitMs: 1000 });
    const first = await get(bases[0]!, '/inc');
    const cookie = first.setCookie!.split(';')[0]!;
    const { id } = JSON.parse((await get(bases[0]!, '/peek', cookie)).body) as { id: string };
    const release = await stores[2]!.lock(id, { leaseMs: 5000 });
    try {
      assert.equal((await get(bases[1]!, '/inc', cookie)).status, 503);
    } finally {
      release();
    }
    assert.equal((await get(bases[1]!, '/inc', cookie)).status, 200);
  });

  it('refuses lock: cluster with a store that has no lock', () => {
    assert.throws(() => session({ secret: SECRET, lock: 'cluster' }), {
      code: 'SM_ERR_OPTION_INVALID',
    });
  });
});
