// A small HTTP client for tests: one cookie jar per client, redirects not followed, so a test
// sees exactly what a browser would receive.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Reply {
  status: number;
  body: string;
  headers: Headers;
  setCookies: string[];
}

export class Client {
  readonly base: string;
  readonly jar = new Map<string, string>();
  constructor(base: string) {
    this.base = base;
  }

  async request(
    path: string,
    init: RequestInit & { form?: Record<string, string> } = {},
  ): Promise<Reply> {
    const headers = new Headers(init.headers);
    const cookie = [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    if (cookie && !headers.has('cookie')) headers.set('cookie', cookie);
    let body = init.body;
    if (init.form) {
      body = new URLSearchParams(init.form).toString();
      headers.set('content-type', 'application/x-www-form-urlencoded');
    }
    const res = await fetch(this.base + path, {
      ...init,
      body: body ?? null,
      headers,
      redirect: 'manual',
    });
    const setCookies = res.headers.getSetCookie();
    for (const line of setCookies) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (attrs.some((a) => /max-age=0\b/i.test(a.trim()))) this.jar.delete(name);
      else this.jar.set(name, value);
    }
    return { status: res.status, body: await res.text(), headers: res.headers, setCookies };
  }

  get(path: string, init: RequestInit = {}): Promise<Reply> {
    return this.request(path, init);
  }

  post(path: string, form: Record<string, string> = {}, init: RequestInit = {}): Promise<Reply> {
    return this.request(path, { ...init, method: 'POST', form });
  }
}

/** Listens on a free loopback port; returns the base URL and a close function. */
export async function listen(
  server: Server,
): Promise<{ base: string; close: () => Promise<void> }> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const SECRET = 'test-secret-0123456789abcdefghijklmnop';

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The cookie header of a new session, made by a GET of `url`. */
export async function newSessionHeaders(url: string): Promise<{ cookie: string }> {
  const first = await fetch(url);
  return { cookie: first.headers.getSetCookie()[0]!.split(';')[0]! };
}

/**
 * The lock scenario shared by the adapters, on an app with `lock: 'node'`, GET /inc (adds one
 * to the session's counter and answers it) and GET /slow (the same, once `open` is called). A
 * request queues behind /slow and its client goes away before the lock comes to it; the lock
 * must still pass on, to the holder and then to the next request.
 */
export async function assertLockPassesOnAfterAbandonedWaiter(
  base: string,
  open: () => void,
): Promise<void> {
  const headers = await newSessionHeaders(`${base}/inc`);
  const holder = fetch(`${base}/slow`, { headers }).then((r) => r.text());
  await pause(50);
  const gone = new AbortController();
  const waiter = fetch(`${base}/inc`, { headers, signal: gone.signal }).catch(() => 'aborted');
  await pause(50);
  gone.abort();
  assert.equal(await waiter, 'aborted', 'the waiter was still queued when its client left');
  await pause(50);
  open();
  assert.equal(await holder, '2');
  const next = await fetch(`${base}/inc`, { headers, signal: AbortSignal.timeout(3000) });
  assert.equal(next.status, 200, 'the lock was not left with the request that went away');
}
