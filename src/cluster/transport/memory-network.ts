// An in-process network for simulation tests: transports attached to it exchange messages that
// it can drop (a probability, from a seeded RNG), delay (uniform in a range) and cut (partitions
// between groups of members, or single links). Messages with different delays may be reordered.

import { InvalidOptionError } from '../../errors.js';
import { MemoryTransport } from './memory-transport.js';
import { seededRandom, type Random } from './seeded-random.js';
import type { MemberAddress } from './transport.js';

export interface MemoryNetworkOptions {
  /** Seed of the RNG deciding drops and delays; print it so a failing run can be replayed. */
  seed?: number;
}

export interface MemoryNetworkStats {
  delivered: number;
  dropped: number;
  cut: number;
}

export class MemoryNetwork {
  readonly seed: number;
  readonly #random: Random;
  readonly #members = new Map<string, MemoryTransport>();
  /** Group index of each member name or address while partitioned; unlisted members reach everyone. */
  #groups = new Map<string, number>();
  readonly #cutLinks = new Set<string>();
  #dropRate = 0;
  #minDelayMs = 0;
  #maxDelayMs = 0;
  readonly #stats: MemoryNetworkStats = { delivered: 0, dropped: 0, cut: 0 };

  constructor(options: MemoryNetworkOptions = {}) {
    this.seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
    this.#random = seededRandom(this.seed);
  }

  /** A transport on this network; it is reachable once started. */
  createTransport(self: MemberAddress): MemoryTransport {
    return new MemoryTransport(this, self);
  }

  /** Drops each message with this probability (0 to 1). */
  setDropRate(probability: number): void {
    if (!(probability >= 0 && probability <= 1)) {
      throw new InvalidOptionError('probability', 'a number from 0 to 1', probability);
    }
    this.#dropRate = probability;
  }

  /** Delays each message by a uniform random time in [minMs, maxMs]. */
  setDelay(minMs: number, maxMs = minMs): void {
    if (!(minMs >= 0 && maxMs >= minMs))
      throw new InvalidOptionError('delay', '0 <= minMs <= maxMs', [minMs, maxMs]);
    this.#minDelayMs = minMs;
    this.#maxDelayMs = maxMs;
  }

  /** Cuts every link between members of different groups (members named by name or address). */
  partition(...groups: string[][]): void {
    this.#groups = new Map();
    groups.forEach((group, index) => group.forEach((member) => this.#groups.set(member, index)));
  }

  /** Cuts the link between two members, both ways. */
  cut(a: string, b: string): void {
    this.#cutLinks.add(linkKey(a, b));
  }

  /** Restores every link: ends partitions and cuts (drop rate and delay stay). */
  heal(): void {
    this.#groups = new Map();
    this.#cutLinks.clear();
  }

  stats(): MemoryNetworkStats {
    return { ...this.#stats };
  }

  /** @internal */
  attach(transport: MemoryTransport): void {
    if (this.#members.has(transport.self.address)) {
      throw new InvalidOptionError('address', 'unique on the network', transport.self.address);
    }
    this.#members.set(transport.self.address, transport);
  }

  /** @internal */
  detach(transport: MemoryTransport): void {
    if (this.#members.get(transport.self.address) === transport)
      this.#members.delete(transport.self.address);
  }

  /** @internal Whether `address` has a started transport (a real network would refuse the dial). */
  isListening(address: string): boolean {
    return this.#members.has(address);
  }

  /**
   * @internal Carries `deliver` from `from` to the transport at `to` unless the link is cut or
   * the message is dropped; `deliver` gets the receiver, or undefined when nobody listens there.
   */
  carry(
    from: MemberAddress,
    to: string,
    deliver: (receiver: MemoryTransport | undefined) => void,
  ): void {
    if (this.#isCut(from, to)) {
      this.#stats.cut++;
      return;
    }
    if (this.#dropRate > 0 && this.#random() < this.#dropRate) {
      this.#stats.dropped++;
      return;
    }
    const delay = this.#minDelayMs + (this.#maxDelayMs - this.#minDelayMs) * this.#random();
    const run = (): void => {
      // Checked again on arrival: a partition made while the message was in flight cuts it too.
      if (this.#isCut(from, to)) {
        this.#stats.cut++;
        return;
      }
      this.#stats.delivered++;
      deliver(this.#members.get(to));
    };
    if (delay === 0) setImmediate(run);
    else setTimeout(run, delay);
  }

  #isCut(from: MemberAddress, to: string): boolean {
    const receiver = this.#members.get(to);
    const toNames = receiver === undefined ? [to] : [to, receiver.self.name];
    for (const a of [from.name, from.address]) {
      for (const b of toNames) if (this.#cutLinks.has(linkKey(a, b))) return true;
    }
    const groupA = this.#groups.get(from.name) ?? this.#groups.get(from.address);
    const groupB = toNames.map((n) => this.#groups.get(n)).find((g) => g !== undefined);
    return groupA !== undefined && groupB !== undefined && groupA !== groupB;
  }
}

function linkKey(a: string, b: string): string {
  return a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
}

/**
 * Creates an in-memory network for simulation tests.
 * @example
 * const net = createMemoryNetwork({ seed: 42 });
 * const a = net.createTransport({ name: 'a', address: 'a' });
 * net.setDropRate(0.05); net.partition(['a'], ['b', 'c']); net.heal();
 */
export function createMemoryNetwork(options: MemoryNetworkOptions = {}): MemoryNetwork {
  return new MemoryNetwork(options);
}
