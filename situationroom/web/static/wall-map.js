// The map panel: the 행정동 shaded by their worst status, labelled with how many series are at a crisis
// level, the city centre in an inset, and labels that never overlap.
// One of the wall's scripts (pages.py loads them in order, wall.js last); they share the page's script scope.
"use strict";

// The 행정동 shaded by the worst status of what is measured in them, each labelled with how many series
// are at a crisis level (오천읍 ◆6): when the whole city is bad, where it is worst still reads. The city
// centre's small districts are drawn again, larger, in an inset where their counts fit.
class MapPanel extends ChartPanel {
  constructor(spec, el) {
    super(spec, el);
    this.scope = new Set(spec.indicators);
    this.inset = null;
    const legend = document.createElement("div");
    legend.className = "legend";
    legend.innerHTML = ["normal", "info", "warning", "critical", "severe", "none", "stale"].map(chip).join("");
    el.appendChild(legend);
  }
  seriesForFreshness() { return seriesOf(this.scope); }
  // The inset goes in the corner of the map the city leaves empty (the server found which: the spec's
  // usermeta.corner, fractions of the map's box), reaching out to the panel's edges, once the whole map
  // is drawn and its box is known.
  placeInset() {
    if (!this.spec.inset || this.inset || this.insetEmbedding || this.insetTried) return;
    const land = this.bodyEl.querySelector(".chart g.mark-shape");   // the districts, the first layer
    if (!land) return;
    this.insetTried = true;
    const body = this.bodyEl.getBoundingClientRect();
    const b = land.getBoundingClientRect();
    const { corner, w, h } = this.spec.inset.usermeta.corner;
    const fw = Math.max(0, w - 0.04), fh = Math.max(0, h - 0.03);   // a little short of the land
    const left = corner[1] === "e" ? b.left - body.left + (1 - fw) * b.width : 0;
    const width = corner[1] === "e" ? body.width - left : b.left - body.left + fw * b.width;
    const top = corner[0] === "n" ? 0 : b.top - body.top + (1 - fh) * b.height;
    const height = corner[0] === "n" ? b.top - body.top + fh * b.height : body.height - top;
    const rem = parseFloat(getComputedStyle(document.documentElement).fontSize);
    if (width < 9 * rem || height < 9 * rem) return;   // no room on this panel: the whole map alone
    const box = document.createElement("div");
    box.className = "inset";
    // Anchored to the panel's own edges (right, bottom) where it reaches them, so it stays inside the map's
    // box if the legend below later takes a second line.
    Object.assign(box.style, { width: `${width}px`, height: `${height}px` },
      corner[1] === "e" ? { right: "0px" } : { left: "0px" }, corner[0] === "n" ? { top: "0px" } : { bottom: "0px" });
    box.innerHTML = `<span class="caption">${esc(WORDS.centre)}</span><div class="target"></div>`;
    this.bodyEl.appendChild(box);
    const spec = scaleSpec(JSON.parse(JSON.stringify(this.spec.inset)));
    this.insetEmbedding = vegaEmbed(box.querySelector(".target"), spec, { actions: false, renderer: "svg", tooltip: false, defaultStyle: false })
      .then((res) => { this.inset = res.view; this.insetEmbedding = null; this.synced = false; this.render(); })
      .catch(() => { this.insetEmbedding = null; box.remove(); });
  }
  destroy() { super.destroy(); if (this.inset) this.inset.finalize(); this.inset = null; }
  // The map was fitted to a box of another size (the exercise band came or went): place the inset anew.
  refit() {
    if (this.insetEmbedding) return;
    if (this.inset) this.inset.finalize();
    this.inset = null;
    this.insetTried = false;
    const box = this.bodyEl.querySelector(".inset");
    if (box) box.remove();
    if (this.view) this.view.runAsync().then(() => this.placeInset());
  }
  render() {
    const t = now();
    const cells = new Map();   // 행정동 code -> { st: worst status, n: series at a crisis level }
    let worst = "unknown";
    for (const s of live.values()) {
      if (!this.scope.has(s.i)) continue;
      const ent = def.entities[s.e];
      const status = statusOf(s, t);
      worst = worse(worst, status);
      if (!ent) continue;
      for (const c of ent.cells) {
        const cell = cells.get(c) || { st: "unknown", n: 0 };
        cell.st = worse(cell.st, status);
        if (inForce(status)) cell.n += 1;
        cells.set(c, cell);
      }
    }
    this.setStatus(worst);
    if (!this.view || !this.visible) return;
    this.placeInset();
    const sig = JSON.stringify([...cells]);
    if (sig === this.sig && this.synced) return;
    this.sig = sig;
    this.synced = true;
    const statusOfCell = (d) => (cells.get(d.code) || { st: "unknown" }).st;
    // Only districts where a level is in force carry a label: its name, the worst level's mark and how many
    // series are at a level; the inset's small districts carry the mark and count under a short name.
    const label = (short) => (d) => {
      const cell = cells.get(d.code);
      if (!cell || !cell.n) return "";
      const e = def.entities[d.code];
      // "Gibuk", not "Gibuk-myeon": the suffix adds width, not meaning, from across the room.
      const name = e ? e.name[LANG].replace(/-(myeon|eup|dong)$/, "") : d.code;
      return short ? `${MARK[cell.st] || ""}${cell.n}` : `${name} ${MARK[cell.st] || ""}${cell.n}`;
    };
    for (const [view, short] of [[this.view, false], [this.inset, true]]) {
      if (!view) continue;
      view.change("districts", vega.changeset().modify(vega.truthy, "status", statusOfCell));
      view.change("labels", vega.changeset().modify(vega.truthy, "text", label(short)).modify(vega.truthy, "status", statusOfCell));
    }
    Promise.all([this.view.runAsync(), this.inset ? this.inset.runAsync() : null])
      .then(() => { this.declutter(this.bodyEl.querySelector(".chart"), this.view); this.declutter(this.bodyEl.querySelector(".inset"), this.inset); })
      .catch(() => null);
  }
  // Two labels on top of each other read as neither. The worst districts are placed first (level, then
  // count, then size); a label that would overlap one already placed moves just above or below its point,
  // and only when neither is free does it give way. Halo and fill layers move together.
  declutter(root, view) {
    if (!root || !view) return;
    const layers = [...root.querySelectorAll("g.mark-text")].map((g) => [...g.querySelectorAll("text")]);
    if (!layers.length) return;
    const fill = layers[layers.length - 1];
    const data = view.data("labels") || [];
    const order = fill.map((_, i) => i).sort((a, b) => {
      const da = data[a] || {}, db = data[b] || {};
      return ((ORDER[db.status] || 0) - (ORDER[da.status] || 0)) || (count(db.text) - count(da.text)) || (a - b);
    });
    const placed = [];
    const hits = (b) => placed.some((o) => b.x < o.x + o.width && o.x < b.x + b.width && b.y < o.y + o.height && o.y < b.y + b.height);
    for (const i of order) {
      const el = fill[i];
      for (const layer of layers) if (layer[i]) { layer[i].style.translate = ""; layer[i].style.visibility = ""; }
      if (!el.textContent) continue;
      const b = el.getBoundingClientRect();  // screen box: each text has its own translate()
      const shift = [0, -b.height, b.height].find((dy) => !hits({ x: b.x, y: b.y + dy, width: b.width, height: b.height }));
      for (const layer of layers) {
        if (!layer[i]) continue;
        if (shift === undefined) layer[i].style.visibility = "hidden";
        else if (shift) layer[i].style.translate = `0px ${shift}px`;
      }
      if (shift !== undefined) placed.push({ x: b.x, y: b.y + shift, width: b.width, height: b.height });
    }
  }
}
// The number at the end of a map label (오천읍 ■6 -> 6).
const count = (text) => parseInt(String(text || "").replace(/^.*?(\d+)$/, "$1"), 10) || 0;
