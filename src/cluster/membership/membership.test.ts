// SWIM membership on the in-memory network: join, failure detection, refutation, leave,
// partitions that heal, and no false positives on a lossy network.

import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { createMemoryNetwork, type MemoryNetwork } from '../transport/memory-network.js';
import type { MemoryTransport } from '../transport/memory-transport.js';
import { createMembership, type Membership, type MembershipOptions } from './membership.js';

interface Node {
  name: string;
  transport: MemoryTransport;
  membership: Membership;
  events: string[];
}

let nodes: Node[] = [];
afterEach(async () => {
  for (const n of nodes) {
    n.membership.close();
    await n.transport.close();
  }
  nodes = [];
});

async function startNode(
  net: MemoryNetwork,
  name: string,
  seeds: string[],
  extra: Partial<MembershipOptions> = {},
): Promise<Node> {
  const transport = net.createTransport({ name, address: name });
  const membership = createMembership({ transport, seeds, ...extra });
  const events: string[] = [];
  for (const e of [
    'member-joined',
    'member-suspect',
    'member-alive',
    'member-dead',
    'member-left',
  ] as const) {
    membership.on(e, (m) => events.push(`${e}:${m.name}`));
  }
  const node = { name, transport, membership, events };
  nodes.push(node);
  await membership.start();
  return node;
}

async function startCluster(
  net: MemoryNetwork,
  count: number,
  extra: Partial<MembershipOptions> = {},
) {
  const out: Node[] = [];
  for (let i = 0; i < count; i++) out.push(await startNode(net, `m${i}`, ['m0'], extra));
  return out;
}

function liveNames(n: Node): string[] {
  return n.membership.view().members.map((m) => m.name);
}

