// At most `limit` tasks at once, the others waiting in order (urgent ones first): the migration's
// back-pressure, so a view change does not put every partition on the wire at the same time.

export class Limiter {
  readonly #limit: number;
  #active = 0;
  readonly #urgent: (() => void)[] = [];
  readonly #waiting: (() => void)[] = [];

  constructor(limit: number) {
    this.#limit = Math.max(1, limit);
  }

  /** Runs `task` once a slot is free; `urgent` tasks go before the others waiting. */
  async run<T>(task: () => Promise<T>, urgent = false): Promise<T> {
    if (this.#active < this.#limit) this.#active++;
    else
      await new Promise<void>((resolve) => (urgent ? this.#urgent : this.#waiting).push(resolve));
    try {
      return await task();
    } finally {
      // The slot passes to the next waiting task, or is freed.
      const next = this.#urgent.shift() ?? this.#waiting.shift();
      if (next) next();
      else this.#active--;
    }
  }

  /** Tasks running or waiting. */
  get size(): number {
    return this.#active + this.#urgent.length + this.#waiting.length;
  }
}
