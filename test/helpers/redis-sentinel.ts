// A Sentinel-managed Redis for tests: a master, one replica and three sentinels (quorum 2), each
// a redis-server on a free port, stopped by pid. The sentinels notice a dead master within about
// a second (down-after-milliseconds 1000) and promote the replica.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  freePort,
  redisCli,
  startRedis,
  stopRedis,
  waitForPing,
  type RedisProcess,
} from './redis-server.js';

export const SENTINEL_MASTER_NAME = 'sm-test';
const NO_SYNC_DELAY = ['--repl-diskless-sync-delay', '0'];

export interface SentinelSetup {
  master: RedisProcess;
  replica: RedisProcess;
  sentinels: { port: number; process: ChildProcess }[];
  /** The address the sentinels give for the master now. */
  masterPort(): number;
  /** Replicas added by addReplica, stopped with the rest. */
  extraReplicas: RedisProcess[];
  /** A new redis-server replicating the current master (the sentinels discover it). */
  addReplica(): Promise<RedisProcess>;
  /** Until the current master has a replica online (initial sync done), bounded by `ms`. */
  waitForSyncedReplica(ms?: number): Promise<void>;
  stop(): Promise<void>;
}

async function startSentinel(
  dir: string,
  masterPort: number,
): Promise<{ port: number; process: ChildProcess }> {
  const port = await freePort();
  const conf = join(dir, `sentinel-${port}.conf`);
  // Sentinel rewrites its config file: it must be its own and writable.
  writeFileSync(
    conf,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${SENTINEL_MASTER_NAME} 127.0.0.1 ${masterPort} 2`,
      `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} 1000`,
      `sentinel failover-timeout ${SENTINEL_MASTER_NAME} 5000`,
      `sentinel parallel-syncs ${SENTINEL_MASTER_NAME} 1`,
      '',
    ].join('\n'),
  );
  const child = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
  await waitForPing(port);
  return { port, process: child };
}

/** INFO replication of the master on `port` lists a replica whose state is online. */
function hasOnlineReplica(port: number): boolean {
  if (!Number.isInteger(port) || port <= 0) return false;
  return /^slave\d+:.*state=online/m.test(redisCli(port, 'info', 'replication'));
}

export async function startSentinelSetup(): Promise<SentinelSetup> {
  const dir = mkdtempSync(join(tmpdir(), 'sm-sentinel-'));
  // No 5 s wait before a diskless sync: a replica (the first, or one added after a failover)
  // is in sync within a second.
  const master = await startRedis(NO_SYNC_DELAY);
  const replica = await startRedis([
    ...NO_SYNC_DELAY,
    '--replicaof',
    '127.0.0.1',
    String(master.port),
  ]);
  const sentinels: SentinelSetup['sentinels'] = [];
  const setup: SentinelSetup = {
    master,
    replica,
    sentinels,
    masterPort() {
      const out = redisCli(
        sentinels[0]!.port,
        'sentinel',
        'get-master-addr-by-name',
        SENTINEL_MASTER_NAME,
      );
      return Number(out.trim().split('\n')[1]);
    },
    extraReplicas: [],
    async addReplica() {
      const added = await startRedis([
        ...NO_SYNC_DELAY,
        '--replicaof',
        '127.0.0.1',
        String(setup.masterPort()),
      ]);
      setup.extraReplicas.push(added);
      return added;
    },
    async waitForSyncedReplica(ms = 20_000) {
      const deadline = Date.now() + ms;
      while (!hasOnlineReplica(setup.masterPort())) {
        if (Date.now() > deadline)
          throw new Error(`the master had no replica in sync within ${ms} ms`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async stop() {
      for (const s of sentinels) {
        if (s.process.exitCode === null && s.process.signalCode === null) {
          const exited = new Promise((r) => s.process.once('exit', r));
          s.process.kill('SIGKILL');
          await exited;
        }
      }
      await stopRedis(master, replica, ...setup.extraReplicas);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    for (let i = 0; i < 3; i++) sentinels.push(await startSentinel(dir, master.port));
    // Until every sentinel knows the replica and the two other sentinels (bounded).
    const deadline = Date.now() + 20_000;
    for (;;) {
      const ready = sentinels.every((s) => {
        const info = redisCli(s.port, 'sentinel', 'master', SENTINEL_MASTER_NAME);
        const field = (name: string) => {
          const lines = info.trim().split('\n');
          const at = lines.indexOf(name);
          return at < 0 ? NaN : Number(lines[at + 1]);
        };
        return field('num-slaves') >= 1 && field('num-other-sentinels') >= 2;
      });
      if (ready) break;
      if (Date.now() > deadline)
        throw new Error('the sentinels did not see the replica and each other in 20 s');
      await new Promise((r) => setTimeout(r, 200));
    }
    // A replica still in its first sync would be promoted empty.
    await setup.waitForSyncedReplica();
    return setup;
  } catch (err) {
    await setup.stop();
    throw err;
  }
}
