import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from './memory-store.js';
import { freshRecord, runStoreContract } from './store.contract.js';

runStoreContract({ name: 'MemoryStore', create: async () => new MemoryStore() });

describe('MemoryStore', () => {
  it('evicts the least recently used session past maxSessions', async () => {
    const store = new MemoryStore({ maxSessions: 3 });
    for (const id of ['a'.repeat(32), 'b'.repeat(32), 'c'.repeat(32)])
      await store.merge(id, freshRecord());
    await store.get('a'.repeat(32)); // a is now the most recently used
    await store.merge('d'.repeat(32), freshRecord());
    assert.equal(store.size, 3);
    assert.equal(store.evictions, 1);
    assert.ok(await store.get('a'.repeat(32)));
    assert.equal(await store.get('b'.repeat(32)), undefined);
    await store.close();
  });

  it('holds nothing once every session has expired: no leak', async () => {
    let now = 1_000_000;
    const store = new MemoryStore({ now: () => now });
    for (let i = 0; i < 1000; i++) {
      await store.merge(`s${String(i).padStart(31, '0')}`, freshRecord({ i }, 1000, now));
      await store.touch(`s${String(i).padStart(31, '0')}`, now + 10); // stale heap entries
    }
    now += 2000;
    const expired: string[] = [];
    store.on('expired', (id) => expired.push(id));
    // The single timer would fire on its own; reading each id expires it deterministically.
    for (let i = 0; i < 1000; i++) await store.get(`s${String(i).padStart(31, '0')}`);
    assert.equal(store.size, 0);
    assert.equal(expired.length, 1000);
    await store.close();
  });

  it('rejects a bad maxSessions with the option name', () => {
    assert.throws(() => new MemoryStore({ maxSessions: 0 }), { code: 'SM_ERR_OPTION_INVALID' });
  });

  it('refuses operations after close', async () => {
    const store = new MemoryStore();
    await store.close();
    await assert.rejects(store.get('a'.repeat(32)), { code: 'SM_ERR_STORE_CLOSED' });
  });
});
