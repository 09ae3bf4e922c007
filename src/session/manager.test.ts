import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
// The manager's tests run on the real MemoryStore, one layer up: the store is what the manager
// talks to in production, and a mock would hide merge and expiry behaviour.
// eslint-disable-next-line no-restricted-imports
import { MemoryStore } from '../store/memory-store.js';
import { SessionManager, type SessionManagerOptions } from './manager.js';
import type { SessionRecord } from './record.js';
import { Signer } from './signature.js';
import { generateId } from './id.js';

const SECRET = 's'.repeat(32);
const OLD_SECRET = 'o'.repeat(32);
const IDLE = 60_000;
const ABSOLUTE = 600_000;
const START = 1_700_000_000_000;

function setup(t: TestContext, options: Partial<SessionManagerOptions> = {}) {
  const clock = { now: START };
  const now = () => clock.now;
  const store = new MemoryStore({ now });
  const merges: { id: string; delta: SessionRecord }[] = [];
  const merge = store.merge.bind(store);
  store.merge = (id, delta) => {
    merges.push({ id, delta: structuredClone(delta) });
    return merge(id, delta);
  };
  const manager = new SessionManager({
    store,
    secret: SECRET,
    now,
    idleTimeoutMs: IDLE,
    absoluteTimeoutMs: ABSOLUTE,
    ...options,
  });
  const events: [string, ...unknown[]][] = [];
  for (const name of ['created', 'changed', 'destroyed', 'expired'] as const) {
    manager.on(name, (...args: unknown[]) => events.push([name, ...args]));
  }
  t.after(async () => {
    manager.close();
    await store.close();
  });
  return { clock, store, merges, manager, events };
}

/** A committed session with `data`, loaded back fresh. */
async function stored(manager: SessionManager, data: Record<string, unknown>) {
  const session = manager.create({ ...data });
  await manager.commit(session);
  const loaded = await manager.load({ id: session.id, routes: [] });
  assert.ok(loaded);
  return loaded;
}

// ---- create, load, commit ----

test('a new session commits a complete record', async (t) => {
  const { manager, store, events } = setup(t);
  const session = manager.create({ user: 'ann', cart: [1, 2] });
  assert.equal(session.isNew, true);
  assert.equal(await manager.commit(session), true);
  assert.equal(session.isNew, false);
  const record = await store.get(session.id);
  assert.ok(record);
  assert.equal(record.createdAt, START);
  assert.equal(record.accessedAt, START);
  assert.equal(record.idle.v, IDLE);
  assert.equal(record.absoluteExpiresAt, START + ABSOLUTE);
  assert.deepEqual(Object.keys(record.attrs).sort(), ['cart', 'user']);
  assert.equal(record.attrs.user!.j, '"ann"');
  assert.equal(record.attrs.cart!.j, '[1,2]');
  assert.deepEqual(events, [
    ['created', session.id],
    ['changed', session.id, ['user', 'cart']],
  ]);
});

test('a new empty session is written unless saveNew is false', async (t) => {
  const { manager, merges } = setup(t);
  assert.equal(await manager.commit(manager.create(), { saveNew: false }), false);
  assert.equal(merges.length, 0);
  assert.equal(await manager.commit(manager.create()), true);
  assert.equal(merges.length, 1);
});

test('a loaded session that nothing changed commits nothing', async (t) => {
  const { manager, merges } = setup(t);
  const session = await stored(manager, { a: 1, nested: { b: [1] } });
  merges.length = 0;
  assert.deepEqual(session.data, { a: 1, nested: { b: [1] } });
  assert.equal(manager.delta(session), undefined);
  assert.equal(await manager.commit(session), false);
  assert.equal(merges.length, 0);
});

