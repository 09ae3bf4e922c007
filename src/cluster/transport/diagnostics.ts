// Diagnostics channels and counters of the transport. Core code does not log: the CLI, the
// dashboard and tests subscribe to these channels; metrics read the counters.

import { channel } from 'node:diagnostics_channel';

export const connectionRejected = channel('sessionmesh:cluster:connection-rejected');
export const connectionOpen = channel('sessionmesh:cluster:connection-open');
export const connectionClosed = channel('sessionmesh:cluster:connection-closed');

/** Why a connection was refused or closed; docs/cluster-protocol.md#what-each-failure-does. */
export type RejectReason =
  | 'auth'
  | 'cluster-name'
  | 'garbage'
  | 'frame-too-large'
  | 'handshake-timeout'
  | 'idle'
  | 'too-many-handshakes'
  | 'peer-name'
  | 'tls';

export interface TransportStats {
  framesSent: number;
  framesReceived: number;
  bytesSent: number;
  bytesReceived: number;
  /** One-way messages dropped (queue full, peer unreachable). */
  messagesDropped: number;
  /** Requests that failed with SM_ERR_CLUSTER_TIMEOUT. */
  timeouts: number;
  connectionsOpened: number;
  /** Authenticated connections now open. */
  connectionsOpen: number;
  rejected: Record<RejectReason, number>;
}

export function createStats(): TransportStats {
  return {
    framesSent: 0,
    framesReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    messagesDropped: 0,
    timeouts: 0,
    connectionsOpened: 0,
    connectionsOpen: 0,
    rejected: {
      auth: 0,
      'cluster-name': 0,
      garbage: 0,
      'frame-too-large': 0,
      'handshake-timeout': 0,
      idle: 0,
      'too-many-handshakes': 0,
      'peer-name': 0,
      tls: 0,
    },
  };
}
