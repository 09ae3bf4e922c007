// Many cluster members in one process on the in-memory network: each with its own transport,
// its own view (so views can disagree, as they do between a crash and its detection) and its
// own replicated map. Tests decide when views change; crash() loses a member's memory.

import { MemoryNetwork } from '../../src/cluster/transport/memory-network.js';
import type { MemoryTransport } from '../../src/cluster/transport/memory-transport.js';
import type { MemberAddress } from '../../src/cluster/transport/transport.js';
import { ReplicatedMap, type ReplicatedMapOptions } from '../../src/cluster/replicated-map.js';
import { ManualView } from '../../src/cluster/view.js';

export interface SimMember {
  readonly address: MemberAddress;
  readonly transport: MemoryTransport;
  readonly view: ManualView;
  readonly map: ReplicatedMap;
}

export type MapOptions = Omit<ReplicatedMapOptions, 'transport' | 'view'>;

export class SimCluster {
  readonly network: MemoryNetwork;
  readonly #options: MapOptions;
  readonly live = new Map<string, SimMember>();
  /** Every member ever started, so close() stops all of them. */
  readonly #all: SimMember[] = [];
  #incarnation = 0;

  constructor(options: MapOptions & { seed?: number } = {}) {
    const { seed, ...mapOptions } = options;
    this.network = new MemoryNetwork(seed === undefined ? {} : { seed });
    this.#options = { antiEntropyIntervalMs: 0, ...mapOptions };
  }

  /** Starts members and gives every live member the new view. */
  async add(...names: string[]): Promise<SimMember[]> {
    const added: SimMember[] = [];
    for (const name of names) {
      // A restarted member keeps its name but listens at a new address, as a new process would.
      const address = { name, address: `mem://${name}/${++this.#incarnation}` };
      const transport = this.network.createTransport(address);
      await transport.start();
      const view = new ManualView([...this.addresses(), address]);
      const map = new ReplicatedMap({ ...this.#options, transport, view });
      const member = { address, transport, view, map };
      this.live.set(name, member);
      this.#all.push(member);
      added.push(member);
    }
    for (const member of added) member.map.start();
    this.announce();
    return added;
  }

  addresses(): MemberAddress[] {
    return [...this.live.values()].map((m) => m.address);
  }

  member(name: string): SimMember {
    const member = this.live.get(name);
    if (!member) throw new Error(`no live member ${name}`);
    return member;
  }

  /** Every live member learns the live member list (membership converged). */
  announce(names?: string[]): void {
    const members = this.addresses();
    for (const member of this.live.values()) {
      if (names && !names.includes(member.address.name)) continue;
      member.view.set(members);
    }
  }

  /** Stops a member without a hand-off, its memory lost (SIGKILL); views are not told. */
  async crash(name: string): Promise<void> {
    const member = this.member(name);
    this.live.delete(name);
    member.map.abort();
    await member.transport.close();
  }

  /** Graceful leave: hand-off, then the others' views drop it. */
  async leave(name: string): Promise<void> {
    const member = this.member(name);
    await member.map.close();
    this.live.delete(name);
    await member.transport.close();
    this.announce();
  }

  async whenReady(): Promise<void> {
    await Promise.all([...this.live.values()].map((m) => m.map.whenReady()));
  }

  async close(): Promise<void> {
    for (const member of this.#all) {
      member.map.abort();
      await member.transport.close();
    }
    this.live.clear();
  }
}
