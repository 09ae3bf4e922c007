// The TCP transport over mutual TLS, with a throwaway CA made by openssl for this test: members
// with certificates of the cluster CA talk; a certificate of another CA or a plaintext peer is
// refused and counted.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  createTcpTransport,
  type TcpTransport,
} from '../../src/cluster/transport/tcp-transport.js';
import { closedWithin, rawConnect } from '../helpers/cluster-member-raw.js';

const SECRET = 'tls-cluster-secret-0123456789abcdef0123';

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

/** A CA and one certificate signed by it, as PEM strings. */
function makePki(dir: string, prefix: string): { ca: string; cert: string; key: string } {
  openssl(
    dir,
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    `/CN=${prefix}-ca`,
    '-keyout',
    `${prefix}-ca.key`,
    '-out',
    `${prefix}-ca.pem`,
  );
  openssl(
    dir,
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    `/CN=${prefix}-member`,
    '-keyout',
    `${prefix}.key`,
    '-out',
    `${prefix}.csr`,
  );
  openssl(
    dir,
    'x509',
    '-req',
    '-in',
    `${prefix}.csr`,
    '-CA',
    `${prefix}-ca.pem`,
    '-CAkey',
    `${prefix}-ca.key`,
    '-CAcreateserial',
    '-days',
    '1',
    '-out',
    `${prefix}.pem`,
  );
  const read = (f: string): string => readFileSync(join(dir, f), 'utf8');
  return { ca: read(`${prefix}-ca.pem`), cert: read(`${prefix}.pem`), key: read(`${prefix}.key`) };
}

describe('cluster transport over mutual TLS', () => {
  let dir: string;
  let cluster: { ca: string; cert: string; key: string };
  let rogue: { ca: string; cert: string; key: string };
  const open: TcpTransport[] = [];
  const make = async (name: string, tls: { ca: string; cert: string; key: string }) => {
    const t = createTcpTransport({ name, cluster: 'tls', secret: SECRET, tls });
    open.push(t);
    await t.start();
    return t;
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sm-tls-'));
    cluster = makePki(dir, 'cluster');
    rogue = makePki(dir, 'rogue');
  });
  after(async () => {
    await Promise.all(open.map((t) => t.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('members with certificates of the cluster CA exchange requests', async () => {
    const a = await make('a', cluster);
    const b = await make('b', cluster);
    b.onRequest((_t, body) => ({ echo: body['x'] }));
    assert.deepEqual(await a.request(b.self, 't', { x: 1 }, { timeoutMs: 3000 }), { echo: 1 });
  });

  it('a certificate signed by another CA is refused and counted', async () => {
    const member = await make('m', cluster);
    member.onRequest(() => ({}));
    // The rogue trusts the cluster CA (so it would accept us) but presents its own certificate.
    const intruder = await make('rogue', { ca: cluster.ca, cert: rogue.cert, key: rogue.key });
    await assert.rejects(intruder.request(member.self, 't', {}, { timeoutMs: 3000 }), {
      code: 'SM_ERR_CLUSTER_UNREACHABLE',
    });
    for (let i = 0; i < 100 && member.stats().rejected.tls === 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    assert.ok(member.stats().rejected.tls >= 1);
  });

  it('a plaintext peer on the TLS port is refused and the member keeps serving', async () => {
    const member = await make('p', cluster);
    const good = await make('g', cluster);
    member.onRequest(() => ({ ok: true }));
    const socket = await rawConnect(member.self.address);
    socket.write(Buffer.from([0, 0, 0, 5, 1, 2, 3, 4, 5]));
    assert.ok((await closedWithin(socket, 2000)) >= 0);
    assert.deepEqual(await good.request(member.self, 't', {}, { timeoutMs: 3000 }), { ok: true });
  });
});
