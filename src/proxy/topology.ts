// Where the cluster keeps each session's data, as the proxy sees it: the owner of the session's
// partition. The proxy only reads it through this interface (see docs/proxy.md for why it reads
// the topology from the nodes rather than joining the cluster as a member that holds no data).

import { EventEmitter } from 'node:events';

export interface TopologySource {
  /** The route of the node that owns the session's partition now, or undefined when unknown. */
  ownerOf(sessionId: string): string | undefined;
  on(event: 'change', listener: () => void): unknown;
  off(event: 'change', listener: () => void): unknown;
  close?(): void;
}

export interface StaticTopology extends TopologySource {
  /** Replaces the owner function and emits 'change' (what a topology change looks like to the proxy). */
  set(ownerOf: (sessionId: string) => string | undefined): void;
}

/**
 * A topology given by a function, for tests and for deployments whose placement is fixed.
 * @example
 * const topology = createStaticTopology((id) => (id < 'M' ? 'a' : 'b'));
 */
export function createStaticTopology(
  ownerOf: (sessionId: string) => string | undefined,
): StaticTopology {
  const emitter = new EventEmitter();
  let current = ownerOf;
  return {
    ownerOf: (sessionId) => current(sessionId),
    set(next) {
      current = next;
      emitter.emit('change');
    },
    on(event, listener) {
      emitter.on(event, listener);
      return this;
    },
    off(event, listener) {
      emitter.off(event, listener);
      return this;
    },
  };
}
