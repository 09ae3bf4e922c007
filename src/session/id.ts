// Session ids and session references: `<id>` or `<id>.<route>[.<route>…]`, the form that
// sticky proxies read (Tomcat's jvmRoute, Keycloak's AUTH_SESSION_ID). Parsed and formatted here only.

import { randomFillSync } from 'node:crypto';
import { ID_BYTES } from '../defaults.js';

/** An id: base64url, 22 (132 bits) to 128 characters. A generated one is 32 (192 bits). */
const ID_PATTERN = /^[A-Za-z0-9_-]{22,128}$/;
/** A route names a node: `[A-Za-z0-9_-]{1,64}`. */
const ROUTE_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** At most this many routes follow an id (owner, then backups, for the `ranked` affinity). */
export const MAX_ROUTES = 4;

export interface SessionRef {
  readonly id: string;
  /** Nodes that hold the session, preferred first; empty when the session has no route. */
  readonly routes: readonly string[];
}

// Random bytes are drawn from the CSPRNG a pool at a time (as Node's randomUUID does): one
// call per 170 ids instead of one per id, which halves the cost of creating a session. Each
// byte is used once.
const POOL_BYTES = ID_BYTES * 170;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let poolOffset = POOL_BYTES;

/** A fresh id from the CSPRNG: 192 bits, base64url, 32 characters. */
export function generateId(): string {
  if (poolOffset + ID_BYTES > POOL_BYTES) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const id = pool.toString('base64url', poolOffset, poolOffset + ID_BYTES);
  poolOffset += ID_BYTES;
  return id;
}

export function isValidId(id: string): boolean {
  return ID_PATTERN.test(id);
}

export function isValidRoute(route: string): boolean {
  return ROUTE_PATTERN.test(route);
}

/** `<id>.<route>…`; the routes must be valid (checked where they are configured). */
export function formatRef(ref: SessionRef): string {
  return ref.routes.length === 0 ? ref.id : `${ref.id}.${ref.routes.join('.')}`;
}

/** Parses `<id>[.<route>…]`; undefined when any part is malformed. */
export function parseRef(text: string): SessionRef | undefined {
  const parts = text.split('.');
  const id = parts[0]!;
  if (parts.length > MAX_ROUTES + 1 || !ID_PATTERN.test(id)) return undefined;
  const routes = parts.slice(1);
  for (const route of routes) if (!ROUTE_PATTERN.test(route)) return undefined;
  return { id, routes };
}

/**
 * The routes of a signed session cookie value `<id>[.<route>…].<mac>`, preferred first, without
 * checking the MAC (a proxy routes, the app node verifies). Empty when the value is malformed.
 */
export function routesOfToken(token: string): readonly string[] {
  const dot = token.lastIndexOf('.');
  if (dot <= 0) return [];
  return parseRef(token.slice(0, dot))?.routes ?? [];
}
