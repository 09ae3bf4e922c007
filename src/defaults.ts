// Every default of sessionmesh in one place, with its unit and the reason for its value.

/** 24 random bytes = 192 bits, as express-session's uid(24); OWASP asks for at least 64 bits of entropy. */
export const ID_BYTES = 24;

/** A session unused for this long expires (sliding). 30 minutes: OWASP's range for low-risk apps. */
export const IDLE_TIMEOUT_MS = 30 * 60 * 1000;

/** A session expires this long after creation whatever its activity (OWASP absolute timeout). */
export const ABSOLUTE_TIMEOUT_MS = 24 * 60 * 60 * 1000;

/**
 * A session that is only read is touched at most once per this fraction of its idle timeout,
 * so reads cost no write (express-session touches on every request, #891).
 */
export const TOUCH_FRACTION = 0.1;

/** Sessions bigger than this (sum of JSON bytes of attributes) are refused with SM_ERR_SESSION_TOO_LARGE. */
export const MAX_SESSION_BYTES = 256 * 1024;

/** A cookie value longer than this is not ours: rejected before any HMAC is computed. */
export const MAX_COOKIE_VALUE_CHARS = 1024;

/** MemoryStore keeps at most this many sessions; the least recently used goes first. */
export const MEMORY_STORE_MAX_SESSIONS = 1_000_000;

/** The cookie name; a generic one, so it does not fingerprint the framework. */
export const COOKIE_NAME = 'sid';

/** Shortest accepted secret, in characters (@fastify/session asks the same). */
export const MIN_SECRET_CHARS = 32;

// ---- proxy (src/proxy/) ----

/** Connecting to an upstream may take this long before it counts as a connect failure (retryable). */
export const PROXY_CONNECT_TIMEOUT_MS = 3_000;

/** An upstream has this long after the request was sent to start its response headers (nginx proxy_read_timeout is 60 s). */
export const PROXY_HEADER_TIMEOUT_MS = 60_000;

/** A proxied connection with no byte either way for this long is closed (both sides). */
export const PROXY_IDLE_TIMEOUT_MS = 120_000;

/** A client has this long to send its request headers: slowloris protection (nginx client_header_timeout is 60 s). */
export const PROXY_CLIENT_HEADERS_TIMEOUT_MS = 10_000;

/** A client has this long to send a whole request (headers and body); 0 disables it, for long uploads. */
export const PROXY_CLIENT_REQUEST_TIMEOUT_MS = 0;

/** An idle keep-alive client connection is closed after this long (nginx keepalive_timeout is 75 s). */
export const PROXY_CLIENT_KEEPALIVE_TIMEOUT_MS = 65_000;

/** A free pooled upstream socket is closed after this long: below Node's 5 s keepAliveTimeout, so the
 * proxy closes first and never writes to a socket the upstream is closing. */
export const PROXY_UPSTREAM_FREE_SOCKET_TIMEOUT_MS = 4_000;

/** Pooled keep-alive sockets kept per upstream. */
export const PROXY_UPSTREAM_MAX_FREE_SOCKETS = 256;

/** Request headers larger than this (bytes, all of them) get 431 (nginx large_client_header_buffers: 4×8 KB). */
export const PROXY_MAX_HEADER_BYTES = 16 * 1024;

/** A request with more header fields than this gets 431. */
export const PROXY_MAX_HEADER_COUNT = 100;

/** Active health check: one probe per upstream this often (HAProxy inter 2 s). */
export const PROXY_HEALTH_INTERVAL_MS = 2_000;

/** Active health check: a probe that has not answered within this long failed. */
export const PROXY_HEALTH_TIMEOUT_MS = 1_000;

/** Consecutive successful probes that put a down node back (HAProxy rise 2). */
export const PROXY_HEALTH_RISE = 2;

/** Consecutive failed probes or passive errors that take a node out (HAProxy fall 3). */
export const PROXY_HEALTH_FALL = 3;

/** Without active checks, a node taken out by passive errors is tried again after this long (nginx fail_timeout 10 s). */
export const PROXY_PASSIVE_DOWN_MS = 10_000;

/** A node that comes back ramps from a small share to its full share of new visitors over this long (0: at once). */
export const PROXY_SLOW_START_MS = 10_000;

/** Name of the proxy's own route cookie in cookie-insert mode. */
export const PROXY_INSERT_COOKIE_NAME = 'smroute';

/** Cookie-insert: a route cookie unused for this long is ignored and the visitor re-balanced (HAProxy maxidle). */
export const PROXY_INSERT_MAX_IDLE_MS = 30 * 60 * 1000;

