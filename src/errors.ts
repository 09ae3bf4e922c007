// Every error sessionmesh throws, each with a stable `code` (SM_ERR_<AREA>_<WHAT>).
// Tests and apps match on `code`, never on the message. docs/errors.md lists them.

export class SessionMeshError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A failure that may pass: the operation can be tried again (cluster retries decide by class). */
export class RetryableError extends SessionMeshError {}

/** An option had a value outside what it accepts; thrown by constructors and factories. */
export class InvalidOptionError extends SessionMeshError {
  constructor(option: string, accepted: string, got: unknown) {
    super('SM_ERR_OPTION_INVALID', `option "${option}" must be ${accepted}; got ${describe(got)}`);
  }
}

/** The serialized session is larger than `maxSessionBytes`; nothing of the commit was written. */
export class SessionTooLargeError extends SessionMeshError {
  readonly bytes: number;
  readonly limit: number;
  constructor(bytes: number, limit: number) {
    super(
      'SM_ERR_SESSION_TOO_LARGE',
      `session is ${bytes} bytes serialized, over maxSessionBytes (${limit}); nothing was saved`,
    );
    this.bytes = bytes;
    this.limit = limit;
  }
}

/** A session attribute could not be serialized as JSON (a cycle, a BigInt, …). */
export class SessionValueError extends SessionMeshError {
  constructor(key: string, cause: unknown) {
    super('SM_ERR_SESSION_VALUE', `session attribute "${key}" is not JSON-serializable`, { cause });
  }
}

/** The store cannot be reached or did not answer in time: adapters answer 503. */
export class StoreUnavailableError extends RetryableError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SM_ERR_STORE_UNAVAILABLE', message, options);
  }
}

/** The store was closed; no operation runs after close(). */
export class StoreClosedError extends SessionMeshError {
  constructor() {
    super('SM_ERR_STORE_CLOSED', 'the store is closed');
  }
}

/** A session operation needs a session that is no longer there (destroyed or expired). */
export class SessionGoneError extends SessionMeshError {
  constructor() {
    super('SM_ERR_SESSION_GONE', 'the session was destroyed or has expired');
  }
}

/** A cookie could not be written because a name, value or attribute is outside RFC 6265. */
export class CookieFormatError extends SessionMeshError {
  constructor(what: string, value: string) {
    super(
      'SM_ERR_COOKIE_FORMAT',
      `cookie ${what} has characters RFC 6265 forbids: ${JSON.stringify(value)}`,
    );
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'function') return 'a function';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** A proxy call named an upstream the proxy does not have (drain, undrain, admin API). */
export class UnknownUpstreamError extends SessionMeshError {
  constructor(name: string) {
    super('SM_ERR_PROXY_UPSTREAM_UNKNOWN', `no upstream is named ${JSON.stringify(name)}`);
  }
}

// ---- cluster transport (src/cluster/transport/) ----

/** A cluster request got no reply by its deadline. */
export class ClusterTimeoutError extends RetryableError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SM_ERR_CLUSTER_TIMEOUT', message, options);
  }
}

/** A peer could not be reached: dial failed, in reconnect backoff, connection lost, transport closed. */
export class ClusterUnreachableError extends RetryableError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SM_ERR_CLUSTER_UNREACHABLE', message, options);
  }
}

/** The send queue to a peer is full: the peer is slower than we write; try later or elsewhere. */
export class ClusterBackpressureError extends RetryableError {
  constructor(message: string) {
    super('SM_ERR_CLUSTER_BACKPRESSURE', message);
  }
}

// ---- cluster data layer (src/cluster/) ----

/** The member asked was not the owner of the session's partition (or was migrating it) until the deadline. */
export class NotOwnerError extends RetryableError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SM_ERR_CLUSTER_NOT_OWNER', message, options);
  }
}

/**
 * A session lock (`lock: 'cluster'`) was not granted within its wait bound: other requests of the
 * session held it all along, or its owner could not be reached. The adapters answer 503.
 */
export class LockTimeoutError extends SessionMeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SM_ERR_LOCK_TIMEOUT', message, options);
  }
}

/** A peer sent a cluster message whose body is not what the protocol allows; nothing was changed. */
export class ClusterProtocolError extends SessionMeshError {
  constructor(message: string) {
    super('SM_ERR_CLUSTER_PROTOCOL', message);
  }
}

// ---- external stores (src/store/redis-store.ts, src/store/postgres-store.ts) ----

/** A session id a store cannot hold (empty, too long, or with characters that would break its key). */
export class InvalidSessionIdError extends SessionMeshError {
  constructor(id: unknown) {
    super(
      'SM_ERR_STORE_ID_INVALID',
      `session id ${describe(id)} is not storable: 1-256 characters, no braces or spaces`,
    );
  }
}

/** A write reached the primary but not the replicas the `durability` option asks for in time. */
export class StoreDurabilityError extends StoreUnavailableError {
  readonly acknowledged: number;
  constructor(acknowledged: number, wanted: number) {
    super(
      `the write reached ${acknowledged} of ${wanted} replicas in time; it may be lost on failover`,
    );
    this.acknowledged = acknowledged;
  }
}
