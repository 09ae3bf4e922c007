// Configuration for nginx and HAProxy that routes on the route suffix of sessionmesh's session
// cookie (`<id>.<route>[.<route>…].<mac>`), for teams that keep their own load balancer. Each
// routes a session to its first route's node while that node is up, and balances everything else.

import { InvalidOptionError } from '../errors.js';
import { isValidRoute } from '../session/id.js';
import { COOKIE_NAME } from '../defaults.js';
import type { UpstreamOptions } from './upstream-pool.js';

export type ExportKind = 'nginx' | 'haproxy';

export interface ExportOptions {
  readonly cookieName?: string;
  /** The port the exported server listens on; default 8080. */
  readonly listenPort?: number;
  /** The address it listens on; default 0.0.0.0. */
  readonly listenHost?: string;
}

interface Node {
  readonly name: string;
  readonly route: string;
  readonly address: string;
}

function nodesOf(upstreams: readonly UpstreamOptions[]): Node[] {
  if (!Array.isArray(upstreams) || upstreams.length === 0) {
    throw new InvalidOptionError(
      'upstreams',
      'a non-empty array of { name, host?, port }',
      upstreams,
    );
  }
  return upstreams.map((u) => {
    const route = u.route ?? u.name;
    if (!isValidRoute(u.name) || !isValidRoute(route)) {
      throw new InvalidOptionError('upstreams[].name', 'a route: 1 to 64 of [A-Za-z0-9_-]', u.name);
    }
    const host = u.host ?? '127.0.0.1';
    if (!/^[A-Za-z0-9.:[\]-]+$/.test(host))
      throw new InvalidOptionError('upstreams[].host', 'a host name or address', host);
    if (!Number.isInteger(u.port) || u.port <= 0 || u.port > 65535) {
      throw new InvalidOptionError('upstreams[].port', 'an integer from 1 to 65535', u.port);
    }
    return { name: u.name, route, address: `${host}:${u.port}` };
  });
}

function cookieNameOf(options: ExportOptions): string {
  const name = options.cookieName ?? COOKIE_NAME;
  // Both configs embed the name in a variable or fetch: keep it to characters safe in both.
  if (!/^[A-Za-z0-9_]+$/.test(name))
    throw new InvalidOptionError('cookieName', '[A-Za-z0-9_]+ for an exported config', name);
  return name;
}

/**
 * nginx: an `http {}`-level block (maps, one upstream group per node with the others as backups,
 * one group for new visitors, and a server). Works on nginx OSS (no `sticky` directive needed).
 */
function nginx(nodes: readonly Node[], options: ExportOptions): string {
  const cookie = cookieNameOf(options);
  const listen = `${options.listenHost ?? '0.0.0.0'}:${options.listenPort ?? 8080}`;
  const lines = [
    '# sessionmesh: route on the route suffix of the session cookie (<id>.<route>[.<route>...].<mac>).',
    "# Include inside http {}. A session goes to its route's node; when that node is down, to a backup.",
    `map $cookie_${cookie} $sessionmesh_route {`,
    '    default "";',
    '    "~^[A-Za-z0-9_-]+\\.(?<sessionmesh_r>[A-Za-z0-9_-]{1,64})\\.[A-Za-z0-9_-]+" $sessionmesh_r;',
    '}',
    'map $sessionmesh_route $sessionmesh_upstream {',
    '    default sessionmesh_all;',
    ...nodes.map((n) => `    ${n.route} sessionmesh_node_${n.name};`),
    '}',
    'map $http_upgrade $sessionmesh_connection {',
    '    default upgrade;',
    "    '' '';",
    '}',
    'upstream sessionmesh_all {',
    '    least_conn;',
    ...nodes.map((n) => `    server ${n.address} max_fails=1 fail_timeout=10s;`),
    '    keepalive 64;',
    '}',
  ];
  for (const node of nodes) {
    lines.push(
      `upstream sessionmesh_node_${node.name} {`,
      `    server ${node.address} max_fails=1 fail_timeout=10s;`,
    );
    for (const other of nodes)
      if (other !== node) lines.push(`    server ${other.address} backup;`);
    lines.push('    keepalive 16;', '}');
  }
  lines.push(
    'server {',
    `    listen ${listen};`,
    '    location / {',
    '        proxy_pass http://$sessionmesh_upstream;',
    '        proxy_http_version 1.1;',
    '        proxy_set_header Connection $sessionmesh_connection;',
    '        proxy_set_header Upgrade $http_upgrade;',
    '        proxy_set_header Host $host;',
    '        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    '        proxy_set_header X-Forwarded-Proto $scheme;',
    '        proxy_set_header X-Forwarded-Host $host;',
    '        proxy_next_upstream error timeout;',
    '    }',
    '}',
  );
  return `${lines.join('\n')}\n`;
}

/** HAProxy: a whole configuration; `use-server` on the cookie's second dot-separated field. */
function haproxy(nodes: readonly Node[], options: ExportOptions): string {
  const cookie = cookieNameOf(options);
  const listen = `${options.listenHost ?? '0.0.0.0'}:${options.listenPort ?? 8080}`;
  const lines = [
    '# sessionmesh: route on the route suffix of the session cookie (<id>.<route>[.<route>...].<mac>).',
    'global',
    '    maxconn 4000',
    'defaults',
    '    mode http',
    '    option http-keep-alive',
    '    timeout connect 3s',
    '    timeout client 65s',
    '    timeout server 60s',
    '    timeout http-request 10s',
    '    timeout tunnel 1h',
    'frontend sessionmesh',
    `    bind ${listen}`,
    '    option forwardfor',
    '    default_backend sessionmesh_nodes',
    'backend sessionmesh_nodes',
    '    balance leastconn',
    // A down route's node is skipped by use-server; redispatch moves a failed connect elsewhere.
    '    option redispatch',
    '    retries 2',
    '    http-reuse safe',
    ...nodes.map(
      (n) => `    acl sessionmesh_route_${n.name} req.cook(${cookie}),field(2,.) -m str ${n.route}`,
    ),
    ...nodes.map((n) => `    use-server ${n.name} if sessionmesh_route_${n.name}`),
    ...nodes.map((n) => `    server ${n.name} ${n.address} check inter 2s rise 2 fall 3`),
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * A configuration for nginx or HAProxy that routes on the session cookie's route suffix.
 * @throws {InvalidOptionError} for an unknown kind or an upstream that cannot be written safely.
 * @example
 * writeFileSync('sessionmesh.conf', exportConfig('haproxy', [{ name: 'a', port: 3001 }], { listenPort: 80 }));
 */
export function exportConfig(
  kind: ExportKind,
  upstreams: readonly UpstreamOptions[],
  options: ExportOptions = {},
): string {
  const nodes = nodesOf(upstreams);
  if (kind === 'nginx') return nginx(nodes, options);
  if (kind === 'haproxy') return haproxy(nodes, options);
  throw new InvalidOptionError('export', "'nginx' | 'haproxy'", kind);
}
