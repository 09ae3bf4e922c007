// The in-memory Transport: same semantics as TCP (bodies are MessagePack-encoded and decoded,
// so only plain data passes; deadlines; unreachable peers fail fast), carried by a MemoryNetwork
// that may drop, delay or cut messages.

import { ClusterTimeoutError, ClusterUnreachableError } from '../../errors.js';
import { CLUSTER_MAX_FRAME_BYTES } from '../../defaults.js';
import { createValueDecoder, encodeValue } from './codec.js';
import { fromErrorReply, HandlerTable, toErrorReply } from './handlers.js';
import type { MemoryNetwork } from './memory-network.js';
import type {
  Body,
  MemberAddress,
  MessageHandler,
  RequestHandler,
  RequestOptions,
  Transport,
} from './transport.js';

const decode = createValueDecoder(CLUSTER_MAX_FRAME_BYTES);

interface Pending {
  resolve(body: Body): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class MemoryTransport implements Transport {
  readonly self: MemberAddress;
  readonly #network: MemoryNetwork;
  readonly #handlers = new HandlerTable();
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #started = false;
  #closed = false;

  constructor(network: MemoryNetwork, self: MemberAddress) {
    this.#network = network;
    this.self = { name: self.name, address: self.address };
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#network.attach(this);
    this.#started = true;
  }

  request(to: MemberAddress, type: string, body: Body, options: RequestOptions): Promise<Body> {
    if (!this.#started || this.#closed) {
      return Promise.reject(
        new ClusterUnreachableError(`transport of ${this.self.name} is not running`),
      );
    }
    const id = this.#nextId++;
    const bytes = encodeValue(body);
    return new Promise<Body>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(
          new ClusterTimeoutError(
            `${type} to ${to.name || to.address}: no reply in ${options.timeoutMs} ms`,
          ),
        );
      }, options.timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      this.#network.carry(this.self, to.address, (receiver) => {
        if (receiver === undefined) {
          // Nobody listens there: a real dial is refused at once; the refusal travels back.
          this.#network.carry(to, this.self.address, () =>
            this.#settle(
              id,
              undefined,
              new ClusterUnreachableError(`nobody listens at ${to.address}`),
            ),
          );
          return;
        }
        receiver.#receiveRequest(this.self, id, type, bytes);
      });
    });
  }

  send(to: MemberAddress, type: string, body: Body): void {
    if (!this.#started || this.#closed) return;
    const bytes = encodeValue(body);
    this.#network.carry(this.self, to.address, (receiver) => {
      if (receiver === undefined || receiver.#closed) return;
      receiver.#handlers.message(type, decode(bytes) as Body, this.self);
    });
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
    this.#network.detach(this);
    for (const [id] of this.#pending) {
      this.#settle(
        id,
        undefined,
        new ClusterUnreachableError(`transport of ${this.self.name} closed`),
      );
    }
  }

  #receiveRequest(from: MemberAddress, id: number, type: string, bytes: Uint8Array): void {
    if (this.#closed) return;
    const reply = (ok: Body | undefined, code?: string, errBody?: Body): void => {
      const payload = encodeValue(ok ?? errBody ?? {});
      this.#network.carry(this.self, from.address, (sender) => {
        if (sender === undefined) return;
        const body = decode(payload) as Body;
        sender.#settle(
          id,
          code === undefined ? body : undefined,
          code === undefined ? undefined : fromErrorReply(code, body, this.self.name),
        );
      });
    };
    Promise.resolve()
      .then(() => this.#handlers.request(type, decode(bytes) as Body, from))
      .then(
        (body) => {
          if (!this.#closed) reply(body);
        },
        (err: unknown) => {
          if (this.#closed) return;
          const [code, body] = toErrorReply(err);
          reply(undefined, code, body);
        },
      );
  }

  #settle(id: number, body: Body | undefined, err: Error | undefined): void {
    const pending = this.#pending.get(id);
    if (pending === undefined) return;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    if (err !== undefined) pending.reject(err);
    else pending.resolve(body ?? {});
  }
}
