import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { rssOf, spawnProxy, spawnUpstream, type ChildUpstream } from '../helpers/proxy-process.js';

const SIZE = 100 * 1024 * 1024;
/** A proxy that buffered a 100 MB body would grow by at least that much; streaming stays far below. */
const MAX_RSS_GROWTH = 40 * 1024 * 1024;

const children: ChildUpstream[] = [];
let proxy: ChildUpstream;
before(async () => {
  const node = await spawnUpstream('big');
  children.push(node);
  proxy = await spawnProxy({ upstreams: [{ name: 'big', port: node.port }] });
  children.push(proxy);
});
after(() => {
  for (const child of children) child.kill();
});

/** Samples the proxy's RSS while `run` goes; resolves with the largest growth over the start. */
async function peakGrowth(run: () => Promise<void>): Promise<number> {
  const start = rssOf(proxy.child.pid!);
  let peak = start;
  const timer = setInterval(() => (peak = Math.max(peak, rssOf(proxy.child.pid!))), 20);
  try {
    await run();
  } finally {
    clearInterval(timer);
  }
  return peak - start;
}

test('a 100 MB download streams through the proxy with flat memory', async () => {
  let received = 0;
  const growth = await peakGrowth(
    () =>
      new Promise((resolve, reject) => {
        request({ host: '127.0.0.1', port: proxy.port, path: `/bytes?n=${SIZE}` }, (res) => {
          assert.equal(res.statusCode, 200);
          res.on('data', (chunk: Buffer) => (received += chunk.length));
          res.on('end', resolve);
          res.on('error', reject);
        })
          .on('error', reject)
          .end();
      }),
  );
  assert.equal(received, SIZE);
  assert.ok(growth < MAX_RSS_GROWTH, `proxy RSS grew by ${(growth / 1048576).toFixed(1)} MB`);
});

test('a 100 MB upload streams through the proxy with flat memory', async () => {
  let answer = '';
  const growth = await peakGrowth(
    () =>
      new Promise((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port: proxy.port,
            path: '/sink',
            method: 'POST',
            headers: { 'content-length': SIZE },
          },
          (res) => {
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => (answer += chunk));
            res.on('end', resolve);
          },
        );
        req.on('error', reject);
        const chunk = Buffer.alloc(256 * 1024, 7);
        let left = SIZE;
        const pump = (): void => {
          while (left > 0) {
            left -= chunk.length;
            if (!req.write(chunk)) return void req.once('drain', pump);
          }
          req.end();
        };
        pump();
      }),
  );
  assert.deepEqual(JSON.parse(answer), { name: 'big', bytes: SIZE });
  assert.ok(growth < MAX_RSS_GROWTH, `proxy RSS grew by ${(growth / 1048576).toFixed(1)} MB`);
});
