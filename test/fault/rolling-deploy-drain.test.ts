// Issue 5's drain: a rolling deploy through `sessionmesh proxy --drain-nodes --topology nodes`
// in front of three `sessionmesh node`s of the embedded cluster, as real processes. Each node in
// turn is drained through the proxy's admin API (the proxy sends its sessions elsewhere, waits
// for its requests in flight, then asks it to hand its partitions off and stop), replaced by a
// new process under the same name and ports, and undrained, while signed-in users keep adding
// to their carts. No request may fail and no acknowledged write may be lost.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { SECRET_FLAG, startCli, stop } from '../helpers/cli.js';
import { freePort } from '../helpers/proxy-external.js';

const USERS = 6;
const children: ChildProcess[] = [];
after(() => Promise.all(children.map(stop)));

interface NodeSpec {
  name: string;
  port: number;
  clusterPort: number;
}

async function startNode(spec: NodeSpec, seed: number | undefined): Promise<ChildProcess> {
  const args = ['node', '--name', spec.name, ...SECRET_FLAG, '--store', 'cluster'];
  args.push('--port', String(spec.port), '--cluster-port', String(spec.clusterPort));
  if (seed !== undefined) args.push('--seeds', `127.0.0.1:${seed}`);
  const { child } = await startCli(args, new RegExp(`sessionmesh node ${spec.name} ready`), 30_000);
  children.push(child);
  return child;
}

async function post(url: string, body: string, cookie?: string): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(cookie ? { cookie } : {}),
    },
    body,
    signal: AbortSignal.timeout(15_000),
  });
}

/** One signed-in user adding items one at a time; counts what was acknowledged and what failed. */
class User {
  cookie = '';
  acked = 0;
  readonly failures: string[] = [];
  constructor(
    readonly name: string,
    readonly base: string,
  ) {}

  #remember(res: Response): void {
    const sid = res.headers.getSetCookie().find((c) => c.startsWith('sid='));
    if (sid) this.cookie = sid.split(';')[0]!;
  }

  async login(): Promise<void> {
    const res = await post(`${this.base}/login`, `user=${this.name}`);
    assert.equal(res.status, 200);
    this.#remember(res);
    await res.arrayBuffer();
  }

  async step(): Promise<void> {
    const item = this.acked + 1;
    try {
      const res = await post(`${this.base}/cart`, `item=i${item}`, this.cookie);
      this.#remember(res);
      await res.arrayBuffer();
      if (res.status === 200) this.acked = item;
      else this.failures.push(`POST /cart ${res.status}`);
      const me = await fetch(`${this.base}/me`, {
        headers: { cookie: this.cookie },
        signal: AbortSignal.timeout(15_000),
      });
      this.#remember(me);
      await me.arrayBuffer();
      if (me.status !== 200) this.failures.push(`GET /me ${me.status}`);
    } catch (err) {
      this.failures.push(`${(err as Error).name}: ${(err as Error).message}`);
    }
  }
}

describe('a rolling deploy with drain through the proxy', { timeout: 180_000 }, () => {
  for (const workers of [1, 2])
    it(`drains, replaces and undrains each node under load: no failed request, nothing lost (workers: ${workers})`, async (t) => {
      const specs: NodeSpec[] = [];
      for (const name of ['a', 'b', 'c'])
        specs.push({ name, port: await freePort(), clusterPort: await freePort() });
      const running = new Map<string, ChildProcess>();
      running.set('a', await startNode(specs[0]!, undefined));
      for (const spec of specs.slice(1))
        running.set(spec.name, await startNode(spec, specs[0]!.clusterPort));
      const upstreams = specs.map((s) => `${s.name}=127.0.0.1:${s.port}`).join(',');
      const proxy = await startCli(
        [
          'proxy',
          ...['--upstreams', upstreams, '--topology', 'nodes', '--drain-nodes', '--port', '0'],
          ...['--workers', String(workers)],
        ],
        /listening http:\/\/127\.0\.0\.1:(\d+)/,
      );
      children.push(proxy.child);
      const base = `http://127.0.0.1:${proxy.match[1]}`;
      const admin = (path: string) =>
        fetch(`${base}/_mesh/api/${path}`, { method: 'POST', signal: AbortSignal.timeout(5000) });
      const upstreamState = async (name: string): Promise<string | undefined> => {
        const res = await fetch(`${base}/_mesh/api/upstreams`, {
          signal: AbortSignal.timeout(5000),
        });
        const body = (await res.json()) as { upstreams: { name: string; state: string }[] };
        return body.upstreams.find((u) => u.name === name)?.state;
      };

      const users = Array.from({ length: USERS }, (_, i) => new User(`u${i}`, base));
      await Promise.all(users.map((u) => u.login()));
      let running_ = true;
      const load = Promise.all(
        users.map(async (u) => {
          for (let i = 0; running_ && i < 100_000; i++) await u.step();
        }),
      );

      for (const spec of specs) {
        const started = Date.now();
        const old = running.get(spec.name)!;
        const exited = new Promise<void>((resolve) => old.once('exit', () => resolve()));
        assert.equal((await admin(`upstreams/${spec.name}/drain`)).status, 200);
        // The proxy asks the node to hand off and stop once its requests finished (bounded).
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          exited,
          new Promise((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`${spec.name} did not stop after the drain`)),
              40_000,
            );
          }),
        ]).finally(() => clearTimeout(timer));
        const stoppedMs = Date.now() - started;
        const seed = specs.find((s) => s !== spec)!.clusterPort;
        running.set(spec.name, await startNode(spec, seed));
        const deadline = Date.now() + 20_000;
        while ((await upstreamState(spec.name)) !== 'up') {
          assert.ok(Date.now() < deadline, `${spec.name} not up again at the proxy`);
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.equal((await admin(`upstreams/${spec.name}/undrain`)).status, 200);
        t.diagnostic(
          `${spec.name}: stopped ${stoppedMs} ms after the drain, back in ${Date.now() - started} ms`,
        );
        await new Promise((r) => setTimeout(r, 1000));
      }
      running_ = false;
      await load;

      const failures = users.flatMap((u) => u.failures.map((f) => `${u.name}: ${f}`));
      const acked = users.reduce((n, u) => n + u.acked, 0);
      t.diagnostic(
        `${acked} items acknowledged; failures: ${JSON.stringify(failures.slice(0, 10))}`,
      );
      assert.ok(acked > USERS * 10, `too few writes acknowledged: ${acked}`);
      assert.deepEqual(failures, [], 'no request failed during the rolling deploy');
      for (const u of users) {
        const res = await fetch(`${base}/me`, { headers: { cookie: u.cookie } });
        const me = (await res.json()) as { user: string | null; cart: string[] };
        assert.equal(me.user, u.name, `${u.name} is still signed in`);
        const expected = Array.from({ length: u.acked }, (_, i) => `i${i + 1}`);
        assert.deepEqual(
          me.cart.slice(0, u.acked),
          expected,
          `${u.name} lost an acknowledged item`,
        );
      }
    });
});
