// The mutual challenge-response of docs/cluster-protocol.md#handshake: each side proves it knows
// the cluster secret with an HMAC-SHA256 over both sides' fresh nonces, both names, the cluster
// name and its own role, so a proof can be neither replayed nor reflected back.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const PROTOCOL_VERSION = 1;
export const NONCE_BYTES = 32;

export type Role = 'dialer' | 'listener';

export interface HandshakeContext {
  readonly cluster: string;
  readonly dialerName: string;
  readonly listenerName: string;
  readonly dialerNonce: Uint8Array;
  readonly listenerNonce: Uint8Array;
}

export function newNonce(): Buffer {
  return randomBytes(NONCE_BYTES);
}

/** The proof `role` sends: HMAC(secret, label, role, cluster, names, nonces). */
export function proof(secret: Buffer, role: Role, ctx: HandshakeContext): Buffer {
  const hmac = createHmac('sha256', secret);
  // A JSON array of strings is unambiguous: no two different tuples serialize alike.
  hmac.update(
    JSON.stringify(['sm-cluster-1', role, ctx.cluster, ctx.dialerName, ctx.listenerName]),
  );
  hmac.update(ctx.dialerNonce);
  hmac.update(ctx.listenerNonce);
  return hmac.digest();
}

/** Constant-time check of a proof received from `role`. */
export function verifyProof(
  secret: Buffer,
  role: Role,
  ctx: HandshakeContext,
  received: unknown,
): boolean {
  if (!(received instanceof Uint8Array) || received.byteLength !== 32) return false;
  return timingSafeEqual(proof(secret, role, ctx), received);
}

/** A hello or challenge body, checked field by field; undefined when malformed. */
export interface Greeting {
  readonly cluster: string;
  readonly name: string;
  readonly address: string;
  readonly nonce: Uint8Array;
  readonly proof?: Uint8Array;
}

export function readGreeting(body: Record<string, unknown>): Greeting | undefined {
  const { v, cluster, name, address, nonce, proof: p } = body;
  if (v !== PROTOCOL_VERSION) return undefined;
  if (typeof cluster !== 'string' || typeof name !== 'string' || typeof address !== 'string')
    return undefined;
  if (!(nonce instanceof Uint8Array) || nonce.byteLength !== NONCE_BYTES) return undefined;
  if (name.length === 0 || name.length > 64 || address.length > 300 || cluster.length > 300)
    return undefined;
  const greeting: Greeting = { cluster, name, address, nonce };
  return p instanceof Uint8Array ? { ...greeting, proof: p } : greeting;
}
