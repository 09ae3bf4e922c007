// The proxy benchmark (issue 5): one bare node:http upstream, reached directly and through
// sessionmesh's proxy (1 and 2 workers), nginx, HAProxy, http-proxy and http-proxy-3, all with
// keep-alive to the upstream. The proxies run on core 0 beside the upstream, wrk on core 1.
// `benchProxy()` returns the rows for bench/run.ts; `node --import tsx bench/proxy.ts` prints them.
import { fileURLToPath } from 'node:url';
import { startServer, type ServerProcess } from './lib/server-process.js';
import { load, requireWrk, type LoadResult } from './lib/wrk.js';
import { toMarkdown, type Row } from './lib/table.js';
import {
  findBinary,
  freePort,
  INSTALL_HINT,
  startHaproxy,
  startNginx,
  type External,
} from '../test/helpers/proxy-external.js';

const GROUP = 'GET, 24-byte body, keep-alive, 50 connections';
const PROXY_CORE = 0;
const LOAD_CORE = 1;

function nginxBlock(upstreamPort: number, port: number): string {
  return [
    'upstream bench_upstream {',
    `    server 127.0.0.1:${upstreamPort};`,
    '    keepalive 64;',
    '}',
    'server {',
    `    listen 127.0.0.1:${port};`,
    '    location / {',
    '        proxy_pass http://bench_upstream;',
    '        proxy_http_version 1.1;',
    '        proxy_set_header Connection "";',
    '        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    '    }',
    '}',
  ].join('\n');
}

function haproxyConfig(upstreamPort: number, port: number): string {
  return [
    'global',
    '    maxconn 4000',
    '    nbthread 1',
    'defaults',
    '    mode http',
    '    option http-keep-alive',
    '    timeout connect 3s',
    '    timeout client 30s',
    '    timeout server 30s',
    'frontend bench',
    `    bind 127.0.0.1:${port}`,
    '    option forwardfor',
    '    default_backend upstream',
    'backend upstream',
    '    http-reuse always',
    `    server u1 127.0.0.1:${upstreamPort}`,
  ].join('\n');
}

interface Target {
  readonly name: string;
  readonly note?: string;
  start(upstreamPort: number): Promise<{ port: number; stop(): Promise<void> }>;
}

function nodeProxy(kind: string, note?: string): Target {
  return {
    name: kind,
    ...(note ? { note } : {}),
    async start(upstreamPort) {
      const server: ServerProcess = await startServer(
        '../proxy/node-proxy.ts',
        [kind, String(upstreamPort)],
        PROXY_CORE,
      );
      return { port: server.port, stop: server.stop };
    },
  };
}

function external(kind: 'nginx' | 'haproxy'): Target {
  return {
    name: kind,
    note: kind === 'nginx' ? '1 worker process' : 'nbthread 1',
    async start(upstreamPort) {
      const binary = findBinary(kind);
      if (!binary) throw new Error(`${kind} is not installed: ${INSTALL_HINT}`);
      const port = await freePort();
      const server: External =
        kind === 'nginx'
          ? await startNginx(binary, nginxBlock(upstreamPort, port), port, 1, PROXY_CORE)
          : await startHaproxy(binary, haproxyConfig(upstreamPort, port), port, PROXY_CORE);
      return { port, stop: server.stop };
    },
  };
}

const TARGETS: Target[] = [
  { name: 'direct', note: 'no proxy', start: async (port) => ({ port, stop: async () => {} }) },
  nodeProxy('sessionmesh', '1 process'),
  nodeProxy('sessionmesh-2-workers', 'primary + 2 workers, all on core 0'),
  external('nginx'),
  external('haproxy'),
  nodeProxy('http-proxy', 'keep-alive agent'),
  nodeProxy('http-proxy-3', 'keep-alive agent'),
];

/** Runs every target against the same upstream; rows carry the ratio to nginx. */
export async function benchProxy(
  options: { durationS?: number; repeats?: number; only?: readonly string[] } = {},
): Promise<Row[]> {
  requireWrk();
  const upstream = await startServer('../proxy/upstream.ts', [], PROXY_CORE);
  const results = new Map<string, LoadResult & { note?: string }>();
  try {
    for (const target of TARGETS) {
      if (options.only && !options.only.includes(target.name)) continue;
      const running = await target.start(upstream.port);
      try {
        const url = `http://127.0.0.1:${running.port}/`;
        await load({ url, durationS: 1, repeats: 1, core: LOAD_CORE });
        const result = await load({
          url,
          durationS: options.durationS ?? 4,
          repeats: options.repeats ?? 3,
          core: LOAD_CORE,
        });
        results.set(target.name, { ...result, ...(target.note ? { note: target.note } : {}) });
      } finally {
        await running.stop();
      }
    }
  } finally {
    await upstream.stop();
  }
  const nginx = results.get('nginx');
  return [...results].map(([name, r]) => ({
    group: GROUP,
    name,
    reqPerSec: r.reqPerSec,
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    ...(nginx && name !== 'nginx' ? { anchor: 'nginx', ratio: r.reqPerSec / nginx.reqPerSec } : {}),
    note: [r.note, r.errors > 0 ? `${r.errors} errors` : ''].filter(Boolean).join('; '),
  }));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // `node --import tsx bench/proxy.ts [target,…] [seconds] [repeats]`: a subset for quick checks.
  const [only, seconds, repeats] = process.argv.slice(2);
  const rows = await benchProxy({
    ...(only ? { only: only.split(',') } : {}),
    ...(seconds ? { durationS: Number(seconds) } : {}),
    ...(repeats ? { repeats: Number(repeats) } : {}),
  });
  console.log(toMarkdown(rows));
  if (only) process.exit(0);
  const row = (name: string): Row | undefined => rows.find((r) => r.name === name);
  const mesh = row('sessionmesh')!;
  const bestNodeProxy = Math.max(
    row('http-proxy')?.reqPerSec ?? 0,
    row('http-proxy-3')?.reqPerSec ?? 0,
  );
  const nginx = row('nginx')!;
  console.log(
    `targets: sessionmesh / best(http-proxy, http-proxy-3) = ${(mesh.reqPerSec! / bestNodeProxy).toFixed(2)} (want >= 1.5); ` +
      `sessionmesh / nginx = ${(mesh.reqPerSec! / nginx.reqPerSec!).toFixed(2)} (want >= 0.6); ` +
      `p99 sessionmesh / nginx = ${(mesh.p99Ms! / nginx.p99Ms!).toFixed(2)} (want <= 2)`,
  );
}
