// Cookie-insert mode (HAProxy `cookie insert`): the proxy sets its own route cookie for apps that
// don't carry a route in their session cookie. Its value names the node by a keyed hash of the node's
// name, so several proxies with the same key agree without sharing state, and carries the dates it
// was first issued and last refreshed, so that max idle and max life re-balance long-lived clients.

import { createHmac } from 'node:crypto';
import type { Upstream } from './upstream-pool.js';
import { readCookie } from '../session/cookie.js';
import { InvalidOptionError } from '../errors.js';
import {
  PROXY_INSERT_COOKIE_NAME,
  PROXY_INSERT_MAX_IDLE_MS,
  PROXY_INSERT_MAX_LIFE_MS,
} from '../defaults.js';

export interface InsertCookieOptions {
  readonly name?: string;
  /** Shared by every proxy of a farm; the node tokens are HMAC-SHA256(key, node name). */
  readonly key?: string;
  readonly maxIdleMs?: number;
  readonly maxLifeMs?: number;
  readonly path?: string;
  readonly secure?: boolean;
  readonly sameSite?: 'Lax' | 'Strict' | 'None';
}

export interface InsertCookie {
  readonly name: string;
  /** The node the request's route cookie names, if the cookie is valid, fresh and the node known. */
  read(
    cookieHeader: string | undefined,
    now: number,
  ): { upstream: Upstream; issuedSec: number; seenSec: number } | undefined;
  /** A Set-Cookie value for this node, keeping `issuedSec` when the client stays on the same node. */
  serialize(upstream: Upstream, now: number, issuedSec?: number): string;
  /** Whether a valid cookie should be refreshed (its last-seen date is a tenth of max idle old). */
  stale(seenSec: number, now: number): boolean;
}

const DEFAULT_KEY = 'sessionmesh-route';

export function createInsertCookie(
  options: InsertCookieOptions,
  upstreams: () => readonly Upstream[],
): InsertCookie {
  const name = options.name ?? PROXY_INSERT_COOKIE_NAME;
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name))
    throw new InvalidOptionError('insert.name', 'an RFC 6265 token', name);
  const maxIdleSec = Math.ceil((options.maxIdleMs ?? PROXY_INSERT_MAX_IDLE_MS) / 1000);
  const maxLifeSec = Math.ceil((options.maxLifeMs ?? PROXY_INSERT_MAX_LIFE_MS) / 1000);
  const key = options.key ?? DEFAULT_KEY;
  const tokens = new WeakMap<Upstream, string>();
  const tokenOf = (upstream: Upstream): string => {
    let token = tokens.get(upstream);
    if (token === undefined) {
      token = createHmac('sha256', key).update(upstream.name).digest('base64url').slice(0, 16);
      tokens.set(upstream, token);
    }
    return token;
  };
  // Rebuilt when a node is added or removed (the list is replaced, never changed in place).
  let byToken = new Map<string, Upstream>();
  let byTokenOf: readonly Upstream[] | undefined;
  const lookup = (token: string): Upstream | undefined => {
    const list = upstreams();
    if (byTokenOf !== list) {
      byToken = new Map(list.map((u) => [tokenOf(u), u]));
      byTokenOf = list;
    }
    return byToken.get(token);
  };
  const attributes =
    `; Path=${options.path ?? '/'}; HttpOnly; SameSite=${options.sameSite ?? 'Lax'}` +
    (options.secure ? '; Secure' : '');
  return {
    name,
    read(cookieHeader, now) {
      const value = readCookie(cookieHeader, name);
      if (value === undefined) return undefined;
      const [token, issued, seen] = value.split('~');
      const upstream = token === undefined ? undefined : lookup(token);
      const issuedSec = parseInt(issued ?? '', 36);
      const seenSec = parseInt(seen ?? '', 36);
      if (!upstream || !Number.isFinite(issuedSec) || !Number.isFinite(seenSec)) return undefined;
      const nowSec = Math.floor(now / 1000);
      if (nowSec - seenSec > maxIdleSec || nowSec - issuedSec > maxLifeSec) return undefined;
      return { upstream, issuedSec, seenSec };
    },
    serialize(upstream, now, issuedSec) {
      const nowSec = Math.floor(now / 1000);
      const value = `${tokenOf(upstream)}~${(issuedSec ?? nowSec).toString(36)}~${nowSec.toString(36)}`;
      return `${name}=${value}${attributes}`;
    },
    stale(seenSec, now) {
      return Math.floor(now / 1000) - seenSec >= Math.max(1, Math.floor(maxIdleSec / 10));
    },
  };
}