/** Cookie-insert: a route cookie older than this is ignored and the visitor re-balanced (HAProxy maxlife). */
export const PROXY_INSERT_MAX_LIFE_MS = 24 * 60 * 60 * 1000;

/** Virtual points per upstream on the ip-hash ring: enough that each node's share is within a few % of 1/n. */
export const PROXY_HASH_RING_POINTS = 160;

// ---- cluster transport (src/cluster/transport/); docs/cluster-protocol.md#transport ----

/** Largest frame payload, bytes: far above a session (256 KiB) or a migration batch; bounds a peer's cost. */
export const CLUSTER_MAX_FRAME_BYTES = 16 * 1024 * 1024;

/** Largest frame before authentication, bytes: a hello is ~150 bytes, a stranger gets almost nothing. */
export const CLUSTER_MAX_HANDSHAKE_FRAME_BYTES = 1024;

/** The whole handshake must finish within this: ~1 ms on a LAN, room for a loaded machine and TLS. */
export const CLUSTER_HANDSHAKE_TIMEOUT_MS = 2_000;

/** Unauthenticated connections held at once: a 10-member restart needs ~10; caps slowloris cost. */
export const CLUSTER_MAX_PENDING_HANDSHAKES = 64;

/** A keep-alive frame is sent after this long without sending anything. */
export const CLUSTER_KEEPALIVE_MS = 5_000;

/** A connection that received nothing for this long (three keep-alives) is half-open: closed. */
export const CLUSTER_IDLE_TIMEOUT_MS = 15_000;

/** First reconnect delay; doubles per failure up to the max, times a jitter in [0.5, 1). */
export const CLUSTER_RECONNECT_BASE_MS = 50;

/** Longest reconnect delay: a restarted member is reached within ~1 s, a dead one costs a dial per second. */
export const CLUSTER_RECONNECT_MAX_MS = 1_000;

/** Bytes queued per peer beyond the socket's buffer before requests fail with SM_ERR_CLUSTER_BACKPRESSURE. */
export const CLUSTER_MAX_QUEUED_BYTES = 8 * 1024 * 1024;

// ---- cluster membership (src/cluster/membership/); docs/cluster-protocol.md#membership ----
// Target: a SIGKILLed member declared dead by every other within 2 s for 3-10 members on a LAN.

/** SWIM protocol period: a crashed member is first probed after ~1.6 periods (SWIM's e/(e-1)). */
export const MEMBERSHIP_PROBE_INTERVAL_MS = 200;

/** Direct probe timeout: a LAN round trip is < 1 ms; 100 ms absorbs a GC pause or a busy loop. */
export const MEMBERSHIP_PROBE_TIMEOUT_MS = 100;

/** Members asked to probe indirectly (k), memberlist's LAN value. */
export const MEMBERSHIP_INDIRECT_CHECKS = 3;

/** Suspicion timeout with enough confirmations: 5 periods, for a slow but live member to refute. */
export const MEMBERSHIP_SUSPICION_MIN_MS = 1_000;

/** Suspicion timeout without confirmations (Lifeguard); memberlist's 6x would break the 2 s target. */
export const MEMBERSHIP_SUSPICION_MAX_MS = 2_000;

/** Independent suspicions that shrink the timeout to its minimum (memberlist: SuspicionMult - 2). */
export const MEMBERSHIP_SUSPICION_CONFIRMATIONS = 3;

/** Each update is gossiped retransmitMult * ceil(log10(n + 1)) times (memberlist LAN: 4). */
export const MEMBERSHIP_RETRANSMIT_MULT = 4;

/** Updates piggybacked per message: keeps a ping well under 1 KiB. */
export const MEMBERSHIP_MAX_GOSSIP_PER_MESSAGE = 8;

/** Seed retries and heal syncs with a dead member happen at most this often. */
export const MEMBERSHIP_RECONNECT_INTERVAL_MS = 1_000;

/** A graceful leave waits at most this long for its announcements to be acknowledged. */
export const MEMBERSHIP_LEAVE_TIMEOUT_MS = 500;

/**
 * A dead member is forgotten this long after it was declared dead: until then heal syncs try
 * it (a split that heals within the hour rejoins by itself); after it, a cluster whose members
 * come and go under new names (one per deploy) does not keep, probe or sync them forever.
 * Serf keeps failed members 24 h, memberlist reaps them after its GossipToTheDeadTime (30 s).
 */
export const MEMBERSHIP_DEAD_RETENTION_MS = 3_600_000;

/** A member that left is forgotten this long after its leave: its goodbye has long spread. */
export const MEMBERSHIP_LEFT_RETENTION_MS = 60_000;

