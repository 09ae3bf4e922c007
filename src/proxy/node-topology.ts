// The proxy's view of the cluster, read from the nodes: every node serves GET /_mesh/api/node
// (its members and partition table, docs/admin-api.md); this polls them and answers "who owns
// this session's partition" from the newest table. Reading the nodes keeps the proxy out of
// the cluster's membership protocol (see docs/proxy.md for the trade-off).

import { EventEmitter } from 'node:events';
import { request } from 'node:http';
import { partitionOf } from '../cluster/partition-table.js';
import type { TopologySource } from './topology.js';

export interface NodeReport {
  name: string;
  ready: boolean;
  viewId: number;
  sessions: number;
  partitionsOwned: number;
  partitionsBacked: number;
  requests: number;
  members: { name: string; state: string; address: string; data: boolean }[];
  partitions: { count: number; owners: (string | null)[]; backups: string[][] };
}

export interface WatchedNode {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

export interface NodeTopologyOptions {
  nodes: readonly WatchedNode[];
  /** How often each node is asked, ms. Default 500. */
  intervalMs?: number;
  /** A node that does not answer within this is reported as unreachable, ms. Default 400. */
  timeoutMs?: number;
}

export class NodeTopology extends EventEmitter<{ change: [] }> implements TopologySource {
  readonly #nodes = new Map<string, WatchedNode>();
  /** The last answer of each node; undefined while it does not answer. */
  readonly reports = new Map<string, NodeReport | undefined>();
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  #owners: (string | null)[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(options: NodeTopologyOptions) {
    super();
    for (const node of options.nodes) this.#nodes.set(node.name, node);
    this.#intervalMs = options.intervalMs ?? 500;
    this.#timeoutMs = options.timeoutMs ?? 400;
  }

  start(): void {
    if (this.#timer) return;
    const tick = () => {
      void this.poll().finally(() => {
        if (this.#timer) this.#timer = setTimeout(tick, this.#intervalMs).unref();
      });
    };
    this.#timer = setTimeout(tick, 0).unref();
  }

  add(node: WatchedNode): void {
    this.#nodes.set(node.name, node);
  }

  /** Asks every node once; resolves when all answered or timed out. */
  async poll(): Promise<void> {
    await Promise.all(
      [...this.#nodes.values()].map(async (node) => {
        this.reports.set(node.name, await fetchReport(node, this.#timeoutMs));
      }),
    );
    // The table of a ready node that sees the most members is the best guess of the truth.
    const best = [...this.reports.values()]
      .filter((r): r is NodeReport => r !== undefined && r.ready && r.partitions.count > 0)
      .sort((a, b) => b.members.length - a.members.length)[0];
    const owners = best?.partitions.owners ?? [];
    const changed =
      owners.length !== this.#owners.length || owners.some((o, i) => o !== this.#owners[i]);
    this.#owners = owners;
    if (changed) this.emit('change');
  }

  ownerOf(sessionId: string): string | undefined {
    if (this.#owners.length === 0) return undefined;
    return this.#owners[partitionOf(sessionId, this.#owners.length)] ?? undefined;
  }

  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

function fetchReport(node: WatchedNode, timeoutMs: number): Promise<NodeReport | undefined> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: node.host,
        port: node.port,
        path: '/_mesh/api/node',
        timeout: timeoutMs,
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
          if (body.length > 1_000_000) req.destroy();
        });
        res.on('end', () => {
          try {
            resolve(res.statusCode === 200 ? (JSON.parse(body) as NodeReport) : undefined);
          } catch {
            resolve(undefined);
          }
        });
        res.on('error', () => resolve(undefined));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}
