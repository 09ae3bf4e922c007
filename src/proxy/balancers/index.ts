// The balancing algorithms by name, as the `balance` option and `--balance` accept them.

import { InvalidOptionError } from '../../errors.js';
import type { Balancer } from './balancer.js';
import { createIpHash } from './ip-hash.js';
import { createLeastConnections } from './least-connections.js';
import { createRandomTwo } from './random-two.js';
import { createRoundRobin } from './round-robin.js';

export type BalanceName = 'least-connections' | 'round-robin' | 'random-two' | 'ip-hash';

export const BALANCE_NAMES: readonly BalanceName[] = [
  'least-connections',
  'round-robin',
  'random-two',
  'ip-hash',
];

/** @throws {InvalidOptionError} for an unknown name. */
export function createBalancer(name: BalanceName, slowStartMs: number): Balancer {
  switch (name) {
    case 'least-connections':
      return createLeastConnections(slowStartMs);
    case 'round-robin':
      return createRoundRobin(slowStartMs);
    case 'random-two':
      return createRandomTwo(slowStartMs);
    case 'ip-hash':
      return createIpHash();
    default:
      throw new InvalidOptionError('balance', BALANCE_NAMES.join(' | '), name);
  }
}

export type { Balancer, PickContext } from './balancer.js';
