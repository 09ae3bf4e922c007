// The `sessionmesh` command: bad flags and values are refused with the valid choices, a busy
// port says which, a broken app module shows its own error, and the node runs Express and
// Fastify apps with sessions wired in.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Client } from '../helpers/http-client.js';
import { runCli, SECRET_FLAG, startCli, stop } from '../helpers/cli.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

describe('sessionmesh command line', () => {
  it('prints help', async () => {
    const { code, stdout } = await runCli(['--help']);
    assert.equal(code, 0);
    assert.match(stdout, /demo/);
    assert.match(stdout, /status/);
  });

  it('refuses an unknown command and names the valid ones', async () => {
    const { code, stderr } = await runCli(['nodes']);
    assert.equal(code, 2);
    assert.match(stderr, /unknown command "nodes".*demo, node, proxy, status/);
  });

  it('refuses an unknown flag and names the valid ones', async () => {
    const { code, stderr } = await runCli(['node', '--name', 'a', ...SECRET_FLAG, '--prot', '1']);
    assert.equal(code, 2);
    assert.match(stderr, /unknown flag --prot; valid flags: .*--port/);
  });

  it('refuses a bad value and names the valid choices', async () => {
    const { code, stderr } = await runCli([
      'node',
      '--name',
      'a',
      ...SECRET_FLAG,
      '--store',
      'mongo',
    ]);
    assert.equal(code, 2);
    assert.match(stderr, /--store must be one of cluster, memory, redis, postgres; got "mongo"/);
    const port = await runCli(['node', '--name', 'a', ...SECRET_FLAG, '--port', 'eighty']);
    assert.match(port.stderr, /--port must be a number; got "eighty"/);
    const lock = await runCli(['node', '--name', 'a', ...SECRET_FLAG, '--lock', 'everywhere']);
    assert.match(lock.stderr, /--lock must be one of none, node, cluster; got "everywhere"/);
    // A cluster-wide lock needs the cluster store: said before any port is opened.
    const memory = ['--store', 'memory', '--lock', 'cluster', '--port', '0'];
    const noLock = await runCli(['node', '--name', 'a', ...SECRET_FLAG, ...memory]);
    assert.equal(noLock.code, 2);
    assert.match(noLock.stderr, /'cluster' needs a store with a lock, such as ClusterStore/);
  });

  it('reads flags from a config file and refuses its bad values the same way', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sm-cli-'));
    const config = join(dir, 'node.json');
    writeFileSync(config, JSON.stringify({ name: 'a', secret: SECRET_FLAG[1], store: 'mongo' }));
    const bad = await runCli(['node', '--config', config]);
    assert.equal(bad.code, 2);
    assert.match(
      bad.stderr,
      /--store must be one of cluster, memory, redis, postgres; got "mongo"/,
    );
    writeFileSync(config, '{ not json');
    const broken = await runCli(['node', '--config', config]);
    assert.equal(broken.code, 2);
    assert.match(broken.stderr, /cannot read --config .*node\.json/);
  });

  it('refuses a short secret and a missing one', async () => {
    const short = await runCli([
      'node',
      '--name',
      'a',
      '--secret',
      'short',
      '--store',
      'memory',
      '--port',
      '0',
    ]);
    assert.equal(short.code, 2);
    assert.match(short.stderr, /secret.*at least 32 characters.*SM_ERR_OPTION_INVALID/);
    const missing = await runCli(['node', '--name', 'a']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--secret is required/);
  });

  it('says which port is in use', async () => {
    const blocker = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    const { port } = blocker.address() as AddressInfo;
    try {
      const { code, stderr } = await runCli([
        'node',
        '--name',
        'a',
        ...SECRET_FLAG,
        '--store',
        'memory',
        '--port',
        String(port),
      ]);
      assert.equal(code, 2);
      assert.match(stderr, new RegExp(`port ${port} on 127.0.0.1 is in use`));
    } finally {
      blocker.close();
    }
  });

  it('refuses a busy demo port before starting any node', async () => {
    const blocker = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    const { port } = blocker.address() as AddressInfo;
    try {
      const { code, stderr } = await runCli(['demo', '--port', String(port)]);
      assert.equal(code, 2);
      assert.match(
        stderr,
        new RegExp(`port ${port} on 127.0.0.1 is in use; choose another with --port`),
      );
    } finally {
      blocker.close();
    }
  });

  it("prints the app module's own error when it fails to load", async () => {
    const { code, stderr } = await runCli([
      'node',
      '--name',
      'a',
      ...SECRET_FLAG,
      '--store',
      'memory',
      '--port',
      '0',
      '--app',
      fixture('broken-app.mjs'),
    ]);
    assert.equal(code, 2);
    assert.match(
      stderr,
      /the app module .*broken-app\.mjs failed to load:\nError: boom from the app module/,
    );
    assert.doesNotMatch(stderr, /app-module\.(ts|js)/);
  });

  for (const app of ['express-app.mjs', 'fastify-app.mjs']) {
    it(`runs ${app} with sessions wired in`, async () => {
      const node = await startCli(
        [
          'node',
          '--name',
          'n1',
          ...SECRET_FLAG,
          '--store',
          'memory',
          '--port',
          '0',
          '--app',
          fixture(app),
        ],
        /listening (http:\/\/[\d.:]+)/,
      );
      try {
        const client = new Client(node.match[1]!);
        assert.equal(JSON.parse((await client.get('/count')).body).n, 1);
        const second = JSON.parse((await client.get('/count')).body);
        assert.equal(second.n, 2);
        assert.equal(second.framework, app.split('-')[0]);
        assert.match(
          [...client.jar.values()][0]!,
          /^[A-Za-z0-9_-]{32}\.n1\./,
          'the cookie carries the node route',
        );
      } finally {
        await stop(node.child);
      }
    });
  }
});
