// Membership events on diagnostics_channel, beside the Membership's own EventEmitter.

import { channel } from 'node:diagnostics_channel';

export const MEMBER_EVENTS = [
  'member-joined',
  'member-suspect',
  'member-alive',
  'member-dead',
  'member-left',
] as const;
export type MemberEvent = (typeof MEMBER_EVENTS)[number];

export const memberChannels: Record<MemberEvent, ReturnType<typeof channel>> = {
  'member-joined': channel('sessionmesh:cluster:member-joined'),
  'member-suspect': channel('sessionmesh:cluster:member-suspect'),
  'member-alive': channel('sessionmesh:cluster:member-alive'),
  'member-dead': channel('sessionmesh:cluster:member-dead'),
  'member-left': channel('sessionmesh:cluster:member-left'),
};

export const viewChanged = channel('sessionmesh:cluster:view-changed');

export interface MembershipStats {
  probes: number;
  probesFailed: number;
  indirectProbes: number;
  suspicions: number;
  refutations: number;
  /** Probe rounds whose failure was ignored because this member itself was paused or blocked. */
  pausesDetected: number;
  malformedRecords: number;
  /** Dead or left members dropped from the member list after their retention. */
  forgotten: number;
}
