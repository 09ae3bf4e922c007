// One timer for many deadlines: a min-heap of (deadline, key) and a single unref'd timeout for
// the earliest. Entries are never removed in place; a stale one (its key's deadline moved) is
// skipped when it surfaces, and the heap is rebuilt when stale entries outnumber live ones.

interface Entry {
  at: number;
  key: string;
}

export class ExpiryQueue {
  readonly #heap: Entry[] = [];
  readonly #deadlines = new Map<string, number>();
  readonly #onExpire: (key: string) => void;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;

  /** @param onExpire called once for each key whose deadline passed and was not moved or removed. */
  constructor(onExpire: (key: string) => void, now: () => number = Date.now) {
    this.#onExpire = onExpire;
    this.#now = now;
  }

  get size(): number {
    return this.#deadlines.size;
  }

  /**
   * Sets (or moves) the deadline of `key`, in ms since the epoch. NaN (a record with a broken
   * time field, which no read sees as alive) is due at once: in the heap it would compare false
   * with everything, sit at the top and stop every later key from expiring.
   */
  schedule(key: string, deadline: number): void {
    const at = Number.isNaN(deadline) ? -Infinity : deadline;
    if (this.#deadlines.get(key) === at) return;
    this.#deadlines.set(key, at);
    this.#push({ at, key });
    if (this.#heap.length > 2 * this.#deadlines.size + 1024) this.#rebuild();
    if (at < this.#timerAt) this.#arm();
  }

  remove(key: string): void {
    this.#deadlines.delete(key);
  }

  /** Expires every key whose deadline is at or before now; returns how many. */
  sweep(): number {
    const now = this.#now();
    let expired = 0;
    while (this.#heap.length > 0 && this.#heap[0]!.at <= now) {
      const { at, key } = this.#pop();
      if (this.#deadlines.get(key) !== at) continue;
      this.#deadlines.delete(key);
      expired++;
      this.#onExpire(key);
    }
    return expired;
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  #arm(): void {
    const next = this.#heap[0];
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
    if (!next) return;
    this.#timerAt = next.at;
    // setTimeout's limit is 2^31-1 ms; a farther deadline re-arms when the timer fires.
    const delay = Math.min(Math.max(0, next.at - this.#now()), 0x7fffffff);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      this.sweep();
      this.#arm();
    }, delay);
    this.#timer.unref();
  }

  #rebuild(): void {
    this.#heap.length = 0;
    for (const [key, at] of this.#deadlines) this.#push({ at, key });
  }

  #push(entry: Entry): void {
    const heap = this.#heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.at <= entry.at) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = entry;
  }

  #pop(): Entry {
    const heap = this.#heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= heap.length) break;
        const right = left + 1;
        const child = right < heap.length && heap[right]!.at < heap[left]!.at ? right : left;
        if (heap[child]!.at >= last.at) break;
        heap[i] = heap[child]!;
        i = child;
      }
      heap[i] = last;
    }
    return top;
  }
}
