// The key layout. Every key of one session carries the hash tag `{<id>}`, so the merge script
// touches one cluster slot; a principal's index is a set under its own tag `{<principal>}`,
// which Redis Cluster may place in another slot, so it is kept by separate commands.

export interface KeyLayout {
  /** The session's hash: `<prefix>{<id>}`. */
  session(id: string): string;
  /** A key that expires exactly at the session's deadline; its expiry is the expired event. */
  marker(id: string): string;
  /** Taken by the one app node that fires the expired event. */
  claim(id: string): string;
  /** The set of session ids of a principal. */
  principal(principal: string): string;
  /** Held by the app node that sweeps a master for expired sessions (expiry-sweeper.ts). */
  sweepLock(masterAddress: string): string;
  /** SCAN pattern that matches the session hashes only. */
  readonly sessionPattern: string;
  /** The id of a marker key, or undefined for any other key. */
  idOfMarker(key: string): string | undefined;
  /** The id of a session hash key, or undefined. */
  idOfSession(key: string): string | undefined;
}

export function createKeyLayout(prefix: string): KeyLayout {
  const escaped = prefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
  return {
    session: (id) => `${prefix}{${id}}`,
    marker: (id) => `${prefix}{${id}}:x`,
    claim: (id) => `${prefix}{${id}}:e`,
    principal: (p) => `${prefix}p:{${p}}`,
    sweepLock: (address) => `${prefix}sweep:{${address}}`,
    sessionPattern: `${escaped}{*}`,
    idOfMarker(key) {
      if (!key.startsWith(`${prefix}{`) || !key.endsWith('}:x')) return undefined;
      return key.slice(prefix.length + 1, -3);
    },
    idOfSession(key) {
      if (!key.startsWith(`${prefix}{`) || !key.endsWith('}')) return undefined;
      return key.slice(prefix.length + 1, -1);
    },
  };
}

/**
 * Ids are what the store puts inside a hash tag: braces would move the tag and split a
 * session's keys across slots. Session ids are base64url; this refuses anything else odd.
 */
export function isStorableId(id: unknown): id is string {
  return typeof id === 'string' && id.length > 0 && id.length <= 256 && !/[{}\s]/.test(id);
}
