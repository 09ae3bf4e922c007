// Loads the user's app module for `sessionmesh node` and turns it into a request handler with
// sessions wired in: an Express/Connect app or a node:http handler gets `req.session` from the
// same lifecycle as sessionmesh/node; a Fastify instance gets the sessionmesh plugin.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { attach, type SessionRequest } from '../http/node.js';
import { sessionmesh as fastifyPlugin } from '../http/fastify.js';
import type { SessionHttp } from '../http/session-http.js';
import type { SessionOptions } from '../http/options.js';
import { UsageError } from './args.js';

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

interface FastifyLike {
  register(plugin: unknown, options: unknown): unknown;
  ready(): Promise<unknown>;
  server: { listeners(event: 'request'): Handler[] };
}

/**
 * The module's default export (or `app`, or the module itself) as a handler.
 * @throws {UsageError} carrying the module's own error when it fails to load.
 */
export async function loadAppModule(
  path: string,
  http: SessionHttp,
  options: SessionOptions,
): Promise<Handler> {
  let loaded: Record<string, unknown>;
  try {
    loaded = (await import(pathToFileURL(resolve(path)).href)) as Record<string, unknown>;
  } catch (err) {
    // The module's error and its own frames; not the loader's nor sessionmesh's.
    const stack = err instanceof Error ? (err.stack ?? err.message) : String(err);
    const here = new URL('..', import.meta.url).pathname;
    const detail = stack
      .split('\n')
      .filter((line) => !line.includes('node:internal') && !line.includes(here))
      .join('\n');
    throw new UsageError(`sessionmesh node: the app module ${path} failed to load:\n${detail}`);
  }
  const app = loaded.default ?? loaded.app;
  if (isFastify(app)) {
    await app.register(fastifyPlugin, { ...options, store: http.store });
    await app.ready();
    const handler = app.server.listeners('request')[0];
    if (!handler)
      throw new UsageError(
        `sessionmesh node: the Fastify instance in ${path} has no request handler`,
      );
    return handler;
  }
  if (typeof app === 'function') {
    const handle = app as (
      req: SessionRequest,
      res: ServerResponse,
      next?: (err?: unknown) => void,
    ) => unknown;
    return (req, res) =>
      attach(http, req, res, () => {
        Promise.resolve(handle(req, res, (err) => finalError(res, err))).catch((err: unknown) =>
          finalError(res, err),
        );
      });
  }
  throw new UsageError(
    `sessionmesh node: ${path} must export (default, or as "app") an Express app, a Fastify instance or a (req, res) handler`,
  );
}

function isFastify(value: unknown): value is FastifyLike {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as FastifyLike).register === 'function' &&
    typeof (value as FastifyLike).ready === 'function' &&
    typeof (value as FastifyLike).server?.listeners === 'function'
  );
}

/** The end of the chain for a Connect app that called next() or next(err). */
function finalError(res: ServerResponse, err: unknown): void {
  if (res.headersSent) return void res.end();
  if (err) console.error('sessionmesh node: the app failed:', err);
  res.writeHead(err ? 500 : 404, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(err ? 'Internal Server Error\n' : 'Not Found\n');
}
