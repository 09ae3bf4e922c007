// Reconnect delays: exponential with "equal jitter", so members that lost the same peer do not
// redial it in lock step, and a restarted peer is found again within the max delay.

export class Backoff {
  #attempts = 0;
  #until = 0;

  constructor(
    readonly baseMs: number,
    readonly maxMs: number,
    readonly random: () => number = Math.random,
  ) {}

  /** Whether a dial may be tried now. */
  ready(now = Date.now()): boolean {
    return now >= this.#until;
  }

  /** Records a failed dial and returns the delay before the next one. */
  fail(now = Date.now()): number {
    const ceiling = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.#attempts, 30));
    const delay = ceiling * (0.5 + 0.5 * this.random());
    this.#attempts++;
    this.#until = now + delay;
    return delay;
  }

  /** A handshake succeeded: the next failure starts again from the base delay. */
  reset(): void {
    this.#attempts = 0;
    this.#until = 0;
  }
}
