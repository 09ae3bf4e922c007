// `sessionmesh status`: members, partitions, sessions and health, asked of a proxy (the demo's
// /_mesh/api/cluster) or of a node (/_mesh/api/node), as a table or as JSON.

import { describeFlags, parseFlags, UsageError, type Specs } from './args.js';

export const STATUS_FLAGS: Specs = {
  url: {
    type: 'string',
    describe: 'a proxy or node URL',
    default: 'http://127.0.0.1:8080',
    env: 'SESSIONMESH_URL',
  },
  json: { type: 'boolean', describe: 'print JSON instead of a table', default: false },
  token: {
    type: 'string',
    describe: 'bearer token of the admin API',
    env: 'SESSIONMESH_ADMIN_TOKEN',
  },
};

interface MemberRow {
  name: string;
  state: string;
  url?: string;
  ready?: boolean;
  sessions?: number;
  partitionsOwned?: number;
  partitionsBacked?: number;
  requests?: number;
}

export async function statusCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help')) {
    console.log(`Usage: sessionmesh status [--url URL] [--json]\n\n${describeFlags(STATUS_FLAGS)}`);
    return 0;
  }
  const flags = parseFlags('status', argv, STATUS_FLAGS);
  const base = (flags.url as string).replace(/\/+$/, '');
  const headers: Record<string, string> = flags.token
    ? { authorization: `Bearer ${flags.token as string}` }
    : {};
  const cluster = await getJson(`${base}/_mesh/api/cluster`, headers);
  const body = cluster ?? (await getJson(`${base}/_mesh/api/node`, headers));
  if (!body)
    throw new UsageError(
      `sessionmesh status: ${base} answers neither /_mesh/api/cluster nor /_mesh/api/node`,
    );
  if (flags.json) {
    console.log(JSON.stringify(body, null, 2));
    return 0;
  }
  const members: MemberRow[] = cluster
    ? (body.members as MemberRow[])
    : [
        {
          name: String(body.name),
          state: body.ready ? 'alive' : 'starting',
          ready: Boolean(body.ready),
          sessions: Number(body.sessions),
          partitionsOwned: Number(body.partitionsOwned),
          partitionsBacked: Number(body.partitionsBacked),
          requests: Number(body.requests),
        },
        ...((body.members as MemberRow[]) ?? []).filter((m) => m.name !== body.name),
      ];
  console.log(
    table(
      ['member', 'state', 'ready', 'sessions', 'owned', 'backed up', 'requests'],
      members.map((m) => [
        m.name,
        m.state,
        m.ready === undefined ? '' : m.ready ? 'yes' : 'no',
        String(m.sessions ?? ''),
        String(m.partitionsOwned ?? ''),
        String(m.partitionsBacked ?? ''),
        String(m.requests ?? ''),
      ]),
    ),
  );
  const partitions = body.partitions as { count: number; owners: (string | null)[] } | undefined;
  if (partitions && partitions.count > 0) {
    const unowned = partitions.owners.filter((o) => o === null).length;
    console.log(
      `\n${partitions.count} partitions${unowned > 0 ? `, ${unowned} without an owner` : ', every one owned'}`,
    );
  }
  return 0;
}

async function getJson(
  url: string,
  headers: Record<string, string>,
): Promise<Record<string, unknown> | undefined> {
  let res: Response;
  try {
    res = await fetch(url, { headers, signal: AbortSignal.timeout(3000) });
  } catch (err) {
    throw new UsageError(`sessionmesh status: cannot reach ${url}: ${(err as Error).message}`);
  }
  if (res.status === 401)
    throw new UsageError(`sessionmesh status: ${url} needs an admin token (--token)`);
  if (!res.ok) return undefined;
  return (await res.json()) as Record<string, unknown>;
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
