/// <reference lib="dom" />
// The shapes the dashboard reads from /_mesh/api/events (docs/admin-api.md), and their checks:
// a malformed message is dropped, never half-rendered.

export interface Member {
  name: string;
  state: string;
  url: string;
  pid: number | null;
  ready: boolean;
  sessions: number;
  partitionsOwned: number;
  partitionsBacked: number;
  requests: number;
}

export interface Partitions {
  count: number;
  owners: (string | null)[];
  backups: string[][];
}

export interface Snapshot {
  viewId: number;
  members: Member[];
  partitions: Partitions;
}

export interface TimelineEvent {
  at: number;
  kind: string;
  member: string;
  detail?: string;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null;
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

export function parseSnapshot(text: string): Snapshot | undefined {
  const body = safeParse(text);
  if (!isObject(body) || !Array.isArray(body.members) || !isObject(body.partitions))
    return undefined;
  const members: Member[] = [];
  for (const m of body.members) {
    if (!isObject(m) || typeof m.name !== 'string' || typeof m.state !== 'string') continue;
    members.push({
      name: m.name,
      state: m.state,
      url: typeof m.url === 'string' ? m.url : '',
      pid: typeof m.pid === 'number' ? m.pid : null,
      ready: m.ready === true,
      sessions: num(m.sessions),
      partitionsOwned: num(m.partitionsOwned),
      partitionsBacked: num(m.partitionsBacked),
      requests: num(m.requests),
    });
  }
  const p = body.partitions;
  const owners = Array.isArray(p.owners)
    ? p.owners.map((o) => (typeof o === 'string' ? o : null))
    : [];
  const backups = Array.isArray(p.backups)
    ? p.backups.map((b) => (Array.isArray(b) ? b.filter((x) => typeof x === 'string') : []))
    : [];
  const count = Math.min(Math.max(num(p.count), 0), 65_536);
  return { viewId: num(body.viewId), members, partitions: { count, owners, backups } };
}

export function parseTimelineEvent(text: string): TimelineEvent | undefined {
  const e = safeParse(text);
  if (!isObject(e) || typeof e.kind !== 'string' || typeof e.member !== 'string') return undefined;
  return {
    at: num(e.at),
    kind: e.kind,
    member: e.member,
    ...(typeof e.detail === 'string' && { detail: e.detail }),
  };
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
