// What every panel of the wall is: the bounded ring of points behind its lines, the Panel base class
// (visibility, freshness and the stale badge), and the note on a panel whose indicators are withheld.
// One of the wall's scripts (pages.py loads them in order, wall.js last); they share the page's script scope.
"use strict";

// A fixed-length ring of (t, v) points per series: a new value either extends the line or, when it comes
// sooner than the spacing, replaces the last point. Memory stays the same after hours.
class Ring {
  constructor(windowMs, size, adaptive = true) {
    this.windowMs = windowMs; this.size = size; this.spacing = windowMs / size; this.points = []; this.adaptive = adaptive;
  }
  // A series delivered faster than window/size (an accelerated simulation) keeps each delivery, so the
  // line shows its last `size` values instead of two points. Not a ring of days or months: it would then
  // hold only the last `size` deliveries, hours of a month's line.
  adapt(intervalMs) { if (intervalMs > 0 && this.adaptive) this.spacing = Math.min(this.windowMs / this.size, intervalMs / 2); }
  // The past from the history API (oldest first) in place of what the ring held before its newest point;
  // what came live since stays. At most one point per spacing is kept, so the whole window fits however
  // fine its buckets were.
  load(past) {
    if (!past.length) return;
    const kept = [];
    for (const q of past) {
      const last = kept[kept.length - 1];
      if (!last || q.t - last.t >= this.spacing) kept.push({ t: q.t, v: q.v, x: q.x });
    }
    const newest = past[past.length - 1];
    if (kept[kept.length - 1].t !== newest.t) kept.push({ t: newest.t, v: newest.v, x: newest.x });
    this.points = kept.concat(this.points.filter((p) => p.t > newest.t)).slice(-this.size);
  }
  add(t, v, x = false) {
    const p = this.points;
    const last = p[p.length - 1];
    if (last && t < last.t) return null;              // older than what is drawn: history already has it
    if (last && (t - last.t < this.spacing || t === last.t)) {
      if (p.length > 1 && t - p[p.length - 2].t < this.spacing) { last.t = t; last.v = v; return { modified: last }; }
    }
    const cutoff = t - this.windowMs;
    const removed = [];
    // Full (or the oldest point has left the window): the oldest point becomes the newest. Charts then
    // modify one tuple instead of removing one and inserting another, which leaves nothing behind in Vega.
    if (p.length >= this.size || (p.length > 2 && p[0].t < cutoff)) {
      const point = p.shift();
      while (p.length > 2 && p[0].t < cutoff) removed.push(p.shift());
      point.t = t;
      point.v = v;
      point.x = x;
      p.push(point);
      return { modified: point, removed };
    }
    const point = { t, v, x };
    p.push(point);
    return { added: point, removed };
  }
}
const sparks = new Map();   // series key -> Ring (KPI sparklines)

// ------------------------------------------------------------------------------------------ panels
class Panel {
  constructor(spec, el) { this.spec = spec; this.el = el; this.bodyEl = el.querySelector(".body"); this.visible = false; }
  series() { return []; }           // [indicator, entity] pairs this panel shows
  indicators() { return this.spec.indicator ? [this.spec.indicator] : (this.spec.indicators || []); }
  wants(changed) { return changed.has("*") || this.indicators().some((i) => changed.has(i)); }
  show() { this.visible = true; this.render(); }
  hide() { this.visible = false; }
  render() {}
  destroy() {}
  // A panel is stale when the freshest of its series is past its interval × grace (or all are stale).
  freshness(t) {
    let freshest = null, any = false;
    for (const [i, e] of this.seriesForFreshness()) {
      const s = live.get(key(i, e));
      if (!s) continue;
      any = true;
      if (!isStale(s, t) && (!freshest || s.t > freshest.t)) freshest = s;
    }
    if (!any) return { stale: false, none: true };
    if (freshest) return { stale: false };
    let newest = 0, x = false;
    for (const [i, e] of this.seriesForFreshness()) { const s = live.get(key(i, e)); if (s && s.t > newest) { newest = s.t; x = !!s.x; } }
    return { stale: true, newest, x };
  }
  seriesForFreshness() { return this.series(); }
  setStatus(status) { if (this.el.dataset.status !== status) this.el.dataset.status = status; }
  updateStale(t) {
    const f = this.freshness(t);
    const stale = !!f.stale;
    this.el.classList.toggle("is-stale", stale);
    this.el.dataset.stale = stale ? "true" : "false";
    if (stale) {
      const badge = this.el.querySelector(".stale-badge");
      const text = `${icon("stale")}${WORDS.staleSince} ${f.newest ? hmFmt.format(shownTime(f.newest, f.x)) : "–"}`;
      if (badge && badge.dataset.text !== text) { badge.innerHTML = text; badge.dataset.text = text; }
    }
  }
}

// A panel all of whose indicators are withheld from this screen says so, rather than look like a panel without
// data (the server sends it nothing of them; docs/access.md).
function markWithheld() {
  for (const p of panels) {
    const ids = p.indicators();
    const hide = ids.length > 0 && ids.every((i) => withheld.has(i));
    p.el.classList.toggle("is-withheld", hide);
    let note = p.el.querySelector(".withheld-note");
    if (hide && !note) {
      p.el.insertAdjacentHTML("beforeend", `<div class="withheld-note" role="note">${icon("lock")}` +
        `<b>${esc(WORDS.withheld)}</b><span>${esc(WORDS.withheldWhy)}</span></div>`);
    } else if (!hide && note) note.remove();
  }
}

// Every live series of the given indicators (the map, alerts and domain panels cover whole scopes).
function* seriesOf(indicatorIds) {
  const wanted = indicatorIds instanceof Set ? indicatorIds : new Set(indicatorIds);
  for (const s of live.values()) if (wanted.has(s.i)) yield [s.i, s.e];
}
