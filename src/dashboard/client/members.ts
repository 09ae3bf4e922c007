/// <reference lib="dom" />
// The members table: one row per member, updated in place (a button under the pointer is never
// replaced by a re-render), with its state, load and the kill / restart / drain buttons.

import { el } from './dom.js';
import type { Member } from './model.js';
import type { Palette } from './palette.js';

export type MemberAction = 'kill' | 'restart' | 'drain';

export interface MembersView {
  update(members: readonly Member[], rates: ReadonlyMap<string, number>): void;
}

interface Row {
  tr: HTMLTableRowElement;
  cells: Record<
    'state' | 'sessions' | 'owned' | 'backed' | 'requests' | 'rps' | 'process',
    HTMLElement
  >;
  buttons: Record<MemberAction, HTMLButtonElement>;
}

/** States in which the process is gone: nothing to kill or drain. */
const GONE = new Set(['stopped', 'left']);

export function createMembersView(
  tbody: HTMLElement,
  palette: Palette,
  onAction: (action: MemberAction, name: string) => void,
  onFocus: (name: string | null) => void,
): MembersView {
  const rows = new Map<string, Row>();

  const createRow = (name: string): Row => {
    const cell = (cls = '') => el('td', { class: cls });
    const cells = {
      state: cell(),
      sessions: cell('num'),
      owned: cell('num'),
      backed: cell('num'),
      requests: cell('num'),
      rps: cell('num'),
      process: cell('process'),
    };
    const button = (action: MemberAction, label: string, cls: string) => {
      const b = el('button', {
        type: 'button',
        class: `btn ${cls}`,
        'data-testid': `${action}-${name}`,
        title: `${action} ${name}`,
        text: label,
      });
      b.addEventListener('click', () => onAction(action, name));
      return b;
    };
    const buttons = {
      kill: button('kill', 'Kill', 'btn-danger'),
      restart: button('restart', 'Restart', ''),
      drain: button('drain', 'Drain', ''),
    };
    const swatch = el('span', { class: 'swatch' });
    swatch.style.background = palette.colour(name);
    const tr = el(
      'tr',
      { 'data-testid': `member-${name}` },
      el('td', {}, swatch, el('span', { class: 'name', text: name })),
      cells.state,
      cells.sessions,
      cells.owned,
      cells.backed,
      cells.requests,
      cells.rps,
      cells.process,
      el('td', { class: 'actions' }, buttons.kill, buttons.restart, buttons.drain),
    );
    tr.addEventListener('mouseenter', () => onFocus(name));
    tr.addEventListener('mouseleave', () => onFocus(null));
    return { tr, cells, buttons };
  };

  return {
    update(members, rates) {
      const seen = new Set<string>();
      for (const m of members) {
        seen.add(m.name);
        let row = rows.get(m.name);
        if (!row) {
          row = createRow(m.name);
          rows.set(m.name, row);
        }
        tbody.append(row.tr); // keeps the snapshot's order; a no-op move when unchanged
        const state = el('span', { class: `state state-${m.state}`, text: m.state });
        row.tr.dataset.state = m.state;
        row.tr.classList.toggle('gone', GONE.has(m.state));
        row.cells.state.replaceChildren(state);
        row.cells.sessions.textContent = m.sessions.toLocaleString();
        row.cells.owned.textContent = String(m.partitionsOwned);
        row.cells.backed.textContent = String(m.partitionsBacked);
        row.cells.requests.textContent = m.requests.toLocaleString();
        row.cells.rps.textContent = (rates.get(m.name) ?? 0).toFixed(1);
        row.cells.process.textContent = [m.pid !== null ? `pid ${m.pid}` : '', hostPort(m.url)]
          .filter(Boolean)
          .join(' · ');
        row.buttons.kill.disabled = GONE.has(m.state);
        row.buttons.drain.disabled = GONE.has(m.state) || m.state === 'draining';
      }
      for (const [name, row] of rows) {
        if (seen.has(name)) continue;
        row.tr.remove();
        rows.delete(name);
      }
    },
  };
}

function hostPort(url: string): string {
  return url.replace(/^https?:\/\//, '');
}
