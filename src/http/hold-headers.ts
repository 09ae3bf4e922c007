// Holds a node:http response until the session is committed: the first writeHead/write/end
// runs a hook, and when the hook returns a promise, every call waits for it. So a redirect
// (POST /login → 302 → GET) never reaches the browser before its session is stored, the
// bug express-session has had for years (#167, #309, #360).
//
// The three methods become own properties of the response (so a framework that swaps the
// response's prototype afterwards, as Express does, cannot bypass them), and they are the same
// three functions for every response, reading their state from a symbol: no closure per
// request, and every held response has the same shape.

import type { ServerResponse } from 'node:http';

type Method = (this: ServerResponse, ...args: unknown[]) => unknown;
type Name = 'writeHead' | 'write' | 'end';

const HOLD = Symbol('sessionmesh.hold');

interface Hold {
  state: 'before' | 'waiting' | 'after';
  /** What writeHead/write/end were before: a middleware earlier in the chain may have wrapped them. */
  original: Record<Name, Method>;
  hook: () => Promise<void> | undefined;
  onError: (err: unknown) => void;
  queue: [Name, unknown[]][] | undefined;
}

type HeldResponse = ServerResponse & { [HOLD]: Hold };

/**
 * @param hook runs once, before the headers leave; returns a promise when it must wait.
 * @param onError answers the request when the hook fails (its writes are dropped).
 */
export function holdHeaders(
  res: ServerResponse,
  hook: () => Promise<void> | undefined,
  onError: (err: unknown) => void,
): void {
  const methods = res as unknown as Record<Name, Method>;
  (res as HeldResponse)[HOLD] = {
    state: 'before',
    original: { writeHead: methods.writeHead, write: methods.write, end: methods.end },
    hook,
    onError,
    queue: undefined,
  };
  methods.writeHead = heldWriteHead;
  methods.write = heldWrite;
  methods.end = heldEnd;
}

const heldWriteHead = intercept('writeHead', (res) => res);
const heldWrite = intercept('write', () => true);
const heldEnd = intercept('end', (res) => res);

function intercept(name: Name, whileHeld: (res: ServerResponse) => unknown): Method {
  return function (this: ServerResponse, ...args: unknown[]) {
    const hold = (this as HeldResponse)[HOLD];
    const original = hold.original[name];
    if (hold.state === 'after') return original.apply(this, args);
    if (hold.state === 'waiting') {
      hold.queue!.push([name, args]);
      return whileHeld(this);
    }
    let pending: Promise<void> | undefined;
    try {
      pending = hold.hook();
    } catch (err) {
      hold.state = 'after';
      hold.onError(err);
      return whileHeld(this);
    }
    if (!pending) {
      hold.state = 'after';
      return original.apply(this, args);
    }
    hold.state = 'waiting';
    hold.queue = [[name, args]];
    pending.then(
      () => {
        hold.state = 'after';
        const calls = hold.queue!;
        hold.queue = undefined;
        for (const [method, callArgs] of calls) hold.original[method].apply(this, callArgs);
      },
      (err: unknown) => {
        hold.state = 'after';
        hold.queue = undefined;
        hold.onError(err);
      },
    );
    return whileHeld(this);
  };
}

/** Answers with a short plain-text error, replacing whatever the handler had prepared. */
export function answerError(res: ServerResponse, status: number, body: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** Adds one Set-Cookie value beside any the app set. */
export function appendSetCookie(res: ServerResponse, value: string): void {
  const existing = res.getHeader('set-cookie');
  if (existing === undefined) res.setHeader('set-cookie', value);
  else
    res.setHeader(
      'set-cookie',
      Array.isArray(existing) ? [...existing, value] : [String(existing), value],
    );
}
