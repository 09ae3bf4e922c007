// Cluster members with their data layer as child processes (test/helpers/cluster-data-node.ts,
// or cluster-lock-app-node.ts: an Express app with `lock: 'cluster'`),
// and a load driver that writes increasing counter values through random members, recording
// every acknowledged value. Every child is tracked so an after hook can SIGKILL it by pid.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface Report {
  type: string;
  at: number;
  [key: string]: unknown;
}

export interface DataNode {
  readonly name: string;
  readonly child: ChildProcess;
  readonly reports: Report[];
  address: string;
  http: string;
  readonly exited: Promise<void>;
  waitFor(match: (r: Report) => boolean, timeoutMs: number, what?: string): Promise<Report>;
  /** SIGKILL (after SIGCONT, in case it is stopped); resolves when it exited. */
  kill(): Promise<void>;
  /** SIGTERM, then waits for the exit (the hand-off); SIGKILL after `timeoutMs`. */
  terminate(timeoutMs?: number): Promise<void>;
}

const dataNodeScript = fileURLToPath(new URL('./cluster-data-node.ts', import.meta.url));
/** The child that serves an Express app with `lock: 'cluster'` instead of the data endpoints. */
export const lockAppScript = fileURLToPath(new URL('./cluster-lock-app-node.ts', import.meta.url));

/** Every node started by this process, for the after hooks. */
export const started: DataNode[] = [];

export async function killAll(): Promise<void> {
  await Promise.all(started.map((n) => n.kill()));
}

export async function startNode(
  name: string,
  seeds: string[],
  env: Record<string, string> = {},
  timeoutMs = 15_000,
  script = dataNodeScript,
): Promise<DataNode> {
  // SM_NODE_ARGS: extra node flags for the members, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  const nodeArgs = (process.env['SM_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
  const child = spawn(
    process.execPath,
    [...nodeArgs, '--import', 'tsx', script, name, seeds.join(',')],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { ...process.env, ...env },
    },
  );
  const reports: Report[] = [];
  const waiters = new Set<() => void>();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      reports.push(JSON.parse(line) as Report);
    } catch {
      return;
    }
    for (const w of [...waiters]) w();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const gone = (): boolean => child.exitCode !== null || child.signalCode !== null;
  const node: DataNode = {
    name,
    child,
    reports,
    address: '',
    http: '',
    exited,
    waitFor(match, ms, what = 'a report') {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const found = reports.find(match);
          if (found === undefined) return;
          cleanup();
          resolve(found);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`${name}: no ${what} within ${ms} ms`));
        }, ms);
        const cleanup = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async kill() {
      if (gone()) return;
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await exited;
    },
    async terminate(ms = 20_000) {
      if (gone()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), ms);
      await exited;
      clearTimeout(timer);
    },
  };
  started.push(node);
  const ready = await node.waitFor((r) => r.type === 'ready', timeoutMs, 'ready');
  node.address = ready['address'] as string;
  node.http = ready['http'] as string;
  return node;
}

export async function status(node: DataNode): Promise<{
  ready: boolean;
  members: string[];
  owned: number;
  held: number;
  migrating: number;
  pushing: number;
}> {
  const res = await fetch(`${node.http}/status`, { signal: AbortSignal.timeout(2000) });
  return (await res.json()) as never;
}

