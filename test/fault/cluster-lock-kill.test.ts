// lock: 'cluster' with real processes (issue 3): three members (test/helpers/cluster-lock-app-node.ts),
// each an Express app whose route reads a session's counter, waits, and writes it plus one under
// the cluster-wide lock. Concurrent clients increment one session through the two members that do
// not own it while the owner is killed with SIGKILL: every request ends with a 200 or a 503, and
// the counter equals the number of 200s (the lease is exclusive; sync backups keep each write).

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  killAll,
  lockAppScript,
  startNodes,
  type DataNode,
} from '../helpers/cluster-data-process.js';

const CLIENTS = 12;
const BEFORE_KILL_MS = 2500;
/** Failure detection (about 2 s) + the new owner's grace period (lockMaxLeaseMs, 5 s) + room. */
const AFTER_KILL_MS = 12_000;
/** Above the lock's wait (10 s) plus a load and a commit: a request still open past it hangs. */
const REQUEST_TIMEOUT_MS = 25_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

after(killAll);

interface Outcome {
  via: string;
  sentAt: number;
  endedAt: number;
  /** The HTTP status, or the name of the error that ended the request (a timeout: a hang). */
  status: number | string;
  /** For a 200: the value written, and when the route ran (the lock held). */
  n?: number;
  handledAt?: number;
}

