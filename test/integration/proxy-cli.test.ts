// `sessionmesh proxy`, run from the built bin: flags and their refusals, the exported configs,
// routing by cookie suffix, the admin token, workers, the topology read from the nodes, and a
// clean exit on SIGTERM.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { ChildProcess } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { runCli, startCli, stop } from '../helpers/cli.js';
import { startUpstream, type TestUpstream } from '../helpers/proxy-upstream.js';
import { fetchText, sessionCookie } from '../helpers/proxy-process.js';
import { freePort } from '../helpers/proxy-external.js';

const upstreams: TestUpstream[] = [];
const children: ChildProcess[] = [];
const servers: Server[] = [];
after(async () => {
  await Promise.all(children.map((child) => stop(child)));
  await Promise.all(upstreams.map((u) => u.close()));
  for (const server of servers) server.close();
});

async function startProxy(args: string[]): Promise<number> {
  const { child, match } = await startCli(
    ['proxy', '--port', '0', ...args],
    /listening http:\/\/127\.0\.0\.1:(\d+)/,
  );
  children.push(child);
  return Number(match[1]);
}

async function who(port: number, cookie?: string): Promise<string> {
  const reply = await fetchText(port, '/', cookie ? { headers: { cookie } } : {});
  assert.equal(reply.status, 200, reply.body);
  return (JSON.parse(reply.body) as { name: string }).name;
}

test('bad flags and values are refused with the valid choices', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['--upstreams', 'a=127.0.0.1:1', '--prot', '1'], /unknown flag --prot; valid flags: .*--port/],
    [['--upstreams', 'a=127.0.0.1:1', '--balance', 'fastest'], /one of least-conn, .*ip-hash/],
    [['--upstreams', 'a=127.0.0.1:1', '--topology', 'cluster'], /one of nodes, none/],
    [['--upstreams', 'a=127.0.0.1:1', '--export', 'caddy'], /one of nginx, haproxy/],
    [['--upstreams', 'a=127.0.0.1:1', '--workers', '0'], /--workers must be a number from 1/],
    [['--upstreams', 'a:3000'], /name=host:port/],
    [['--upstreams', 'a=127.0.0.1:99999'], /name=host:port/],
    [['--upstreams', 'a.b=127.0.0.1:3000'], /name=host:port/],
    [['--upstreams', 'a=127.0.0.1:1,a=127.0.0.1:2'], /unique/],
    [[], /--upstreams is required/],
  ];
  await Promise.all(
    cases.map(async ([args, pattern]) => {
      const { code, stderr } = await runCli(['proxy', ...args]);
      assert.equal(code, 2, args.join(' '));
      assert.match(stderr, pattern, args.join(' '));
    }),
  );
});

test('--export prints an nginx or HAProxy config for the upstreams and exits', async () => {
  const args = [
    '--upstreams',
    'a=10.0.0.1:3001,b=10.0.0.2:3002',
    '--cookie',
    'sess',
    '--port',
    '80',
  ];
  const nginx = await runCli(['proxy', ...args, '--export', 'nginx']);
  assert.equal(nginx.code, 0, nginx.stderr);
  assert.match(nginx.stdout, /server 10\.0\.0\.1:3001/);
  assert.match(nginx.stdout, /cookie_sess/);
  const haproxy = await runCli(['proxy', ...args, '--export', 'haproxy']);
  assert.equal(haproxy.code, 0, haproxy.stderr);
  assert.match(haproxy.stdout, /server a 10\.0\.0\.1:3001/);
  assert.match(haproxy.stdout, /req\.cook\(sess\)/);
});

test('the proxy routes by the cookie suffix, guards its admin API with the token, and exits 0 on SIGTERM', async () => {
  const a = await startUpstream('ca');
  const b = await startUpstream('cb');
  upstreams.push(a, b);
  const { child, match } = await startCli(
    [
      'proxy',
      '--port',
      '0',
      '--upstreams',
      `ca=127.0.0.1:${a.port},cb=127.0.0.1:${b.port}`,
      '--health-path',
      '/health',
      '--admin-token',
      'let-me-in',
      '--balance',
      'round-robin',
    ],
    /listening http:\/\/127\.0\.0\.1:(\d+)/,
  );
  children.push(child);
  const port = Number(match[1]);
  for (let i = 0; i < 5; i++) assert.equal(await who(port, `sid=${sessionCookie('cb')}`), 'cb');
  assert.equal(await who(port, `sid=${sessionCookie('ca')}`), 'ca');
  assert.equal((await fetchText(port, '/_mesh/api/upstreams')).status, 401);
  const listed = await fetchText(port, '/_mesh/api/upstreams', {
    headers: { authorization: 'Bearer let-me-in' },
  });
  assert.equal(listed.status, 200);
  assert.deepEqual(
    (JSON.parse(listed.body) as { upstreams: { name: string }[] }).upstreams.map((u) => u.name),
    ['ca', 'cb'],
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});

test('--workers 2 serves on one port', async () => {
  const a = await startUpstream('wa');
  upstreams.push(a);
  const port = await startProxy([
    '--upstreams',
    `wa=127.0.0.1:${a.port}`,
    '--workers',
    '2',
    '--health-path',
    'none',
  ]);
  for (let i = 0; i < 10; i++) assert.equal(await who(port), 'wa');
});

test('--topology nodes sends a session whose node is dead to its partition owner', async () => {
  // tb answers the node view (every partition is its own); tc is an ordinary node; ta is dead.
  const tb = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    if (req.url === '/_mesh/api/node') {
      const members = ['tb', 'tc'].map((name) => ({
        name,
        state: 'alive',
        address: '',
        data: true,
      }));
      res.end(
        JSON.stringify({
          name: 'tb',
          ready: true,
          viewId: 1,
          members,
          partitions: { count: 8, owners: Array(8).fill('tb'), backups: [] },
        }),
      );
    } else {
      res.end(JSON.stringify({ name: 'tb' }));
    }
  });
  servers.push(tb);
  await new Promise<void>((resolve) => tb.listen(0, '127.0.0.1', resolve));
  const tc = await startUpstream('tc');
  upstreams.push(tc);
  const dead = await freePort();
  const port = await startProxy([
    '--upstreams',
    `ta=127.0.0.1:${dead},tb=127.0.0.1:${(tb.address() as AddressInfo).port},tc=127.0.0.1:${tc.port}`,
    '--topology',
    'nodes',
    '--health-path',
    'none',
  ]);
  const cookie = `sid=${sessionCookie('ta')}`;
  // The topology is polled every 500 ms: wait for the first answer that shows it.
  const deadline = Date.now() + 5000;
  while ((await who(port, cookie)) !== 'tb' && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  for (let i = 0; i < 10; i++) assert.equal(await who(port, cookie), 'tb');
});
