// The embedded cluster (issue 3): three members in three processes on this machine
// (test/helpers/cluster-data-node.ts). Merge (sync, backups 1) and get from one member to a
// session owned by another, against node-redis HSET/HGETALL on the local Redis with the same
// payload; the same merge inside the cluster-wide session lock (lock: 'cluster'); a get served
// by the owner; failure detection (bench/cluster-failure-detection.ts);
// migration throughput on scale-out 3 -> 4; Express + ClusterStore against connect-redis
// (bench/cluster-http.ts).
// Run alone: node --import tsx bench/cluster.ts

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import {
  killAll,
  startNode,
  startNodes,
  status,
  waitConverged,
  type DataNode,
} from '../test/helpers/cluster-data-process.js';
import { withRatios, type Row } from './lib/table.js';
import { benchClusterHttp } from './cluster-http.js';

const PAYLOAD_BYTES = 256;
const LATENCY_OPS = 3000;
const THROUGHPUT_OPS = 20_000;
const CONCURRENCY = 32;
/**
 * Operations run before measuring, the same for the cluster and for Redis: enough for the members
 * to reach their steady state. Their JIT and heap settle over the first ~50,000 merges: on this
 * machine about 33k merges/s over the first 20,000 after start, 42k-50k from 60,000 on; with 500,
 * the latencies measured were the warm-up's (p99 1.6 ms, against 0.4-0.8 ms after).
 */
const WARM_UP_OPS = 60_000;
/** Each figure of (a) is the median of this many runs. */
const RUNS = 3;
const MIGRATION_SESSIONS = 100_000;

interface Figures {
  p50Ms: number;
  p99Ms: number;
  opsPerSec: number;
  meanMs: number;
}

async function post(node: DataNode, path: string): Promise<Record<string, number>> {
  const res = await fetch(`${node.http}${path}`, {
    method: 'POST',
    signal: AbortSignal.timeout(120_000),
  });
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, number>;
}

/** An id whose partition `owner` owns and `backup` backs up: each role in its own process. */
async function ownedBy(via: DataNode, owner: string, backup: string): Promise<string> {
  for (;;) {
    const id = randomBytes(24).toString('base64url');
    const res = await fetch(`${via.http}/owner?id=${id}`);
    const roles = (await res.json()) as { owner: string; backups: string[] };
    if (roles.owner === owner && roles.backups.join() === backup) return id;
  }
}

async function clusterOp(
  node: DataNode,
  op: string,
  id: string,
  warmUpOps = WARM_UP_OPS,
): Promise<Figures> {
  const base = `/bench?op=${op}&id=${id}&bytes=${PAYLOAD_BYTES}`;
  await post(node, `${base}&count=${warmUpOps}&concurrency=${CONCURRENCY}`);
  await post(node, `${base}&count=${warmUpOps / 20}&concurrency=1`);
  return medianOf(async () => {
    const latency = await post(node, `${base}&count=${LATENCY_OPS}&concurrency=1`);
    const throughput = await post(
      node,
      `${base}&count=${THROUGHPUT_OPS}&concurrency=${CONCURRENCY}`,
    );
    return { ...(latency as unknown as Figures), opsPerSec: throughput['opsPerSec']! };
  });
}