async function inc(node: DataNode, cookie: string | undefined): Promise<Outcome> {
  const sentAt = Date.now();
  try {
    const res = await fetch(`${node.http}/inc`, {
      headers: cookie ? { cookie } : {},
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await res.text();
    const outcome: Outcome = { via: node.name, sentAt, endedAt: Date.now(), status: res.status };
    if (res.status === 200) {
      const body = JSON.parse(text) as { n: number; handledAt: number };
      outcome.n = body.n;
      outcome.handledAt = body.handledAt;
    }
    return outcome;
  } catch (err) {
    return { via: node.name, sentAt, endedAt: Date.now(), status: (err as Error).name };
  }
}

async function json<T>(url: string, cookie?: string): Promise<T> {
  const res = await fetch(url, {
    headers: cookie ? { cookie } : {},
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  assert.equal(res.status, 200, `${url}: ${res.status}`);
  return (await res.json()) as T;
}

/** The longest stretch after `killedAt` without a request holding the lock, and when it ended. */
function lockGap(outcomes: Outcome[], killedAt: number): { resumedAt: number; gapMs: number } {
  const times = outcomes
    .flatMap((o) => (o.handledAt === undefined ? [] : [o.handledAt]))
    .sort((a, b) => a - b);
  let previous = Math.max(killedAt, ...times.filter((t) => t <= killedAt));
  let best = { resumedAt: NaN, gapMs: -1 };
  for (const t of times.filter((t) => t > killedAt)) {
    if (t - previous > best.gapMs) best = { resumedAt: t, gapMs: t - previous };
    previous = t;
  }
  return best;
}

describe("lock: 'cluster' with a 3-member cluster of processes", { timeout: 80_000 }, () => {
  it('counts every acknowledged increment when the owner of the session is killed with SIGKILL', async (t) => {
    const nodes = await startNodes(3, {}, lockAppScript);
    // The session: created through m1 (key affinity makes its id one that m1 owns).
    const created = await fetch(`${nodes[1]!.http}/inc`, {
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    assert.equal(created.status, 200);
    const cookie = created.headers.getSetCookie()[0]!.split(';')[0]!;
    const { id, n: initial } = (await created.json()) as { id: string; n: number };
    assert.equal(initial, 1);
    const owners = await Promise.all(
      nodes.map(async (n) => (await json<{ owner: string }>(`${n.http}/owner?id=${id}`)).owner),
    );
    assert.equal(new Set(owners).size, 1, `the members disagree on the owner: ${owners.join()}`);
    const owner = nodes.find((n) => n.name === owners[0])!;
    const survivors = nodes.filter((n) => n !== owner);
    t.diagnostic(`session owned by ${owner.name}; clients go to ${survivors.map((n) => n.name)}`);

    // The creating request is the first acknowledged increment.
    const outcomes: Outcome[] = [{ via: 'm1', sentAt: 0, endedAt: 0, status: 200, n: 1 }];
    const startedAt = Date.now();
    let stopAt = startedAt + BEFORE_KILL_MS + AFTER_KILL_MS;
    let next = 0;
    const clients = Array.from({ length: CLIENTS }, async () => {
      while (Date.now() < stopAt) {
        const outcome = await inc(survivors[next++ % survivors.length]!, cookie);
        outcomes.push(outcome);
        if (outcome.status !== 200) await sleep(20);
      }
    });
    await sleep(BEFORE_KILL_MS);
    const killedAt = Date.now();
    await owner.kill();
    stopAt = killedAt + AFTER_KILL_MS;
    await Promise.all(clients);
    const drainedAt = Date.now();

    const n = await Promise.all(
      survivors.map(async (s) => (await json<{ n: number }>(`${s.http}/peek`, cookie)).n),
    );
    const acked = outcomes.filter((o) => o.status === 200);
    const refused = outcomes.filter((o) => o.status === 503);
    const others = outcomes.filter((o) => o.status !== 200 && o.status !== 503);
    const errors = survivors.flatMap((s) => s.reports.filter((r) => r.type === 'session-error'));
    const commitErrors = errors.filter((r) => String(r['msg']).includes('commit'));
    const detected = survivors.map((s) => {
      const dead = s.reports.find(
        (r) => r.type === 'event' && r['event'] === 'member-dead' && r['member'] === owner.name,
      );
      return dead ? `${dead.at - killedAt}` : 'never';
    });
    const { resumedAt, gapMs } = lockGap(outcomes, killedAt);
    const byStatus = (o: Outcome): string => `${o.via}:${o.status}`;
    const counts: Record<string, number> = {};
    for (const o of outcomes) counts[byStatus(o)] = (counts[byStatus(o)] ?? 0) + 1;
    t.diagnostic(
      `acknowledged increments: ${acked.length} (${acked.filter((o) => (o.handledAt ?? 0) > killedAt).length} after the kill); 503s: ${refused.length}; other: ${others.length}; by member: ${JSON.stringify(counts)}`,
    );
    t.diagnostic(
      `owner declared dead after ${detected.join(' / ')} ms; lock unavailable for ${resumedAt - killedAt} ms after the kill (longest gap between grants ${gapMs} ms); drained ${drainedAt - stopAt} ms after the clients' end; final n ${n.join(' / ')}`,
    );
    if (errors.length > 0) t.diagnostic(`adapter errors: ${JSON.stringify(errors.slice(0, 5))}`);

    // Every request ended, with a 200 or a clear 503: none hung, none failed otherwise.
    assert.deepEqual(others.slice(0, 5), [], `${others.length} requests neither 200 nor 503`);
    // A failed commit would be a write in doubt; none is expected (the survivors stay reachable).
    assert.deepEqual(commitErrors.slice(0, 5), [], `${commitErrors.length} commits failed`);
    // The lock came back: requests held it again after the failover.
    assert.ok(resumedAt > killedAt, 'no request held the lock after the kill');
    // Exclusive read-modify-write: each 200 wrote a value no other 200 wrote...
    const written = new Map<number, Outcome[]>();
    for (const o of acked) written.set(o.n!, [...(written.get(o.n!) ?? []), o]);
    const twice = [...written].filter(([, list]) => list.length > 1);
    assert.deepEqual(
      twice.slice(0, 3),
      [],
      `${twice.length} values written by two requests (both read the same n: a double grant), kill at ${killedAt}`,
    );
    // ...and every acknowledged write is kept: the counter is the number of 200s.
    assert.deepEqual(n, [acked.length, acked.length], 'the counter differs from the 200s');
    await Promise.all(nodes.map((node) => node.kill()));
  });
});
