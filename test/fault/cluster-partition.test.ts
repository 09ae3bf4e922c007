// Issue 3, test 5: a network partition between processes. Three members dial each other through
// per-link TCP proxies (test/helpers/cluster-link-proxy.ts); the links between m2 and the others
// are cut for 5 s while a client writes through all three (both sides acknowledge writes), then
// healed: the views converge and every session holds at least its last acknowledged value, read
// on either side — the CRDT merge rule across a healed split brain.

import { after, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  findLosses,
  killAll,
  LoadDriver,
  startNode,
  waitConverged,
  type DataNode,
} from '../helpers/cluster-data-process.js';
import { LinkProxy } from '../helpers/cluster-link-proxy.js';

const NAMES = ['m0', 'm1', 'm2'] as const;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const proxies: LinkProxy[] = [];
after(async () => {
  await killAll();
  await Promise.all(proxies.map((p) => p.close()));
});

it(
  'merges both sides of a 2|1 partition of processes on heal: nothing acknowledged is lost',
  { timeout: 90_000 },
  async (t) => {
    // link[from][to]: the proxy `from` dials `to` through.
    const link: Record<string, Record<string, LinkProxy>> = {};
    for (const from of NAMES) {
      link[from] = {};
      for (const to of NAMES) {
        if (to === from) continue;
        const proxy = await LinkProxy.start();
        proxies.push(proxy);
        link[from]![to] = proxy;
      }
    }
    const envOf = (name: string) => ({
      SM_LINKS: JSON.stringify(
        Object.fromEntries(Object.entries(link[name]!).map(([to, p]) => [to, p.address])),
      ),
    });
    const nodes: DataNode[] = [];
    for (const name of NAMES) {
      const seeds = name === 'm0' ? [] : [link[name]!['m0']!.address];
      const node = await startNode(name, seeds, envOf(name));
      for (const from of NAMES) if (from !== name) link[from]![name]!.setTarget(node.address);
      nodes.push(node);
    }
    await waitConverged(nodes, 20_000);
    const [m0, m1, m2] = nodes as [DataNode, DataNode, DataNode];

    const load = new LoadDriver(300, 12, () => nodes);
    await sleep(1500);
    const cuts = [link['m2']!['m0']!, link['m2']!['m1']!, link['m0']!['m2']!, link['m1']!['m2']!];
    const atCut = { ...load.stats.ackedBy };
    for (const proxy of cuts) proxy.cut();
    const dead = await m0.waitFor(
      (r) => r.type === 'event' && r['event'] === 'member-dead' && r['member'] === 'm2',
      10_000,
      'm2 declared dead by m0',
    );
    await m2.waitFor(
      (r) => r.type === 'view' && (r['members'] as string[]).join() === 'm2',
      10_000,
      'm2 alone in its view',
    );
    await sleep(Math.max(0, dead.at + 5000 - Date.now()));
    const atHeal = { ...load.stats.ackedBy };
    for (const proxy of cuts) proxy.heal();
    const healedAt = Date.now();
    await waitConverged(nodes, 30_000);
    const convergedMs = Date.now() - healedAt;
    await sleep(1000);
    await load.stop();
    await waitConverged(nodes, 20_000);

    const during = (name: string): number => (atHeal[name] ?? 0) - (atCut[name] ?? 0);
    t.diagnostic(
      `acknowledged during the split: m0 ${during('m0')}, m1 ${during('m1')}, m2 ${during('m2')}; converged ${convergedMs} ms after the heal; load ${JSON.stringify(load.stats)}`,
    );
    assert.ok(during('m2') > 0, 'the minority side acknowledged no write');
    assert.ok(during('m0') + during('m1') > 0, 'the majority side acknowledged no write');
    for (const reader of [m1, m2]) {
      const lost = await findLosses(reader, load.sessions);
      assert.deepEqual(
        lost.slice(0, 5),
        [],
        `${lost.length} sessions lost acknowledged writes (read on ${reader.name})`,
      );
    }
    await Promise.all(nodes.map((n) => n.kill()));
  },
);
