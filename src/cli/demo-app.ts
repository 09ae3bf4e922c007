// The demo app that `sessionmesh demo` runs on every node: sign in, see who you are and which
// node served you, count visits, fill a cart. Plain node:http on sessionmesh/node, so it needs
// no framework. JSON endpoints: POST /login (user), GET /me, POST /cart (item), POST /logout.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SessionRequest } from '../http/node.js';

const MAX_BODY_BYTES = 16 * 1024;

export function createDemoApp(
  node: string,
): (req: SessionRequest, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    res.setHeader('x-served-by', node);
    const session = req.session!;
    const url = new URL(req.url ?? '/', 'http://demo');
    const wantsHtml = (req.headers.accept ?? '').includes('text/html');
    const me = () => ({
      user: (session.user as string | undefined) ?? null,
      node,
      visits: (session.visits as number | undefined) ?? 0,
      cart: (session.cart as string[] | undefined) ?? [],
    });
    const done = () => (wantsHtml ? redirect(res, '/') : json(res, 200, me()));

    if (req.method === 'GET' && url.pathname === '/') {
      session.visits = ((session.visits as number | undefined) ?? 0) + 1;
      return html(res, page(me()));
    }
    if (req.method === 'GET' && url.pathname === '/me') {
      session.visits = ((session.visits as number | undefined) ?? 0) + 1;
      return json(res, 200, me());
    }
    if (req.method === 'POST' && url.pathname === '/login') {
      const user = (await readForm(req)).get('user')?.trim();
      if (!user || user.length > 64)
        return json(res, 400, { error: 'form field "user" (1 to 64 characters) is required' });
      await session.regenerate(); // a new id at sign-in: the fixation defense
      session.user = user;
      session.visits = 1;
      session.setPrincipal(user);
      return done();
    }
    if (req.method === 'POST' && url.pathname === '/cart') {
      const item = (await readForm(req)).get('item')?.trim();
      if (!item || item.length > 64)
        return json(res, 400, { error: 'form field "item" (1 to 64 characters) is required' });
      const cart = (session.cart as string[] | undefined) ?? [];
      cart.push(item);
      session.cart = cart;
      return done();
    }
    if (req.method === 'POST' && url.pathname === '/logout') {
      await session.destroy();
      return wantsHtml ? redirect(res, '/') : json(res, 200, { ok: true });
    }
    json(res, 404, { error: 'not found' });
  };
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > MAX_BODY_BYTES) throw new Error('request body too large');
  }
  if ((req.headers['content-type'] ?? '').includes('application/json')) {
    const parsed = JSON.parse(body || '{}') as Record<string, unknown>;
    return new URLSearchParams(
      Object.entries(parsed).map(([k, v]): [string, string] => [k, String(v)]),
    );
  }
  return new URLSearchParams(body);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(text);
}

function html(res: ServerResponse, body: string): void {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(body);
}

function redirect(res: ServerResponse, to: string): void {
  res.writeHead(303, { location: to, 'cache-control': 'no-store' });
  res.end();
}

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(me: { user: string | null; node: string; visits: number; cart: string[] }): string {
  const body = me.user
    ? `<p data-testid="who">Signed in as <b>${escape(me.user)}</b></p>
       <p>Served by <b data-testid="node">${escape(me.node)}</b> · visits <b data-testid="visits">${me.visits}</b></p>
       <h2>Cart</h2>
       <ul data-testid="cart">${me.cart.map((item) => `<li>${escape(item)}</li>`).join('') || '<li><i>empty</i></li>'}</ul>
       <form method="post" action="/cart"><input name="item" placeholder="an item" required maxlength="64"> <button data-testid="add">Add to cart</button></form>
       <form method="post" action="/logout"><button data-testid="logout">Sign out</button></form>`
    : `<p>Served by <b data-testid="node">${escape(me.node)}</b></p>
       <form method="post" action="/login"><input name="user" placeholder="your name" required maxlength="64"> <button data-testid="login">Sign in</button></form>`;
  return `<!doctype html><html><head><meta charset="utf-8"><title>sessionmesh demo</title>
<style>body{font:16px system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1d2330}
h1{font-size:1.4rem}button{font:inherit;padding:.3rem .8rem}input{font:inherit;padding:.3rem}
form{margin:.6rem 0}.hint{color:#667;font-size:.9rem}</style></head>
<body><h1>sessionmesh demo</h1>${body}
<p class="hint">Kill the node that served you from the <a href="/_mesh/">dashboard</a>, then reload: you stay signed in.</p>
</body></html>`;
}