/** Waits until every node sees exactly `names` and has no migration in flight. */
export async function waitConverged(nodes: DataNode[], timeoutMs = 20_000): Promise<void> {
  const names = nodes
    .map((n) => n.name)
    .sort()
    .join();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const all = await Promise.all(nodes.map((n) => status(n).catch(() => undefined)));
    if (
      all.every(
        (s) => s && s.ready && s.members.join() === names && s.migrating === 0 && s.pushing === 0,
      )
    )
      return;
    if (Date.now() > deadline)
      throw new Error(`cluster did not converge to ${names}: ${JSON.stringify(all)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startNodes(
  count: number,
  env: Record<string, string> = {},
  script = dataNodeScript,
): Promise<DataNode[]> {
  const seed = await startNode('m0', [], env, undefined, script);
  const rest = await Promise.all(
    Array.from({ length: count - 1 }, (_, i) =>
      startNode(`m${i + 1}`, [seed.address], env, undefined, script),
    ),
  );
  const nodes = [seed, ...rest];
  await waitConverged(nodes);
  return nodes;
}

interface Tracked {
  id: string;
  /** Highest acknowledged value. */
  acked: number;
  /** Highest value sent (acknowledged or not): the next one is higher. */
  written: number;
  /** The last writes: value, member, stamp (when acknowledged) or error, and when. */
  history: {
    n: number;
    by: string;
    t?: string | undefined;
    error?: string | undefined;
    at: number;
  }[];
}

export interface LoadStats {
  acked: number;
  /** Acknowledged writes by the member that took them. */
  ackedBy: Record<string, number>;
  errors: number;
  /** Errors by kind: the code of a 503, or the name of a network error. */
  byKind: Record<string, number>;
}

/**
 * Writes increasing values of counter `n` into `sessions` sessions, `concurrency` at a time, each
 * through a random member of `targets()` (re-read for every write), until stop() is called.
 */
export class LoadDriver {
  readonly sessions: Tracked[];
  readonly stats: LoadStats = { acked: 0, ackedBy: {}, errors: 0, byKind: {} };
  readonly #targets: () => DataNode[];
  #running = true;
  readonly #done: Promise<void>;

  constructor(sessions: number, concurrency: number, targets: () => DataNode[]) {
    this.sessions = Array.from({ length: sessions }, () => ({
      id: randomBytes(24).toString('base64url'),
      acked: 0,
      written: 0,
      history: [],
    }));
    this.#targets = targets;
    // Worker w owns sessions w, w+c, w+2c... and cycles through them: no session is ever
    // written by two workers at once. (Two writes in flight at once are concurrent: the later
    // stamp wins, which need not be the higher value, so "the last acknowledged value" would
    // not be well defined.)
    this.#done = Promise.all(
      Array.from({ length: concurrency }, (_, w) => {
        const own = this.sessions.filter((_, i) => i % concurrency === w);
        return (async () => {
          for (let k = 0; this.#running && own.length > 0; k++)
            await this.#write(own[k % own.length]!);
        })();
      }),
    ).then(() => undefined);
  }

  async #write(session: Tracked): Promise<void> {
    const targets = this.#targets();
    const node = targets[Math.floor(Math.random() * targets.length)]!;
    const n = ++session.written;
    const fresh = session.acked === 0 ? '&fresh=1' : '';
    try {
      const res = await fetch(`${node.http}/write?id=${session.id}&n=${n}${fresh}`, {
        method: 'POST',
        signal: AbortSignal.timeout(12_000),
      });
      const body = (await res.json()) as { code?: string; t?: string };
      remember(session, { n, by: node.name, t: body.t, error: body.code, at: Date.now() });
      if (res.status === 200) {
        session.acked = Math.max(session.acked, n);
        this.stats.acked++;
        this.stats.ackedBy[node.name] = (this.stats.ackedBy[node.name] ?? 0) + 1;
      } else this.#error(body.code ?? String(res.status));
    } catch (err) {
      remember(session, { n, by: node.name, error: (err as Error).name, at: Date.now() });
      this.#error((err as Error).name);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  #error(kind: string): void {
    this.stats.errors++;
    this.stats.byKind[kind] = (this.stats.byKind[kind] ?? 0) + 1;
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#done;
  }
}

function remember(session: Tracked, write: Tracked['history'][number]): void {
  session.history.push(write);
  if (session.history.length > 4) session.history.shift();
}

export interface Loss {
  id: string;
  acked: number;
  value: number | null;
  history: Tracked['history'];
}

/** Each member's own copy of a lost session (value and stamp), for the diagnostics. */
export async function localCopies(nodes: DataNode[], id: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const node of nodes) {
    const res = await fetch(`${node.http}/local?id=${id}`, { signal: AbortSignal.timeout(5000) });
    out[node.name] = await res.json();
  }
  return out;
}

/** Reads every session through `node`; returns the sessions whose value is below their acked one. */
export async function findLosses(node: DataNode, sessions: Tracked[]): Promise<Loss[]> {
  const lost: Loss[] = [];
  for (let i = 0; i < sessions.length; i += 50) {
    await Promise.all(
      sessions.slice(i, i + 50).map(async (s) => {
        if (s.acked === 0) return;
        const res = await fetch(`${node.http}/read?id=${s.id}`, {
          signal: AbortSignal.timeout(12_000),
        });
        const body = (await res.json()) as { n: number | null };
        if (res.status !== 200 || body.n === null || body.n < s.acked)
          lost.push({ id: s.id, acked: s.acked, value: body.n, history: s.history });
      }),
    );
  }
  return lost;
}
