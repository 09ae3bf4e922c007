// The contract every SessionStore passes: memory, Redis, PostgreSQL and the cluster run this
// same suite against themselves (exported as `sessionmesh/store-contract`).
//
// Usage, in a test file:
//   runStoreContract({ name: 'MemoryStore', create: async () => new MemoryStore() });

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { HybridClock } from '../session/hlc.js';
import { setOwn, type SessionRecord } from '../session/record.js';
import type { SessionStore } from './store.js';

export interface StoreContractOptions {
  name: string;
  /** A fresh, empty store (or one whose other sessions don't matter: ids are random). */
  create: () => Promise<SessionStore>;
  /** Cleans up after the suite; default: store.close(). */
  dispose?: (store: SessionStore) => Promise<void>;
  /** How long expiry may take to be noticed after the deadline (ms); default 3000. */
  expirySlackMs?: number;
}

const clock = new HybridClock('contract');
const newId = () => randomBytes(24).toString('base64url');

/** A complete record: what a SessionManager writes on a session's first commit. */
export function freshRecord(
  attrs: Record<string, unknown> = {},
  idleMs = 60_000,
  now = Date.now(),
): SessionRecord {
  const record: SessionRecord = {
    createdAt: now,
    accessedAt: now,
    idle: { v: idleMs, t: clock.tick() },
    absoluteExpiresAt: 0,
    attrs: {},
  };
  for (const [key, value] of Object.entries(attrs))
    setOwn(record.attrs!, key, { j: JSON.stringify(value), t: clock.tick() });
  return record;
}

function attrDelta(attrs: Record<string, unknown>): SessionRecord {
  const delta: SessionRecord = { attrs: {} };
  for (const [key, value] of Object.entries(attrs)) {
    delta.attrs![key] =
      value === undefined ? { t: clock.tick() } : { j: JSON.stringify(value), t: clock.tick() };
  }
  return delta;
}

async function valuesOf(
  store: SessionStore,
  id: string,
): Promise<Record<string, unknown> | undefined> {
  const record = await store.get(id);
  if (!record) return undefined;
  const out: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(record.attrs))
    if (entry.j !== undefined) setOwn(out, key, JSON.parse(entry.j));
  return out;
}

function waitFor(check: () => boolean, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const started = Date.now();
    const timer = setInterval(() => {
      if (check()) {
        clearInterval(timer);
        resolve(true);
      } else if (Date.now() - started > ms) {
        clearInterval(timer);
        resolve(false);
      }
    }, 20);
  });
}

function callback<T>(fn: (cb: (err: unknown, value?: T) => void) => void): Promise<T | undefined> {
  return new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));
}

