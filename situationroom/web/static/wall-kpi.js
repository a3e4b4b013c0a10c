// The KPI tile: a series' value, unit, trend and status, its sparkline with its span and range, fitted to the
// tile; a comparison with the past under it (wall-compare.js).
// One of the wall's scripts (pages.py loads them in order, wall.js last); they share the page's script scope.
"use strict";

class KpiPanel extends Panel {
  constructor(spec, el) {
    super(spec, el);
    this.k = key(spec.indicator, spec.entity);
    el.dataset.indicator = spec.indicator;
    el.dataset.entity = spec.entity;
    // The sparkline says what it spans and between which values it moves (its top and bottom).
    this.bodyEl.innerHTML = `<div class="row"><span class="value">–</span><span class="unit"></span><span class="trend"></span></div>
        <div class="status"></div><div class="sparkbox"><span class="hi"></span><span class="span"></span>
        <span class="lo"></span><svg class="spark" viewBox="0 0 100 40" preserveAspectRatio="none"></svg></div>`;
    this.valueEl = this.bodyEl.querySelector(".value");
    this.unitEl = this.bodyEl.querySelector(".unit");
    this.trendEl = this.bodyEl.querySelector(".trend");
    this.statusEl = this.bodyEl.querySelector(".status");
    this.sparkEl = this.bodyEl.querySelector(".spark");
    this.hiEl = this.bodyEl.querySelector(".sparkbox .hi");
    this.loEl = this.bodyEl.querySelector(".sparkbox .lo");
    this.spanEl = this.bodyEl.querySelector(".sparkbox .span");
    if (!sparks.has(this.k)) sparks.set(this.k, new Ring(spec.spark_s * 1000, 120, spec.spark_s <= LONG_S));
    this.unitEl.textContent = unitOf(spec.indicator);
    this.last = "";
  }
  series() { return [[this.spec.indicator, this.spec.entity]]; }
  render() {
    const s = live.get(this.k);
    const t = now();
    const status = s ? statusOf(s, t) : "unknown";
    this.setStatus(status);
    const value = s ? fmtValue(this.spec.indicator, s.v) : "–";
    if (this.valueEl.textContent !== value) {
      // A value longer than the one the size was fitted to starts over from full size.
      if (value.length !== this.valueEl.textContent.length) this.el.style.removeProperty("--fit");
      this.valueEl.textContent = value;
    }
    let trend = "";
    if (s && typeof s.r === "number") {
      const meta = ind(this.spec.indicator);
      const eps = Math.max(Math.pow(10, -meta.decimals), Math.abs(s.v) * 0.005) / 5;  // per minute
      const dir = s.r > eps ? "up" : s.r < -eps ? "down" : "flat";
      const bad = meta.direction === "below" ? "down" : "up";
      const cls = dir === "flat" || !meta.direction ? "flat" : dir === bad ? "worse" : "better";
      trend = `<span class="trend ${cls}" data-trend="${dir}">${icon(dir)}</span>`;
    }
    if (this.trendEl.dataset.html !== trend) { this.trendEl.outerHTML = trend || '<span class="trend"></span>'; this.trendEl = this.bodyEl.querySelector(".trend"); this.trendEl.dataset.html = trend; }
    const when = s ? hmFmt.format(shownTime(s.t, s.x)) : "";
    const statusHtml = `${chip(status)}<span>${esc(when)}</span>`;
    if (this.statusEl.dataset.html !== statusHtml) { this.statusEl.innerHTML = statusHtml; this.statusEl.dataset.html = statusHtml; }
    this.drawSpark();
    if (this.spec.compare) WallCompare.kpi(this, s);
    this.fit();
  }
  // Make the value smaller, a step at a time, while the tile's content does not fit it (a long value in a
  // narrow tile, a station's name on two lines): never cut, never spilling onto the next tile.
  fit() {
    const b = this.bodyEl;
    let fit = parseFloat(this.el.style.getPropertyValue("--fit")) || 1;
    while (fit > 0.45 && (b.scrollWidth > b.clientWidth + 1 || b.scrollHeight > b.clientHeight + 1 ||
                          this.el.scrollHeight > this.el.clientHeight + 1)) {
      fit -= 0.05;
      this.el.style.setProperty("--fit", fit.toFixed(2));
    }
  }
  drawSpark() {
    const ring = sparks.get(this.k);
    const p = ring.points;
    if (p.length < 2) {
      this.sparkEl.innerHTML = "";
      this.hiEl.textContent = this.spanEl.textContent = this.loEl.textContent = "";
      return;
    }
    let lo = Infinity, hi = -Infinity;
    for (const q of p) { if (q.v < lo) lo = q.v; if (q.v > hi) hi = q.v; }
    const unit = unitOf(this.spec.indicator);
    const hiText = `${fmtValue(this.spec.indicator, hi)}${unit ? " " + unit : ""}`;
    const loText = `${fmtValue(this.spec.indicator, lo)}${unit ? " " + unit : ""}`;
    if (this.hiEl.textContent !== hiText) this.hiEl.textContent = hiText;
    // The span the line really covers (a series, or a replay, younger than the window has less), said in the time
    // the wall shows: during a replay, simulated hours.
    const covered = Math.min(this.spec.spark_s * 1000, p[p.length - 1].t - p[0].t);
    const spanText = `${WORDS.last} ${fmtSpan(shownSpan(covered, p[p.length - 1].x) / 1000)}`;
    if (this.spanEl.textContent !== spanText) this.spanEl.textContent = spanText;
    if (this.loEl.textContent !== loText) this.loEl.textContent = loText;
    if (hi - lo < 1e-9) { hi += 1; lo -= 1; }
    const t0 = p[0].t, span = Math.max(1, p[p.length - 1].t - t0);
    const pts = p.map((q) => `${((q.t - t0) / span * 100).toFixed(2)},${(38 - (q.v - lo) / (hi - lo) * 36).toFixed(2)}`).join(" ");
    this.sparkEl.innerHTML = `<polyline points="${pts}"/>`;
  }
}
