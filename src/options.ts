// Checks of numeric options, one place for every layer: each returns the option's value (or its
// default when it was not given) and throws an InvalidOptionError naming the option otherwise.

import { InvalidOptionError } from './errors.js';

/** `value`, or `fallback` when undefined, if it is a finite number > 0. @throws {InvalidOptionError} */
export function positive(name: string, value: unknown, fallback?: number): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
    throw new InvalidOptionError(name, 'a number > 0', v);
  return v;
}

/** `value`, or `fallback` when undefined, if it is a finite number >= 0. @throws {InvalidOptionError} */
export function nonNegative(name: string, value: unknown, fallback?: number): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
    throw new InvalidOptionError(name, 'a number >= 0', v);
  return v;
}
