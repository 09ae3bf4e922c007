// The proxy's half of a drain for sessionmesh nodes (`sessionmesh proxy --drain-nodes`): once a
// node is drained, and the requests the proxy sent it have finished, the proxy asks the node to
// hand its partitions off and exit (POST /_mesh/api/drain, docs/admin-api.md). With
// drainMovesSessions nothing new reaches the node meanwhile, so the node stops idle: a rolling
// deploy (drain, replace, undrain, next) loses no request.

import { request } from 'node:http';

export interface NodeDrainOptions {
  /** Requests the proxy has in flight to the node called `name` (over every worker). */
  inFlight(name: string): number;
  /** How long to wait for those requests before asking anyway. Default 30 s. */
  settleTimeoutMs?: number;
  /** Where to say what happened (default: console). */
  log?: { info(line: string): void; error(line: string): void };
}

type Upstream = { name: string; host: string; port: number };

/** An `onDrain` hook for createProxy or startProxyWorkers. */
export function createNodeDrain(
  options: NodeDrainOptions,
): (upstream: Upstream, draining: boolean) => void {
  const log = options.log ?? {
    info: (line: string) => console.log(line),
    error: (line: string) => console.error(line),
  };
  const settleTimeoutMs = options.settleTimeoutMs ?? 30_000;
  return (upstream, draining) => {
    if (!draining) return;
    void (async () => {
      const deadline = Date.now() + settleTimeoutMs;
      while (options.inFlight(upstream.name) > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      try {
        const status = await postDrain(upstream);
        if (status === 202 || status === 200) {
          log.info(`sessionmesh proxy: node ${upstream.name} hands its partitions off and stops`);
        } else {
          log.error(
            `sessionmesh proxy: node ${upstream.name} answered ${status} to POST /_mesh/api/drain (is it a sessionmesh node?)`,
          );
        }
      } catch (err) {
        log.error(
          `sessionmesh proxy: could not ask node ${upstream.name} to drain: ${(err as Error).message}`,
        );
      }
    })();
  };
}

function postDrain(upstream: Upstream): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: upstream.host,
        port: upstream.port,
        method: 'POST',
        path: '/_mesh/api/drain',
        headers: { 'content-length': 0, connection: 'close' },
        timeout: 5000,
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', reject);
    req.end();
  });
}
