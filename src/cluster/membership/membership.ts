// SWIM membership (docs/cluster-protocol.md#membership): direct and indirect probes,
// suspicion with Lifeguard's dynamic timeout, refutation by incarnation, gossip piggybacked on
// probes, join through seeds, graceful leave, heal syncs with dead members, and the view the
// partition table is computed from.

import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import {
  MEMBERSHIP_AWARENESS_MAX,
  MEMBERSHIP_DEAD_RETENTION_MS,
  MEMBERSHIP_LEFT_RETENTION_MS,
  MEMBERSHIP_INDIRECT_CHECKS,
  MEMBERSHIP_LEAVE_TIMEOUT_MS,
  MEMBERSHIP_MAX_GOSSIP_PER_MESSAGE,
  MEMBERSHIP_PROBE_INTERVAL_MS,
  MEMBERSHIP_PROBE_TIMEOUT_MS,
  MEMBERSHIP_RECONNECT_INTERVAL_MS,
  MEMBERSHIP_RETRANSMIT_MULT,
  MEMBERSHIP_SUSPICION_CONFIRMATIONS,
  MEMBERSHIP_SUSPICION_MAX_MS,
  MEMBERSHIP_SUSPICION_MIN_MS,
} from '../../defaults.js';
import { InvalidOptionError } from '../../errors.js';
import type { Body, MemberAddress, Transport } from '../transport/transport.js';
import {
  memberChannels,
  viewChanged,
  type MemberEvent,
  type MembershipStats,
} from './diagnostics.js';
import { GossipQueue, retransmitLimit } from './gossip-queue.js';
import {
  fromRecord,
  fromRecords,
  isLive,
  supersedes,
  toRecord,
  type Member,
  type MemberRecord,
} from './member.js';
import { Suspicion } from './suspicion.js';

export interface MembershipOptions {
  /** A transport, started or not; membership registers its `swim.` handlers on it. */
  transport: Transport;
  /** Addresses of members to join through (host:port for TCP); this member's own is skipped. */
  seeds?: readonly string[];
  /** Whether this member holds sessions; the proxy joins with false. Default true. */
  data?: boolean;
  probeIntervalMs?: number;
  probeTimeoutMs?: number;
  indirectChecks?: number;
  suspicionMinMs?: number;
  suspicionMaxMs?: number;
  suspicionConfirmations?: number;
  retransmitMult?: number;
  maxGossipPerMessage?: number;
  reconnectIntervalMs?: number;
  leaveTimeoutMs?: number;
  awarenessMax?: number;
  /** How long a dead member is remembered (heal syncs try it); then it is forgotten. */
  deadRetentionMs?: number;
  /** How long a member that left is remembered; then it is forgotten. */
  leftRetentionMs?: number;
  /** Random source (a seeded one replays a simulation). */
  random?: () => number;
}

export interface View {
  /** Local counter; grows whenever the set of live data members changes. */
  readonly viewId: number;
  /** Hash of the live data members' names: equal on members that see the same set. */
  readonly digest: string;
  /** Live members (alive and suspect), data or not, sorted by name. */
  readonly members: readonly Member[];
}

type Settings = Required<Omit<MembershipOptions, 'transport' | 'seeds' | 'data' | 'random'>>;

export interface MembershipEvents {
  'member-joined': [Member];
  'member-suspect': [Member];
  'member-alive': [Member];
  'member-dead': [Member];
  'member-left': [Member];
  'view-changed': [View];
}

