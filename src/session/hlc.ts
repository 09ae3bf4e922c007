// Hybrid logical clock timestamps, encoded as strings that sort in time order:
// `<wall ms, 12 hex>.<counter, 4 hex>.<node>`. Plain string comparison orders them, which
// lets Redis (Lua) and PostgreSQL (COLLATE "C") apply the merge rule on the server.

export type Hlc = string;

const WALL_HEX = 12;
const COUNTER_HEX = 4;
const MAX_COUNTER = 0xffff;

export class HybridClock {
  readonly node: string;
  readonly #now: () => number;
  #wall = 0;
  #counter = 0;

  /** @param node a short name unique in the cluster; it breaks ties between equal times. */
  constructor(node: string, now: () => number = Date.now) {
    this.node = node;
    this.#now = now;
  }

  /** A timestamp later than every one this clock issued or observed. */
  tick(): Hlc {
    const wall = this.#now();
    if (wall > this.#wall) {
      this.#wall = wall;
      this.#counter = 0;
    } else if (++this.#counter > MAX_COUNTER) {
      // 65536 events in one millisecond: borrow the next millisecond rather than wrap.
      this.#wall += 1;
      this.#counter = 0;
    }
    return encode(this.#wall, this.#counter, this.node);
  }

  /** Moves this clock past a timestamp seen from another node, so causality is kept. */
  observe(remote: Hlc): void {
    const wall = parseInt(remote.slice(0, WALL_HEX), 16);
    const counter = parseInt(remote.slice(WALL_HEX + 1, WALL_HEX + 1 + COUNTER_HEX), 16);
    if (wall > this.#wall || (wall === this.#wall && counter > this.#counter)) {
      this.#wall = wall;
      this.#counter = counter;
    }
  }
}

export function encode(wall: number, counter: number, node: string): Hlc {
  return `${wallHex(wall)}.${counter.toString(16).padStart(COUNTER_HEX, '0')}.${node}`;
}

// Most timestamps of a busy node share their millisecond: format it once.
let lastWall = -1;
let lastWallHex = '';
function wallHex(wall: number): string {
  if (wall !== lastWall) {
    lastWall = wall;
    lastWallHex = wall.toString(16).padStart(WALL_HEX, '0');
  }
  return lastWallHex;
}

/** The wall-clock part of a timestamp, in ms since the epoch. */
export function wallOf(ts: Hlc): number {
  return parseInt(ts.slice(0, WALL_HEX), 16);
}