test('a changed attribute commits a delta of that attribute only', async (t) => {
  const { manager, merges, events } = setup(t);
  const session = await stored(manager, { a: 1, b: 2, c: 3 });
  merges.length = 0;
  events.length = 0;
  session.data.b = 20;
  assert.equal(await manager.commit(session), true);
  assert.equal(merges.length, 1);
  assert.deepEqual(Object.keys(merges[0]!.delta.attrs!), ['b']);
  assert.equal(merges[0]!.delta.attrs!.b!.j, '20');
  assert.deepEqual(events, [['changed', session.id, ['b']]]);
  // Committed: the next commit has nothing to write.
  assert.equal(await manager.commit(session), false);
});

test('a removed attribute commits a tombstone', async (t) => {
  const { manager, merges } = setup(t);
  const session = await stored(manager, { a: 1, b: 2, c: 3, f: 4, s: 5 });
  merges.length = 0;
  delete session.data.a;
  session.data.b = undefined;
  session.data.f = () => 'not JSON';
  session.data.s = Symbol('not JSON');
  await manager.commit(session);
  const attrs = merges[0]!.delta.attrs!;
  assert.deepEqual(Object.keys(attrs).sort(), ['a', 'b', 'f', 's']);
  for (const key of ['a', 'b', 'f', 's']) assert.equal(attrs[key]!.j, undefined, key);
  const again = await manager.load({ id: session.id, routes: [] });
  assert.deepEqual(again!.data, { c: 3 });
});

test('a nested mutation (push into an array) is detected', async (t) => {
  const { manager, merges } = setup(t);
  const session = await stored(manager, { cart: [1], other: 'x' });
  merges.length = 0;
  (session.data.cart as number[]).push(2);
  await manager.commit(session);
  assert.deepEqual(Object.keys(merges[0]!.delta.attrs!), ['cart']);
  const again = await manager.load({ id: session.id, routes: [] });
  assert.deepEqual(again!.data.cart, [1, 2]);
});

test('two copies of one session that change different attributes both persist', async (t) => {
  const { manager } = setup(t);
  const original = await stored(manager, { a: 0, b: 0 });
  const ref = { id: original.id, routes: [] };
  const first = (await manager.load(ref))!;
  const second = (await manager.load(ref))!;
  first.data.a = 1;
  second.data.b = 2;
  await manager.commit(second);
  await manager.commit(first);
  const merged = await manager.load(ref);
  assert.deepEqual(merged!.data, { a: 1, b: 2 });
});

test('a write made after loading is not lost to a peer whose clock runs ahead', async (t) => {
  // Two managers share one store; the second one's clock is 10 s ahead. The first loads the
  // session after the second wrote `color`, then overwrites it: its write came later, so it
  // must win, whatever its own wall clock says (the H in HLC: observe what you read).
  const { manager: behind, store, clock } = setup(t, { route: 'behind' });
  const ahead = new SessionManager({
    store,
    secret: SECRET,
    now: () => clock.now + 10_000,
    route: 'ahead',
  });
  t.after(() => ahead.close());
  const created = behind.create({ color: 'none', size: 1 });
  await behind.commit(created);
  const ref = { id: created.id, routes: [] };
  for (const [writer, color] of [
    [ahead, 'red'],
    [behind, 'blue'],
    [ahead, 'green'],
    [behind, 'black'],
  ] as const) {
    clock.now += 1;
    const session = (await writer.load(ref))!;
    session.data.color = color;
    await writer.commit(session);
    assert.equal((await behind.load(ref))!.data.color, color);
  }
  // A principal change is stamped the same way.
  const signIn = (await ahead.load(ref))!;
  signIn.setPrincipal('ann');
  await ahead.commit(signIn);
  const signOut = (await behind.load(ref))!;
  signOut.setPrincipal(null);
  await behind.commit(signOut);
  assert.deepEqual(await store.idsOfPrincipal('ann'), []);
});

