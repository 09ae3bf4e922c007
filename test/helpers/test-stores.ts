// Stores that misbehave on purpose: slow writes (the redirect race) and outages (503s). Each
// wraps a MemoryStore behind the async API only, as a store across a network would be.
import { StoreUnavailableError } from '../../src/errors.js';
import type { LiveRecord, SessionRecord } from '../../src/session/record.js';
import { BaseStore } from '../../src/store/base-store.js';
import { MemoryStore } from '../../src/store/memory-store.js';

class RemoteLikeStore extends BaseStore {
  protected readonly inner = new MemoryStore();
  constructor() {
    super();
    this.inner.on('expired', (id) => this.emit('expired', id));
    this.inner.on('destroyed', (id) => this.emit('destroyed', id));
  }
  protected async readRecord(id: string): Promise<LiveRecord | undefined> {
    return this.inner.get(id);
  }
  protected async mergeRecord(id: string, delta: SessionRecord): Promise<void> {
    return this.inner.merge(id, delta);
  }
  protected listIds(): Promise<string[]> {
    return this.inner.ids();
  }
  protected listIdsOfPrincipal(principal: string): Promise<string[]> {
    return this.inner.idsOfPrincipal(principal);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Acknowledges writes only after `delayMs`, like a store across a slow network. */
export class SlowStore extends RemoteLikeStore {
  constructor(readonly delayMs: number) {
    super();
  }
  protected override async mergeRecord(id: string, delta: SessionRecord): Promise<void> {
    await new Promise((r) => setTimeout(r, this.delayMs));
    return super.mergeRecord(id, delta);
  }
}

/** A store that can be taken down: reads and/or writes fail with StoreUnavailableError. */
export class FlakyStore extends RemoteLikeStore {
  readsDown = false;
  writesDown = false;
  writes = 0;
  protected override async readRecord(id: string): Promise<LiveRecord | undefined> {
    if (this.readsDown) throw new StoreUnavailableError('test: store is down');
    return super.readRecord(id);
  }
  protected override async mergeRecord(id: string, delta: SessionRecord): Promise<void> {
    if (this.writesDown) throw new StoreUnavailableError('test: store is down');
    this.writes++;
    return super.mergeRecord(id, delta);
  }
}
