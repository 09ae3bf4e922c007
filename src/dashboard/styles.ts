// The dashboard's stylesheet, served as /_mesh/dashboard.css. Colours of member states live
// here (state-<name> classes); colours of members come from the client's palette.

export const DASHBOARD_CSS = `
:root {
  --bg: #f4f6f9; --card: #ffffff; --ink: #1c2430; --subtle: #6b7686; --line: #e3e7ee;
  --accent: #2f6fed; --alive: #1f9d55; --starting: #5b8def; --suspect: #e0a100; --dead: #d64545;
  --draining: #8a5cd6; --left: #8b95a5; --stopped: #7a2e2e;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); }
.subtle { color: var(--subtle); font-weight: 400; }
.top { display: flex; justify-content: space-between; align-items: center; padding: 10px 20px;
  background: #16202e; color: #e9eef5; }
.top .subtle { color: #9aa7ba; }
.brand { font-size: 17px; font-weight: 600; letter-spacing: .2px; }
.logo { color: #6ea8ff; }
.meta { display: flex; gap: 14px; align-items: center; }
.conn { padding: 2px 9px; border-radius: 10px; font-size: 12px; background: #334155; }
.conn-live { background: var(--alive); color: #fff; }
.conn-stale, .conn-connecting { background: var(--suspect); color: #1c2430; }
.conn-lost { background: var(--dead); color: #fff; }
main { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 14px;
  padding: 14px 20px 28px; max-width: 1400px; margin: 0 auto; }
.wide, .tiles { grid-column: 1 / -1; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; }
h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .6px; margin: 4px 0 10px; }
.tiles { display: grid; grid-template-columns: repeat(4, 1fr); gap: 14px; }
.tile { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 16px; }
.tile-label { color: var(--subtle); font-size: 12px; }
.tile-value { font-size: 24px; font-weight: 600; font-variant-numeric: tabular-nums; }
table.members { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
.members th { text-align: left; font-size: 12px; color: var(--subtle); font-weight: 500;
  border-bottom: 1px solid var(--line); padding: 4px 8px; }
.members td { padding: 6px 8px; border-bottom: 1px solid var(--line); }
.members tr:last-child td { border-bottom: 0; }
.members tr:hover td { background: #f7f9fc; }
.num { text-align: right; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 7px;
  vertical-align: -1px; }
.name { font-weight: 600; }
.state { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; color: #fff; }
.state-alive { background: var(--alive); } .state-starting { background: var(--starting); }
.state-suspect { background: var(--suspect); color: #1c2430; } .state-dead { background: var(--dead); }
.state-draining { background: var(--draining); } .state-left { background: var(--left); }
.state-stopped { background: var(--stopped); }
tr.gone td { color: var(--subtle); }
.process { font-size: 12px; color: var(--subtle); }
.actions { white-space: nowrap; }
.btn { font: inherit; font-size: 12px; border: 1px solid var(--line); background: #fff; color: var(--ink);
  border-radius: 5px; padding: 3px 9px; cursor: pointer; margin-right: 4px; }
.btn:hover:not(:disabled) { border-color: var(--accent); color: var(--accent); }
.btn:disabled { opacity: .45; cursor: default; }
.btn-danger:hover:not(:disabled) { border-color: var(--dead); color: var(--dead); }
.btn-primary { background: var(--accent); border-color: var(--accent); color: #fff; padding: 5px 12px; }
.btn-primary:hover:not(:disabled) { color: #fff; filter: brightness(1.1); }
.pmap { display: grid; grid-template-columns: repeat(auto-fill, minmax(20px, 1fr)); gap: 3px; }
.cell { aspect-ratio: 1; border-radius: 2px; background: #d5dae2; }
.cell.orphan { background: repeating-linear-gradient(45deg, #d64545 0 2px, #f3c4c4 2px 4px); }
.pmap.focus .cell { opacity: .18; }
.pmap.focus .cell.owned { opacity: 1; }
.pmap.focus .cell.backed { opacity: .6; outline: 2px solid var(--ink); outline-offset: -2px; }
.legend { display: flex; flex-wrap: wrap; gap: 12px; margin-top: 10px; font-size: 12px; color: var(--subtle); }
.chart { width: 100%; height: auto; aspect-ratio: 480 / 140; display: block; margin-bottom: 8px; background: #fbfcfe;
  border: 1px solid var(--line); border-radius: 5px; }
.chart .grid { stroke: var(--line); stroke-width: 1; vector-effect: non-scaling-stroke; }
.chart .series { fill: none; stroke-width: 2; vector-effect: non-scaling-stroke; stroke-linejoin: round; }
.chart .axis { font-size: 10px; fill: var(--subtle); }
.timeline { list-style: none; margin: 0; padding: 0; max-height: 320px; overflow-y: auto; }
.timeline li { display: grid; grid-template-columns: 80px 92px 80px 1fr; gap: 8px; padding: 4px 2px;
  border-bottom: 1px solid var(--line); font-size: 13px; }
.timeline .at { color: var(--subtle); font-variant-numeric: tabular-nums; }
.kind { font-size: 11px; text-transform: uppercase; letter-spacing: .5px; font-weight: 600; }
.kind-dead, .kind-kill { color: var(--dead); } .kind-suspect { color: #b07f00; }
.kind-join, .kind-alive, .kind-ready, .kind-add, .kind-started { color: var(--alive); }
.kind-drain, .kind-left, .kind-undrain { color: var(--draining); } .kind-migration { color: var(--accent); }
.kind-restart { color: var(--starting); }
.notice { position: fixed; right: 20px; bottom: 20px; background: #16202e; color: #fff; padding: 8px 14px;
  border-radius: 6px; font-size: 13px; opacity: 0; transition: opacity .2s; pointer-events: none; }
.notice.show { opacity: .95; }
.notice.error { background: var(--dead); }
.empty { margin: 6px 0 0; }
@media (max-width: 900px) { main { grid-template-columns: 1fr; } .tiles { grid-template-columns: repeat(2, 1fr); } }
`;
