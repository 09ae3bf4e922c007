// Runs HAProxy and nginx (Debian packages) for the export-config test and the benchmark:
// writes a config in a temporary folder, starts the binary in the foreground, waits for its port.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const INSTALL_HINT = 'apt-get update && apt-get install -y haproxy nginx';

/** The binary's path, or undefined when it is not installed (Debian puts both in /usr/sbin). */
export function findBinary(name: 'haproxy' | 'nginx'): string | undefined {
  for (const path of [`/usr/sbin/${name}`, `/usr/bin/${name}`, `/usr/local/sbin/${name}`]) {
    if (spawnSync(path, ['-v'], { stdio: 'ignore' }).status === 0) return path;
  }
  return undefined;
}

/** A port free right now (the usual small race; good enough for tests). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited with code ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`port ${port} did not open`);
}

export interface External {
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

function start(
  binary: string,
  args: string[],
  dir: string,
  port: number,
  core?: number,
): Promise<External> {
  // taskset execs the binary, so the child's pid is the server's.
  const child =
    core === undefined
      ? spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] })
      : spawn('taskset', ['-c', String(core), binary, ...args], {
          stdio: ['ignore', 'ignore', 'pipe'],
        });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      // SIGTERM first: nginx's master then stops its workers (a SIGKILLed master leaves them running).
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return waitForPort(port, child).then(
    () => ({ child, stop }),
    async (error: Error) => {
      await stop();
      throw new Error(`${binary} did not start: ${error.message}\n${stderr}`);
    },
  );
}

/** Starts HAProxy with a whole configuration that listens on `port`. */
export function startHaproxy(
  binary: string,
  config: string,
  port: number,
  core?: number,
): Promise<External> {
  const dir = mkdtempSync(join(tmpdir(), 'sm-haproxy-'));
  writeFileSync(join(dir, 'haproxy.cfg'), config.endsWith('\n') ? config : `${config}\n`);
  return start(binary, ['-db', '-f', join(dir, 'haproxy.cfg')], dir, port, core);
}

/** Starts nginx with an `http {}`-level block that listens on `port`; `workers` worker processes. */
export function startNginx(
  binary: string,
  httpBlock: string,
  port: number,
  workers = 1,
  core?: number,
): Promise<External> {
  const dir = mkdtempSync(join(tmpdir(), 'sm-nginx-'));
  mkdirSync(join(dir, 'logs'));
  const config = [
    'daemon off;',
    'master_process on;',
    `worker_processes ${workers};`,
    `pid ${join(dir, 'nginx.pid')};`,
    `error_log ${join(dir, 'logs', 'error.log')} error;`,
    'events { worker_connections 4096; }',
    'http {',
    '    access_log off;',
    `    client_body_temp_path ${join(dir, 'body')};`,
    `    proxy_temp_path ${join(dir, 'proxy')};`,
    `    fastcgi_temp_path ${join(dir, 'fastcgi')};`,
    `    uwsgi_temp_path ${join(dir, 'uwsgi')};`,
    `    scgi_temp_path ${join(dir, 'scgi')};`,
    httpBlock,
    '}',
  ].join('\n');
  writeFileSync(join(dir, 'nginx.conf'), config);
  return start(
    binary,
    ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'logs', 'error.log')],
    dir,
    port,
    core,
  );
}
