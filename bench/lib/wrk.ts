// Drives an HTTP server with wrk (Debian package `wrk`) pinned to its own core, and parses
// req/s and latency percentiles from its --latency report. Runs are repeated; the median is kept.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface LoadResult {
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

export interface LoadOptions {
  url: string;
  headers?: Record<string, string>;
  connections?: number;
  durationS?: number;
  /** Core to pin the load generator to (taskset). */
  core?: number;
  repeats?: number;
  /** A wrk Lua script (-s) that shapes each request. */
  script?: string;
}

export function requireWrk(): void {
  if (spawnSync('wrk', ['--version']).error) {
    throw new Error(
      'wrk is not installed: apt-get install -y wrk (the benchmarks use it as the load generator)',
    );
  }
}

export async function load(options: LoadOptions): Promise<LoadResult> {
  const runs: LoadResult[] = [];
  for (let i = 0; i < (options.repeats ?? 3); i++) runs.push(await loadOnce(options));
  return median(runs);
}

/** The run with the median req/s. */
export function median(runs: LoadResult[]): LoadResult {
  const sorted = [...runs].sort((a, b) => a.reqPerSec - b.reqPerSec);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function loadOnce(options: LoadOptions): Promise<LoadResult> {
  const args = [
    '-t1',
    `-c${options.connections ?? 50}`,
    `-d${options.durationS ?? 4}s`,
    '--latency',
  ];
  for (const [name, value] of Object.entries(options.headers ?? {}))
    args.push('-H', `${name}: ${value}`);
  if (options.script) args.push('-s', options.script);
  args.push(options.url);
  const command = options.core === undefined ? 'wrk' : 'taskset';
  const full = options.core === undefined ? args : ['-c', String(options.core), 'wrk', ...args];
  return runWrk(command, full);
}

/**
 * wrk on existing sessions: every request sends the one cookie, or, given several, the next
 * of them in turn, request by request (a Lua script), so two requests of one session are
 * rarely in flight together.
 */
export async function loadWithCookies(
  url: string,
  cookies: string[],
  options: Omit<LoadOptions, 'url' | 'headers' | 'script'>,
): Promise<LoadResult> {
  if (cookies.length === 1) return load({ ...options, url, headers: { cookie: cookies[0]! } });
  const dir = mkdtempSync(join(tmpdir(), 'sm-bench-'));
  const script = join(dir, 'cookies.lua');
  writeFileSync(
    script,
    `local cookies = { ${cookies.map((c) => JSON.stringify(c)).join(', ')} }
local i = 0
request = function()
  i = i % #cookies + 1
  return wrk.format(nil, nil, { cookie = cookies[i] })
end
`,
  );
  try {
    return await load({ ...options, url, script });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs wrk (or `taskset … wrk …`) once and parses its report. */
export function runWrk(command: 'wrk' | 'taskset', args: string[]): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('error', reject);
    child.on('close', () => {
      try {
        resolve(parseWrk(out));
      } catch (err) {
        reject(err);
      }
    });
  });
}

export function parseWrk(out: string): LoadResult {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!rps) throw new Error(`could not read wrk's output:\n${out}`);
  const errors = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(
    out,
  );
  return {
    reqPerSec: Number(rps[1]),
    p50Ms: percentile(out, '50%'),
    p99Ms: percentile(out, '99%'),
    errors:
      (errors ? Number(errors[1]) : 0) +
      (socketErrors ? socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0),
  };
}

function percentile(out: string, label: string): number {
  const match = new RegExp(`^\\s*${label.replace('%', '%')}\\s+([\\d.]+)(us|ms|s)`, 'm').exec(out);
  if (!match) return NaN;
  const value = Number(match[1]);
  return match[2] === 'us' ? value / 1000 : match[2] === 's' ? value * 1000 : value;
}
