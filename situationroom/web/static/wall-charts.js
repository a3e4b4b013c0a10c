// The Vega panels of lines and bars: charts embedded once and changed by changesets (the time series with
// incident notes, the ranking), with sizes scaled from 1080 lines to the screen.
// One of the wall's scripts (pages.py loads them in order, wall.js last); they share the page's script scope.
"use strict";

// Sizes in the specs are for 1080 lines; scale them to this screen (4K doubles them).
const SIZE_KEY = /(fontSize|FontSize|Width|strokeWidth|Padding|padding|tickSize|labelLimit|dx|dy|cornerRadiusEnd)$/;
function scaleSpec(spec) {
  const u = parseFloat(getComputedStyle(document.documentElement).fontSize) / 16;
  const walk = (o) => {
    if (Array.isArray(o)) { o.forEach(walk); return; }
    if (!o || typeof o !== "object") return;
    for (const [k, v] of Object.entries(o)) {
      if (k === "datasets" || k === "data") continue;
      if (typeof v === "number" && SIZE_KEY.test(k)) o[k] = v * u;
      else if (typeof v === "number" && k === "symbolSize") o[k] = v * u * u;
      else if (k === "strokeDash" && Array.isArray(v)) o[k] = v.map((x) => x * u);
      else walk(v);
    }
  };
  walk(spec);
  return spec;
}

// Vega views are embedded once per panel; afterwards only their datasets change (changesets).
class ChartPanel extends Panel {
  constructor(spec, el) { super(spec, el); this.view = null; this.embedding = null; this.synced = false; }
  vegaSpec() { return this.spec.specs ? this.spec.specs[LANG] : this.spec.spec; }
  renderer() { return "svg"; }
  show() {
    this.visible = true;
    if (!this.view && !this.embedding) {
      const holder = document.createElement("div");
      holder.className = "chart";
      // One name for the chart (the panel's title) instead of Vega's description of every point.
      holder.setAttribute("role", "img");
      holder.setAttribute("aria-label", this.el.querySelector("h2 .t")?.textContent || "");
      const target = document.createElement("div");
      target.className = "target";
      holder.appendChild(target);
      this.bodyEl.appendChild(holder);
      const spec = scaleSpec(JSON.parse(JSON.stringify(this.vegaSpec())));
      this.embedding = vegaEmbed(target, spec, { actions: false, renderer: this.renderer(), tooltip: false, defaultStyle: false })
        .then((res) => { this.view = res.view; this.embedding = null; this.synced = false; this.render(); })
        .catch((err) => { this.embedding = null; holder.innerHTML = `<div class="empty">${esc(err.message)}</div>`; });
    } else {
      this.synced = false;
      this.render();
    }
  }
  hide() { this.visible = false; this.synced = false; }
  destroy() { if (this.view) this.view.finalize(); this.view = null; }
}

class TimeseriesPanel extends ChartPanel {
  constructor(spec, el) {
    super(spec, el);
    // A chart of days or months holds one point per hourly (or daily) bucket of its history, up to 720;
    // one of hours, 240 points.
    this.size = spec.window_s > LONG_S ? 720 : 240;
    this.rings = new Map(spec.entities.map((e) => [e, new Ring(spec.window_s * 1000, this.size, spec.window_s <= LONG_S)]));
    this.pending = { insert: [], remove: [], modify: new Set() };
    this.names = new Map(spec.entities.map((e) => [e, entName(e)]));
    this.offset = def.city.utc_offset_ms;
  }
  series() { return this.spec.entities.map((e) => [this.spec.indicator, e]); }
  // Canvas: a line's SVG path belongs to its first point, so as the window slides Vega's SVG renderer
  // makes a new path element, and each point that once was first keeps its old one (tens of KB of path
  // data) until the point leaves the window: the heap stepped up by megabytes over an hour's soak.
  renderer() { return "canvas"; }
  add(entity, t, v, n, x) {
    const ring = this.rings.get(entity);
    if (!ring) return;
    if (n) ring.adapt(n * 1000);
    const res = ring.add(t, v, !!x);
    // Until the chart is in step with the rings (not drawn yet, or a backlog dropped) a rebuild reads the
    // rings as they are then: nothing to keep.
    if (!res || !this.synced) return;
    // Changes wait here (also while the page is hidden) until the next render. A backlog longer than the
    // rings themselves is cheaper to rebuild from them than to replay, and must not grow while no render
    // comes (a page that is never shown).
    if (res.modified) this.pending.modify.add(res.modified);
    if (res.added) {
      res.added.s = this.names.get(entity);
      this.pending.insert.push(res.added);
    }
    for (const r of res.removed || []) this.pending.remove.push(r);
    if (this.pending.insert.length + this.pending.remove.length + this.pending.modify.size > 2 * this.size * this.rings.size) {
      this.synced = false;
      this.pending = { insert: [], remove: [], modify: new Set() };
    }
  }
  // The dataset stays in step while hidden (pending changes, replayed on the next render): no rebuild on show.
  show() {
    if (!this.view) { super.show(); return; }
    this.visible = true;
    this.render();
  }
  hide() { this.visible = false; }
  render() {
    const worst = this.series().reduce((acc, [i, e]) => { const s = live.get(key(i, e)); return s ? worse(acc, statusOf(s, now())) : acc; }, "unknown");
    this.setStatus(worst);
    if (!this.view || !this.visible) return;
    if (!this.synced) this.notesKey = null;
    this.syncNotes();
    const cs = vega.changeset();
    if (!this.synced) {
      // First draw (or a backlog too long to replay): the dataset becomes what the rings hold now.
      // Fresh tuples: Vega keeps a tuple that is both removed and inserted as unchanged, so a value that
      // moved meanwhile would not be redrawn.
      const all = [];
      for (const [e, ring] of this.rings) for (const p of ring.points) { p.s = this.names.get(e); p.tuple = null; all.push(this.tuple(p)); }
      cs.remove(vega.truthy).insert(all);
      this.synced = true;
    } else {
      const { insert, remove, modify } = this.pending;
      if (!insert.length && !remove.length && !modify.size) return;
      const removed = new Set(remove);
      const inserted = new Set(insert);
      cs.insert(insert.filter((p) => !removed.has(p)).map((p) => this.tuple(p)));
      for (const p of remove) if (p.tuple && !inserted.has(p)) cs.remove(p.tuple);
      // A full ring recycles its oldest point as the newest: one modified tuple, nothing removed.
      for (const p of modify) {
        if (!p.tuple || inserted.has(p) || removed.has(p)) continue;
        cs.modify(p.tuple, "v", p.v);
        cs.modify(p.tuple, "t", shownTime(p.t, p.x) + this.offset);
      }
    }
    this.pending = { insert: [], remove: [], modify: new Set() };
    this.view.change("points", cs).run();
  }
  // The open incidents' notes pinned to this indicator within the chart's window, drawn as labelled rules; the
  // dataset changes only when which notes fall in the window changes.
  syncNotes() {
    const t = now();
    const rows = (notes.get(this.spec.indicator) || [])
      .filter((n) => n.t >= t - this.spec.window_s * 1000 && n.t <= t + 60000)
      .map((n) => ({ t: n.t + this.offset, label: n.label }));
    const k = rows.map((r) => `${r.t}|${r.label}`).join("\n");
    if (k === this.notesKey) return;
    this.notesKey = k;
    this.view.change("notes", vega.changeset().remove(vega.truthy).insert(rows)).run();
  }
  // The chart's tuple of a ring point, made once per point (times shifted to the city's clock on a UTC scale).
  tuple(p) {
    if (!p.tuple) p.tuple = { t: 0, v: 0, s: p.s };
    p.tuple.t = shownTime(p.t, p.x) + this.offset;
    p.tuple.v = p.v;
    return p.tuple;
  }
}