export function runStoreContract(options: StoreContractOptions): void {
  const slack = options.expirySlackMs ?? 3000;
  describe(`${options.name} passes the store contract`, () => {
    let store: SessionStore;
    before(async () => {
      store = await options.create();
    });
    after(async () => {
      await (options.dispose ? options.dispose(store) : store.close());
    });

    it('answers undefined for a session it never had', async () => {
      assert.equal(await store.get(newId()), undefined);
    });

    it('keeps a complete record and returns its attributes and metadata', async () => {
      const id = newId();
      const record = freshRecord({ user: 'ada', n: 1, nested: { list: [1, 2, 3] } });
      await store.merge(id, record);
      const back = await store.get(id);
      assert.ok(back);
      assert.equal(back.createdAt, record.createdAt);
      assert.equal(back.idle.v, 60_000);
      assert.deepEqual(await valuesOf(store, id), {
        user: 'ada',
        n: 1,
        nested: { list: [1, 2, 3] },
      });
    });

    it('applies a delta to the attributes it names and leaves the others alone', async () => {
      const id = newId();
      await store.merge(id, freshRecord({ a: 1, b: 2 }));
      await store.merge(id, attrDelta({ b: 3, c: 4 }));
      assert.deepEqual(await valuesOf(store, id), { a: 1, b: 3, c: 4 });
    });

    it('keeps every attribute of concurrent merges that change different attributes', async () => {
      const id = newId();
      await store.merge(id, freshRecord());
      await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.merge(id, attrDelta({ [`k${i}`]: i }))),
      );
      const values = await valuesOf(store, id);
      assert.equal(Object.keys(values!).length, 20);
      for (let i = 0; i < 20; i++) assert.equal(values![`k${i}`], i);
    });

    it('keeps the newer write when an older one arrives later', async () => {
      const id = newId();
      await store.merge(id, freshRecord());
      const older = attrDelta({ x: 'old' });
      const newer = attrDelta({ x: 'new' });
      await store.merge(id, newer);
      await store.merge(id, older);
      assert.equal((await valuesOf(store, id))!.x, 'new');
    });

    it('removes an attribute with a tombstone that an older write cannot undo', async () => {
      const id = newId();
      await store.merge(id, freshRecord({ x: 1 }));
      const stale = attrDelta({ x: 2 });
      await store.merge(id, attrDelta({ x: undefined }));
      await store.merge(id, stale);
      assert.deepEqual(await valuesOf(store, id), {});
      await store.merge(id, attrDelta({ x: 3 }));
      assert.deepEqual(await valuesOf(store, id), { x: 3 });
    });

    it('is idempotent: the same delta twice is the same as once', async () => {
      const id = newId();
      const record = freshRecord({ a: 1 });
      const delta = attrDelta({ a: 2 });
      await store.merge(id, record);
      await store.merge(id, delta);
      await store.merge(id, delta);
      await store.merge(id, record);
      assert.deepEqual(await valuesOf(store, id), { a: 2 });
    });

    it('answers readSync(), where it has one, as get() does, or null when it cannot tell', async () => {
      if (!store.readSync) return;
      const readSync = (id: string) => store.readSync!(id);
      const agrees = async (id: string) => {
        const now = readSync(id);
        // Compared as data: a store's own record may keep attributes in a null-prototype object.
        const plain = (r: unknown) => (r === undefined ? r : JSON.parse(JSON.stringify(r)));
        if (now !== null) assert.deepEqual(plain(now), plain(await store.get(id)));
      };
      await agrees(newId());
      const id = newId();
      await store.merge(id, freshRecord({ a: 1 }));
      await store.get(id);
      await agrees(id);
      await store.merge(id, attrDelta({ a: 2, b: 'x' }));
      await agrees(id);
      await store.destroy(id);
      assert.ok(!readSync(id), 'a destroyed session is not read: undefined, or null');
    });

    it('destroys a session for good: no later or replayed write brings it back', async () => {
      const id = newId();
      const record = freshRecord({ a: 1 });
      await store.merge(id, record);
      const destroyed = new Promise<string>((resolve) => {
        const listener = (got: string) => {
          if (got === id) {
            store.off('destroyed', listener);
            resolve(got);
          }
        };
        store.on('destroyed', listener);
      });
      await store.destroy(id);
      assert.equal(await store.get(id), undefined);
      await store.merge(id, record);
      await store.merge(id, attrDelta({ a: 2 }));
      assert.equal(await store.get(id), undefined);
      assert.equal(
        await Promise.race([destroyed, new Promise((r) => setTimeout(() => r('timeout'), slack))]),
        id,
      );
    });

    it('expires a session after its idle timeout and fires one expired event', async () => {
      const id = newId();
      const events: string[] = [];
      const listener = (got: string) => {
        if (got === id) events.push(got);
      };
      store.on('expired', listener);
      await store.merge(id, freshRecord({ a: 1 }, 300));
      assert.ok(await store.get(id));
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(await store.get(id), undefined);
      assert.ok(await waitFor(() => events.length > 0, slack), 'expired event within the slack');
      await new Promise((r) => setTimeout(r, 200));
      store.off('expired', listener);
      assert.equal(events.length, 1);
    });

    it('extends the idle timeout on touch but never past the absolute expiry', async () => {
      const id = newId();
      const now = Date.now();
      await store.merge(id, { ...freshRecord({ a: 1 }, 400, now), absoluteExpiresAt: now + 900 });
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setTimeout(r, 250));
        await store.touch(id);
        assert.ok(await store.get(id), `alive after touch ${i}`);
      }
      await new Promise((r) => setTimeout(r, Math.max(0, now + 950 - Date.now())));
      assert.equal(await store.get(id), undefined);
    });

    it('finds the sessions of a principal and forgets them when they change or end', async () => {
      const principal = `user-${newId()}`;
      const [a, b, c] = [newId(), newId(), newId()];
      for (const id of [a, b, c])
        await store.merge(id, { ...freshRecord(), principal: { v: principal, t: clock.tick() } });
      assert.deepEqual((await store.idsOfPrincipal(principal)).sort(), [a, b, c].sort());
      await store.merge(b, { principal: { v: null, t: clock.tick() } });
      await store.destroy(c);
      assert.deepEqual(await store.idsOfPrincipal(principal), [a]);
    });

    it('lists the ids of live sessions', async () => {
      const id = newId();
      await store.merge(id, freshRecord());
      assert.ok((await store.ids()).includes(id));
      await store.destroy(id);
      assert.ok(!(await store.ids()).includes(id));
    });

    it('stores unicode keys and values, and values up to 200 KB', async () => {
      const id = newId();
      const big = 'x'.repeat(200 * 1024);
      await store.merge(
        id,
        freshRecord({ 'clé 🔑': 'välue ✓ 日本', 'a.b:c{d}': [null, true], big }),
      );
      assert.deepEqual(await valuesOf(store, id), {
        'clé 🔑': 'välue ✓ 日本',
        'a.b:c{d}': [null, true],
        big,
      });
    });

    it('keeps attributes named like members of Object.prototype as data', async () => {
      const id = newId();
      // JSON.parse defines "__proto__" as an own key, as an app's attribute name would be.
      const attrs = JSON.parse('{"__proto__": {"admin": true}, "constructor": "c", "toString": 1}');
      await store.merge(id, freshRecord(attrs as Record<string, unknown>));
      const values = await valuesOf(store, id);
      assert.deepEqual(Object.keys(values ?? {}).sort(), ['__proto__', 'constructor', 'toString']);
      assert.deepEqual(Object.getOwnPropertyDescriptor(values, '__proto__')?.value, {
        admin: true,
      });
      assert.equal(({} as { admin?: unknown }).admin, undefined);
    });

    it('is an express-session store: set, get, touch, length, all, destroy, clear', async () => {
      const id = newId();
      const connect = store as unknown as {
        set(id: string, s: unknown, cb: (e: unknown) => void): void;
        get(id: string, cb: (e: unknown, s?: unknown) => void): void;
        touch(id: string, s: unknown, cb: (e: unknown) => void): void;
        destroy(id: string, cb: (e: unknown) => void): void;
        length(cb: (e: unknown, n?: number) => void): void;
        all(cb: (e: unknown, all?: Record<string, unknown>) => void): void;
      };
      const session = {
        cookie: { originalMaxAge: 60_000, path: '/', httpOnly: true },
        views: 3,
        user: { name: 'ada' },
      };
      await callback((cb) => connect.set(id, session, cb));
      assert.deepEqual(await callback((cb) => connect.get(id, cb)), session);
      await callback((cb) => connect.set(id, { cookie: session.cookie, views: 4 }, cb));
      assert.deepEqual(await callback((cb) => connect.get(id, cb)), {
        cookie: session.cookie,
        views: 4,
      });
      await callback((cb) => connect.touch(id, session, cb));
      assert.ok(((await callback<number>((cb) => connect.length(cb))) ?? 0) >= 1);
      assert.ok(id in ((await callback<Record<string, unknown>>((cb) => connect.all(cb))) ?? {}));
      await callback((cb) => connect.destroy(id, cb));
      assert.equal(await callback((cb) => connect.get(id, cb)), null);
    });
  });
}
