// Issue 3's HTTP benchmark: Express + sessionmesh/express over ClusterStore (three members in
// three processes, bench/cluster-app.ts; requests sent to the member that owns the session)
// against Express + express-session + connect-redis (bench/redis-app.ts), the same read +
// increment workload, the two measured in rounds (lib/rounds.ts). The app that wrk drives runs
// on core 0, wrk on core 1; the other two members, like redis-server, are not pinned.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadWithCookies, requireWrk } from './lib/wrk.js';
import { measureInRounds, rowOf, type Contender } from './lib/rounds.js';
import { withRatios, type Row } from './lib/table.js';
import { SESSIONS, startVariant } from './redis-store.js';
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
 * The three members, with `sessions` sessions created on m0, which owns them (key affinity):
 * one (every connection sends its cookie, so the merges of concurrent requests are combined)
 * or several taken in turn (rarely two of one session in flight at once).
 */
async function startCluster(sessions: number): Promise<Contender> {
  const members: Member[] = [];
  const stop = async () => {
    for (const m of members) m.child.kill('SIGKILL');
  };
  try {
    const seed = await startMember('m0', undefined, 0);
    members.push(seed);
    members.push(...(await Promise.all(['m1', 'm2'].map((n) => startMember(n, seed.address)))));
    await waitForMembers(members);
    const url = `http://127.0.0.1:${seed.port}/`;
    const cookies: string[] = [];
    for (let i = 0; i < sessions; i++) {
      const cookie = (await fetch(url)).headers.getSetCookie()[0]?.split(';')[0];
      if (!cookie) throw new Error('the cluster app sent no cookie');
      cookies.push(cookie);
    }
    return {
      name: CLUSTER,
      run: (durationS) => loadWithCookies(url, cookies, { durationS, repeats: 1, core: 1 }),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
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
      const results = await measureInRounds(
        [() => startVariant(ANCHOR, sessions), () => startCluster(sessions)],
        options,
      );
      rows.push(
        rowOf(group, ANCHOR, results.get(ANCHOR)!),
        rowOf(group, CLUSTER, results.get(CLUSTER)!, 'target >= 1.5x connect-redis'),
      );
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
