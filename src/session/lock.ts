// Serializes work per key inside one process: the `lock: 'node'` option, for apps that
// read-modify-write one attribute from concurrent requests of the same session.

export class KeyedMutex {
  readonly #tails = new Map<string, Promise<void>>();

  /** Waits for every earlier holder of `key`; resolves to the function that releases it. */
  async acquire(key: string): Promise<() => void> {
    const previous = this.#tails.get(key);
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous ? previous.then(() => mine) : mine;
    this.#tails.set(key, tail);
    if (previous) await previous;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    };
  }

  /** Keys with a holder or waiters (for tests: it returns to 0, nothing leaks). */
  get size(): number {
    return this.#tails.size;
  }
}
