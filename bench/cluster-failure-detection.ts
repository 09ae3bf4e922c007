// Failure detection time: in a 3-member cluster of child processes, SIGKILL the third member
// 10 times (a fresh process each time) and measure kill -> declared dead by both survivors.
// Run: node --import tsx bench/cluster-failure-detection.ts [kills]

import { startMember, type MemberProcess } from '../test/helpers/cluster-member-process.js';

const kills = Number(process.argv[2] ?? 10);
const started: MemberProcess[] = [];
const stopAll = (): Promise<void[]> => Promise.all(started.map((m) => m.kill()));
process.on('SIGINT', () => void stopAll().then(() => process.exit(130)));

try {
  const m0 = await startMember('m0', []);
  const m1 = await startMember('m1', [m0.address]);
  started.push(m0, m1);
  const times: number[] = [];
  for (let i = 0; i < kills; i++) {
    const name = `victim${i}`;
    const victim = await startMember(name, [m0.address]);
    started.push(victim);
    await Promise.all(
      [m0, m1].map((m) =>
        m.waitFor(
          (r) => r['event'] === 'member-joined' && r['member'] === name,
          10_000,
          `${name} joined`,
        ),
      ),
    );
    // Let the cluster settle a few protocol periods so the victim is probed as in steady state.
    await new Promise((r) => setTimeout(r, 300));
    const killedAt = Date.now();
    await victim.kill();
    const dead = await Promise.all(
      [m0, m1].map((m) =>
        m.waitFor(
          (r) => r['event'] === 'member-dead' && r['member'] === name,
          10_000,
          `${name} dead`,
        ),
      ),
    );
    const ms = Math.max(...dead.map((r) => r.at)) - killedAt;
    times.push(ms);
    console.log(`kill ${i + 1}/${kills}: declared dead by both survivors after ${ms} ms`);
  }
  const sorted = [...times].sort((a, b) => a - b);
  const median =
    sorted.length % 2
      ? sorted[(sorted.length - 1) / 2]!
      : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
  console.log(`detection min ${sorted[0]} ms, max ${sorted[sorted.length - 1]} ms`);
  console.log(`detection median ${median} ms`);
} finally {
  await stopAll();
}
