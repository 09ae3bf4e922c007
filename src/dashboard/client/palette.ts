/// <reference lib="dom" />
// One colour per member, stable for the page's life: a member keeps its colour in the table,
// the partition map and the charts, even as others come and go.

const COLOURS = [
  '#2f6fed',
  '#e8710a',
  '#1f9d55',
  '#c2185b',
  '#7b4fd6',
  '#00838f',
  '#b8860b',
  '#5d4037',
  '#d64545',
  '#546e7a',
];

export class Palette {
  #assigned = new Map<string, string>();

  colour(name: string): string {
    let c = this.#assigned.get(name);
    if (!c) {
      const i = this.#assigned.size;
      // Past the palette, spread further hues around the wheel by the golden angle.
      c = COLOURS[i] ?? `hsl(${Math.round((i * 137.5) % 360)} 60% 45%)`;
      this.#assigned.set(name, c);
    }
    return c;
  }
}
