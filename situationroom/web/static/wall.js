// The wall display: draws a dashboard once from /api/v1/dashboards/<name>, then keeps it live over /ws
// (docs/websocket.md). Built to run unattended for weeks: bounded buffers, no view rebuilt on updates,
// reconnects with backoff, says so when data or the connection stops, reloads when the server is upgraded.
// This script loads the dashboard and starts the page; the other wall-*.js scripts, loaded before it in one
// script scope, hold its parts (pages.py lists them in order).
"use strict";

let loading = null;
async function loadDefinition() {
  if (loading) return loading;
  loading = (async () => {
    for (let n = 0; ; n++) {
      try {
        const wanted = NAME;
        const r = await fetch(`/api/v1/dashboards/${encodeURIComponent(wanted)}`, { cache: "no-store" });
        if (wanted !== NAME) { n = -1; continue; }   // switched while it loaded: load the board now wanted
        if (r.ok) { def = await r.json(); break; }
        if (r.status === 404) { def = { error: (await r.json()).error && { problems: [{ text: `dashboards/${NAME}.yaml: not found` }] }, dashboard: null, city: { timezone: "Asia/Seoul", utc_offset_ms: 32400000 }, stale_grace: 2.5 }; break; }
      } catch (e) { /* the server is not up yet: try again */ }
      await new Promise((res) => setTimeout(res, Math.min(30000, 1000 * Math.pow(2, n))));
    }
    useScale(def.scale);
    makeFormats();
    WallCompare.init({ name: NAME, lang: LANG, live, key, entName, fmtValue, unitOf,
      axisNow: (x) => shownTime(now(), x), offset: () => def.city.utc_offset_ms,
      // What the time axis is: real time, or a replay's simulated time (its clock); a change redraws comparisons.
      axis: () => { const c = simClock(); return c ? { key: `${c.start}|${c.anchor}|${c.speed}`, speed: c.speed } : { key: "real", speed: 1 }; } });
    build();
    subscribe();
    await loadExercise();
    await loadHistory();
    tick();
  })();
  try { await loading; } finally { loading = null; }
  if (def.name && def.name !== NAME) await loadDefinition();   // switched while it was being drawn
}

let resizeTimer = null;
window.addEventListener("resize", (ev) => {
  if (!ev.isTrusted) return;   // our own nudge to the charts (the exercise band came or went)
  // The charts were sized for the old screen; a wall is rarely resized, so start over cleanly.
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => { if (def) { build(); loadHistory(); } }, 500);
});

// For the browser tests and the soak benchmark: what the page holds, read-only.
window.__wall = { live, get lastId() { return lastId; }, get connected() { return connected; },
  get exercise() { return { ...exercise, shown: exerciseShown }; }, get board() { return def && def.dashboard ? def.name : null; },   // the board drawn now
  get incidents() { return incidents; }, get plan() { return plan; },
  notes: (id) => { const p = panels.find((q) => q.spec.id === id); return p && p.view ? p.view.data("notes") : null; },
  simTime: (ms) => simClock() ? simTime(ms) : null,
  get messages() { return messages; }, get updates() { return updates; },
  showPage: (n) => showPage(n),
  // A time-series chart as Vega draws it (its axes' labels included), by panel id.
  chartSVG: (id) => { const p = panels.find((q) => q.spec.id === id); return p && p.view ? p.view.toSVG() : null; },
  // Each time-series chart: its page, the changes waiting for a render, and whether the drawn dataset
  // holds what the rings hold (same points, same newest time and value).
  charts: () => panels.filter((p) => p instanceof TimeseriesPanel).map((p) => {
    const { insert, remove, modify } = p.pending;
    const ringPoints = [...p.rings.values()].flatMap((r) => r.points);
    const newest = ringPoints.reduce((a, q) => (!a || q.t > a.t ? q : a), null);
    const data = p.view ? p.view.data("points") : null;
    const drawn = data ? data.reduce((a, q) => (!a || q.t > a.t ? q : a), null) : null;
    const times = ringPoints.map((q) => q.t);
    return { id: p.spec.id, page: p.page, visible: p.visible, backlog: insert.length + remove.length + modify.size,
      points: ringPoints.length, drawn: data ? data.length : null, window: p.spec.window_s,
      oldest: times.length ? Math.min(...times) : null, newest: times.length ? Math.max(...times) : null,
      inStep: !!(data && newest && drawn && data.length === ringPoints.length && drawn.t === shownTime(newest.t, newest.x) + p.offset && drawn.v === newest.v) };
  }) };

(async () => {
  await document.fonts.ready.catch(() => null);
  await loadDefinition();
  connect();
  setInterval(tick, 1000);
})();