/** Highest Lifeguard local-health score: probe interval and timeout stretch up to (1 + this) times. */
export const MEMBERSHIP_AWARENESS_MAX = 8;

// ---- cluster data layer (src/cluster/) ----

/** Partitions of the cluster's session map: Hazelcast's 271, a prime, so structured ids still spread. */
export const PARTITION_COUNT = 271;

/** Backup replicas per partition: 1 survives any single member's death (Hazelcast's and Tomcat BackupManager's default). */
export const CLUSTER_BACKUPS = 1;

/** A map operation retries (not owner, migrating, unreachable) until this deadline: failure detection (~2 s) plus migration, with room. */
export const CLUSTER_OPERATION_TIMEOUT_MS = 10_000;

/** One attempt of a map operation waits this long for the owner's answer before retrying. */
export const CLUSTER_REQUEST_TIMEOUT_MS = 1_000;

/** First and largest pause between retries of a map operation (doubling, with jitter). */
export const CLUSTER_RETRY_BASE_MS = 5;
export const CLUSTER_RETRY_MAX_MS = 200;

/** A partition pull is retried this long; then the partition is served and anti-entropy repairs it. */
export const CLUSTER_MIGRATION_TIMEOUT_MS = 5_000;

/** A member reports ready once it holds its partitions, or after this long whatever happened. */
export const CLUSTER_READY_TIMEOUT_MS = 10_000;

/** Owner and backups compare partition digests this often. */
export const CLUSTER_ANTI_ENTROPY_INTERVAL_MS = 5_000;

/** A backup drops an expired copy this long after the deadline, so a touch in flight to the owner wins the race. */
export const CLUSTER_EXPIRY_GRACE_MS = 2_000;

/** Near-cached sessions per member (least recently used out). */
export const NEAR_CACHE_MAX_ENTRIES = 10_000;

/** A near-cached copy is trusted this long; the owner waits at most this long for an invalidation's answer. */
export const NEAR_CACHE_LEASE_MS = 5_000;

/** Key affinity draws at most this many ids for one this member owns (expected: about one per member). */
export const KEY_AFFINITY_MAX_DRAWS = 64;

// ---- external stores (src/store/redis-store.ts, src/store/postgres-store.ts) ----

/** A store operation (retries included) gives up after this long with SM_ERR_STORE_UNAVAILABLE: a 503, not a hang. */
export const STORE_OPERATION_TIMEOUT_MS = 2_000;

/** Key prefix of the Redis store (a Redis database is often shared). */
export const REDIS_PREFIX = 'sm:';

/** A dead session's Redis hash is kept this long after its deadline, so the expired event can read its principal. */
export const REDIS_EXPIRED_GRACE_MS = 60_000;

/** A destroy tombstone of a session without a known deadline is kept at least this long (a retried write arrives well within it). */
export const STORE_TOMBSTONE_MIN_MS = 60_000;

/** On Redis Cluster the expiry listener re-reads the master list this often, to follow failovers. */
export const REDIS_MASTERS_REFRESH_MS = 2_000;

/** Near-cached sessions per app node in the Redis store (least recently used out). */
export const REDIS_NEAR_CACHE_MAX_ENTRIES = 10_000;

/** PostgreSQL table of the sessions. */
export const POSTGRES_TABLE = 'sessionmesh_sessions';

/** The PostgreSQL cleanup runs this often on each app node (one node at a time does the work). */
export const POSTGRES_CLEANUP_INTERVAL_MS = 30_000;

/** Expired rows deleted per cleanup statement: short transactions, no long locks. */
export const POSTGRES_CLEANUP_BATCH = 500;

/** A cluster owner keeps a delta to a session it does not hold (the other side of a split has it) this long, invisible, to merge on heal. */
export const CLUSTER_PARTIAL_RETENTION_MS = 600_000;

/** An upstream response head larger than this (bytes) is a protocol error: 502 (nginx proxy_buffer_size is 4–8 KB). */
export const PROXY_MAX_RESPONSE_HEADER_BYTES = 64 * 1024;

/** An upstream response with more header fields than this is a protocol error: 502. */
export const PROXY_MAX_RESPONSE_HEADER_COUNT = 256;

/** A migration page (one map.pull answer or map.push request) carries about this many bytes of sessions: far below the 16 MiB frame, small enough not to hold a probe up. */
export const CLUSTER_MIGRATION_PAGE_BYTES = 256 * 1024;

/** Partitions one member pulls, and pushes, at the same time: bounds what a migration queues on a connection (back-pressure) and keeps probes flowing. */
export const CLUSTER_MIGRATION_CONCURRENCY = 4;