export class Membership extends EventEmitter<MembershipEvents> {
  readonly #transport: Transport;
  readonly #seeds: readonly string[];
  readonly #s: Settings;
  readonly #random: () => number;
  readonly #members = new Map<string, Member>();
  readonly #suspicions = new Map<string, Suspicion>();
  /** When each dead or left member went down: it is forgotten after its retention. */
  readonly #downSince = new Map<string, number>();
  readonly #gossip = new GossipQueue();
  #self: Member;
  #probeOrder: string[] = [];
  #localHealth = 0;
  #view: View = { viewId: 0, digest: '', members: [] };
  #viewKey = '';
  #probeTimer: NodeJS.Timeout | undefined;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #running = false;
  readonly #stats: MembershipStats = {
    probes: 0,
    probesFailed: 0,
    indirectProbes: 0,
    suspicions: 0,
    refutations: 0,
    pausesDetected: 0,
    malformedRecords: 0,
    forgotten: 0,
  };

  constructor(options: MembershipOptions) {
    super();
    if (options.transport === undefined)
      throw new InvalidOptionError('transport', 'a Transport', undefined);
    this.#transport = options.transport;
    this.#seeds = options.seeds ?? [];
    this.#random = options.random ?? Math.random;
    const num = (key: keyof Settings, fallback: number, min: number): number => {
      const value = options[key] ?? fallback;
      if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
        throw new InvalidOptionError(key, `a number >= ${min}`, value);
      }
      return value;
    };
    this.#s = {
      probeIntervalMs: num('probeIntervalMs', MEMBERSHIP_PROBE_INTERVAL_MS, 1),
      probeTimeoutMs: num('probeTimeoutMs', MEMBERSHIP_PROBE_TIMEOUT_MS, 1),
      indirectChecks: num('indirectChecks', MEMBERSHIP_INDIRECT_CHECKS, 0),
      suspicionMinMs: num('suspicionMinMs', MEMBERSHIP_SUSPICION_MIN_MS, 1),
      suspicionMaxMs: num('suspicionMaxMs', MEMBERSHIP_SUSPICION_MAX_MS, 1),
      suspicionConfirmations: num('suspicionConfirmations', MEMBERSHIP_SUSPICION_CONFIRMATIONS, 0),
      retransmitMult: num('retransmitMult', MEMBERSHIP_RETRANSMIT_MULT, 1),
      maxGossipPerMessage: num('maxGossipPerMessage', MEMBERSHIP_MAX_GOSSIP_PER_MESSAGE, 1),
      reconnectIntervalMs: num('reconnectIntervalMs', MEMBERSHIP_RECONNECT_INTERVAL_MS, 1),
      leaveTimeoutMs: num('leaveTimeoutMs', MEMBERSHIP_LEAVE_TIMEOUT_MS, 1),
      awarenessMax: num('awarenessMax', MEMBERSHIP_AWARENESS_MAX, 0),
      deadRetentionMs: num('deadRetentionMs', MEMBERSHIP_DEAD_RETENTION_MS, 1),
      leftRetentionMs: num('leftRetentionMs', MEMBERSHIP_LEFT_RETENTION_MS, 1),
    };
    if (this.#s.suspicionMaxMs < this.#s.suspicionMinMs) {
      throw new InvalidOptionError(
        'suspicionMaxMs',
        `>= suspicionMinMs (${this.#s.suspicionMinMs})`,
        this.#s.suspicionMaxMs,
      );
    }
    const { name, address } = this.#transport.self;
    this.#self = { name, address, incarnation: 0, state: 'alive', data: options.data ?? true };
  }

  /** This member as the others should see it. */
  get self(): Member {
    return this.#self;
  }

  /** Lifeguard local health score: 0 is healthy; probing stretches by (1 + score). */
  get localHealth(): number {
    return this.#localHealth;
  }

  /** Every member known, this one included, whatever its state. */
  members(): Member[] {
    return [this.#self, ...this.#members.values()];
  }

  view(): View {
    return this.#view;
  }

  stats(): MembershipStats {
    return { ...this.#stats };
  }

  /** Starts the transport if needed, joins through the seeds and starts probing. */
  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    await this.#transport.start();
    this.#self = { ...this.#self, address: this.#transport.self.address };
    this.#transport.onRequest((type, body, from) => this.#onRequest(type, body, from), 'swim.');
    this.#transport.onMessage((_type, body) => this.#applyAll(body['g']), 'swim.');
    this.#updateView();
    await this.#joinSeeds();
    this.#scheduleProbe(0);
    this.#reconnectTimer = setInterval(() => void this.#reconnect(), this.#s.reconnectIntervalMs);
    this.#reconnectTimer.unref();
  }

  /** Announces that this member leaves (others drop it at once, without suspicion), then stops. */
  async leave(): Promise<void> {
    if (!this.#running) return;
    this.#self = { ...this.#self, state: 'left', incarnation: this.#self.incarnation + 1 };
    this.#updateView();
    const record = toRecord(this.#self);
    const targets = [...this.#members.values()].filter(isLive);
    await Promise.allSettled(
      targets.map((m) =>
        this.#transport.request(
          m,
          'swim.leave',
          { g: [record] },
          { timeoutMs: this.#s.leaveTimeoutMs },
        ),
      ),
    );
    this.close();
  }

  /** Stops probing and every timer; does not close the transport (its owner does). */
  close(): void {
    this.#running = false;
    if (this.#probeTimer !== undefined) clearTimeout(this.#probeTimer);
    if (this.#reconnectTimer !== undefined) clearInterval(this.#reconnectTimer);
    for (const s of this.#suspicions.values()) s.cancel();
    this.#suspicions.clear();
  }

  // ---- probing ----

  #scheduleProbe(delayMs: number): void {
    if (!this.#running) return;
    this.#probeTimer = setTimeout(() => {
      const started = performance.now();
      void this.#probeRound().finally(() => {
        const interval = this.#s.probeIntervalMs * (1 + this.#localHealth);
        this.#scheduleProbe(Math.max(0, interval - (performance.now() - started)));
      });
    }, delayMs);
    this.#probeTimer.unref();
  }

  #nextTarget(): Member | undefined {
    for (let tries = 0; tries < 2; tries++) {
      while (this.#probeOrder.length > 0) {
        const member = this.#members.get(this.#probeOrder.pop()!);
        if (member !== undefined && isLive(member)) return member;
      }
      // A new pass over the live members, in a fresh random order: round-robin bounds the time
      // before a crashed member is probed; shuffling avoids everyone probing in step.
      this.#probeOrder = this.#shuffle(
        [...this.#members.values()].filter(isLive).map((m) => m.name),
      );
    }
    return undefined;
  }

  async #probeRound(): Promise<void> {
    const target = this.#nextTarget();
    if (target === undefined || !this.#running) return;
    const stretch = 1 + this.#localHealth;
    const probeTimeoutMs = this.#s.probeTimeoutMs * stretch;
    const indirectTimeoutMs = probeTimeoutMs * 2;
    const started = performance.now();
    this.#stats.probes++;
    if (await this.#ping(target, probeTimeoutMs)) {
      this.#adjustHealth(-1);
      return;
    }
    const helpers = this.#shuffle(
      [...this.#members.values()].filter((m) => m.state === 'alive' && m.name !== target.name),
    ).slice(0, this.#s.indirectChecks);
    let acked = false;
    let nacks = 0;
    if (helpers.length > 0) {
      this.#stats.indirectProbes++;
      const answers = await Promise.all(
        helpers.map((helper) =>
          this.#transport
            .request(
              helper,
              'swim.ping-req',
              { t: toRecord(target), from: toRecord(this.#self), g: this.#takeGossip() },
              {
                timeoutMs: indirectTimeoutMs,
              },
            )
            .then((reply) => {
              this.#applyAll(reply['g']);
              return reply['ok'] === true ? 'ack' : 'nack';
            })
            .catch(() => 'none'),
        ),
      );
      acked = answers.includes('ack');
      nacks = answers.filter((a) => a === 'nack').length;
    }
    if (acked || !this.#running) return;
    this.#stats.probesFailed++;
    // Lifeguard: helpers that do not even answer point at our own trouble, not the target's.
    if (helpers.length > 0 && nacks === 0) this.#adjustHealth(1);
    // Pause guard: a round far longer than its timeouts means this process was blocked or
    // stopped; the silence we saw says nothing about the target.
    const elapsed = performance.now() - started;
    if (elapsed > probeTimeoutMs + indirectTimeoutMs + 2 * this.#s.probeIntervalMs) {
      this.#stats.pausesDetected++;
      this.#adjustHealth(1);
      return;
    }
    const current = this.#members.get(target.name);
    if (current === undefined || !isLive(current) || current.incarnation !== target.incarnation)
      return;
    this.#apply({ ...current, state: 'suspect' }, this.#self.name);
  }

  /** A direct ping; true on an ack. */
  async #ping(target: MemberAddress & { name: string }, timeoutMs: number): Promise<boolean> {
    try {
      const reply = await this.#transport.request(
        target,
        'swim.ping',
        { from: toRecord(this.#self), g: this.#takeGossip() },
        { timeoutMs },
      );
      this.#applyAll(reply['g']);
      if (reply['you'] !== undefined) this.#applyOne(reply['you']);
      return true;
    } catch {
      return false;
    }
  }

  #adjustHealth(delta: number): void {
    this.#localHealth = Math.min(this.#s.awarenessMax, Math.max(0, this.#localHealth + delta));
  }

  // ---- requests from peers ----

  async #onRequest(type: string, body: Body, from: MemberAddress): Promise<Body> {
    if (!this.#running) throw new Error('membership stopped');
    switch (type) {
      case 'swim.ping': {
        this.#applyOne(body['from']);
        this.#applyAll(body['g']);
        const reply: Body = { g: this.#takeGossip() };
        const claimed = fromRecord(body['from']);
        const known = claimed === undefined ? undefined : this.#members.get(claimed.name);
        // Tell a member what we believe of it when that is worse than what it claims: it learns
        // it was declared dead from the first member it talks to, and refutes.
        if (claimed !== undefined && known !== undefined && supersedes(known, claimed))
          reply['you'] = toRecord(known);
        return reply;
      }
      case 'swim.ping-req': {
        this.#applyOne(body['from']);
        this.#applyAll(body['g']);
        const target = fromRecord(body['t']);
        const ok = target !== undefined && (await this.#ping(target, this.#s.probeTimeoutMs));
        return { ok, g: this.#takeGossip() };
      }
      case 'swim.join':
      case 'swim.sync': {
        this.#applyOne(body['from']);
        this.#applyAll(body['members']);
        return { members: this.members().map((m) => toRecord(m)) };
      }
      case 'swim.leave':
        this.#applyAll(body['g']);
        return {};
      default:
        throw new Error(`unknown membership request ${type} from ${from.name}`);
    }
  }

  // ---- join, heal ----

  async #joinSeeds(): Promise<boolean> {
    for (const seed of this.#seeds) {
      if (seed === this.#self.address || !this.#running) continue;
      try {
        const reply = await this.#transport.request(
          { name: '', address: seed },
          'swim.join',
          { from: toRecord(this.#self) },
          { timeoutMs: Math.max(500, this.#s.probeTimeoutMs * 5) },
        );
        this.#applyAll(reply['members']);
        return true;
      } catch {
        // try the next seed
      }
    }
    return false;
  }

  async #reconnect(): Promise<void> {
    if (!this.#running) return;
    this.#forgetDown();
    const others = [...this.#members.values()];
    if (!others.some(isLive)) await this.#joinSeeds();
    const dead = others.filter((m) => m.state === 'dead');
    const target = dead[Math.floor(this.#random() * dead.length)];
    if (target === undefined) return;
    try {
      const reply = await this.#transport.request(
        target,
        'swim.sync',
        { from: toRecord(this.#self), members: this.members().map((m) => toRecord(m)) },
        { timeoutMs: Math.max(500, this.#s.probeTimeoutMs * 5) },
      );
      this.#applyAll(reply['members']);
    } catch {
      // still dead
    }
  }

  /** Forgets the dead and left members whose retention passed (they are in no view already). */
  #forgetDown(): void {
    const now = Date.now();
    for (const [name, since] of this.#downSince) {
      const member = this.#members.get(name);
      const retention =
        member?.state === 'left' ? this.#s.leftRetentionMs : this.#s.deadRetentionMs;
      if (member !== undefined && !isLive(member) && now - since < retention) continue;
      this.#downSince.delete(name);
      if (member === undefined || isLive(member)) continue;
      this.#members.delete(name);
      this.#stats.forgotten++;
    }
  }

  // ---- the state machine ----

  #takeGossip(): MemberRecord[] {
    return this.#gossip.take(
      this.#s.maxGossipPerMessage,
      retransmitLimit(this.#s.retransmitMult, this.#members.size + 1),
    );
  }

  #applyAll(records: unknown): void {
    if (!Array.isArray(records)) return;
    const members = fromRecords(records, 1000);
    this.#stats.malformedRecords += Math.min(records.length, 1000) - members.length;
    for (const m of members) this.#apply(m, m.by);
  }

  #applyOne(record: unknown): void {
    const member = fromRecord(record);
    if (member === undefined) {
      if (record !== undefined) this.#stats.malformedRecords++;
      return;
    }
    this.#apply(member, member.by);
  }

  #apply(update: Member, by: string | undefined): void {
    if (!this.#running) return;
    if (update.name === this.#self.name) return this.#applyAboutSelf(update);
    const current = this.#members.get(update.name);
    if (current !== undefined && !supersedes(update, current)) {
      if (
        update.state === 'suspect' &&
        current.state === 'suspect' &&
        update.incarnation === current.incarnation &&
        by
      ) {
        this.#suspicions.get(update.name)?.confirm(by);
      }
      return;
    }
    // A member we never saw alive, reported dead or gone: nothing to do with it. (Remembering
    // it would let members that forgot it teach each other about it again, forever.)
    if (current === undefined && !isLive(update)) return;
    this.#members.set(update.name, update);
    if (isLive(update)) this.#downSince.delete(update.name);
    else if (current === undefined || isLive(current) || current.state !== update.state)
      this.#downSince.set(update.name, Date.now());
    this.#gossip.enqueue(
      toRecord(update, update.state === 'suspect' ? (by ?? this.#self.name) : undefined),
    );
    const was = current?.state;
    if (update.state !== 'suspect') this.#endSuspicion(update.name);
    switch (update.state) {
      case 'alive':
        if (was === 'suspect') this.#emit('member-alive', update);
        else if (was !== 'alive') this.#emit('member-joined', update);
        break;
      case 'suspect':
        if (was === undefined || was === 'dead' || was === 'left')
          this.#emit('member-joined', update);
        this.#startSuspicion(update, by ?? this.#self.name);
        this.#emit('member-suspect', update);
        break;
      case 'dead':
        this.#emit('member-dead', update);
        break;
      case 'left':
        this.#emit('member-left', update);
        break;
    }
    this.#updateView();
  }

  #applyAboutSelf(update: Member): void {
    if (this.#self.state === 'left') return;
    // Refute: a suspicion, a death or a leave of us at our incarnation or later, or an alive of
    // us with a higher incarnation (a previous life of this name), makes us announce a higher one.
    const refute =
      update.incarnation > this.#self.incarnation ||
      (update.incarnation === this.#self.incarnation && update.state !== 'alive');
    if (!refute) return;
    this.#self = { ...this.#self, incarnation: update.incarnation + 1 };
    this.#stats.refutations++;
    if (update.state === 'suspect') this.#adjustHealth(1);
    this.#gossip.enqueue(toRecord(this.#self));
    this.#updateView();
  }

  #startSuspicion(member: Member, by: string): void {
    this.#endSuspicion(member.name);
    this.#stats.suspicions++;
    const live = 1 + [...this.#members.values()].filter(isLive).length;
    const k = live - 2 < this.#s.suspicionConfirmations ? 0 : this.#s.suspicionConfirmations;
    const suspicion = new Suspicion(this.#s.suspicionMinMs, this.#s.suspicionMaxMs, k, by, () => {
      this.#suspicions.delete(member.name);
      const current = this.#members.get(member.name);
      if (current?.state === 'suspect' && current.incarnation === member.incarnation) {
        this.#apply({ ...current, state: 'dead' }, undefined);
      }
    });
    this.#suspicions.set(member.name, suspicion);
  }

  #endSuspicion(name: string): void {
    this.#suspicions.get(name)?.cancel();
    this.#suspicions.delete(name);
  }

  #emit(event: MemberEvent, member: Member): void {
    this.emit(event, member);
    const channel = memberChannels[event];
    if (channel.hasSubscribers) channel.publish({ member, observer: this.#self.name });
  }

  #updateView(): void {
    const live = [...this.#members.values()].filter(isLive);
    if (isLive(this.#self)) live.push(this.#self);
    live.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
    const key = live
      .filter((m) => m.data)
      .map((m) => m.name)
      .join('\n');
    if (key !== this.#viewKey || this.#view.viewId === 0) {
      this.#viewKey = key;
      const digest = createHash('sha256').update(key).digest('hex').slice(0, 16);
      this.#view = { viewId: this.#view.viewId + 1, digest, members: live };
      this.emit('view-changed', this.#view);
      if (viewChanged.hasSubscribers)
        viewChanged.publish({ observer: this.#self.name, view: this.#view });
    } else {
      this.#view = { ...this.#view, members: live };
    }
  }

  #shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.#random() * (i + 1));
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }
}

/**
 * Creates the membership of one member over a transport.
 * @throws {InvalidOptionError} on a bad option
 * @example
 * const membership = createMembership({ transport, seeds: ['10.0.0.1:7400'] });
 * membership.on('member-dead', (m) => console.log(m.name, 'is dead'));
 * await membership.start();
 */
export function createMembership(options: MembershipOptions): Membership {
  return new Membership(options);
}
