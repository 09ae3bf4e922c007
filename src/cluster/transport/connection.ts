// One connection to a peer, plain or TLS: the handshake, then framed requests, replies and
// messages both ways; per-request deadlines; a bounded send queue behind the socket's buffer
// (back-pressure); keep-alives out and an idle timeout in (half-open connections).

import type { Socket } from 'node:net';
import {
  ClusterBackpressureError,
  ClusterTimeoutError,
  ClusterUnreachableError,
} from '../../errors.js';
import {
  createValueDecoder,
  encodeFrame,
  GarbageFrameError,
  Kind,
  toEnvelope,
  type Envelope,
} from './codec.js';
import type { RejectReason, TransportStats } from './diagnostics.js';
import { FrameReader, FrameTooLargeError } from './frame-reader.js';
import { fromErrorReply, toErrorReply, type HandlerTable } from './handlers.js';
import {
  newNonce,
  PROTOCOL_VERSION,
  proof,
  readGreeting,
  verifyProof,
  type HandshakeContext,
} from './handshake.js';
import type { Body, MemberAddress } from './transport.js';

export interface ConnectionSettings {
  readonly self: MemberAddress;
  readonly cluster: string;
  readonly secret: Buffer;
  readonly maxFrameBytes: number;
  readonly maxHandshakeFrameBytes: number;
  readonly handshakeTimeoutMs: number;
  readonly keepAliveMs: number;
  readonly idleTimeoutMs: number;
  readonly maxQueuedBytes: number;
  readonly stats: TransportStats;
  readonly handlers: HandlerTable;
}

export interface ConnectionEvents {
  open(conn: Connection): void;
  /** `rejected` is set when the close is one of the counted refusals. */
  close(conn: Connection, reason: string, rejected: RejectReason | undefined): void;
}

interface Pending {
  resolve(body: Body): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

type State = 'handshaking' | 'open' | 'closed';

export class Connection {
  readonly role: 'dialer' | 'listener';
  readonly remoteAddress: string;
  /** The peer, known once the handshake has named it. */
  peer: MemberAddress | undefined;
  /** A duplicate of another connection to the same peer: carries no new frames, closes when idle. */
  retired = false;
  /** Whether the handshake ever completed. */
  everOpened = false;
  readonly #socket: Socket;
  readonly #settings: ConnectionSettings;
  readonly #events: ConnectionEvents;
  readonly #reader: FrameReader;
  readonly #decode: (bytes: Uint8Array) => unknown;
  readonly #expectedPeerName: string | undefined;
  readonly #pending = new Map<number, Pending>();
  #queue: Buffer[] = [];
  #queuedBytes = 0;
  #state: State = 'handshaking';
  #nextId = 1;
  #nonce: Buffer | undefined;
  #peerNonce: Uint8Array | undefined;
  #lastReceived = Date.now();
  #lastSent = Date.now();
  /** Frames written in one pass of the event loop leave in one writev (see #writeNow). */
  #corked = false;
  readonly #uncork = (): void => {
    this.#corked = false;
    this.#socket.uncork();
  };
  readonly #handshakeTimer: NodeJS.Timeout;
  #tick: NodeJS.Timeout | undefined;

  constructor(
    socket: Socket,
    role: 'dialer' | 'listener',
    settings: ConnectionSettings,
    events: ConnectionEvents,
    expectedPeerName?: string,
  ) {
    this.#socket = socket;
    this.role = role;
    this.#settings = settings;
    this.#events = events;
    this.#expectedPeerName = expectedPeerName;
    this.remoteAddress = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.#reader = new FrameReader(settings.maxHandshakeFrameBytes);
    this.#decode = createValueDecoder(settings.maxFrameBytes);
    this.#handshakeTimer = setTimeout(
      () => this.close('handshake-timeout', 'handshake-timeout'),
      settings.handshakeTimeoutMs,
    );
    this.#handshakeTimer.unref();
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('drain', () => this.#flush());
    socket.on('error', () => this.close('socket-error'));
    socket.on('close', () => this.close('closed-by-peer'));
  }

  get isOpen(): boolean {
    return this.#state === 'open';
  }

  get isClosed(): boolean {
    return this.#state === 'closed';
  }

  /** Requests awaiting their reply. */
  get inFlight(): number {
    return this.#pending.size;
  }

  /** Dialer: the socket is connected (and TLS established); says hello. */
  begin(): void {
    if (this.role !== 'dialer' || this.#state !== 'handshaking') return;
    this.#nonce = newNonce();
    const { self, cluster } = this.#settings;
    this.#writeNow(
      encodeFrame(Kind.hello, 0, '', {
        v: PROTOCOL_VERSION,
        cluster,
        name: self.name,
        address: self.address,
        nonce: this.#nonce,
      }),
    );
  }

