// Comparisons with the past on the wall (docs/dashboards.md, "Comparing with the past"): a chart's dashed lines of
// yesterday, last week, last year or a named event, and a KPI's difference to the same time of a past period. The
// server reads the history and shifts it onto the chart's time axis (GET /api/v1/dashboards/{name}/compare/{panel});
// this draws it, asking again every minute as the axis moves. The wall calls init() once it has the dashboard
// (wall.js), tick() every second (wall-render.js) and kpi() when a KPI tile renders (wall-kpi.js).
(() => {
  "use strict";
  const REFRESH_MS = 60000;          // the axis moves: the dashed lines follow it once a minute
  const RETRY_MS = [5000, 15000, 30000];   // nothing yet (a store still filling): ask again sooner
  let env = null;
  let state = new WeakMap();         // panel -> { at, tries, busy, value, drawn }: a rebuilt page starts afresh

  const drawn = new Map();          // panel id -> the tuples drawn last (one panel's comparison, for the tests)
  function init(e) { env = e; state = new WeakMap(); drawn.clear(); }

  function entry(p) {
    let s = state.get(p);
    if (!s) { s = { at: 0, tries: 0, busy: false, value: null, drawn: 0 }; state.set(p, s); }
    return s;
  }

  // The dataset of the lines compared: an exercise line's comparison reads exercise data, a real one real data.
  function modeOf(spec) {
    const entities = spec.entities || [spec.entity];
    const x = entities.some((e) => { const s = env.live.get(env.key(spec.indicator, e)); return s && s.x; });
    return x ? "exercise" : "real";
  }

  async function ask(spec, mode) {
    const to = env.axisNow(mode === "exercise") / 1000;
    const url = `/api/v1/dashboards/${encodeURIComponent(env.name)}/compare/${encodeURIComponent(spec.id)}` +
      `?to=${to.toFixed(3)}&mode=${mode}`;
    const r = await fetch(url).catch(() => null);
    return r && r.ok ? r.json() : null;
  }

  // What a comparison was drawn for: the axis (real time, or a replay's simulated clock) and the lines' dataset. When
  // either changes (the exercise status arrives after the first draw, a replay starts or ends), it is asked again at
  // once, never left on an axis it does not belong to.
  function frame(spec) { return `${env.axis().key}|${modeOf(spec)}`; }

  function due(p, s, t) {
    if (s.busy) return false;
    if (s.frame !== frame(p.spec)) return true;
    // During a replay the axis moves `speed` times faster: so does the refresh (at most every 5 s).
    const refresh = Math.max(5000, REFRESH_MS / env.axis().speed);
    const wait = s.drawn ? refresh : RETRY_MS[Math.min(s.tries, RETRY_MS.length - 1)];
    return t - s.at >= wait;
  }

  // One request at a time per panel, its time and axis noted, whatever the panel does with the answer.
  async function refreshing(p, apply) {
    const s = entry(p);
    s.busy = true;
    s.at = Date.now();
    s.frame = frame(p.spec);
    try {
      const body = await ask(p.spec, modeOf(p.spec));
      if (body) apply(s, body);
    } finally {
      s.busy = false;
    }
  }

  function refreshChart(p) {
    return refreshing(p, (s, body) => {
      if (!p.view || s.frame !== frame(p.spec)) return;   // the axis changed meanwhile: asked again
      const tuples = [];
      for (const line of body.series) {
        const name = env.entName(line.entity);
        for (const pt of line.points) {
          if (pt.value !== null && pt.value !== undefined) tuples.push({ t: pt.t * 1000 + env.offset(), v: pt.value, s: name });
        }
      }
      p.view.change("compare", vega.changeset().remove(vega.truthy).insert(tuples)).run();
      drawn.set(p.spec.id, tuples.map(({ t, v, s: name }) => ({ t, v, s: name })));
      s.drawn = tuples.length;
      s.tries = tuples.length ? 0 : s.tries + 1;
    });
  }

  function refreshKpi(p) {
    return refreshing(p, (s, body) => {
      s.value = body.value;
      s.drawn = 1;
      s.tries = body.value === null ? s.tries + 1 : 0;
      kpi(p, env.live.get(env.key(p.spec.indicator, p.spec.entity)));
    });
  }

  function tick(panels, page) {
    if (!env) return;
    const t = Date.now();
    for (const p of panels) {
      if (!p.spec.compare || p.page !== page) continue;
      const s = entry(p);
      if (!due(p, s, t)) continue;
      if (p.spec.kind === "timeseries" && p.view) refreshChart(p);
      else if (p.spec.kind === "kpi") refreshKpi(p);
    }
  }

  // "+12.3 mm (지난주 같은 시각 대비)": the live value minus the value at the same time of the period compared, with
  // its sign and unit; nothing at all (not a zero) while either is missing.
  function kpi(p, live) {
    const c = p.spec.compare;
    if (!c || !env) return;
    let el = p.bodyEl.querySelector(".versus");
    if (!el) {
      el = document.createElement("div");
      el.className = "versus";
      el.dataset.testid = "versus";
      p.bodyEl.querySelector(".status").after(el);
    }
    const s = state.get(p);
    let text = "";
    if (s && s.value !== null && s.value !== undefined && live && typeof live.v === "number") {
      const d = live.v - s.value;
      const shown = env.fmtValue(p.spec.indicator, Math.abs(d));
      const zero = Number(shown.replace(/[^0-9.]/g, "")) === 0;
      const sign = zero ? "±" : d > 0 ? "+" : "−";
      const unit = env.unitOf(p.spec.indicator);
      text = `${sign}${shown}${unit ? " " + unit : ""} (${c.same_time[env.lang]})`;
      el.dataset.sign = zero ? "0" : d > 0 ? "+" : "-";
    }
    if (el.textContent !== text) el.textContent = text;
    el.hidden = !text;
  }

  // drawn(id): what a chart's comparison drew last, read-only (the browser tests compare it with the history).
  window.WallCompare = { init, tick, kpi, drawn: (id) => drawn.get(id) || [] };
})();