/** RUNS runs of `run`; each figure the median of its values. */
async function medianOf(run: () => Promise<Figures>): Promise<Figures> {
  const runs: Figures[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(await run());
  const median = (key: keyof Figures): number =>
    runs.map((r) => r[key]).sort((a, b) => a - b)[Math.floor(RUNS / 2)]!;
  return {
    p50Ms: median('p50Ms'),
    p99Ms: median('p99Ms'),
    opsPerSec: median('opsPerSec'),
    meanMs: median('meanMs'),
  };
}

async function measure(run: (i: number) => Promise<unknown>, count: number, concurrency: number) {
  const latencies: number[] = [];
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const t = process.hrtime.bigint();
        await run(i);
        latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => latencies[Math.floor(q * (latencies.length - 1))]!;
  return {
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    opsPerSec: count / seconds,
    meanMs: (seconds * 1000) / count,
  };
}

async function redisOps(): Promise<{ merge: Figures; get: Figures }> {
  const client = createClient({ url: 'redis://127.0.0.1:6379' });
  await client.connect();
  const key = `sm-bench:${randomBytes(8).toString('hex')}`;
  const payload = JSON.stringify('x'.repeat(PAYLOAD_BYTES));
  try {
    const hset = (i: number) => client.hSet(key, { n: String(i), data: payload });
    const hgetall = () => client.hGetAll(key);
    await measure(hset, WARM_UP_OPS, CONCURRENCY);
    await measure(hset, WARM_UP_OPS / 20, 1);
    await measure(hgetall, WARM_UP_OPS / 20, 1);
    const figures = (op: (i: number) => Promise<unknown>): Promise<Figures> =>
      medianOf(async () => ({
        ...(await measure(op, LATENCY_OPS, 1)),
        opsPerSec: (await measure(op, THROUGHPUT_OPS, CONCURRENCY)).opsPerSec,
      }));
    return { merge: await figures(hset), get: await figures(hgetall) };
  } finally {
    await client.del(key);
    await client.quit();
  }
}

function failureDetectionMedian(): number | undefined {
  const script = fileURLToPath(new URL('./cluster-failure-detection.ts', import.meta.url));
  const out = spawnSync(process.execPath, ['--import', 'tsx', script, '10'], {
    encoding: 'utf8',
    timeout: 180_000,
  });
  const match = /detection median ([\d.]+) ms/.exec(out.stdout ?? '');
  return match ? Number(match[1]) : undefined;
}

/** `full: false` measures the operations only (no migration, no failure detection). */
export async function benchCluster(full = true): Promise<Row[]> {
  const rows: Row[] = [];
  try {
    const nodes = await startNodes(3, { SM_NEAR_CACHE: '0', SM_BUILT: '1' });
    const [m0, m1] = nodes as [DataNode, DataNode, DataNode];
    const id = await ownedBy(m0, 'm1', 'm2');
    await post(m0, `/write?id=${id}&n=0&fresh=1`);
    const merge = await clusterOp(m0, 'merge', id);
    const get = await clusterOp(m0, 'get', id);
    // At ~2k locked merges/s, after the merges' warm-up has warmed the same code.
    const lockedMerge = await clusterOp(m0, 'locked-merge', id, 5000);
    const ownerGet = await post(m1, `/bench?op=get&id=${id}&count=200000&concurrency=1`);
    const redis = await redisOps();
    const g1 = `(a) ${PAYLOAD_BYTES}-byte attribute, one session, sent by m0 to its owner m1, backed up on m2; latency with 1 in flight, ops/s with ${CONCURRENCY}; medians of ${RUNS} runs after ${WARM_UP_OPS} operations of warm-up`;
    rows.push(
      { group: g1, name: 'node-redis HSET', ...pick(redis.merge) },
      { group: g1, name: 'cluster merge (sync, backups 1)', ...pick(merge) },
      {
        group: g1,
        name: 'cluster lock + merge + unlock (lock: cluster)',
        ...pick(lockedMerge),
        note: 'one session: the lock lets one merge run at a time, so ops/s is its hand-over rate (shared 2-core machine)',
      },
      { group: g1, name: 'node-redis HGETALL', ...pick(redis.get) },
      {
        group: g1,
        name: 'cluster get (remote owner, no near cache)',
        ...pick(get),
      },
      {
        group: g1,
        name: 'cluster get served by the owner',
        opsPerSec: ownerGet['opsPerSec']!,
        note: `${(ownerGet['meanMs']! * 1000).toFixed(2)} µs per get (target < 20 µs)`,
      },
    );
  } finally {
    await killAll();
  }
  if (!full) return withRatios(rows, anchorOf);
  const http = await benchClusterHttp();
  rows.push(await benchMigration(MIGRATION_SESSIONS));
  const median = failureDetectionMedian();
  rows.push({
    group: '(c) failure detection, 3 members, SIGKILL',
    name: 'kill -> declared dead by both survivors, median of 10',
    ...(median === undefined ? { note: 'did not run' } : { p50Ms: median }),
    note: 'target < 2000 ms (bench/cluster-failure-detection.ts)',
  });
  return [...withRatios(rows, anchorOf), ...http];
}

function anchorOf(row: Row): string | undefined {
  if (row.name.startsWith('cluster lock')) return 'cluster merge (sync, backups 1)';
  return row.name.startsWith('cluster merge')
    ? 'node-redis HSET'
    : row.name.startsWith('cluster get (remote')
      ? 'node-redis HGETALL'
      : undefined;
}

/**
 * Migration throughput: three members hold `sessions` sessions of 1 KB (backups 1); a fourth
 * joins; timed from its start until every member saw the four and no pull or push is left.
 */
export async function benchMigration(sessions: number): Promise<Row> {
  try {
    const nodes = await startNodes(3, { SM_NEAR_CACHE: '0', SM_BUILT: '1' });
    const perNode = Math.ceil(sessions / 3);
    const filled = Date.now();
    await Promise.all(nodes.map((n) => post(n, `/fill?count=${perNode}&bytes=1024`)));
    const fillSeconds = (Date.now() - filled) / 1000;
    const started = Date.now();
    const m3 = await startNode('m3', [nodes[0]!.address], { SM_NEAR_CACHE: '0', SM_BUILT: '1' });
    await waitConverged([...nodes, m3], 120_000);
    const seconds = (Date.now() - started) / 1000;
    const held = (await status(m3)).held;
    return {
      group: '(b) scale-out 3 -> 4 with 1 KB sessions (backups 1)',
      name: `${sessions} sessions; the new member received ${held} copies`,
      opsPerSec: held / seconds,
      note: `sessions/s received by the new member, from its start to the end of every pull and push (${seconds.toFixed(1)} s, process start included; filling took ${fillSeconds.toFixed(1)} s)`,
    };
  } finally {
    await killAll();
  }
}

function pick(f: Figures): Pick<Row, 'p50Ms' | 'p99Ms' | 'opsPerSec'> {
  return { p50Ms: f.p50Ms, p99Ms: f.p99Ms, opsPerSec: f.opsPerSec };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { toMarkdown } = await import('./lib/table.js');
  // `migration [sessions]` runs the scale-out measurement alone; `ops` the operations alone.
  const [what, count] = process.argv.slice(2);
  const rows =
    what === 'migration'
      ? [await benchMigration(Number(count ?? MIGRATION_SESSIONS))]
      : await benchCluster(what !== 'ops');
  console.log(toMarkdown(rows));
}