test('a session loaded with a JSON "__proto__" attribute keeps it as data', async (t) => {
  const { manager } = setup(t);
  const session = manager.create(JSON.parse('{"__proto__": {"admin": true}, "a": 1}'));
  await manager.commit(session);
  const loaded = (await manager.load({ id: session.id, routes: [] }))!;
  assert.equal(Object.getPrototypeOf(loaded.data), Object.prototype);
  assert.equal((loaded.data as { admin?: boolean }).admin, undefined);
  assert.deepEqual(Object.keys(loaded.data).sort(), ['__proto__', 'a']);
});

// ---- touch and expiry ----

test('a session only read is touched at most once per touchFraction of its idle timeout', async (t) => {
  const { manager, merges, clock } = setup(t, { touchFraction: 0.1 });
  const { id } = await stored(manager, { a: 1 });
  merges.length = 0;
  clock.now += IDLE * 0.1 - 1;
  const early = (await manager.load({ id, routes: [] }))!;
  assert.equal(await manager.commit(early), false);
  clock.now += 1;
  const due = (await manager.load({ id, routes: [] }))!;
  assert.equal(await manager.commit(due), true);
  assert.deepEqual(
    merges.map((m) => m.delta.attrs),
    [undefined],
  );
  assert.equal(merges[0]!.delta.accessedAt, clock.now);
  assert.equal(manager.stats.touches, 1);
  // Just touched: not again until another tenth of the idle timeout.
  const next = (await manager.load({ id, routes: [] }))!;
  assert.equal(await manager.commit(next), false);
  // touch: true forces it (express-session's resave, an explicit save()).
  assert.equal(await manager.commit(next, { touch: true }), true);
});

test('a session unused for its idle timeout expires, and is reported expired', async (t) => {
  const { manager, clock, events } = setup(t);
  const { id } = await stored(manager, { a: 1 });
  clock.now += IDLE - 1;
  assert.ok(await manager.load({ id, routes: [] }));
  clock.now += 1;
  const unknown = manager.stats.unknown;
  assert.equal(await manager.load({ id, routes: [] }), undefined);
  assert.equal(manager.stats.unknown, unknown + 1);
  assert.deepEqual(events.at(-1), ['expired', id]);
});

test('touches extend the idle timeout but never the absolute one', async (t) => {
  const { manager, clock } = setup(t, { touchFraction: 0 });
  const { id } = await stored(manager, { a: 1 });
  // Touch every half idle timeout: alive well past one idle timeout...
  while (clock.now + IDLE / 2 < START + ABSOLUTE) {
    clock.now += IDLE / 2;
    const session = await manager.load({ id, routes: [] });
    assert.ok(session, `alive at +${clock.now - START} ms`);
    await manager.commit(session);
  }
  // ...but not past the absolute timeout.
  clock.now = START + ABSOLUTE;
  assert.equal(await manager.load({ id, routes: [] }), undefined);
});

test('absoluteTimeoutMs 0 means no absolute timeout', async (t) => {
  const { manager, clock, store } = setup(t, { absoluteTimeoutMs: 0, touchFraction: 0 });
  const { id } = await stored(manager, { a: 1 });
  assert.equal((await store.get(id))!.absoluteExpiresAt, 0);
  for (let i = 0; i < 30; i++) {
    clock.now += IDLE / 2;
    const session = await manager.load({ id, routes: [] });
    assert.ok(session);
    await manager.commit(session);
  }
  assert.ok(clock.now > START + 10 * IDLE);
});

test('setIdleTimeout persists a new idle timeout', async (t) => {
  const { manager, clock } = setup(t);
  const session = await stored(manager, { a: 1 });
  manager.setIdleTimeout(session, 5 * IDLE);
  assert.equal(await manager.commit(session), true);
  const loaded = (await manager.load({ id: session.id, routes: [] }))!;
  assert.equal(loaded.idleTimeoutMs, 5 * IDLE);
  clock.now += 2 * IDLE;
  assert.ok(await manager.load({ id: session.id, routes: [] }));
  for (const bad of [0, -1, Number.NaN, Infinity]) {
    assert.throws(
      () => manager.setIdleTimeout(loaded, bad),
      { code: 'SM_ERR_OPTION_INVALID' },
      `${bad}`,
    );
  }
});

