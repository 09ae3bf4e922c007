// The dashboard's HTML: a static shell with stable data-testid hooks; the client script fills it
// from /_mesh/api/events.

export function renderPage(title: string): string {
  const safe = escapeHtml(title);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${safe}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/_mesh/dashboard.css">
<script type="module" src="/_mesh/dashboard.js"></script>
</head>
<body>
<header class="top">
  <div class="brand"><span class="logo">◆</span> sessionmesh <span class="subtle">${safe}</span></div>
  <div class="meta">
    <span data-testid="view-id" class="subtle">view —</span>
    <span data-testid="connection" class="conn conn-connecting">connecting…</span>
    <button type="button" data-testid="add-node" class="btn btn-primary">+ Add node</button>
  </div>
</header>
<main>
  <section class="tiles" data-testid="summary">
    <div class="tile"><div class="tile-label">members up</div><div class="tile-value" data-testid="sum-members">—</div></div>
    <div class="tile"><div class="tile-label">sessions</div><div class="tile-value" data-testid="sum-sessions">—</div></div>
    <div class="tile"><div class="tile-label">requests / s</div><div class="tile-value" data-testid="sum-rps">—</div></div>
    <div class="tile"><div class="tile-label">partitions without owner</div><div class="tile-value" data-testid="sum-orphans">—</div></div>
  </section>
  <section class="card wide">
    <h2>Members</h2>
    <table class="members" data-testid="members">
      <thead><tr>
        <th>member</th><th>state</th><th class="num">sessions</th><th class="num">owned</th>
        <th class="num">backed</th><th class="num">requests</th><th class="num">req/s</th>
        <th>process</th><th>actions</th>
      </tr></thead>
      <tbody></tbody>
    </table>
    <p class="empty subtle" data-testid="members-empty">waiting for the first snapshot…</p>
  </section>
  <section class="card">
    <h2>Partitions <span class="subtle" data-testid="partition-count"></span></h2>
    <div class="pmap" data-testid="partition-map"></div>
    <div class="legend" data-testid="partition-legend"></div>
  </section>
  <section class="card">
    <h2>Sessions per member <span class="subtle">last 2 min</span></h2>
    <svg class="chart" data-testid="chart-sessions" viewBox="0 0 480 140"></svg>
    <h2>Requests / s per member</h2>
    <svg class="chart" data-testid="chart-requests" viewBox="0 0 480 140"></svg>
  </section>
  <section class="card wide">
    <h2>Timeline</h2>
    <ol class="timeline" data-testid="timeline"></ol>
  </section>
</main>
<div class="notice" data-testid="notice" role="status" aria-live="polite"></div>
</body>
</html>
`;
}

export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}
