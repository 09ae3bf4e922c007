// The demo's promise, without a browser: sign in through the proxy, fill the cart, SIGKILL the
// node that served the session: the next request is served by another node, still signed in,
// cart intact. Then `sessionmesh status` reads the cluster from the proxy.
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startDemo, type Demo } from '../../src/cli/demo-command.js';
import { Client } from '../helpers/http-client.js';
import { runCli } from '../helpers/cli.js';

describe('sessionmesh demo: a session survives the death of the node that served it', () => {
  let demo: Demo;
  before(async () => {
    demo = await startDemo({ nodes: 3, port: 0 });
    await demo.whenReady(30_000);
  });
  after(() => demo.stop());

  it('keeps the user signed in with the cart intact after a SIGKILL of the serving node', async () => {
    const client = new Client(demo.url);
    const json = { accept: 'application/json' };
    const login = await client.post('/login', { user: 'ada' }, { headers: json });
    assert.equal(login.status, 200);
    const servedBy = login.headers.get('x-served-by')!;
    assert.ok(servedBy);
    await client.post('/cart', { item: 'apple' }, { headers: json });
    const cart = await client.post('/cart', { item: 'pear' }, { headers: json });
    assert.equal(
      cart.headers.get('x-served-by'),
      servedBy,
      'sticky: the route keeps the session on its node',
    );

    await demo.controls.kill(servedBy);
    const started = Date.now();
    const me = await client.get('/me', { headers: json });
    assert.equal(me.status, 200);
    const body = JSON.parse(me.body);
    assert.equal(body.user, 'ada');
    assert.deepEqual(body.cart, ['apple', 'pear']);
    assert.notEqual(me.headers.get('x-served-by'), servedBy);
    console.log(
      `failover: first request after the kill answered in ${Date.now() - started} ms by ${me.headers.get('x-served-by')}`,
    );

    const status = await runCli(['status', '--url', demo.url]);
    assert.equal(status.code, 0);
    assert.match(status.stdout, /member\s+state/);
    assert.match(status.stdout, new RegExp(`${servedBy}\\s+(stopped|dead)`));
    assert.match(status.stdout, /271 partitions/);
  });
});

describe('sessionmesh demo --store memory: sticky sessions alone lose the sessions of a dead node', () => {
  let demo: Demo;
  before(async () => {
    demo = await startDemo({ nodes: 2, port: 0, store: 'memory' });
    await demo.whenReady(30_000);
  });
  after(() => demo.stop());

  it('signs the user out when the node that held the session dies', async () => {
    const client = new Client(demo.url);
    const json = { accept: 'application/json' };
    const login = await client.post('/login', { user: 'ada' }, { headers: json });
    const servedBy = login.headers.get('x-served-by')!;
    assert.match([...client.jar.values()][0]!, new RegExp(`^[A-Za-z0-9_-]{32}\\.${servedBy}\\.`));
    await demo.controls.kill(servedBy);
    const me = JSON.parse((await client.get('/me', { headers: json })).body);
    assert.equal(me.user, null);
    assert.notEqual(me.node, servedBy);
  });
});