// ---- regenerate, destroy, revoke ----

test('regenerate gives a new id, the old id no longer loads, and the data stays', async (t) => {
  const { manager, events } = setup(t);
  const session = await stored(manager, { cart: [1] });
  const oldId = session.id;
  session.setPrincipal('ann');
  await manager.regenerate(session);
  assert.notEqual(session.id, oldId);
  assert.equal(session.previousId, oldId);
  assert.equal(await manager.load({ id: oldId, routes: [] }), undefined);
  await manager.commit(session);
  const loaded = (await manager.load({ id: session.id, routes: [] }))!;
  assert.deepEqual(loaded.data, { cart: [1] });
  assert.equal(loaded.principal, 'ann');
  assert.deepEqual(
    events.filter(([name]) => name !== 'changed'),
    [
      ['created', oldId],
      ['destroyed', oldId],
      ['created', session.id],
    ],
  );
});

test('regenerate without keepData starts an empty, signed-out session', async (t) => {
  const { manager, store } = setup(t);
  const session = await stored(manager, { cart: [1] });
  session.setPrincipal('ann');
  await manager.commit(session);
  const oldId = session.id;
  await manager.regenerate(session, false);
  assert.deepEqual(session.data, {});
  assert.equal(session.principal, null);
  await manager.commit(session);
  assert.equal(await manager.load({ id: oldId, routes: [] }), undefined);
  const loaded = (await manager.load({ id: session.id, routes: [] }))!;
  assert.deepEqual(loaded.data, {});
  assert.deepEqual(await store.idsOfPrincipal('ann'), []);
});

test('a destroyed id never loads again, even when an older delta arrives afterwards', async (t) => {
  const { manager, store, clock, merges, events } = setup(t);
  const session = await stored(manager, { a: 1 });
  const ref = { id: session.id, routes: [] };
  const other = (await manager.load(ref))!;
  other.data.a = 2;
  const late = manager.delta(other)!;
  const retried = merges[0]!.delta;
  await manager.destroy(session);
  assert.deepEqual(events.at(-1), ['destroyed', session.id]);
  assert.equal(await manager.commit(session), false);
  assert.equal(await manager.load(ref), undefined);
  // A concurrent request's commit, a retry of the creating write, a replica's copy.
  await manager.apply(other, late);
  await store.merge(session.id, retried);
  clock.now += IDLE / 2;
  assert.equal(await manager.load(ref), undefined);
  other.data.a = 3;
  await manager.commit(other);
  assert.equal(await manager.load(ref), undefined);
});

test('an expired session does not come back when a request that loaded it commits late', async (t) => {
  // A slow request loads the session just before its idle deadline and commits a change after
  // it; meanwhile the store expired it (and told the app). The late delta must not bring back
  // a session that holds only the attributes this request changed.
  const { manager, clock, events } = setup(t);
  const { id } = await stored(manager, { user: 'ann', csrf: 'token' });
  clock.now += IDLE - 1;
  const slow = (await manager.load({ id, routes: [] }))!;
  clock.now += IDLE;
  assert.equal(await manager.load({ id, routes: [] }), undefined);
  assert.deepEqual(events.at(-1), ['expired', id]);
  slow.data.visits = 1;
  await manager.commit(slow);
  assert.equal(await manager.load({ id, routes: [] }), undefined);
});

test('destroying a session that was never committed writes nothing', async (t) => {
  const { manager, merges } = setup(t);
  const session = manager.create({ a: 1 });
  await manager.destroy(session);
  assert.equal(await manager.commit(session), false);
  assert.equal(merges.length, 0);
});