async function until(what: string, check: () => boolean, withinMs: number): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > withinMs) assert.fail(`not within ${withinMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - started;
}

function converged(group: Node[], names: string[]): boolean {
  const digests = new Set(group.map((n) => n.membership.view().digest));
  return digests.size === 1 && group.every((n) => liveNames(n).join() === names.join());
}

describe('SWIM membership (in-memory network)', () => {
  it('members that join through a seed converge on one view', async () => {
    const net = createMemoryNetwork({ seed: 1 });
    const cluster = await startCluster(net, 4);
    await until('views converge', () => converged(cluster, ['m0', 'm1', 'm2', 'm3']), 3000);
    assert.ok(cluster.every((n) => n.membership.view().viewId >= 2));
  });

  it('a crashed member is declared dead by every other within 2 s', async () => {
    const net = createMemoryNetwork({ seed: 2 });
    const cluster = await startCluster(net, 4);
    await until('converge', () => converged(cluster, ['m0', 'm1', 'm2', 'm3']), 3000);
    const victim = cluster[2]!;
    victim.membership.close();
    await victim.transport.close();
    const survivors = cluster.filter((n) => n !== victim);
    const ms = await until('dead everywhere', () => converged(survivors, ['m0', 'm1', 'm3']), 2000);
    assert.ok(survivors.every((n) => n.events.includes('member-dead:m2')));
    assert.ok(
      survivors.some((n) => n.events.includes('member-suspect:m2')),
      'suspected before dead',
    );
    console.log(`in-memory crash detection: ${ms} ms`);
  });

  it('a silent member (all its messages dropped) is suspected, then dead', async () => {
    const net = createMemoryNetwork({ seed: 3 });
    const cluster = await startCluster(net, 3);
    await until('converge', () => converged(cluster, ['m0', 'm1', 'm2']), 3000);
    net.partition(['m0', 'm1'], ['m2']);
    await until('m2 dead on m0 and m1', () => converged(cluster.slice(0, 2), ['m0', 'm1']), 2500);
  });

  it('a suspected member that comes back in time refutes with a higher incarnation and is never dead', async () => {
    const net = createMemoryNetwork({ seed: 4 });
    const cluster = await startCluster(net, 3, { suspicionMinMs: 1500, suspicionMaxMs: 1500 });
    await until('converge', () => converged(cluster, ['m0', 'm1', 'm2']), 3000);
    const before = cluster[2]!.membership.self.incarnation;
    net.partition(['m0', 'm1'], ['m2']);
    await until(
      'm2 suspected',
      () =>
        cluster[0]!.events.includes('member-suspect:m2') ||
        cluster[1]!.events.includes('member-suspect:m2'),
      2000,
    );
    net.heal();
    await until(
      'm2 alive again',
      () =>
        cluster
          .slice(0, 2)
          .every((n) => n.membership.members().find((m) => m.name === 'm2')?.state === 'alive'),
      1500,
    );
    assert.ok(cluster[2]!.membership.self.incarnation > before, 'incarnation raised');
    assert.ok(!cluster.some((n) => n.events.includes('member-dead:m2')));
    assert.ok(cluster.some((n) => n.events.includes('member-alive:m2')));
  });

  it('a member that leaves is dropped at once by the others, without suspicion', async () => {
    const net = createMemoryNetwork({ seed: 5 });
    const cluster = await startCluster(net, 3);
    await until('converge', () => converged(cluster, ['m0', 'm1', 'm2']), 3000);
    await cluster[1]!.membership.leave();
    const others = [cluster[0]!, cluster[2]!];
    const ms = await until('left everywhere', () => converged(others, ['m0', 'm2']), 1000);
    assert.ok(ms < 500, `took ${ms} ms`);
    assert.ok(
      others.every(
        (n) => n.events.includes('member-left:m1') && !n.events.includes('member-suspect:m1'),
      ),
    );
  });

  it('forgets dead and left members after their retention, and no one teaches them back', async () => {
    const net = createMemoryNetwork({ seed: 9 });
    const retention = { deadRetentionMs: 1500, leftRetentionMs: 300, reconnectIntervalMs: 100 };
    const cluster = await startCluster(net, 4, retention);
    await until('converge', () => converged(cluster, ['m0', 'm1', 'm2', 'm3']), 3000);
    const known = (n: Node): string[] =>
      n.membership
        .members()
        .map((m) => m.name)
        .sort();
    await cluster[3]!.membership.leave();
    const crashed = cluster[2]!;
    crashed.membership.close();
    await crashed.transport.close();
    const survivors = cluster.slice(0, 2);
    await until('m2 dead, m3 left', () => converged(survivors, ['m0', 'm1']), 2500);
    // The one that left goes first; the dead one is kept (heal syncs try it) until its retention.
    await until('m3 forgotten', () => survivors.every((n) => !known(n).includes('m3')), 1500);
    assert.ok(
      survivors.every((n) => known(n).includes('m2')),
      'm2 is remembered for a while',
    );
    await until('m2 forgotten', () => survivors.every((n) => known(n).join() === 'm0,m1'), 3000);
    // A member joining later learns of neither, and gossip or syncs do not bring them back.
    survivors.push(await startNode(net, 'm4', ['m0'], retention));
    await until('m4 joined', () => converged(survivors, ['m0', 'm1', 'm4']), 3000);
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(
      survivors.map((n) => known(n).join()),
      ['m0,m1,m4', 'm0,m1,m4', 'm0,m1,m4'],
    );
    assert.ok(survivors[0]!.membership.stats().forgotten >= 2);
  });

  it('after a 2|1 partition heals, both sides take each other back and views converge', async () => {
    const net = createMemoryNetwork({ seed: 6 });
    const cluster = await startCluster(net, 3);
    await until('converge', () => converged(cluster, ['m0', 'm1', 'm2']), 3000);
    net.partition(['m0', 'm1'], ['m2']);
    await until(
      'sides split',
      () => converged(cluster.slice(0, 2), ['m0', 'm1']) && converged([cluster[2]!], ['m2']),
      4000,
    );
    net.heal();
    await until('views converge after heal', () => converged(cluster, ['m0', 'm1', 'm2']), 5000);
  });

  it('a member that holds no data is a member but does not change the data view', async () => {
    const net = createMemoryNetwork({ seed: 7 });
    const cluster = await startCluster(net, 2);
    await until('converge', () => converged(cluster, ['m0', 'm1']), 3000);
    const digest = cluster[0]!.membership.view().digest;
    const viewId = cluster[0]!.membership.view().viewId;
    const proxy = await startNode(net, 'proxy', ['m0'], { data: false });
    await until(
      'proxy known',
      () => liveNames(cluster[0]!).includes('proxy') && liveNames(cluster[1]!).includes('proxy'),
      3000,
    );
    assert.equal(cluster[0]!.membership.view().digest, digest);
    assert.equal(cluster[0]!.membership.view().viewId, viewId);
    assert.equal(proxy.membership.view().digest, digest, 'the proxy computes the same data view');
  });

  it('a restarted member under the same name rejoins with a higher incarnation', async () => {
    const net = createMemoryNetwork({ seed: 8 });
    const cluster = await startCluster(net, 3);
    await until('converge', () => converged(cluster, ['m0', 'm1', 'm2']), 3000);
    cluster[2]!.membership.close();
    await cluster[2]!.transport.close();
    nodes = nodes.filter((n) => n !== cluster[2]);
    await until('dead', () => converged(cluster.slice(0, 2), ['m0', 'm1']), 2500);
    const reborn = await startNode(net, 'm2', ['m0']);
    await until(
      'rejoined',
      () => converged([cluster[0]!, cluster[1]!, reborn], ['m0', 'm1', 'm2']),
      3000,
    );
    assert.ok(reborn.membership.self.incarnation > 0);
  });

  it('no member is declared dead on a network that drops 5% of messages', async () => {
    const net = createMemoryNetwork({ seed: 9 });
    const cluster = await startCluster(net, 5);
    await until('converge', () => converged(cluster, ['m0', 'm1', 'm2', 'm3', 'm4']), 3000);
    net.setDropRate(0.05);
    await new Promise((r) => setTimeout(r, 3000));
    const deaths = cluster.flatMap((n) => n.events.filter((e) => e.startsWith('member-dead')));
    assert.deepEqual(deaths, [], `seed ${net.seed}`);
  });

  it('refuses bad options by name', () => {
    const net = createMemoryNetwork();
    const transport = net.createTransport({ name: 'x', address: 'x' });
    assert.throws(() => createMembership({ transport, probeIntervalMs: 0 }), {
      code: 'SM_ERR_OPTION_INVALID',
    });
    assert.throws(
      () => createMembership({ transport, suspicionMinMs: 2000, suspicionMaxMs: 1000 }),
      {
        code: 'SM_ERR_OPTION_INVALID',
      },
    );
  });
});
