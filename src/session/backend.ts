// What the SessionManager needs of a store. store/store.ts's SessionStore extends it; the
// session layer names only this, so it stays below the store layer (DESIGN.md, Layers).

import type { LiveRecord, SessionRecord } from './record.js';

export interface SessionBackend {
  get(id: string): Promise<LiveRecord | undefined>;
  merge(id: string, delta: SessionRecord): Promise<void>;
  destroy(id: string): Promise<void>;
  idsOfPrincipal(principal: string): Promise<string[]>;
  on(event: 'expired', listener: (id: string) => void): unknown;
  off(event: 'expired', listener: (id: string) => void): unknown;
  /**
   * A store that holds sessions in this process may also answer synchronously; adapters then
   * skip a microtask per request. Same semantics as get() and merge(), except that the record
   * readSync() returns may be the store's own (read it at once, never modify or keep it), and
   * that readSync() answers null when this process cannot tell: a near cache without the
   * session (RedisStore), a cluster member that neither owns nor holds it (ClusterStore); then
   * get() must ask. MemoryStore never answers null.
   */
  readSync?(id: string): LiveRecord | undefined | null;
  mergeSync?(id: string, delta: SessionRecord): void;
  /** Key affinity: an id this node should create (the cluster draws one whose partition it owns). */
  generateId?(): string;
  /** The routes a cookie of this session should carry now (the cluster: its owner, then backups). */
  routesOf?(id: string): readonly string[];
}
