// One app node run by `sessionmesh demo` as a child process: started with `sessionmesh node`,
// killed with SIGKILL, restarted on the same HTTP port, drained. It reads the node's first
// line to learn its ports, and reports what happens to it as timeline events.

import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';

export type ProcessState = 'starting' | 'running' | 'draining' | 'left' | 'stopped';

export interface NodeProcessOptions {
  name: string;
  secret: string;
  store: string;
  /** HTTP port; 0 for any free port on the first start (the same port is reused on restart). */
  port: number;
  /** Cluster addresses to join through, asked anew at each start. */
  seeds: () => string[];
  backups?: number;
  /** Extra flags for `sessionmesh node`. */
  extra?: string[];
}

const BIN = fileURLToPath(new URL('../../bin/sessionmesh.js', import.meta.url));

export class NodeProcess extends EventEmitter<{ state: [ProcessState]; output: [string] }> {
  readonly name: string;
  port: number;
  clusterAddress: string | undefined;
  state: ProcessState = 'stopped';
  #child: ChildProcess | undefined;
  readonly #options: NodeProcessOptions;

  constructor(options: NodeProcessOptions) {
    super();
    this.name = options.name;
    this.port = options.port;
    this.#options = options;
  }

  get pid(): number | undefined {
    return this.#child?.exitCode === null ? this.#child.pid : undefined;
  }

  /** Starts the process; resolves once it listens (its cluster may not be ready yet). */
  start(): Promise<void> {
    const o = this.#options;
    const args = [
      BIN,
      'node',
      '--name',
      o.name,
      '--secret',
      o.secret,
      '--store',
      o.store,
      '--port',
      String(this.port),
      '--cluster-port',
      '0',
      '--backups',
      String(o.backups ?? 1),
      ...(o.seeds().length > 0 ? ['--seeds', o.seeds().join(',')] : []),
      ...(o.extra ?? []),
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    this.#setState('starting');
    return new Promise((resolve, reject) => {
      let out = '';
      const onLine = (line: string) => {
        this.emit('output', line);
        const listening = /listening http:\/\/[^:]+:(\d+)(?: cluster (\S+))?/.exec(line);
        if (listening) {
          this.port = Number(listening[1]);
          this.clusterAddress = listening[2];
          if (o.store !== 'cluster') this.#setState('running');
          resolve();
        }
        if (/ ready$/.test(line)) this.#setState('running');
      };
      const read = (chunk: Buffer) => {
        out += chunk.toString('utf8');
        let nl: number;
        while ((nl = out.indexOf('\n')) !== -1) {
          onLine(out.slice(0, nl));
          out = out.slice(nl + 1);
        }
      };
      child.stdout!.on('data', read);
      child.stderr!.on('data', (chunk: Buffer) =>
        this.emit('output', chunk.toString('utf8').trimEnd()),
      );
      child.once('exit', (code, signal) => {
        if (this.#child === child) {
          this.#child = undefined;
          this.#setState(this.state === 'draining' ? 'left' : 'stopped');
        }
        reject(new Error(`node ${o.name} exited (${signal ?? code}) before listening`));
      });
    });
  }

  /** SIGKILL: the node dies with no chance to hand anything off. */
  kill(): Promise<void> {
    return this.#signal('SIGKILL');
  }

  /** SIGTERM: the node hands its partitions off and leaves. */
  stop(): Promise<void> {
    return this.#signal('SIGTERM');
  }

  async restart(): Promise<void> {
    if (this.#child) await this.kill();
    await this.start();
  }

  /** Asks the node to hand off and leave (it exits afterwards). */
  async drain(): Promise<void> {
    this.#setState('draining');
    await fetch(`http://127.0.0.1:${this.port}/_mesh/api/drain`, { method: 'POST' }).catch(
      () => undefined,
    );
  }

  #signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  }

  #setState(state: ProcessState): void {
    if (state === this.state) return;
    this.state = state;
    this.emit('state', state);
  }
}
