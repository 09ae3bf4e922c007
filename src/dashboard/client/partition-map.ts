/// <reference lib="dom" />
// The partition map: one cell per partition, coloured by its owner, backups in the cell's title.
// Hovering a member row lights up the partitions it owns (solid) and backs up (outlined).

import { el } from './dom.js';
import type { Partitions } from './model.js';
import type { Palette } from './palette.js';

export interface PartitionMap {
  update(partitions: Partitions, members: readonly string[]): void;
  focus(name: string | null): void;
}

export function createPartitionMap(
  container: HTMLElement,
  legend: HTMLElement,
  count: HTMLElement,
  palette: Palette,
): PartitionMap {
  let cells: HTMLElement[] = [];
  let current: Partitions = { count: 0, owners: [], backups: [] };
  let focused: string | null = null;

  const paintFocus = () => {
    container.classList.toggle('focus', focused !== null);
    cells.forEach((cell, p) => {
      cell.classList.toggle('owned', focused !== null && current.owners[p] === focused);
      cell.classList.toggle(
        'backed',
        focused !== null && (current.backups[p] ?? []).includes(focused),
      );
    });
  };

  return {
    update(partitions, members) {
      current = partitions;
      if (cells.length !== partitions.count) {
        cells = Array.from({ length: partitions.count }, (_, p) =>
          el('div', { class: 'cell', 'data-partition': p }),
        );
        container.replaceChildren(...cells);
      }
      let orphans = 0;
      cells.forEach((cell, p) => {
        const owner = partitions.owners[p] ?? null;
        const backups = partitions.backups[p] ?? [];
        if (owner === null) orphans++;
        cell.classList.toggle('orphan', owner === null);
        cell.style.background = owner === null ? '' : palette.colour(owner);
        cell.dataset.owner = owner ?? '';
        const title = `partition ${p}\nowner: ${owner ?? 'none'}\nbackups: ${backups.join(', ') || 'none'}`;
        if (cell.title !== title) cell.title = title;
      });
      count.textContent =
        partitions.count === 0
          ? 'no partition table yet'
          : `${partitions.count}${orphans > 0 ? ` · ${orphans} without owner` : ''}`;
      legend.replaceChildren(
        ...members.map((name) => {
          const swatch = el('span', { class: 'swatch' });
          swatch.style.background = palette.colour(name);
          const owned = partitions.owners.filter((o) => o === name).length;
          return el('span', {}, swatch, `${name} (${owned})`);
        }),
      );
      paintFocus();
    },
    focus(name) {
      focused = name;
      paintFocus();
    },
  };
}