  /**
   * Sends a request; frames wait in the send queue until the handshake is done.
   * @throws {ClusterBackpressureError} when the send queue is full
   */
  request(type: string, body: Body, timeoutMs: number): Promise<Body> {
    if (this.#state === 'closed')
      return Promise.reject(
        new ClusterUnreachableError(`connection to ${this.#peerLabel()} closed`),
      );
    const id = this.#nextId++;
    if (!this.#enqueue(encodeFrame(Kind.request, id, type, body))) {
      return Promise.reject(
        new ClusterBackpressureError(`send queue to ${this.#peerLabel()} is full`),
      );
    }
    return new Promise<Body>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        this.#settings.stats.timeouts++;
        reject(
          new ClusterTimeoutError(`${type} to ${this.#peerLabel()}: no reply in ${timeoutMs} ms`),
        );
        this.#closeIfRetiredAndIdle();
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
    });
  }

  /** Sends a one-way message; returns false when it was dropped (queue full, closed). */
  send(type: string, body: Body): boolean {
    if (this.#state === 'closed') return false;
    return this.#enqueue(encodeFrame(Kind.message, 0, type, body));
  }

  retire(): void {
    this.retired = true;
    this.#closeIfRetiredAndIdle();
  }

  close(reason: string, rejected?: RejectReason): void {
    if (this.#state === 'closed') return;
    const wasOpen = this.#state === 'open';
    this.#state = 'closed';
    clearTimeout(this.#handshakeTimer);
    if (this.#tick !== undefined) clearInterval(this.#tick);
    // A retired duplicate ends gracefully (written frames are delivered); anything else is cut.
    if (reason === 'duplicate') this.#socket.end();
    else this.#socket.destroy();
    this.#queue = [];
    this.#queuedBytes = 0;
    if (wasOpen) this.#settings.stats.connectionsOpen--;
    // A dialer that leaves after our challenge found our proof wrong (another secret) or would
    // not prove: counted as an authentication failure on this side too.
    if (
      !wasOpen &&
      rejected === undefined &&
      this.role === 'listener' &&
      this.#nonce !== undefined
    ) {
      rejected = 'auth';
    }
    for (const [id, p] of this.#pending) {
      this.#pending.delete(id);
      clearTimeout(p.timer);
      p.reject(new ClusterUnreachableError(`connection to ${this.#peerLabel()} lost (${reason})`));
    }
    this.#events.close(this, reason, rejected);
  }

  #peerLabel(): string {
    return this.peer?.name ?? this.#expectedPeerName ?? this.remoteAddress;
  }

  #onData(chunk: Buffer): void {
    if (this.#state === 'closed') return;
    this.#lastReceived = Date.now();
    this.#settings.stats.bytesReceived += chunk.length;
    let payloads: Buffer[];
    try {
      payloads = this.#reader.push(chunk);
    } catch (err) {
      this.close('bad frame', err instanceof FrameTooLargeError ? 'frame-too-large' : 'garbage');
      return;
    }
    for (const payload of payloads) {
      if (this.isClosed) return;
      let envelope: Envelope;
      try {
        envelope = toEnvelope(this.#decode(payload));
      } catch (err) {
        if (!(err instanceof GarbageFrameError)) throw err;
        this.close('garbage frame', 'garbage');
        return;
      }
      this.#settings.stats.framesReceived++;
      if (this.#state === 'handshaking') this.#onHandshake(envelope);
      else this.#onFrame(envelope);
    }
  }

  #onHandshake({ kind, body }: Envelope): void {
    const { secret, cluster, self } = this.#settings;
    if (this.role === 'listener' && kind === Kind.hello && this.#peerNonce === undefined) {
      const hello = readGreeting(body);
      if (hello === undefined) return this.close('bad hello', 'garbage');
      if (hello.cluster !== cluster)
        return this.close(`cluster "${hello.cluster}"`, 'cluster-name');
      this.peer = { name: hello.name, address: hello.address };
      this.#peerNonce = hello.nonce;
      this.#nonce = newNonce();
      const ctx = this.#context();
      this.#writeNow(
        encodeFrame(Kind.challenge, 0, '', {
          v: PROTOCOL_VERSION,
          cluster,
          name: self.name,
          address: self.address,
          nonce: this.#nonce,
          proof: proof(secret, 'listener', ctx),
        }),
      );
      return;
    }
    if (this.role === 'dialer' && kind === Kind.challenge && this.#peerNonce === undefined) {
      const challenge = readGreeting(body);
      if (challenge === undefined) return this.close('bad challenge', 'garbage');
      if (challenge.cluster !== cluster)
        return this.close(`cluster "${challenge.cluster}"`, 'cluster-name');
      this.peer = { name: challenge.name, address: challenge.address };
      this.#peerNonce = challenge.nonce;
      if (!verifyProof(secret, 'listener', this.#context(), challenge.proof))
        return this.close('bad proof', 'auth');
      if (this.#expectedPeerName !== undefined && challenge.name !== this.#expectedPeerName) {
        return this.close(
          `expected ${this.#expectedPeerName}, found ${challenge.name}`,
          'peer-name',
        );
      }
      this.#writeNow(
        encodeFrame(Kind.proof, 0, '', { proof: proof(secret, 'dialer', this.#context()) }),
      );
      return;
    }
    if (this.role === 'listener' && kind === Kind.proof && this.#peerNonce !== undefined) {
      if (!verifyProof(secret, 'dialer', this.#context(), body['proof']))
        return this.close('bad proof', 'auth');
      this.#writeNow(encodeFrame(Kind.welcome, 0, '', {}));
      return this.#open();
    }
    if (this.role === 'dialer' && kind === Kind.welcome && this.#peerNonce !== undefined)
      return this.#open();
    this.close('frame out of order', 'garbage');
  }

  #context(): HandshakeContext {
    const mine = this.#nonce!;
    const theirs = this.#peerNonce!;
    const peerName = this.peer!.name;
    const dialer = this.role === 'dialer';
    return {
      cluster: this.#settings.cluster,
      dialerName: dialer ? this.#settings.self.name : peerName,
      listenerName: dialer ? peerName : this.#settings.self.name,
      dialerNonce: dialer ? mine : theirs,
      listenerNonce: dialer ? theirs : mine,
    };
  }

  #open(): void {
    this.#state = 'open';
    this.everOpened = true;
    clearTimeout(this.#handshakeTimer);
    this.#reader.maxFrameBytes = this.#settings.maxFrameBytes;
    this.#settings.stats.connectionsOpen++;
    this.#settings.stats.connectionsOpened++;
    const { keepAliveMs, idleTimeoutMs } = this.#settings;
    this.#tick = setInterval(
      () => this.#onTick(),
      Math.max(10, Math.min(keepAliveMs, idleTimeoutMs) / 3),
    );
    this.#tick.unref();
    // Flush first: if the open event retires this connection as a duplicate, what was queued
    // during the handshake still goes out before it closes.
    this.#flush();
    this.#events.open(this);
  }

  #onTick(): void {
    const now = Date.now();
    if (now - this.#lastReceived > this.#settings.idleTimeoutMs) {
      this.close('nothing received', 'idle');
      return;
    }
    if (now - this.#lastSent >= this.#settings.keepAliveMs)
      this.#enqueue(encodeFrame(Kind.keepAlive, 0, '', {}));
  }

  #onFrame({ kind, id, type, body }: Envelope): void {
    const from = this.peer!;
    switch (kind) {
      case Kind.request:
        this.#settings.handlers.request(type, body, from).then(
          (reply) => this.#enqueue(encodeFrame(Kind.reply, id, '', reply)),
          (err: unknown) => {
            const [code, errBody] = toErrorReply(err);
            this.#enqueue(encodeFrame(Kind.errorReply, id, code, errBody));
          },
        );
        return;
      case Kind.reply:
      case Kind.errorReply: {
        const p = this.#pending.get(id);
        if (p === undefined) return; // a reply after its deadline
        this.#pending.delete(id);
        clearTimeout(p.timer);
        if (kind === Kind.reply) p.resolve(body);
        else p.reject(fromErrorReply(type, body, from.name));
        this.#closeIfRetiredAndIdle();
        return;
      }
      case Kind.message:
        this.#settings.handlers.message(type, body, from);
        return;
      case Kind.keepAlive:
        return;
      default:
        this.close('handshake frame after the handshake', 'garbage');
    }
  }

  #closeIfRetiredAndIdle(): void {
    if (
      this.retired &&
      this.role === 'dialer' &&
      this.#pending.size === 0 &&
      this.#state === 'open'
    )
      this.close('duplicate');
  }

  /** Queues a frame behind the socket buffer; false when the queue is full or closed. */
  #enqueue(frame: Buffer): boolean {
    if (this.#state === 'closed') return false;
    if (this.#state === 'open' && this.#queue.length === 0 && this.#socketHasRoom()) {
      this.#writeNow(frame);
      return true;
    }
    if (this.#queuedBytes + frame.length > this.#settings.maxQueuedBytes) return false;
    this.#queue.push(frame);
    this.#queuedBytes += frame.length;
    return true;
  }

  #flush(): void {
    while (this.#state === 'open' && this.#queue.length > 0 && this.#socketHasRoom()) {
      const frame = this.#queue.shift()!;
      this.#queuedBytes -= frame.length;
      this.#writeNow(frame);
    }
  }

  #socketHasRoom(): boolean {
    return this.#socket.writableLength < this.#socket.writableHighWaterMark;
  }

  #writeNow(frame: Buffer): void {
    this.#lastSent = Date.now();
    this.#settings.stats.framesSent++;
    this.#settings.stats.bytesSent += frame.length;
    // Under load many small frames (requests, replies, backups) are written in one pass of the
    // event loop: corked until the pass's poll phase is over (setImmediate), they leave in one
    // system call instead of one each. A nextTick would flush after each callback, so the
    // requests of many HTTP connections read in one poll would still cost a write each (with
    // 200 sessions behind Express: 4.2k -> 5.0k req/s, and half the CPU per backup received).
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      setImmediate(this.#uncork);
    }
    this.#socket.write(frame);
  }
}
