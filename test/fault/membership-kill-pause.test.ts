// Members as real processes on loopback: a SIGKILLed member is declared dead within 2 s; a
// SIGSTOPped one is declared dead, then rejoins with a higher incarnation after SIGCONT; garbage
// and a 1 GB length prefix on a member's port do not hurt it. Every process is SIGKILLed after.

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { lastView, startCluster, type MemberProcess } from '../helpers/cluster-member-process.js';

describe('membership with real processes', { timeout: 60_000 }, () => {
  const started: MemberProcess[] = [];
  after(async () => {
    await Promise.all(started.map((m) => m.kill()));
  });

  it('garbage and a 1 GB length prefix on a member port do not crash it or disturb the cluster', async () => {
    const cluster = await startCluster(3);
    started.push(...cluster);
    const target = cluster[0]!;
    const [host, port] = target.address.split(':') as [string, string];
    for (const payload of [randomBytes(256 * 1024), Buffer.from([0x40, 0, 0, 0])]) {
      const socket = connect({ host, port: Number(port) });
      socket.on('error', () => {});
      socket.write(payload);
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        setTimeout(() => {
          socket.destroy();
          resolve();
        }, 2000);
      });
    }
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(target.child.exitCode, null, 'still running');
    for (const m of cluster) {
      assert.ok(
        !m.reports.some((r) => r.type === 'event' && r['event'] === 'member-dead'),
        `${m.name} saw no death`,
      );
      assert.deepEqual(lastView(m)?.members, ['m0', 'm1', 'm2']);
    }
    await Promise.all(cluster.map((m) => m.kill()));
  });

  it('a SIGKILLed member is declared dead by the others within 2 s', async () => {
    const cluster = await startCluster(3);
    started.push(...cluster);
    const [m0, m1, victim] = cluster as [MemberProcess, MemberProcess, MemberProcess];
    const killedAt = Date.now();
    await victim.kill();
    const seen = await Promise.all(
      [m0, m1].map((m) =>
        m.waitFor(
          (r) => r['event'] === 'member-dead' && r['member'] === victim.name,
          5000,
          'member-dead m2',
        ),
      ),
    );
    const detection = Math.max(...seen.map((r) => r.at)) - killedAt;
    console.log(
      `SIGKILL detection time: ${detection} ms (m0 ${seen[0]!.at - killedAt} ms, m1 ${seen[1]!.at - killedAt} ms)`,
    );
    assert.ok(detection < 2000, `declared dead after ${detection} ms`);
    // The view line may follow the event line on the child's stdout: wait for it.
    const withoutVictim = (r: Record<string, unknown>) =>
      r.type === 'view' &&
      (r['at'] as number) >= killedAt &&
      !(r['members'] as string[]).includes(victim.name);
    await Promise.all([m0, m1].map((m) => m.waitFor(withoutVictim, 2000, 'view without m2')));
    assert.deepEqual(lastView(m0)?.members, ['m0', 'm1']);
    assert.equal(lastView(m0)?.digest, lastView(m1)?.digest);
    await Promise.all(cluster.map((m) => m.kill()));
  });

  it('a member SIGSTOPped for 5 s is declared dead, then rejoins with a higher incarnation and views converge', async () => {
    const cluster = await startCluster(3);
    started.push(...cluster);
    const [m0, m1, paused] = cluster as [MemberProcess, MemberProcess, MemberProcess];
    const stoppedAt = Date.now();
    paused.child.kill('SIGSTOP');
    const dead = await Promise.all(
      [m0, m1].map((m) =>
        m.waitFor(
          (r) => r['event'] === 'member-dead' && r['member'] === 'm2',
          5000,
          'member-dead m2',
        ),
      ),
    );
    console.log(`SIGSTOP detection time: ${Math.max(...dead.map((r) => r.at)) - stoppedAt} ms`);
    await new Promise((r) => setTimeout(r, Math.max(0, 5000 - (Date.now() - stoppedAt))));
    const resumedAt = Date.now();
    paused.child.kill('SIGCONT');
    const back = await Promise.all(
      [m0, m1].map((m) =>
        m.waitFor(
          (r) => r.at >= resumedAt && r['event'] === 'member-joined' && r['member'] === 'm2',
          5000,
          'member-joined m2 after SIGCONT',
        ),
      ),
    );
    console.log(
      `rejoin after SIGCONT: ${Math.max(...back.map((r) => r.at)) - resumedAt} ms, incarnation ${String(back[0]!['incarnation'])}`,
    );
    assert.ok(
      back.every((r) => (r['incarnation'] as number) > 0),
      'rejoined with a higher incarnation',
    );
    // Views converge: all three see all three, with one digest.
    const deadline = Date.now() + 5000;
    const agreed = (): boolean =>
      cluster.every((m) => lastView(m)?.members.join() === 'm0,m1,m2') &&
      new Set(cluster.map((m) => lastView(m)?.digest)).size === 1;
    while (!agreed() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(agreed(), `views: ${JSON.stringify(cluster.map((m) => lastView(m)))}`);
    // The paused member did not declare the others dead when it woke up (pause guard).
    assert.ok(
      !paused.reports.some((r) => r['event'] === 'member-dead'),
      'no false death after the pause',
    );
    await Promise.all(cluster.map((m) => m.kill()));
  });
});