class RankingPanel extends ChartPanel {
  constructor(spec, el) {
    super(spec, el);
    // One tuple per entity for the life of the view; updates modify them (and `show` filters the top N),
    // so Vega never accumulates removed marks.
    this.tuples = new Map(spec.entities.map((e, n) => [e, { label: entName(e), v: 0, status: "unknown", text: "", rank: 1000 + n, show: false }]));
  }
  series() { return this.spec.entities.map((e) => [this.spec.indicator, e]); }
  render() {
    const t = now();
    const meta = ind(this.spec.indicator);
    const rows = [];
    let worst = "unknown";
    for (const e of this.spec.entities) {
      const s = live.get(key(this.spec.indicator, e));
      if (!s) continue;
      const status = statusOf(s, t);
      worst = worse(worst, status);
      rows.push({ e, v: s.v, status });
    }
    this.setStatus(worst);
    if (!this.view || !this.visible) return;
    const sign = meta.direction === "below" ? 1 : -1;
    if (this.spec.order === "asc") rows.sort((a, b) => a.v - b.v);
    else if (this.spec.order === "desc") rows.sort((a, b) => b.v - a.v);
    else rows.sort((a, b) => (ORDER[b.status] - ORDER[a.status]) || sign * (a.v - b.v));
    const next = new Map();
    rows.slice(0, this.spec.top).forEach((r, n) => next.set(r.e, {
      v: r.v, status: r.status, rank: n, show: true,
      text: `${fmtValue(this.spec.indicator, r.v)}${statusMark(r.status)}`,
    }));
    const refit = this.fitBars(rows.slice(0, this.spec.top), next);
    if (!this.inserted) {
      for (const [e, tuple] of this.tuples) Object.assign(tuple, next.get(e) || { show: false });
      this.view.change("rows", vega.changeset().insert([...this.tuples.values()])).run();
      this.inserted = true;
      return;
    }
    const cs = vega.changeset();
    let changed = false;
    for (const [e, tuple] of this.tuples) {
      const want = next.get(e) || { show: false };
      for (const [field, value] of Object.entries(want)) {
        if (tuple[field] !== value) { cs.modify(tuple, field, value); changed = true; }
      }
    }
    if (changed) this.view.change("rows", cs).run();
    else if (refit) this.view.run();
  }
  // The longest bar leaves room for its value and status word after it: the x scale ends at `xmax`.
  fitBars(rows, next) {
    const width = this.view.width();
    if (!rows.length || !(width > 0)) return false;
    const u = parseFloat(getComputedStyle(document.documentElement).fontSize) / 16;
    const ctx = (RankingPanel.canvas ||= document.createElement("canvas")).getContext("2d");
    ctx.font = `700 ${20 * u}px "Pretendard Variable", Pretendard, sans-serif`;
    let xmax = 0;
    for (const r of rows) {
      const room = width - ctx.measureText(next.get(r.e).text).width - 14 * u;
      xmax = Math.max(xmax, room > width * 0.2 ? r.v * width / room : r.v * 5);
    }
    if (!(xmax > 0) || xmax === this.xmax) return false;
    this.xmax = xmax;
    this.view.signal("xmax", xmax);
    return true;
  }
}
// Inside Vega text a status is its mark and word, so colour is never the only signal; 정상 and 기준 없음 say
// nothing (the bar's neutral colour does), the rest do.
const statusMark = (st) => (inForce(st) ? ` ${MARK[st]}${word(st)}` : st === "stale" ? ` ${word(st)}` : "");
