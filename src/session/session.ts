// One session as a request sees it: attributes in a plain object (`data`) that the app reads
// and writes freely, plus what is needed to find out, at commit, which attributes changed.

import { setOwn, type LiveRecord, type SessionRecord } from './record.js';

export class Session {
  /** The session id, without route or signature. */
  id: string;
  /** Routes the client's cookie carried (empty for a new session). */
  readonly cookieRoutes: readonly string[];
  /** True until the first commit reaches the store. */
  isNew: boolean;
  /**
   * The attributes: every own enumerable property is one. Adapters may pass an object with a
   * prototype of their own (express's req.session), so methods live beside the attributes.
   */
  readonly data: Record<string, unknown>;
  createdAt: number;
  accessedAt: number;
  idleTimeoutMs: number;
  /** Timestamp of the idle timeout's last change (an LWW register in the record). */
  idleSetAt: string;
  absoluteExpiresAt: number;
  principal: string | null;
  /** Set when the idle timeout changed in this request. */
  idleChanged = false;
  /** Set when the principal changed in this request. */
  principalChanged = false;
  /** Set by destroy(): the commit of this request writes nothing more. */
  destroyed = false;
  /** Set by regenerate(): the id this session had before, destroyed at commit. */
  previousId: string | undefined;
  /** JSON text of each attribute as last loaded or committed: the base for the next delta. */
  snapshot: Map<string, string>;

  /** @internal built by SessionManager */
  constructor(init: {
    id: string;
    cookieRoutes: readonly string[];
    isNew: boolean;
    data: Record<string, unknown>;
    createdAt: number;
    accessedAt: number;
    idleTimeoutMs: number;
    idleSetAt: string;
    absoluteExpiresAt: number;
    principal: string | null;
    snapshot: Map<string, string>;
  }) {
    this.id = init.id;
    this.cookieRoutes = init.cookieRoutes;
    this.isNew = init.isNew;
    this.data = init.data;
    this.createdAt = init.createdAt;
    this.accessedAt = init.accessedAt;
    this.idleTimeoutMs = init.idleTimeoutMs;
    this.idleSetAt = init.idleSetAt;
    this.absoluteExpiresAt = init.absoluteExpiresAt;
    this.principal = init.principal;
    this.snapshot = init.snapshot;
  }

  get(key: string): unknown {
    return Object.hasOwn(this.data, key) ? this.data[key] : undefined;
  }

  set(key: string, value: unknown): void {
    this.data[key] = value;
  }

  delete(key: string): void {
    delete this.data[key];
  }

  /** Signs the session in (or out, with null): recorded in the record for idsOfPrincipal(). */
  setPrincipal(principal: string | null): void {
    if (principal === this.principal) return;
    this.principal = principal;
    this.principalChanged = true;
  }

  /** When this session expires if nothing else happens, in ms since the epoch. */
  get expiresAt(): number {
    const idle = this.accessedAt + this.idleTimeoutMs;
    return this.absoluteExpiresAt > 0 ? Math.min(idle, this.absoluteExpiresAt) : idle;
  }
}

/** The attributes of a record, parsed, copied onto `data`; returns the snapshot of their JSON. */
export function fillData(record: LiveRecord, data: Record<string, unknown>): Map<string, string> {
  const snapshot = new Map<string, string>();
  const attrs = record.attrs;
  // A session written without attributes has none in the store either.
  if (attrs === undefined) return snapshot;
  for (const key of Object.keys(attrs)) {
    const j = attrs[key]!.j;
    if (j === undefined) continue;
    setOwn(data, key, JSON.parse(j));
    snapshot.set(key, j);
  }
  return snapshot;
}

export type { SessionRecord };
