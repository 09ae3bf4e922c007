import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  formatRef,
  generateId,
  isValidId,
  isValidRoute,
  MAX_ROUTES,
  parseRef,
  routesOfToken,
} from './id.js';

const MAC = 'A'.repeat(43);

test('routesOfToken returns the ranked routes between the id and the mac', () => {
  const id = generateId();
  assert.deepEqual(routesOfToken(`${id}.${MAC}`), []);
  assert.deepEqual(routesOfToken(`${id}.node-a.${MAC}`), ['node-a']);
  assert.deepEqual(routesOfToken(`${id}.a.b.c.${MAC}`), ['a', 'b', 'c']);
});

test('routesOfToken returns no route for malformed values', () => {
  const id = generateId();
  for (const bad of [
    '',
    '.',
    MAC,
    `short.a.${MAC}`,
    `${id}.a b.${MAC}`,
    `${id}..${MAC}`,
    `${id}.a.b.c.d.e.${MAC}`,
  ]) {
    assert.deepEqual(routesOfToken(bad), [], bad);
  }
});

test('routesOfToken inverts formatRef followed by a mac', () => {
  const route = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);
  fc.assert(
    fc.property(fc.array(route, { maxLength: 4 }), (routes) => {
      const id = generateId();
      assert.deepEqual(routesOfToken(`${formatRef({ id, routes })}.${MAC}`), routes);
    }),
  );
});

// ---- ids and refs ----

test('a generated id is 32 base64url characters, 192 bits', () => {
  const id = generateId();
  assert.match(id, /^[A-Za-z0-9_-]{32}$/);
  assert.equal(Buffer.from(id, 'base64url').length, 24);
  assert.ok(isValidId(id));
});

test('100,000 generated ids have no collision', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 100_000; i++) seen.add(generateId());
  assert.equal(seen.size, 100_000);
});

test('parseRef and formatRef round-trip an id without routes', () => {
  const id = generateId();
  assert.deepEqual(parseRef(id), { id, routes: [] });
  assert.equal(formatRef({ id, routes: [] }), id);
});

test('parseRef and formatRef round-trip refs with up to MAX_ROUTES routes', () => {
  const route = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);
  const id = fc.stringMatching(/^[A-Za-z0-9_-]{22,128}$/);
  fc.assert(
    fc.property(id, fc.array(route, { maxLength: MAX_ROUTES }), (id, routes) => {
      const text = formatRef({ id, routes });
      assert.deepEqual(parseRef(text), { id, routes });
      assert.equal(formatRef(parseRef(text)!), text);
    }),
  );
});

test('parseRef accepts ids of 22 and 128 characters and routes of 1 and 64', () => {
  for (const id of ['a'.repeat(22), 'b'.repeat(128)])
    assert.deepEqual(parseRef(id), { id, routes: [] });
  const id = generateId();
  assert.deepEqual(parseRef(`${id}.x.${'r'.repeat(64)}`), { id, routes: ['x', 'r'.repeat(64)] });
});

test('parseRef rejects ids of the wrong length', () => {
  for (const length of [0, 21, 129, 1000])
    assert.equal(parseRef('a'.repeat(length)), undefined, `${length}`);
});

test('parseRef rejects ids outside the base64url alphabet', () => {
  const id = generateId();
  for (const bad of ['+', '/', '=', 'é', '\u2028', '\r\n', '{', ' ', '\0', '%']) {
    assert.equal(parseRef(id.slice(0, 16) + bad + id.slice(17)), undefined, JSON.stringify(bad));
    assert.equal(isValidId(id + bad), false, JSON.stringify(bad));
  }
});

test('parseRef rejects more than MAX_ROUTES routes', () => {
  const id = generateId();
  const routes = Array.from({ length: MAX_ROUTES + 1 }, (_, i) => `n${i}`);
  assert.equal(parseRef(`${id}.${routes.join('.')}`), undefined);
  assert.deepEqual(parseRef(`${id}.${routes.slice(1).join('.')}`)?.routes, routes.slice(1));
});

test('parseRef rejects an empty route', () => {
  const id = generateId();
  for (const bad of [`${id}.`, `${id}..a`, `${id}.a.`, `.${id}`])
    assert.equal(parseRef(bad), undefined, bad);
});

test('parseRef rejects a route of 65 characters', () => {
  assert.equal(parseRef(`${generateId()}.${'r'.repeat(65)}`), undefined);
  assert.equal(isValidRoute('r'.repeat(65)), false);
});

test('parseRef rejects routes with forged characters', () => {
  const id = generateId();
  for (const bad of [
    'a b',
    'a;b',
    'a=b',
    'a/b',
    'a+b',
    'nöde',
    'a\r\nSet-Cookie: x',
    'a%2e',
    '{}',
  ]) {
    assert.equal(parseRef(`${id}.${bad}`), undefined, JSON.stringify(bad));
    assert.equal(isValidRoute(bad), false, JSON.stringify(bad));
  }
});
