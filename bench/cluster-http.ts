// Issue 3's HTTP benchmark: Express + sessionmesh/express over ClusterStore (three members in
// three processes, bench/cluster-app.ts; requests sent to the member that owns the session)
// against Express + express-session + connect-redis (bench/redis-app.ts), the same read +
// increment workload on one existing session. The app that wrk drives runs on core 0, wrk on
// core 1; the other two members, like redis-server, are not pinned.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { load, requireWrk } from './lib/wrk.js';
import { withRatios, type Row } from './lib/table.js';
import { loadInTurn, measure, SESSIONS } from './redis-store.js';
import { startRedis, stopRedis } from '../test/helpers/redis-server.js';

const GROUP = '(d) Express, existing session: read + increment';
const GROUP_MANY = `(d) Express, ${SESSIONS} sessions in turn: read + increment`;
const ANCHOR = 'express-session + connect-redis';
const CLUSTER = 'sessionmesh + ClusterStore, 3 members (sync, backups 1), sent to the owner';

interface Member {
  child: ChildProcess;
  port: number;
  address: string;
}

function startMember(name: string, seed: string | undefined, core?: number): Promise<Member> {
  const script = fileURLToPath(new URL('./cluster-app.ts', import.meta.url));
  const args = ['--import', 'tsx', script, name, ...(seed ? [seed] : [])];
  const child =
    core === undefined
      ? spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
      : spawn('taskset', ['-c', String(core), process.execPath, ...args], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${name} did not start in 20 s`)), 20_000);
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      const address = /cluster (\S+)/.exec(out)?.[1];
      const port = /listening (\d+)/.exec(out)?.[1];
      if (address && port) {
        clearTimeout(timer);
        child.stdout!.resume();
        resolve({ child, port: Number(port), address });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}`));
    });
  });
}

/** Until every member sees all of them and holds its partitions (bounded). */
async function waitForMembers(members: Member[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const seen = await Promise.all(
      members.map(async (m) =>
        Number(await (await fetch(`http://127.0.0.1:${m.port}/_members`)).text()),
      ),
    );
    if (seen.every((n) => n === members.length)) return;
    if (Date.now() > deadline) throw new Error(`members see ${seen.join(', ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * One session (every connection sends the same cookie: the merges of concurrent requests are
 * combined), or `sessions` created on m0 and taken in turn (rarely two in flight at once).
 */
async function measureCluster(
  options: { durationS?: number; repeats?: number },
  sessions: number,
): Promise<Row> {
  const members: Member[] = [];
  try {
    const seed = await startMember('m0', undefined, 0);
    members.push(seed);
    members.push(...(await Promise.all(['m1', 'm2'].map((n) => startMember(n, seed.address)))));
    await waitForMembers(members);
    const url = `http://127.0.0.1:${seed.port}/`;
    // Key affinity: a session created on m0 lives in a partition m0 owns.
    const cookies: string[] = [];
    for (let i = 0; i < sessions; i++) {
      const cookie = (await fetch(url)).headers.getSetCookie()[0]?.split(';')[0];
      if (!cookie) throw new Error('the cluster app sent no cookie');
      cookies.push(cookie);
    }
    const run = (durationS: number, repeats: number) =>
      sessions === 1
        ? load({ url, headers: { cookie: cookies[0]! }, durationS, repeats, core: 1 })
        : loadInTurn(url, cookies, durationS, repeats);
    await run(1, 1);
    const result = await run(options.durationS ?? 4, options.repeats ?? 3);
    return {
      group: sessions === 1 ? GROUP : GROUP_MANY,
      name: CLUSTER,
      reqPerSec: result.reqPerSec,
      p50Ms: result.p50Ms,
      p99Ms: result.p99Ms,
      note: result.errors > 0 ? `${result.errors} errors` : 'target >= 1.5x connect-redis',
    };
  } finally {
    for (const m of members) m.child.kill('SIGKILL');
  }
}

export async function benchClusterHttp(
  options: { durationS?: number; repeats?: number } = {},
): Promise<Row[]> {
  requireWrk();
  const redis = await startRedis();
  process.env.REDIS_URL = redis.url;
  try {
    const rows: Row[] = [];
    for (const sessions of [1, SESSIONS]) {
      const group = sessions === 1 ? GROUP : GROUP_MANY;
      rows.push(...(await measure([ANCHOR], group, { ...options, sessions })));
      rows.push(await measureCluster(options, sessions));
    }
    return withRatios(rows, (row) => (row.name === ANCHOR ? undefined : ANCHOR));
  } finally {
    await stopRedis(redis);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { toMarkdown } = await import('./lib/table.js');
  console.log(toMarkdown(await benchClusterHttp()));
}
