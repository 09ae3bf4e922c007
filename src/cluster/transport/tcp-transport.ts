// The TCP Transport (TLS optional): a listener, one authenticated connection per peer reused in
// both directions, dialed on demand with exponential backoff after failures. Every refused or
// broken connection is closed alone, published on diagnostics_channel and counted.

import { createServer, connect, type Server, type Socket } from 'node:net';
import * as tls from 'node:tls';
import {
  CLUSTER_HANDSHAKE_TIMEOUT_MS,
  CLUSTER_IDLE_TIMEOUT_MS,
  CLUSTER_KEEPALIVE_MS,
  CLUSTER_MAX_FRAME_BYTES,
  CLUSTER_MAX_HANDSHAKE_FRAME_BYTES,
  CLUSTER_MAX_PENDING_HANDSHAKES,
  CLUSTER_MAX_QUEUED_BYTES,
  CLUSTER_RECONNECT_BASE_MS,
  CLUSTER_RECONNECT_MAX_MS,
  MIN_SECRET_CHARS,
} from '../../defaults.js';
import { ClusterUnreachableError, InvalidOptionError } from '../../errors.js';
import { positive } from '../../options.js';
import { Backoff } from './backoff.js';
import { Connection, type ConnectionSettings } from './connection.js';
import {
  connectionClosed,
  connectionOpen,
  connectionRejected,
  createStats,
  type RejectReason,
  type TransportStats,
} from './diagnostics.js';
import { HandlerTable } from './handlers.js';
import type {
  Body,
  MemberAddress,
  MessageHandler,
  RequestHandler,
  RequestOptions,
  Transport,
} from './transport.js';

export interface TcpTransportOptions {
  /** This member's unique name ([A-Za-z0-9_-]{1,64}). */
  name: string;
  /** The cluster's name; members of another cluster are refused. */
  cluster: string;
  /** The shared cluster secret (at least 32 characters); not the cookie secret. */
  secret: string | Buffer;
  /** Interface to listen on. Default 127.0.0.1: never a wildcard unless asked. */
  host?: string;
  /** Port; default 0 (chosen by the system; read `self.address` after start). */
  port?: number;
  /**
   * The address to dial for a peer instead of its own (a TCP proxy on the way, e.g. the
   * fault-injecting link of the network partition tests); undefined dials the peer directly.
   */
  dialVia?: (to: MemberAddress) => string | undefined;
  /** Mutual TLS: every member presents a certificate signed by `ca` and checks the other's. */
  tls?: { ca: string | Buffer; cert: string | Buffer; key: string | Buffer };
  maxFrameBytes?: number;
  maxHandshakeFrameBytes?: number;
  handshakeTimeoutMs?: number;
  maxPendingHandshakes?: number;
  keepAliveMs?: number;
  idleTimeoutMs?: number;
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  maxQueuedBytes?: number;
}

interface Peer {
  conn: Connection | undefined;
  readonly backoff: Backoff;
}

const NAME = /^[A-Za-z0-9_-]{1,64}$/;
const DIAL_FAILURES = new Set(['socket-error', 'closed-by-peer', 'handshake-timeout']);

export class TcpTransport implements Transport {
  readonly #settings: ConnectionSettings;
  readonly #options: TcpTransportOptions;
  readonly #handlers = new HandlerTable();
  readonly #stats: TransportStats = createStats();
  readonly #peers = new Map<string, Peer>();
  readonly #connections = new Set<Connection>();
  readonly #maxPendingHandshakes: number;
  #self: MemberAddress;
  #server: Server | undefined;
  #closed = false;

