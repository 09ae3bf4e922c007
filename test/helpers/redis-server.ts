// Starts redis-server processes for tests: standalone on a free port, or a Redis Cluster of
// masters with replicas; every process is stopped by pid (after hooks call stop()).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface RedisProcess {
  port: number;
  url: string;
  process: ChildProcess;
  /** SIGKILL, and wait for the exit. */
  kill(): Promise<void>;
  /** Starts a new redis-server on the same port (an empty one: no persistence in tests). */
  restart(): Promise<void>;
}

export async function waitForPing(port: number, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const result = spawnSync('redis-cli', ['-p', String(port), 'ping'], {
      encoding: 'utf8',
      timeout: 1000,
    });
    if (result.stdout?.trim() === 'PONG') return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server on port ${port} did not answer PING within ${ms} ms`);
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** A redis-server on a free port: `--save "" --appendonly no`, plus `extra` arguments. */
export async function startRedis(extra: string[] = [], port?: number): Promise<RedisProcess> {
  const chosen = port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'sm-redis-'));
  const launch = () =>
    spawn(
      'redis-server',
      [
        '--port',
        String(chosen),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        ...extra,
      ],
      {
        stdio: 'ignore',
      },
    );
  const handle: RedisProcess = {
    port: chosen,
    url: `redis://127.0.0.1:${chosen}`,
    process: launch(),
    async kill() {
      if (handle.process.exitCode === null && handle.process.signalCode === null)
        handle.process.kill('SIGKILL');
      await exited(handle.process);
    },
    async restart() {
      await handle.kill();
      handle.process = launch();
      await waitForPing(chosen);
    },
  };
  try {
    await waitForPing(chosen);
  } catch (err) {
    await handle.kill();
    throw err;
  }
  handle.process.once('exit', () => {
    if (handle.process.exitCode !== null || handle.process.signalCode !== null) {
      /* the dir is removed by stopAll */
    }
  });
  dirs.set(handle, dir);
  return handle;
}

const dirs = new Map<RedisProcess, string>();

/** Kills the processes and removes their directories. */
export async function stopRedis(...processes: (RedisProcess | undefined)[]): Promise<void> {
  for (const p of processes) {
    if (!p) continue;
    await p.kill();
    const dir = dirs.get(p);
    if (dir) rmSync(dir, { recursive: true, force: true });
    dirs.delete(p);
  }
}

export interface RedisClusterProcesses {
  nodes: RedisProcess[];
  /** host:port of every node, for createCluster's rootNodes. */
  rootNodes: { url: string }[];
  stop(): Promise<void>;
}

/** `masters` masters with `replicasPerMaster` replicas each, joined by redis-cli --cluster create. */
export async function startRedisCluster(
  masters = 3,
  replicasPerMaster = 1,
  nodeTimeoutMs = 1000,
): Promise<RedisClusterProcesses> {
  const nodes: RedisProcess[] = [];
  const stop = () => stopRedis(...nodes);
  try {
    for (let i = 0; i < masters * (1 + replicasPerMaster); i++) {
      const port = await freePort();
      nodes.push(
        await startRedis(
          [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            `nodes-${port}.conf`,
            '--cluster-node-timeout',
            String(nodeTimeoutMs),
            // 0: a replica may always take over. With the default (10), this machine's replicas
            // refuse ("disconnected from master for longer than allowed") right after the kill.
            '--cluster-replica-validity-factor',
            '0',
          ],
          port,
        ),
      );
    }
    const create = spawnSync(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...nodes.map((n) => `127.0.0.1:${n.port}`),
        '--cluster-replicas',
        String(replicasPerMaster),
        '--cluster-yes',
      ],
      { encoding: 'utf8', timeout: 20_000 },
    );
    if (create.status !== 0)
      throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
    await waitForClusterOk(nodes, masters * (1 + replicasPerMaster), masters * replicasPerMaster);
  } catch (err) {
    await stop();
    throw err;
  }
  return { nodes, rootNodes: nodes.map((n) => ({ url: n.url })), stop };
}

async function waitForClusterOk(
  nodes: RedisProcess[],
  count: number,
  replicas: number,
  ms = 15_000,
): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    let synced = 0;
    // Replicas must have finished their first sync, or a failover promotes an empty one.
    const ok = nodes.every((n) => {
      const replication =
        spawnSync('redis-cli', ['-p', String(n.port), 'info', 'replication'], {
          encoding: 'utf8',
          timeout: 1000,
        }).stdout ?? '';
      if (replication.includes('role:slave') && !replication.includes('master_link_status:up'))
        return false;
      if (replication.includes('role:slave')) synced++;
      const info =
        spawnSync('redis-cli', ['-p', String(n.port), 'cluster', 'info'], {
          encoding: 'utf8',
          timeout: 1000,
        }).stdout ?? '';
      return info.includes('cluster_state:ok') && info.includes(`cluster_known_nodes:${count}`);
    });
    if (ok && synced === replicas) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the Redis Cluster did not reach cluster_state:ok with every replica in sync');
}

/** Runs redis-cli against a port and returns its stdout. */
export function redisCli(port: number, ...args: string[]): string {
  return (
    spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8', timeout: 2000 })
      .stdout ?? ''
  );
}
