// sessionmesh/node: a plain node:http handler gets req.session, and the response waits for the commit.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { withSession } from '../../src/http/node.js';
import { Client, listen, SECRET } from '../helpers/http-client.js';
import { SlowStore } from '../helpers/test-stores.js';

describe('sessionmesh/node', () => {
  it('keeps a counter for a plain handler, and the response waits for a slow store', async () => {
    const handler = withSession({ secret: SECRET, store: new SlowStore(100) }, (req, res) => {
      const session = req.session!;
      session.views = ((session.views as number) ?? 0) + 1;
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(String(session.views));
    });
    const { base, close } = await listen(createServer(handler));
    try {
      const client = new Client(base);
      assert.equal((await client.get('/')).body, '1');
      assert.equal((await client.get('/')).body, '2');
      assert.equal((await client.get('/')).body, '3');
    } finally {
      await close();
    }
  });

  it('streams a response written in several chunks after the commit', async () => {
    const handler = withSession({ secret: SECRET, store: new SlowStore(50) }, (req, res) => {
      req.session!.seen = true;
      res.write('a');
      res.write('b');
      setTimeout(() => res.end('c'), 10);
    });
    const { base, close } = await listen(createServer(handler));
    try {
      const reply = await new Client(base).get('/');
      assert.equal(reply.body, 'abc');
      assert.equal(reply.setCookies.length, 1);
    } finally {
      await close();
    }
  });
});
