// Session records for cluster tests: a complete fresh one, an attribute delta, a counter's value.

import { randomBytes } from 'node:crypto';
import { HybridClock } from '../../src/session/hlc.js';
import type { SessionRecord } from '../../src/session/record.js';

const clock = new HybridClock('test');

export const newId = (): string => randomBytes(24).toString('base64url');

export function fresh(
  attrs: Record<string, unknown> = {},
  idleMs = 60_000,
  now = Date.now(),
): SessionRecord {
  return {
    createdAt: now,
    accessedAt: now,
    idle: { v: idleMs, t: clock.tick() },
    absoluteExpiresAt: 0,
    ...set(attrs),
  };
}

export function set(
  attrs: Record<string, unknown>,
  stamp: () => string = () => clock.tick(),
): SessionRecord {
  const out: SessionRecord = { attrs: {} };
  for (const [key, value] of Object.entries(attrs))
    out.attrs![key] = { j: JSON.stringify(value), t: stamp() };
  return out;
}

export function valueOf(record: SessionRecord | undefined, key: string): unknown {
  const j = record?.attrs?.[key]?.j;
  return j === undefined ? undefined : JSON.parse(j);
}

export function destroyDelta(): SessionRecord {
  return { destroyed: clock.tick(), accessedAt: Date.now() };
}
