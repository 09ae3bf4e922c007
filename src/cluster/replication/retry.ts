// The backoff between attempts of a map operation: doubling from a base to a cap, with "equal
// jitter" so that members retrying the same owner after a view change do not move in lock step.

export function backoffMs(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 20));
  return ceiling / 2 + (ceiling / 2) * random();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
