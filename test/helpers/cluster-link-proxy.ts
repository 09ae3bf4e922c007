// A fault-injecting TCP link between two cluster members: member A dials B through its own proxy
// (the transport's `dialVia`), so the test can cut the A->B link (every connection through it is
// destroyed, new ones are refused) and heal it, as a network partition would.

import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export class LinkProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #target: { host: string; port: number } | undefined;
  #cut = false;

  private constructor(server: Server) {
    this.#server = server;
    server.on('connection', (client) => this.#accept(client));
  }

  static async start(): Promise<LinkProxy> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new LinkProxy(server);
  }

  get address(): string {
    return `127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** Where the link leads (the member's own address, known once it started). */
  setTarget(address: string): void {
    const split = address.lastIndexOf(':');
    this.#target = { host: address.slice(0, split), port: Number(address.slice(split + 1)) };
  }

  /** Destroys every connection through the link and refuses new ones until heal(). */
  cut(): void {
    this.#cut = true;
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }

  heal(): void {
    this.#cut = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    if (this.#cut || !this.#target) {
      client.destroy();
      return;
    }
    const upstream = connect(this.#target);
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      this.#sockets.add(from);
      from.on('error', () => to.destroy());
      from.on('close', () => {
        this.#sockets.delete(from);
        to.destroy();
      });
      from.pipe(to);
    }
  }
}
