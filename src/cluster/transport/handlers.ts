// Routes incoming requests and messages to the handler registered for the longest matching type
// prefix, and turns a handler's throw into an error reply and back, keeping its code and class.

import { RetryableError, SessionMeshError } from '../../errors.js';
import type { Body, MemberAddress, MessageHandler, RequestHandler } from './transport.js';

export class HandlerTable {
  readonly #requests = new Map<string, RequestHandler>();
  readonly #messages = new Map<string, MessageHandler>();

  setRequest(handler: RequestHandler, prefix = ''): void {
    this.#requests.set(prefix, handler);
  }

  setMessage(handler: MessageHandler, prefix = ''): void {
    this.#messages.set(prefix, handler);
  }

  /** @throws whatever the handler throws; a RetryableError SM_ERR_CLUSTER_NO_HANDLER when none takes `type`. */
  async request(type: string, body: Body, from: MemberAddress): Promise<Body> {
    const handler = pick(this.#requests, type);
    if (handler === undefined) {
      throw new RetryableError(
        'SM_ERR_CLUSTER_NO_HANDLER',
        `no handler for request type "${type}"`,
      );
    }
    return handler(type, body, from);
  }

  message(type: string, body: Body, from: MemberAddress): void {
    pick(this.#messages, type)?.(type, body, from);
  }
}

function pick<H>(handlers: Map<string, H>, type: string): H | undefined {
  let best: string | undefined;
  for (const prefix of handlers.keys()) {
    if (type.startsWith(prefix) && (best === undefined || prefix.length > best.length))
      best = prefix;
  }
  return best === undefined ? undefined : handlers.get(best);
}

/** The wire form of a handler's failure: [code, body]. */
export function toErrorReply(err: unknown): [string, Body] {
  if (err instanceof SessionMeshError) {
    return [err.code, { message: err.message, retryable: err instanceof RetryableError }];
  }
  return [
    'SM_ERR_CLUSTER_REMOTE',
    { message: err instanceof Error ? err.message : String(err), retryable: false },
  ];
}

/** The error a requester sees for an error reply: the remote code, retryable if the remote said so. */
export function fromErrorReply(code: string, body: Body, peer: string): SessionMeshError {
  const message = `${peer}: ${typeof body['message'] === 'string' ? body['message'] : code}`;
  return body['retryable'] === true
    ? new RetryableError(code, message)
    : new SessionMeshError(code, message);
}
