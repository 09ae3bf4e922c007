// Serves the dashboard under /_mesh/: the page, its stylesheet and its browser modules. The data
// comes from the admin API beside it (docs/admin-api.md), which this handler does not serve.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { createClientModules } from './client-modules.js';
import { renderPage } from './page.js';
import { DASHBOARD_CSS } from './styles.js';

export interface DashboardOptions {
  /** Shown in the page's title and header. Default: "cluster". */
  readonly title?: string;
}

/** Handles a request for the dashboard; returns false for any other path (or method). */
export type DashboardHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

const PREFIX = '/_mesh/';

// Everything is self-served: no inline script, no third-party origin.
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * Creates the handler of the dashboard at `/_mesh/` (page), `/_mesh/dashboard.css` and
 * `/_mesh/dashboard.js` (with the modules it imports, `/_mesh/<module>.js`).
 *
 * @example
 * const dashboard = createDashboardHandler({ title: 'shop' });
 * server.on('request', (req, res) => dashboard(req, res) || admin(req, res) || proxy(req, res));
 */
export function createDashboardHandler(options: DashboardOptions = {}): DashboardHandler {
  const page = renderPage(options.title ?? 'cluster');
  const modules = createClientModules();
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const path = (req.url ?? '/').split('?')[0]!;
    if (!path.startsWith(PREFIX)) return false;
    const file = path.slice(PREFIX.length);
    if (file === '' || file === 'index.html') {
      send(req, res, 200, 'text/html; charset=utf-8', page);
      return true;
    }
    if (file === 'dashboard.css') {
      send(req, res, 200, 'text/css; charset=utf-8', DASHBOARD_CSS);
      return true;
    }
    const module = /^([a-z][a-z0-9-]{0,40})\.js$/.exec(file)?.[1];
    if (module === undefined || !modules.names.has(module)) return false;
    modules.load(module).then(
      (code) => send(req, res, 200, 'text/javascript; charset=utf-8', code ?? ''),
      () =>
        send(
          req,
          res,
          500,
          'text/plain; charset=utf-8',
          `the dashboard module ${module} failed to load\n`,
        ),
    );
    return true;
  };
}

function send(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  type: string,
  body: string,
): void {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-cache',
    'content-security-policy': CSP,
    'x-content-type-options': 'nosniff',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}