  constructor(options: TcpTransportOptions) {
    if (typeof options.name !== 'string' || !NAME.test(options.name)) {
      throw new InvalidOptionError('name', 'a string of 1-64 of [A-Za-z0-9_-]', options.name);
    }
    if (
      typeof options.cluster !== 'string' ||
      options.cluster.length === 0 ||
      options.cluster.length > 300
    ) {
      throw new InvalidOptionError(
        'cluster',
        'a non-empty string of at most 300 characters',
        options.cluster,
      );
    }
    const secret =
      typeof options.secret === 'string' ? Buffer.from(options.secret) : options.secret;
    if (!Buffer.isBuffer(secret) || secret.length < MIN_SECRET_CHARS) {
      throw new InvalidOptionError(
        'secret',
        `a string or Buffer of at least ${MIN_SECRET_CHARS} bytes`,
        '(hidden)',
      );
    }
    const option = (key: keyof TcpTransportOptions, fallback: number): number =>
      positive(key, options[key], fallback);
    this.#options = options;
    this.#self = {
      name: options.name,
      address: `${options.host ?? '127.0.0.1'}:${options.port ?? 0}`,
    };
    this.#maxPendingHandshakes = option('maxPendingHandshakes', CLUSTER_MAX_PENDING_HANDSHAKES);
    this.#settings = {
      self: this.#self,
      cluster: options.cluster,
      secret,
      maxFrameBytes: option('maxFrameBytes', CLUSTER_MAX_FRAME_BYTES),
      maxHandshakeFrameBytes: option('maxHandshakeFrameBytes', CLUSTER_MAX_HANDSHAKE_FRAME_BYTES),
      handshakeTimeoutMs: option('handshakeTimeoutMs', CLUSTER_HANDSHAKE_TIMEOUT_MS),
      keepAliveMs: option('keepAliveMs', CLUSTER_KEEPALIVE_MS),
      idleTimeoutMs: option('idleTimeoutMs', CLUSTER_IDLE_TIMEOUT_MS),
      maxQueuedBytes: option('maxQueuedBytes', CLUSTER_MAX_QUEUED_BYTES),
      stats: this.#stats,
      handlers: this.#handlers,
    };
    option('reconnectBaseMs', CLUSTER_RECONNECT_BASE_MS);
    option('reconnectMaxMs', CLUSTER_RECONNECT_MAX_MS);
  }

  /** This member; `address` is host:port, with the real port once started. */
  get self(): MemberAddress {
    return this.#self;
  }

  /** Counters: frames, bytes, timeouts, connections, refusals by reason. */
  stats(): TransportStats {
    return { ...this.#stats, rejected: { ...this.#stats.rejected } };
  }

  async start(): Promise<void> {
    if (this.#server !== undefined) return;
    const tlsOptions = this.#options.tls;
    const server = tlsOptions
      ? tls.createServer({ ...tlsOptions, requestCert: true, rejectUnauthorized: true }, (s) =>
          this.#accept(s),
        )
      : createServer((s) => this.#accept(s));
    server.on('tlsClientError', (_err: Error, socket: tls.TLSSocket) => {
      this.#reject('tls', `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`, undefined);
      socket.destroy();
    });
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#options.port ?? 0, this.#options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const bound = server.address();
    if (bound !== null && typeof bound === 'object') {
      const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
      this.#self = { name: this.#self.name, address: `${host}:${bound.port}` };
      (this.#settings as { self: MemberAddress }).self = this.#self;
    }
  }

  request(to: MemberAddress, type: string, body: Body, options: RequestOptions): Promise<Body> {
    let conn: Connection;
    try {
      conn = this.#connectionTo(to);
    } catch (err) {
      return Promise.reject(err);
    }
    return conn.request(type, body, options.timeoutMs);
  }

  send(to: MemberAddress, type: string, body: Body): void {
    let sent = false;
    try {
      sent = this.#connectionTo(to).send(type, body);
    } catch {
      sent = false;
    }
    if (!sent) this.#stats.messagesDropped++;
  }

  onRequest(handler: RequestHandler, typePrefix?: string): void {
    this.#handlers.setRequest(handler, typePrefix);
  }

  onMessage(handler: MessageHandler, typePrefix?: string): void {
    this.#handlers.setMessage(handler, typePrefix);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const conn of [...this.#connections]) conn.close('transport-closed');
    const server = this.#server;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The usable connection to `to`, dialing one if needed. @throws {ClusterUnreachableError} */
  #connectionTo(to: MemberAddress): Connection {
    if (this.#closed)
      throw new ClusterUnreachableError(`transport of ${this.#self.name} is closed`);
    const peer = this.#peer(to.address);
    if (peer.conn !== undefined && !peer.conn.isClosed && !peer.conn.retired) return peer.conn;
    if (!peer.backoff.ready())
      throw new ClusterUnreachableError(
        `${to.name || to.address} is unreachable (reconnect backoff)`,
      );
    const conn = this.#dial(to);
    peer.conn = conn;
    return conn;
  }

  #peer(address: string): Peer {
    let peer = this.#peers.get(address);
    if (peer === undefined) {
      const base = this.#options.reconnectBaseMs ?? CLUSTER_RECONNECT_BASE_MS;
      peer = {
        conn: undefined,
        backoff: new Backoff(base, this.#options.reconnectMaxMs ?? CLUSTER_RECONNECT_MAX_MS),
      };
      this.#peers.set(address, peer);
    }
    return peer;
  }

  #dial(to: MemberAddress): Connection {
    const address = this.#options.dialVia?.(to) ?? to.address;
    const split = address.lastIndexOf(':');
    const host = address.slice(0, split).replace(/^\[(.*)\]$/, '$1');
    const port = Number(address.slice(split + 1));
    if (split <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) {
      throw new ClusterUnreachableError(`"${address}" is not a host:port address`);
    }
    const tlsOptions = this.#options.tls;
    // With TLS the trust is "a certificate signed by the cluster CA" (members are addressed by IP),
    // so the host name check is off; the HMAC handshake still has to pass inside TLS.
    const socket: Socket = tlsOptions
      ? tls.connect({ host, port, ...tlsOptions, checkServerIdentity: () => undefined })
      : connect({ host, port });
    const conn = this.#track(
      new Connection(socket, 'dialer', this.#settings, this.#events, to.name || undefined),
    );
    socket.once(tlsOptions ? 'secureConnect' : 'connect', () => conn.begin());
    socket.setKeepAlive(true, 1000);
    return conn;
  }

  #accept(socket: Socket): void {
    if (this.#closed) {
      socket.destroy();
      return;
    }
    let handshaking = 0;
    for (const c of this.#connections) if (c.role === 'listener' && !c.isOpen) handshaking++;
    if (handshaking >= this.#maxPendingHandshakes) {
      this.#reject(
        'too-many-handshakes',
        `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`,
        undefined,
      );
      socket.destroy();
      return;
    }
    socket.setKeepAlive(true, 1000);
    this.#track(new Connection(socket, 'listener', this.#settings, this.#events));
  }

  #track(conn: Connection): Connection {
    this.#connections.add(conn);
    return conn;
  }

  readonly #events = {
    open: (conn: Connection): void => {
      const peerInfo = conn.peer!;
      const peer = this.#peer(peerInfo.address);
      peer.backoff.reset();
      const current = peer.conn;
      if (current !== undefined && current !== conn && !current.isClosed) {
        // Two connections to one peer (both dialed at once): both sides keep the one dialed by
        // the member with the smaller name, so they agree without talking.
        const dialedBySmaller = (c: Connection): boolean =>
          (c.role === 'dialer') === this.#self.name < peerInfo.name;
        const keep = dialedBySmaller(conn) ? conn : current;
        const drop = keep === conn ? current : conn;
        drop.retire();
        peer.conn = keep;
      } else {
        peer.conn = conn;
      }
      connectionOpen.publish({
        peer: peerInfo.name,
        remoteAddress: conn.remoteAddress,
        inbound: conn.role === 'listener',
      });
    },
    close: (conn: Connection, reason: string, rejected: RejectReason | undefined): void => {
      this.#connections.delete(conn);
      const address = conn.peer?.address;
      const peer = address === undefined ? undefined : this.#peers.get(address);
      if (conn.role === 'dialer' && !conn.retired) {
        // A dial that never opened is a failure; a lost open connection may be redialed at once.
        const dialPeer = peer ?? [...this.#peers.values()].find((p) => p.conn === conn);
        if (
          dialPeer !== undefined &&
          (rejected !== undefined || (DIAL_FAILURES.has(reason) && !conn.everOpened))
        ) {
          dialPeer.backoff.fail();
        }
      }
      for (const p of this.#peers.values()) if (p.conn === conn) p.conn = undefined;
      if (rejected !== undefined) this.#reject(rejected, conn.remoteAddress, conn.peer?.name);
      else connectionClosed.publish({ peer: conn.peer?.name, reason });
    },
  };

  #reject(reason: RejectReason, remoteAddress: string, peer: string | undefined): void {
    this.#stats.rejected[reason]++;
    connectionRejected.publish({ reason, remoteAddress, peer, member: this.#self.name });
  }
}

/**
 * Creates the TCP transport of a member.
 * @throws {InvalidOptionError} on a bad name, cluster, secret or limit
 * @example
 * const transport = createTcpTransport({ name: 'node-1', cluster: 'shop', secret: process.env.CLUSTER_SECRET! });
 * await transport.start();
 */
export function createTcpTransport(options: TcpTransportOptions): TcpTransport {
  return new TcpTransport(options);
}
