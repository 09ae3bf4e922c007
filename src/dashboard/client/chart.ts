/// <reference lib="dom" />
// A line chart of one figure per member over the last two minutes, drawn as SVG from the
// snapshots the page has received (one per second). The server keeps no history.

import { clockTime, svg } from './dom.js';
import type { Palette } from './palette.js';

export const CHART_WINDOW_MS = 120_000;
/** A page open for less than the window spreads what it has over this span at least. */
const MIN_SPAN_MS = 10_000;

export interface Sample {
  at: number;
  values: ReadonlyMap<string, number>;
}

const WIDTH = 480;
const HEIGHT = 140;
const LEFT = 34;
const BOTTOM = 16;
const TOP = 8;

export function renderChart(
  target: SVGSVGElement,
  samples: readonly Sample[],
  palette: Palette,
  now: number,
): void {
  // Until two minutes of samples exist, the first sample sits at the left edge.
  const first = samples[0]?.at ?? now;
  const from = Math.max(now - CHART_WINDOW_MS, Math.min(first, now - MIN_SPAN_MS));
  const span = now - from;
  const visible = samples.filter((s) => s.at >= from);
  let max = 0;
  for (const s of visible) for (const v of s.values.values()) max = Math.max(max, v);
  const top = niceCeiling(max);
  const x = (at: number) => LEFT + ((at - from) / span) * (WIDTH - LEFT - 4);
  const y = (v: number) => HEIGHT - BOTTOM - (v / top) * (HEIGHT - BOTTOM - TOP);

  const nodes: SVGElement[] = [];
  for (const v of [0, top / 2, top]) {
    nodes.push(svg('line', { class: 'grid', x1: LEFT, x2: WIDTH - 4, y1: y(v), y2: y(v) }));
    nodes.push(label(LEFT - 4, y(v) + 3, formatValue(v), 'end'));
  }
  nodes.push(label(LEFT, HEIGHT - 3, clockTime(from), 'start'));
  nodes.push(label(WIDTH - 4, HEIGHT - 3, clockTime(now), 'end'));

  const names = new Set<string>();
  for (const s of visible) for (const name of s.values.keys()) names.add(name);
  for (const name of names) {
    // A member absent from a sample (not yet started, removed) breaks its line there.
    const segments: string[][] = [[]];
    for (const s of visible) {
      const v = s.values.get(name);
      if (v === undefined) segments.push([]);
      else segments[segments.length - 1]!.push(`${x(s.at).toFixed(1)},${y(v).toFixed(1)}`);
    }
    for (const points of segments) {
      if (points.length === 0) continue;
      const line = svg('polyline', { class: 'series', points: points.join(' ') });
      line.style.stroke = palette.colour(name);
      line.dataset.member = name;
      nodes.push(line);
    }
  }
  target.replaceChildren(...nodes);
}

function label(x: number, y: number, text: string, anchor: string): SVGElement {
  const node = svg('text', { class: 'axis', x, y, 'text-anchor': anchor });
  node.textContent = text;
  return node;
}

/** 1, 2 or 5 times a power of ten, at or above `v` (1 for an empty chart). */
export function niceCeiling(v: number): number {
  if (!(v > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(v));
  for (const step of [1, 2, 5, 10]) if (step * power >= v) return step * power;
  return 10 * power;
}

function formatValue(v: number): string {
  if (v >= 10_000) return `${Math.round(v / 1000)}k`;
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}
