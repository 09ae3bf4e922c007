// No false positives: `members` cluster members (child processes, TCP + SWIM with the default
// settings) run for `minutes`; every suspicion, death and refutation any member reports is
// counted. Issue 3's target: no member declared dead in a 10-minute run on an idle machine.
// Run: node --import tsx bench/membership-soak.ts [minutes=10] [members=5]
// Prints one line per event and a last line `soak <minutes> min, <n> members: <d> deaths,
// <s> suspicions`; exits 1 when a member was declared dead.

import { startCluster, type MemberProcess } from '../test/helpers/cluster-member-process.js';

const minutes = Number(process.argv[2] ?? 10);
const count = Number(process.argv[3] ?? 5);
let members: MemberProcess[] = [];
const stopAll = (): Promise<void[]> => Promise.all(members.map((m) => m.kill()));
process.on('SIGINT', () => void stopAll().then(() => process.exit(130)));

try {
  members = await startCluster(count);
  const started = Date.now();
  const seen = new Set<unknown>();
  let deaths = 0;
  let suspicions = 0;
  const tally = (): void => {
    for (const m of members) {
      for (const r of m.reports) {
        if (seen.has(r) || r.type !== 'event') continue;
        seen.add(r);
        if (r['event'] === 'member-dead') deaths++;
        else if (r['event'] === 'member-suspect') suspicions++;
        else continue;
        const at = ((r.at - started) / 1000).toFixed(1);
        console.log(`${at} s: ${m.name} reports ${String(r['event'])} ${String(r['member'])}`);
      }
    }
  };
  for (const m of members) for (const r of m.reports) seen.add(r); // the joins before the run
  while (Date.now() - started < minutes * 60_000) {
    await new Promise((r) => setTimeout(r, 1000));
    tally();
  }
  console.log(`soak ${minutes} min, ${count} members: ${deaths} deaths, ${suspicions} suspicions`);
  process.exitCode = deaths > 0 ? 1 : 0;
} finally {
  await stopAll();
}