test('setPrincipal indexes the session, and revokePrincipal destroys every session of it', async (t) => {
  const { manager, store, events } = setup(t);
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const session = manager.create({ i });
    session.setPrincipal('ann');
    await manager.commit(session);
    ids.push(session.id);
  }
  const bob = manager.create();
  bob.setPrincipal('bob');
  await manager.commit(bob);
  assert.deepEqual((await store.idsOfPrincipal('ann')).sort(), [...ids].sort());
  events.length = 0;
  assert.equal(await manager.revokePrincipal('ann'), 3);
  for (const id of ids) assert.equal(await manager.load({ id, routes: [] }), undefined);
  assert.deepEqual(await store.idsOfPrincipal('ann'), []);
  assert.deepEqual(
    events.map(([name, id]) => [name, id]).sort(),
    ids.map((id) => ['destroyed', id]).sort(),
  );
  assert.ok(await manager.load({ id: bob.id, routes: [] }));
  assert.deepEqual(await store.idsOfPrincipal('bob'), [bob.id]);
});

test('signing out (principal null) removes the session from the index', async (t) => {
  const { manager, store } = setup(t);
  const session = manager.create();
  session.setPrincipal('ann');
  await manager.commit(session);
  session.setPrincipal(null);
  await manager.commit(session);
  assert.deepEqual(await store.idsOfPrincipal('ann'), []);
});

// ---- size and values ----

test('a session over maxSessionBytes is refused and nothing is written', async (t) => {
  const { manager, merges, store } = setup(t, { maxSessionBytes: 1000 });
  const fresh = manager.create({ blob: 'x'.repeat(2000) });
  await assert.rejects(manager.commit(fresh), {
    name: 'SessionTooLargeError',
    code: 'SM_ERR_SESSION_TOO_LARGE',
  });
  assert.equal(merges.length, 0);
  assert.equal(await store.get(fresh.id), undefined);
  const session = await stored(manager, { small: 'x' });
  merges.length = 0;
  session.data.small = 'y';
  session.data.blob = 'x'.repeat(2000);
  await assert.rejects(manager.commit(session), { code: 'SM_ERR_SESSION_TOO_LARGE' });
  assert.equal(merges.length, 0);
  assert.deepEqual((await manager.load({ id: session.id, routes: [] }))!.data, { small: 'x' });
});

test('an attribute that is not JSON-serializable is refused with SM_ERR_SESSION_VALUE', async (t) => {
  const { manager, merges } = setup(t);
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  for (const value of [cyclic, 10n]) {
    const session = manager.create({ ok: 1, bad: value });
    await assert.rejects(manager.commit(session), {
      name: 'SessionValueError',
      code: 'SM_ERR_SESSION_VALUE',
    });
  }
  assert.equal(merges.length, 0);
});

// ---- tokens ----

test('token and parseToken round-trip the id and the route', async (t) => {
  const { manager } = setup(t, { route: 'node-1' });
  const session = manager.create();
  const token = manager.token(session);
  assert.match(token, new RegExp(`^${session.id}\\.node-1\\.[A-Za-z0-9_-]{43}$`));
  assert.deepEqual(manager.parseToken(token), { id: session.id, routes: ['node-1'] });
  assert.equal(manager.isRerouted(session), true);
  await manager.commit(session);
  const loaded = (await manager.load(manager.parseToken(token)!))!;
  assert.equal(manager.isRerouted(loaded), false);
});

