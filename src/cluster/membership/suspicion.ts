// A suspicion timer with Lifeguard's dynamic timeout: it starts at max and shrinks toward min as
// independent members confirm the suspicion: after c of k confirmations the timeout is
// max - (max - min) * log(c + 1) / log(k + 1). With k = 0 the timeout is min.

export class Suspicion {
  readonly #started = Date.now();
  readonly #confirmedBy = new Set<string>();
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly minMs: number,
    readonly maxMs: number,
    readonly k: number,
    firstBy: string,
    readonly onTimeout: () => void,
  ) {
    this.#confirmedBy.add(firstBy);
    this.#schedule();
  }

  /** An independent suspicion by `by`; returns whether it counted. */
  confirm(by: string): boolean {
    if (this.#timer === undefined || this.#confirmedBy.has(by) || this.#confirmedBy.size > this.k)
      return false;
    this.#confirmedBy.add(by);
    this.#schedule();
    return true;
  }

  cancel(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** The current timeout from the start of the suspicion. */
  timeoutMs(): number {
    if (this.k <= 0) return this.minMs;
    const c = this.#confirmedBy.size - 1;
    const fraction = Math.log(c + 1) / Math.log(this.k + 1);
    return Math.max(this.minMs, this.maxMs - (this.maxMs - this.minMs) * fraction);
  }

  #schedule(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    const remaining = Math.max(0, this.#started + this.timeoutMs() - Date.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.onTimeout();
    }, remaining);
    this.#timer.unref();
  }
}
