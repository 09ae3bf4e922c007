/// <reference lib="dom" />
// The dashboard's entry module: follows /_mesh/api/events (a snapshot every second, timeline
// events as they happen) and renders the members, the partition map, the charts and the timeline.

import { addNode, controlMember, createNotice } from './actions.js';
import { CHART_WINDOW_MS, renderChart, type Sample } from './chart.js';
import { byTestId } from './dom.js';
import { createMembersView } from './members.js';
import { parseSnapshot, parseTimelineEvent, type Snapshot } from './model.js';
import { Palette } from './palette.js';
import { createPartitionMap } from './partition-map.js';
import { createTimelineView } from './timeline.js';

/** A snapshot older than this means the stream stalled, even if the connection looks open. */
const STALE_AFTER_MS = 3500;
const UP_STATES = new Set(['alive', 'suspect', 'draining']);

const palette = new Palette();
const notice = createNotice(byTestId('notice'));
const map = createPartitionMap(
  byTestId('partition-map'),
  byTestId('partition-legend'),
  byTestId('partition-count'),
  palette,
);
const members = createMembersView(
  byTestId('members').querySelector('tbody')!,
  palette,
  (action, name) => void controlMember(action, name, notice),
  (name) => map.focus(name),
);
const timeline = createTimelineView(byTestId('timeline'), palette);
const connection = byTestId('connection');

const sessionSamples: Sample[] = [];
const rateSamples: Sample[] = [];
let previous: { at: number; requests: Map<string, number> } | undefined;
let lastSnapshotAt = 0;
let snapshots = 0;

byTestId<HTMLButtonElement>('add-node').addEventListener('click', (e) => {
  const button = e.currentTarget as HTMLButtonElement;
  button.disabled = true;
  void addNode(notice).finally(() => (button.disabled = false));
});

function onSnapshot(snapshot: Snapshot): void {
  const at = Date.now();
  const requests = new Map(snapshot.members.map((m) => [m.name, m.requests]));
  const rates = new Map<string, number>();
  for (const [name, count] of requests) {
    const before = previous?.requests.get(name);
    const seconds = previous ? (at - previous.at) / 1000 : 0;
    // A restarted node counts from zero again: no negative rate.
    rates.set(
      name,
      before !== undefined && seconds > 0 ? Math.max(0, count - before) / seconds : 0,
    );
  }
  previous = { at, requests };
  push(sessionSamples, { at, values: new Map(snapshot.members.map((m) => [m.name, m.sessions])) });
  push(rateSamples, { at, values: rates });

  members.update(snapshot.members, rates);
  map.update(
    snapshot.partitions,
    snapshot.members.map((m) => m.name),
  );
  renderChart(byTestId('chart-sessions'), sessionSamples, palette, at);
  renderChart(byTestId('chart-requests'), rateSamples, palette, at);
  renderSummary(snapshot, rates);
  byTestId('members-empty').hidden = snapshot.members.length > 0;
  byTestId('view-id').textContent = `view ${snapshot.viewId}`;
  lastSnapshotAt = at;
  document.body.dataset.snapshots = String(++snapshots);
  setConnection('live');
}

function renderSummary(snapshot: Snapshot, rates: ReadonlyMap<string, number>): void {
  const up = snapshot.members.filter((m) => UP_STATES.has(m.state)).length;
  byTestId('sum-members').textContent = `${up} / ${snapshot.members.length}`;
  const sessions = snapshot.members.reduce((sum, m) => sum + m.sessions, 0);
  byTestId('sum-sessions').textContent = sessions.toLocaleString();
  let rps = 0;
  for (const r of rates.values()) rps += r;
  byTestId('sum-rps').textContent = rps.toFixed(1);
  const { count, owners } = snapshot.partitions;
  const orphans = count - owners.slice(0, count).filter((o) => o !== null).length;
  byTestId('sum-orphans').textContent = count === 0 ? '—' : String(orphans);
}

function push(samples: Sample[], sample: Sample): void {
  samples.push(sample);
  while (samples.length > 0 && samples[0]!.at < sample.at - CHART_WINDOW_MS) samples.shift();
}

function setConnection(state: 'live' | 'stale' | 'lost' | 'connecting'): void {
  const text = { live: 'live', stale: 'stale', lost: 'reconnecting…', connecting: 'connecting…' };
  connection.textContent = text[state];
  connection.className = `conn conn-${state}`;
}

const events = new EventSource('/_mesh/api/events');
events.addEventListener('snapshot', (e) => {
  const snapshot = parseSnapshot((e as MessageEvent<string>).data);
  if (snapshot) onSnapshot(snapshot);
});
events.addEventListener('timeline', (e) => {
  const event = parseTimelineEvent((e as MessageEvent<string>).data);
  if (event) timeline.add(event);
});
// EventSource reconnects by itself; the badge only tells the user.
let disconnects = 0;
events.addEventListener('error', () => {
  document.body.dataset.disconnects = String(++disconnects);
  setConnection('lost');
});
setInterval(() => {
  if (lastSnapshotAt > 0 && Date.now() - lastSnapshotAt > STALE_AFTER_MS && events.readyState === 1)
    setConnection('stale');
}, 1000);