test('each kind of bad token is "no session" and counted by reason', (t) => {
  const { manager } = setup(t);
  const id = generateId();
  const good = manager.token(manager.create({}, id));
  const cases: [string, 'oversized' | 'signature' | 'format'][] = [
    ['x'.repeat(10 * 1024), 'oversized'],
    [`${good.slice(0, -1)}${good.endsWith('A') ? 'B' : 'A'}`, 'signature'],
    [`${id.slice(0, -1)}${id.endsWith('A') ? 'B' : 'A'}.${good.split('.')[1]}`, 'signature'],
    [new Signer(OLD_SECRET).sign(id), 'signature'],
    [`${id}.node-2.${good.split('.')[1]}`, 'signature'], // a forged route: re-signing needs the secret
    [id, 'signature'],
    [new Signer(SECRET).sign('short'), 'format'],
    [new Signer(SECRET).sign(`${id}.bad route`), 'format'],
    [new Signer(SECRET).sign(`${id}.a.b.c.d.e`), 'format'],
  ];
  for (const [token, reason] of cases) {
    const before = { ...manager.stats.rejected };
    assert.equal(manager.parseToken(token), undefined, token.slice(0, 60));
    assert.deepEqual(
      manager.stats.rejected,
      { ...before, [reason]: before[reason] + 1 },
      token.slice(0, 60),
    );
  }
  const before = { ...manager.stats.rejected };
  assert.equal(manager.parseToken(undefined), undefined);
  assert.equal(manager.parseToken(''), undefined);
  assert.deepEqual(manager.stats.rejected, before);
});

test('a token signed with a retired secret is refused, one still listed is accepted', (t) => {
  const { manager, store } = setup(t);
  const id = generateId();
  const rotated = new SessionManager({ store, secret: [SECRET, OLD_SECRET] });
  t.after(() => rotated.close());
  const oldToken = new Signer(OLD_SECRET).sign(id);
  assert.deepEqual(rotated.parseToken(oldToken), { id, routes: [] });
  assert.equal(manager.parseToken(oldToken), undefined);
  assert.equal(manager.stats.rejected.signature, 1);
});

test('a validly signed token of an unknown id loads nothing and is counted unknown', async (t) => {
  const { manager, merges } = setup(t);
  const ref = manager.parseToken(new Signer(SECRET).sign(generateId()));
  assert.ok(ref);
  assert.equal(await manager.load(ref), undefined);
  assert.equal(manager.stats.unknown, 1);
  // The caller then creates a session with a new id: the client's id is never adopted.
  const fresh = manager.create();
  assert.notEqual(fresh.id, ref.id);
  assert.equal(merges.length, 0);
});

// ---- options ----

test('a genid that returns a bad id is refused with SM_ERR_OPTION_INVALID', (t) => {
  for (const bad of ['short', 'a'.repeat(129), 'a+b/c='.repeat(5), '', 'x'.repeat(30) + '.r']) {
    const { manager } = setup(t, { genid: () => bad });
    assert.throws(() => manager.create(), { code: 'SM_ERR_OPTION_INVALID' }, bad);
  }
  const { manager } = setup(t, { genid: () => 'g'.repeat(40) });
  assert.equal(manager.create().id, 'g'.repeat(40));
});

test('each bad option is refused with SM_ERR_OPTION_INVALID', (t) => {
  const store = new MemoryStore();
  t.after(() => store.close());
  const good = { store, secret: SECRET };
  const bad: [string, unknown][] = [
    ['store', undefined],
    ['store', {}],
    ['secret', undefined],
    ['secret', 'short'],
    ['secret', []],
    ['idleTimeoutMs', 0],
    ['idleTimeoutMs', -5],
    ['idleTimeoutMs', Number.NaN],
    ['idleTimeoutMs', '1000'],
    ['absoluteTimeoutMs', -1],
    ['absoluteTimeoutMs', Infinity],
    ['touchFraction', -0.1],
    ['touchFraction', 1.5],
    ['touchFraction', Number.NaN],
    ['maxSessionBytes', 0],
    ['maxSessionBytes', Infinity],
    ['route', ''],
    ['route', 'a.b'],
    ['route', 'r'.repeat(65)],
    ['genid', 'not a function'],
    ['now', 'not a function'],
  ];
  for (const [option, value] of bad) {
    assert.throws(
      () => new SessionManager({ ...good, [option]: value } as SessionManagerOptions),
      { name: 'InvalidOptionError', code: 'SM_ERR_OPTION_INVALID' },
      `${option}: ${String(value)}`,
    );
  }
  assert.throws(() => new SessionManager(undefined as never), { code: 'SM_ERR_OPTION_INVALID' });
});
