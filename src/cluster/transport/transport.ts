// The transport between cluster members, as the rest of the cluster sees it: addressed
// request/response and one-way messages carrying plain data (MessagePack-able values only).
// Two implementations pass one contract suite: TCP (tcp-transport.ts) and in-memory
// (memory-transport.ts, which can drop, delay and partition messages for simulation tests).

/** A member's identity: its unique name and the address its transport listens on. */
export interface MemberAddress {
  /** Unique in the cluster; also the session route ([A-Za-z0-9_-]{1,64}). */
  readonly name: string;
  /** host:port for TCP; any unique string for the in-memory transport. */
  readonly address: string;
}

/** A message body: plain data only; nothing received is ever evaluated. */
export type Body = Record<string, unknown>;

export interface RequestOptions {
  /** Give up (reject with a RetryableError, code SM_ERR_CLUSTER_TIMEOUT) after this many ms. */
  readonly timeoutMs: number;
}

/** Handles a request from `from`; its resolved value is the reply, a throw becomes an error reply. */
export type RequestHandler = (
  type: string,
  body: Body,
  from: MemberAddress,
) => Promise<Body> | Body;
/** Handles a one-way message. */
export type MessageHandler = (type: string, body: Body, from: MemberAddress) => void;

export interface Transport {
  readonly self: MemberAddress;
  /** Starts listening; resolves when peers can connect. */
  start(): Promise<void>;
  /**
   * Sends a request and waits for its reply.
   * @throws {RetryableError} on timeout, an unreachable peer or a lost connection.
   */
  request(to: MemberAddress, type: string, body: Body, options: RequestOptions): Promise<Body>;
  /** Sends a one-way message; best effort (lost if the peer is unreachable). */
  send(to: MemberAddress, type: string, body: Body): void;
  /**
   * Sets the handler of requests. With `typePrefix`, the handler takes only the types that start
   * with it (the longest registered prefix wins: membership registers `swim.`); without it, it
   * takes every type no prefixed handler takes, and replaces the previous such handler.
   */
  onRequest(handler: RequestHandler, typePrefix?: string): void;
  /** Sets the handler of one-way messages; `typePrefix` as for onRequest. */
  onMessage(handler: MessageHandler, typePrefix?: string): void;
  /** Closes every connection and the listener. */
  close(): Promise<void>;
}
