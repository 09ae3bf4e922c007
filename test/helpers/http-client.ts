// A small HTTP client for tests: one cookie jar per client, redirects not followed, so a test
// sees exactly what a browser would receive.
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

/**
 * Sends a request that queues behind a session's lock, then aborts it before the lock comes
 * to it: the client has gone away while the server still holds the request.
 */
export async function abandonWhileQueued(url: string, headers: Record<string, string>) {
  const gone = new AbortController();
  const waiter = fetch(url, { headers, signal: gone.signal }).catch(() => 'aborted');
  await new Promise((r) => setTimeout(r, 50));
  gone.abort();
  if ((await waiter) !== 'aborted') throw new Error(`${url} answered before its client left`);
}
