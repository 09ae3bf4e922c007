// Holds a node:http response until the session is committed: the first writeHead/write/end
// runs a hook, and when the hook returns a promise, every call waits for it. So a redirect
// (POST /login → 302 → GET) never reaches the browser before its session is stored, the
// bug express-session has had for years (#167, #309, #360).
//
// Where the three methods are intercepted decides the cost (framework-base.ts): a response of
// plain node:http or Connect gets them as own properties, which is cheap there; under Express
// they are patched once on express's base response object, and a response without a hold
// passes straight through. Nothing else is stored on the response: its hold is found through
// the request, on the object the adapter put at req.session (res.req is set by node:http), and
// only when the app may take req.session away (destroy(), unset: 'destroy') in a WeakMap,
// whose entries cost the garbage collector more than the lookup saves.

import type { ServerResponse } from 'node:http';
import { frameworkBase } from './framework-base.js';

type Method = (this: ServerResponse, ...args: unknown[]) => unknown;
type Name = 'writeHead' | 'write' | 'end';
type Methods = Record<Name, Method>;

/** What runs before the headers leave. */
export interface HeaderHook {
  /** Runs once, at the first writeHead/write/end; returns a promise when it must wait. */
  beforeHeaders(): Promise<void> | undefined;
  /** Answers the request when beforeHeaders failed (the app's writes are dropped). */
  failed(err: unknown): void;
}

class Hold {
  state: 'before' | 'waiting' | 'after' = 'before';
  queue: [Name, unknown[]][] | undefined = undefined;
  constructor(
    readonly res: ServerResponse,
    readonly hook: HeaderHook,
    /** The methods to call through to: a middleware earlier in the chain may have wrapped them. */
    readonly original: Methods,
  ) {}
}

/** Where a hold is kept on the object found at res.req.session. */
const HOLD = Symbol('sessionmesh.hold');
type Carrier = { [HOLD]?: Hold };

/** Holds whose carrier the app may remove from req.session. */
const pinned = new WeakMap<object, Hold>();

/** Framework bases patched so far, with the methods their held responses call through to. */
const patchedBases = new WeakMap<object, Methods>();

/**
 * Holds `res` until `hook.beforeHeaders()` has run (and its promise, if any, has settled).
 * @param carrier the object the adapter sets as req.session: under Express the hold is kept on it.
 */
export function holdHeaders(res: ServerResponse, hook: HeaderHook, carrier: object): void {
  const base = frameworkBase(res);
  const original = base && patchedBases.get(base);
  if (original !== undefined) {
    (carrier as Carrier)[HOLD] = new Hold(res, hook, original);
    return;
  }
  // Middleware that ran before the first request of a new base may have captured the
  // unpatched methods: that one response is held through own properties as well (they call
  // the patched methods, which find no hold and pass through).
  if (base !== undefined) patchBase(base);
  const methods = res as unknown as Methods;
  const hold = new Hold(res, hook, {
    writeHead: methods.writeHead,
    write: methods.write,
    end: methods.end,
  });
  methods.writeHead = ownMethod(hold, 'writeHead');
  methods.write = ownMethod(hold, 'write');
  methods.end = ownMethod(hold, 'end');
}

/** Keeps the hold reachable when the app removes `carrier` from req.session. */
export function pinHold(carrier: object): void {
  const hold = (carrier as Carrier)[HOLD];
  if (hold !== undefined && hold.state !== 'after') pinned.set(hold.res, hold);
}

function holdOf(res: ServerResponse): Hold | undefined {
  const carrier = (res.req as { session?: Carrier } | undefined)?.session;
  const hold = carrier?.[HOLD];
  // A carrier moved to another request (a copied req.session) does not hold this response.
  if (hold !== undefined && hold.res === res) return hold;
  return pinned.get(res);
}

/** The own-property form: closures over the hold (cheap where responses share hidden classes). */
function ownMethod(hold: Hold, name: Name): Method {
  const original = hold.original[name];
  const whileHeld = WHILE_HELD[name];
  return function (this: ServerResponse, ...args: unknown[]) {
    if (hold.state === 'after') return original.apply(this, args);
    return intercept(this, hold, name, original, whileHeld, args);
  };
}

function patchBase(base: object): Methods {
  const target = base as Methods;
  const original: Methods = { writeHead: target.writeHead, write: target.write, end: target.end };
  for (const name of ['writeHead', 'write', 'end'] as const) {
    const through = original[name];
    const whileHeld = WHILE_HELD[name];
    Object.defineProperty(base, name, {
      value: function (this: ServerResponse, ...args: unknown[]) {
        const hold = holdOf(this);
        if (hold === undefined || hold.state === 'after') return through.apply(this, args);
        return intercept(this, hold, name, through, whileHeld, args);
      },
      writable: true,
      configurable: true,
      enumerable: false,
    });
  }
  patchedBases.set(base, original);
  return original;
}

const WHILE_HELD: Record<Name, (res: ServerResponse) => unknown> = {
  writeHead: (res) => res,
  write: () => true,
  end: (res) => res,
};

/** A call on a response still held: run the hook, or queue behind it. */
function intercept(
  res: ServerResponse,
  hold: Hold,
  name: Name,
  original: Method,
  whileHeld: (res: ServerResponse) => unknown,
  args: unknown[],
): unknown {
  if (hold.state === 'waiting') {
    hold.queue!.push([name, args]);
    return whileHeld(res);
  }
  let pending: Promise<void> | undefined;
  try {
    pending = hold.hook.beforeHeaders();
  } catch (err) {
    hold.state = 'after';
    hold.hook.failed(err);
    return whileHeld(res);
  }
  if (!pending) {
    hold.state = 'after';
    return original.apply(res, args);
  }
  hold.state = 'waiting';
  hold.queue = [[name, args]];
  pending.then(
    () => {
      hold.state = 'after';
      const calls = hold.queue!;
      hold.queue = undefined;
      for (const [method, callArgs] of calls) hold.original[method].apply(res, callArgs);
    },
    (err: unknown) => {
      hold.state = 'after';
      hold.queue = undefined;
      hold.hook.failed(err);
    },
  );
  return whileHeld(res);
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

/**
 * Calls `fn` once the response is over: at its 'close' event, or at once when it already
 * closed (a client that went away while its request waited for a session lock: the event
 * fired before anyone listened, and a lock released only by it would never be).
 */
export function whenClosed(res: ServerResponse, fn: () => void): void {
  if (res.closed) fn();
  else res.once('close', fn);
}
