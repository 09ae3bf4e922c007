// What the data layer of the cluster needs of membership: the live data members and a view id
// that grows on every change, plus a change event. Membership (src/cluster/membership/) feeds it;
// tests drive a ManualView.

import { EventEmitter } from 'node:events';
import type { MemberAddress } from './transport/transport.js';

export interface ClusterView {
  /** Grows with every change seen by this member; local to it (members compare member sets). */
  readonly viewId: number;
  /** The live data members, this member included. */
  readonly members: readonly MemberAddress[];
}

export interface ViewSource {
  readonly view: ClusterView;
  on(event: 'change', listener: (view: ClusterView) => void): unknown;
  off(event: 'change', listener: (view: ClusterView) => void): unknown;
}

/** A view set by hand: for tests and for a fixed list of members. */
export class ManualView extends EventEmitter<{ change: [ClusterView] }> implements ViewSource {
  #view: ClusterView;

  constructor(members: readonly MemberAddress[]) {
    super();
    this.#view = { viewId: 1, members: [...members] };
  }

  get view(): ClusterView {
    return this.#view;
  }

  /** Replaces the member list; emits `change` with the next view id. */
  set(members: readonly MemberAddress[]): void {
    this.#view = { viewId: this.#view.viewId + 1, members: [...members] };
    this.emit('change', this.#view);
  }
}

/** What the data layer needs of membership (membership/membership.ts provides it). */
export interface MembershipLike {
  view(): { readonly viewId: number; readonly members: readonly MembershipMember[] };
  on(event: 'view-changed', listener: (view: unknown) => void): unknown;
  off(event: 'view-changed', listener: (view: unknown) => void): unknown;
}

interface MembershipMember {
  readonly name: string;
  readonly address: string;
  /** false for a member that holds no sessions (the proxy). */
  readonly data?: boolean;
}

/** The data members of a membership's view, as a ViewSource. */
export class MembershipView extends EventEmitter<{ change: [ClusterView] }> implements ViewSource {
  readonly #membership: MembershipLike;
  readonly #listener = (): void => {
    this.emit('change', this.view);
  };

  constructor(membership: MembershipLike) {
    super();
    this.#membership = membership;
    membership.on('view-changed', this.#listener);
  }

  get view(): ClusterView {
    const { viewId, members } = this.#membership.view();
    return {
      viewId,
      members: members
        .filter((m) => m.data !== false)
        .map((m) => ({ name: m.name, address: m.address })),
    };
  }

  close(): void {
    this.#membership.off('view-changed', this.#listener);
  }
}
