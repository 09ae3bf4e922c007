// Child processes for the proxy tests: app nodes that can be SIGKILLed, and small HTTP client helpers.

import { spawn, type ChildProcess } from 'node:child_process';
import { request, type IncomingHttpHeaders, type Agent } from 'node:http';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';

const MAIN = fileURLToPath(new URL('./proxy-upstream-main.ts', import.meta.url));
const PROXY_MAIN = fileURLToPath(new URL('./proxy-main.ts', import.meta.url));
const WORKERS_MAIN = fileURLToPath(new URL('./proxy-workers-main.ts', import.meta.url));

export interface ChildUpstream {
  readonly name: string;
  readonly port: number;
  readonly child: ChildProcess;
  kill(): void;
}

/** Starts an app node in a child process; resolves once it listens. */
export function spawnUpstream(name: string, port = 0): Promise<ChildUpstream> {
  return spawnListening(name, [MAIN, name, String(port)]);
}

/** Starts a proxy in a child process with these (JSON) options; resolves once it listens. */
export function spawnProxy(options: unknown): Promise<ChildUpstream> {
  return spawnListening('proxy', [PROXY_MAIN, JSON.stringify(options)]);
}

/** Starts a proxy primary with workers in a child process; resolves once every worker listens. */
export function spawnProxyWorkers(options: unknown): Promise<ChildUpstream> {
  return spawnListening('proxy-workers', [WORKERS_MAIN, JSON.stringify(options)]);
}

/** Resident memory of a process, in bytes (Linux). */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

function spawnListening(name: string, args: string[]): Promise<ChildUpstream> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`upstream ${name} did not start`)), 10_000);
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /PORT (\d+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve({
          name,
          port: Number(match[1]),
          child,
          kill: () => {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
          },
        });
      }
    });
    child.once('exit', () => reject(new Error(`upstream ${name} exited`)));
  });
}

export interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** One HTTP request; resolves with the whole (small) reply. */
export function fetchText(
  port: number,
  path: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    body?: string;
    agent?: Agent | false;
    localAddress?: string;
  } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? 'GET',
        headers: options.headers,
        agent: options.agent ?? false,
        ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('client timeout')));
    req.end(options.body);
  });
}

/** A session cookie value `<id>.<routes…>.<mac>` (the proxy does not check the MAC). */
export function sessionCookie(...routes: string[]): string {
  return ['A'.repeat(32), ...routes, 'M'.repeat(43)].join('.');
}
