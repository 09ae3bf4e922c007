// The `sessionmesh` package: the session model, the store interface and the memory store.
// Adapters live at sessionmesh/express, sessionmesh/fastify and sessionmesh/node.

export { SessionManager, createSessionManager } from './session/manager.js';
export type {
  SessionManagerOptions,
  SessionManagerEvents,
  SessionManagerStats,
  DeltaOptions,
  RejectReason,
} from './session/manager.js';
export { Session } from './session/session.js';
export { generateId, parseRef, formatRef, isValidId, isValidRoute } from './session/id.js';
export type { SessionRef } from './session/id.js';
export { Signer } from './session/signature.js';
export type { Secrets } from './session/signature.js';
export { readCookie, serializeCookie, resolveCookieOptions } from './session/cookie.js';
export type { CookieOptions, ResolvedCookieOptions, SameSite } from './session/cookie.js';
export { HybridClock } from './session/hlc.js';
export type { Hlc } from './session/hlc.js';
export { merge } from './session/merge.js';
export { isAlive, expiresAt } from './session/record.js';
export type { SessionRecord, LiveRecord, AttributeEntry, Register } from './session/record.js';
export { BaseStore } from './store/base-store.js';
export { MemoryStore } from './store/memory-store.js';
export type { MemoryStoreOptions } from './store/memory-store.js';
export type { SessionStore, StoreEvents } from './store/store.js';
export {
  SessionMeshError,
  RetryableError,
  InvalidOptionError,
  SessionTooLargeError,
  SessionValueError,
  StoreUnavailableError,
  StoreClosedError,
  SessionGoneError,
  CookieFormatError,
} from './errors.js';
