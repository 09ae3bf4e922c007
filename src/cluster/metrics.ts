// The counters of one member's data layer, and their Prometheus text form
// (`sessionmesh_cluster_*`); gauges are read from the map when rendered.

export interface MapCounters {
  /** Operations served, by kind, as owner or forwarded. */
  operations: Record<'get' | 'merge' | 'scan', number>;
  /** Sum of operation latencies in ms, by kind (with `operations`: the mean). */
  latencyMsTotal: Record<'get' | 'merge' | 'scan', number>;
  /** Attempts retried (retry answers and retryable transport failures). */
  retries: number;
  /** Partitions pulled, pushed and promoted on view changes. */
  migrations: { pulled: number; pushed: number; promoted: number };
  /** Sessions repaired by anti-entropy. */
  repaired: number;
  /** Near-cache invalidations sent by this member as owner. */
  invalidationsSent: number;
  /**
   * Merges this member applied as owner and replicated (sync mode), and the backup rounds that
   * carried them: merges of one session that arrive while a round is in flight share the next.
   */
  backup: { merges: number; rounds: number };
  /** Bytes of session records sent to backups and in migrations (JSON length, an estimate). */
  bytesSent: number;
  /** Session locks (`lock: 'cluster'`) asked for by this member: granted, timed out, time waited. */
  locks: { acquired: number; timeouts: number; waitMsTotal: number };
}

export function createCounters(): MapCounters {
  return {
    operations: { get: 0, merge: 0, scan: 0 },
    latencyMsTotal: { get: 0, merge: 0, scan: 0 },
    retries: 0,
    migrations: { pulled: 0, pushed: 0, promoted: 0 },
    repaired: 0,
    invalidationsSent: 0,
    backup: { merges: 0, rounds: 0 },
    bytesSent: 0,
    locks: { acquired: 0, timeouts: 0, waitMsTotal: 0 },
  };
}

export interface MapGauges {
  member: string;
  members: number;
  partitionsOwned: number;
  partitionsBackedUp: number;
  sessionsHeld: number;
  nearCacheEntries: number;
  ready: boolean;
}

/** The Prometheus exposition text of one member's counters and gauges. */
export function renderMetrics(counters: MapCounters, gauges: MapGauges): string {
  const label = `member="${gauges.member.replace(/["\\\n]/g, '_')}"`;
  const lines: string[] = [];
  const metric = (name: string, type: string, help: string, samples: [string, number][]): void => {
    lines.push(
      `# HELP sessionmesh_cluster_${name} ${help}`,
      `# TYPE sessionmesh_cluster_${name} ${type}`,
    );
    for (const [labels, value] of samples)
      lines.push(`sessionmesh_cluster_${name}{${label}${labels}} ${value}`);
  };
  metric('members', 'gauge', 'Live data members in this member’s view.', [['', gauges.members]]);
  metric('partitions', 'gauge', 'Partitions this member holds, by role.', [
    [',role="owner"', gauges.partitionsOwned],
    [',role="backup"', gauges.partitionsBackedUp],
  ]);
  metric('sessions_held', 'gauge', 'Session records held (owned, backed up, tombstones).', [
    ['', gauges.sessionsHeld],
  ]);
  metric('ready', 'gauge', '1 once this member holds its partitions.', [
    ['', gauges.ready ? 1 : 0],
  ]);
  metric('near_cache_entries', 'gauge', 'Sessions in the near cache.', [
    ['', gauges.nearCacheEntries],
  ]);
  const kinds = ['get', 'merge', 'scan'] as const;
  metric(
    'operations_total',
    'counter',
    'Map operations, by kind.',
    kinds.map((k) => [`,op="${k}"`, counters.operations[k]]),
  );
  metric(
    'operation_seconds_sum',
    'counter',
    'Total latency of map operations, by kind.',
    kinds.map((k) => [`,op="${k}"`, counters.latencyMsTotal[k] / 1000]),
  );
  metric('retries_total', 'counter', 'Attempts of map operations retried.', [
    ['', counters.retries],
  ]);
  metric('migrations_total', 'counter', 'Partitions moved on view changes.', [
    [',kind="pulled"', counters.migrations.pulled],
    [',kind="pushed"', counters.migrations.pushed],
    [',kind="promoted"', counters.migrations.promoted],
  ]);
  metric('repaired_total', 'counter', 'Sessions repaired by anti-entropy.', [
    ['', counters.repaired],
  ]);
  metric('backup_merges_total', 'counter', 'Merges applied as owner and replicated (sync).', [
    ['', counters.backup.merges],
  ]);
  metric('backup_rounds_total', 'counter', 'Backup rounds that carried them (combined).', [
    ['', counters.backup.rounds],
  ]);
  metric('invalidations_total', 'counter', 'Near-cache invalidations sent.', [
    ['', counters.invalidationsSent],
  ]);
  metric('bytes_sent_total', 'counter', 'Bytes of session records sent to other members.', [
    ['', counters.bytesSent],
  ]);
  metric('locks_total', 'counter', 'Session locks asked for by this member, by outcome.', [
    [',outcome="acquired"', counters.locks.acquired],
    [',outcome="timeout"', counters.locks.timeouts],
  ]);
  metric('lock_wait_seconds_sum', 'counter', 'Total time waited for the session locks granted.', [
    ['', counters.locks.waitMsTotal / 1000],
  ]);
  return `${lines.join('\n')}\n`;
}
