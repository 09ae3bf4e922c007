// The embedded cluster with real processes on loopback (issue 3, tests 1-4): every member is a
// child process (test/helpers/cluster-data-node.ts) with the TCP transport and SWIM membership; a
// client writes increasing counter values into 500 sessions through random members and records
// every acknowledged value; after the fault, every session must hold at least that value.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  findLosses,
  killAll,
  LoadDriver,
  localCopies,
  startNode,
  startNodes,
  status,
  waitConverged,
  type DataNode,
} from '../helpers/cluster-data-process.js';

const SESSIONS = 500;
const CONCURRENCY = 16;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

after(killAll);

async function checkNothingLost(
  t: { diagnostic(m: string): void },
  reader: DataNode,
  nodes: DataNode[],
  load: LoadDriver,
): Promise<void> {
  const lost = await findLosses(reader, load.sessions);
  t.diagnostic(`load: ${JSON.stringify(load.stats)}`);
  assert.ok(load.stats.acked > SESSIONS, `too few writes acknowledged: ${load.stats.acked}`);
  // On a loss: the session's last writes (member, stamp) and every member's own copy.
  for (const loss of lost.slice(0, 3)) {
    t.diagnostic(
      `lost: ${JSON.stringify(loss)} copies: ${JSON.stringify(await localCopies(nodes, loss.id))}`,
    );
  }
  assert.deepEqual(
    lost.slice(0, 5).map(({ id, acked, value }) => ({ id, acked, value })),
    [],
    `${lost.length} sessions lost acknowledged writes`,
  );
}

describe('a 3-member cluster of processes', { timeout: 240_000 }, () => {
  it('loses no acknowledged write when a member is killed with SIGKILL under load', async (t) => {
    const nodes = await startNodes(3);
    let targets = nodes;
    const load = new LoadDriver(SESSIONS, CONCURRENCY, () => targets);
    await sleep(2000);
    const [m0, m1, victim] = nodes as [DataNode, DataNode, DataNode];
    const before = { ...load.stats, byKind: { ...load.stats.byKind } };
    const killedAt = Date.now();
    await victim.kill();
    targets = [m0, m1];
    const dead = await Promise.all(
      [m0, m1].map((n) =>
        n.waitFor(
          (r) => r.type === 'event' && r['event'] === 'member-dead' && r['member'] === victim.name,
          10_000,
          'member-dead',
        ),
      ),
    );
    await sleep(3000);
    await load.stop();
    t.diagnostic(
      `detected dead after ${dead.map((r) => r.at - killedAt).join(' / ')} ms; errors during failover: ${load.stats.errors - before.errors} (${JSON.stringify(load.stats.byKind)})`,
    );
    await waitConverged([m0, m1]);
    await checkNothingLost(t, m0, [m0, m1], load);
    await Promise.all(nodes.map((n) => n.kill()));
  });

  it('loses nothing when a member is paused 5 s with SIGSTOP, declared dead, and rejoins', async (t) => {
    const nodes = await startNodes(3);
    let targets = nodes;
    const load = new LoadDriver(SESSIONS, CONCURRENCY, () => targets);
    await sleep(1500);
    const [m0, m1, paused] = nodes as [DataNode, DataNode, DataNode];
    targets = [m0, m1];
    const stoppedAt = Date.now();
    paused.child.kill('SIGSTOP');
    const dead = await m0.waitFor(
      (r) => r.type === 'event' && r['event'] === 'member-dead' && r['member'] === paused.name,
      10_000,
      'member-dead',
    );
    await sleep(Math.max(0, stoppedAt + 5000 - Date.now()));
    paused.child.kill('SIGCONT');
    const resumedAt = Date.now();
    await waitConverged(nodes, 20_000);
    t.diagnostic(
      `declared dead after ${dead.at - stoppedAt} ms; converged again ${Date.now() - resumedAt} ms after SIGCONT`,
    );
    targets = nodes;
    await sleep(1500);
    await load.stop();
    await waitConverged(nodes);
    await checkNothingLost(t, m0, nodes, load);
    await Promise.all(nodes.map((n) => n.kill()));
  });

  for (const backups of [0, 1]) {
    it(`loses nothing in a rolling restart with SIGTERM under load (backups: ${backups})`, async (t) => {
      const env = { SM_BACKUPS: String(backups) };
      let nodes = await startNodes(3, env);
      const load = new LoadDriver(SESSIONS, CONCURRENCY, () => nodes);
      await sleep(1500);
      for (const name of ['m0', 'm1', 'm2']) {
        const old = nodes.find((n) => n.name === name)!;
        nodes = nodes.filter((n) => n !== old);
        const started = Date.now();
        await old.terminate();
        const closed = old.reports.find((r) => r.type === 'closed');
        t.diagnostic(
          `${name}: hand-off and exit in ${Date.now() - started} ms (close ${String(closed?.['ms'])} ms)`,
        );
        assert.ok(closed, `${name} did not close cleanly`);
        const fresh = await startNode(name, [nodes[0]!.address], env);
        nodes = [...nodes, fresh];
        await waitConverged(nodes);
        await sleep(500);
      }
      await load.stop();
      await waitConverged(nodes);
      await checkNothingLost(t, nodes[0]!, nodes, load);
      await Promise.all(nodes.map((n) => n.kill()));
    });
  }

  it('scales out from 3 to 5 under load: partitions migrate, nothing lost, owners balanced', async (t) => {
    let nodes = await startNodes(3);
    const load = new LoadDriver(SESSIONS, CONCURRENCY, () => nodes);
    await sleep(1500);
    const started = Date.now();
    const added = await Promise.all(['m3', 'm4'].map((n) => startNode(n, [nodes[0]!.address])));
    nodes = [...nodes, ...added];
    await waitConverged(nodes);
    t.diagnostic(`3 -> 5 converged (views, pulls and pushes done) in ${Date.now() - started} ms`);
    await sleep(1000);
    await load.stop();
    await checkNothingLost(t, nodes[4]!, nodes, load);
    const owned = await Promise.all(nodes.map(async (n) => (await status(n)).owned));
    t.diagnostic(`partitions owned: ${owned.join(', ')}`);
    for (const count of owned)
      assert.ok(Math.abs(count - 271 / 5) <= (271 / 5) * 0.2, `owned ${count}`);
    await Promise.all(nodes.map((n) => n.kill()));
  });
});
