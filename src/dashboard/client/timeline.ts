/// <reference lib="dom" />
// The timeline: newest event first, each once (the server replays recent events on every
// reconnection), bounded in length.

import { clockTime, el } from './dom.js';
import type { TimelineEvent } from './model.js';
import type { Palette } from './palette.js';

const MAX_EVENTS = 300;

export interface TimelineView {
  add(event: TimelineEvent): void;
}

export function createTimelineView(list: HTMLElement, palette: Palette): TimelineView {
  const seen = new Set<string>();
  const keys: string[] = [];
  return {
    add(event) {
      const key = `${event.at}|${event.kind}|${event.member}|${event.detail ?? ''}`;
      if (seen.has(key)) return;
      seen.add(key);
      keys.push(key);
      if (keys.length > MAX_EVENTS) seen.delete(keys.shift()!);
      const member = el('span', { class: 'name', text: event.member });
      if (event.member !== '*') member.style.color = palette.colour(event.member);
      const item = el(
        'li',
        { 'data-kind': event.kind, 'data-member': event.member },
        el('span', { class: 'at', text: clockTime(event.at) }),
        el('span', { class: `kind kind-${event.kind}`, text: event.kind }),
        member,
        el('span', { class: 'detail', text: event.detail ?? '' }),
      );
      // Events arrive nearly in order; place a late one by its time.
      let before: Element | null = list.firstElementChild;
      while (before && Number((before as HTMLElement).dataset.at) > event.at)
        before = before.nextElementSibling;
      item.dataset.at = String(event.at);
      list.insertBefore(item, before);
      while (list.children.length > MAX_EVENTS) list.lastElementChild!.remove();
    },
  };
}
