// Rows of benchmark figures, each beside the anchor it is compared with, as a Markdown table.

export interface Row {
  /** The scenario the row belongs to, e.g. "(b) existing session, read + increment". */
  group: string;
  name: string;
  reqPerSec?: number;
  opsPerSec?: number;
  p50Ms?: number;
  p99Ms?: number;
  /** The row's anchor (another row's name in the same group) and the ratio to it. */
  anchor?: string;
  ratio?: number;
  note?: string;
}

export function withRatios(rows: Row[], anchorOf: (row: Row) => string | undefined): Row[] {
  return rows.map((row) => {
    const anchorName = anchorOf(row);
    if (!anchorName) return row;
    const anchor = rows.find((r) => r.group === row.group && r.name === anchorName);
    const mine = row.reqPerSec ?? row.opsPerSec;
    const theirs = anchor?.reqPerSec ?? anchor?.opsPerSec;
    if (!anchor || !mine || !theirs) return row;
    return { ...row, anchor: anchorName, ratio: mine / theirs };
  });
}

export function toMarkdown(rows: Row[]): string {
  const groups = [...new Set(rows.map((r) => r.group))];
  const out: string[] = [];
  for (const group of groups) {
    out.push(
      `### ${group}`,
      '',
      '| server | req/s | p50 ms | p99 ms | vs anchor | note |',
      '|---|---:|---:|---:|---|---|',
    );
    for (const row of rows.filter((r) => r.group === group)) {
      const rate = row.reqPerSec ?? row.opsPerSec;
      out.push(
        `| ${row.name} | ${rate === undefined ? '' : Math.round(rate).toLocaleString('en-US')} | ${fmt(row.p50Ms)} | ${fmt(row.p99Ms)} | ${
          row.ratio === undefined ? '' : `${row.ratio.toFixed(2)}x ${row.anchor}`
        } | ${row.note ?? ''} |`,
      );
    }
    out.push('');
  }
  return out.join('\n');
}

function fmt(ms: number | undefined): string {
  return ms === undefined || Number.isNaN(ms) ? '' : ms < 10 ? ms.toFixed(2) : ms.toFixed(1);
}
