import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { exportConfig } from '../../src/proxy/export-config.js';
import { startUpstream, type TestUpstream } from '../helpers/proxy-upstream.js';
import { fetchText, sessionCookie } from '../helpers/proxy-process.js';
import {
  findBinary,
  freePort,
  INSTALL_HINT,
  startHaproxy,
  startNginx,
  type External,
} from '../helpers/proxy-external.js';

const nodes: TestUpstream[] = [];
const externals: External[] = [];
before(async () => {
  nodes.push(...(await Promise.all(['ea', 'eb', 'ec'].map((name) => startUpstream(name)))));
});
after(async () => {
  for (const external of externals) await external.stop();
  await Promise.all(nodes.map((n) => n.close()));
});

async function assertRoutesBySuffix(port: number): Promise<void> {
  for (const route of ['eb', 'ec', 'ea', 'eb']) {
    const reply = await fetchText(port, '/', {
      headers: { cookie: `other=1; sid=${sessionCookie(route)}` },
    });
    assert.equal(reply.status, 200);
    assert.equal(JSON.parse(reply.body).name, route);
  }
  const ranked = await fetchText(port, '/', {
    headers: { cookie: `sid=${sessionCookie('ec', 'ea')}` },
  });
  assert.equal(JSON.parse(ranked.body).name, 'ec', 'the first route decides');
  const fresh = await fetchText(port, '/');
  assert.ok(
    ['ea', 'eb', 'ec'].includes(JSON.parse(fresh.body).name),
    'a visitor without a route is balanced',
  );
}

for (const kind of ['haproxy', 'nginx'] as const) {
  test(`the exported ${kind} config routes on the cookie's route suffix`, async (t) => {
    const binary = findBinary(kind);
    if (binary === undefined) {
      if (process.env.CI === 'true')
        assert.fail(`${kind} is not installed; install it with: ${INSTALL_HINT}`);
      t.skip(`${kind} is not installed (${INSTALL_HINT}); CI fails here`);
      return;
    }
    const port = await freePort();
    const upstreams = nodes.map(({ name, port }) => ({ name, port }));
    const config = exportConfig(kind, upstreams, { listenPort: port, listenHost: '127.0.0.1' });
    const external =
      kind === 'haproxy'
        ? await startHaproxy(binary, config, port)
        : await startNginx(binary, config, port);
    externals.push(external);
    await assertRoutesBySuffix(port);
  });
}

test('exportConfig refuses an unknown kind and unsafe names', () => {
  assert.throws(() => exportConfig('envoy' as 'nginx', [{ name: 'a', port: 1 }]), {
    code: 'SM_ERR_OPTION_INVALID',
  });
  assert.throws(() => exportConfig('nginx', [{ name: 'a;b', port: 1 }]), {
    code: 'SM_ERR_OPTION_INVALID',
  });
  assert.throws(() => exportConfig('haproxy', [{ name: 'a', host: 'x y', port: 1 }]), {
    code: 'SM_ERR_OPTION_INVALID',
  });
  assert.throws(() => exportConfig('haproxy', []), { code: 'SM_ERR_OPTION_INVALID' });
});
