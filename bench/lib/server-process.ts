// Starts a benchmark server in its own process, pinned to one core, and waits for the line
// `listening <port>` on its stdout. Stops it by pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface ServerProcess {
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

export async function startServer(
  script: string,
  args: string[],
  core?: number,
): Promise<ServerProcess> {
  const path = fileURLToPath(new URL(script, import.meta.url));
  const nodeArgs = ['--import', 'tsx', path, ...args];
  const child =
    core === undefined
      ? spawn(process.execPath, nodeArgs, { stdio: ['ignore', 'pipe', 'inherit'] })
      : spawn('taskset', ['-c', String(core), process.execPath, ...nodeArgs], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(
      () => reject(new Error(`${script} ${args.join(' ')} did not start in 20 s`)),
      20_000,
    );
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      const match = /listening (\d+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} ${args.join(' ')} exited with ${code}`));
    });
  });
  child.stdout!.resume();
  return {
    port,
    child,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}
