// The citizens' page (/public): reads the public API (no token; answers cached by the server and the browser) and
// draws the status now, the 행정동 map with its table in words, each indicator's last 24 hours with the numbers said
// in its caption, and the latest disaster texts. Simulated data is said to be simulated, at the top, in words.
"use strict";

(() => {
  const PAGE = JSON.parse(document.getElementById("page-data").textContent);
  const W = PAGE.words;
  const LANG = document.documentElement.lang === "en" ? "en" : "ko";
  const STATUS = new Map(PAGE.statuses.map((s) => [s.id, s]));
  const rank = (id) => (STATUS.get(id) || STATUS.get("unknown")).rank;
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const name = (o) => (LANG === "ko" ? o.name_ko : o.name_en);
  const unitOf = (ind) => (LANG === "ko" ? ind.unit : ind.unit_en);
  let tz = "Asia/Seoul";
  let clock = null;        // the replay's simulated clock, when what is shown is simulated during one

  // ------------------------------------------------------------------------------------------ words and numbers
  function chip(id) {
    const s = STATUS.get(id) || STATUS.get("unknown");
    return `<span class="st st-${s.id}"><span class="mark" aria-hidden="true">${s.mark || "○"}</span>${esc(LANG === "ko" ? s.ko : s.en)}</span>`;
  }
  const word = (id) => { const s = STATUS.get(id) || STATUS.get("unknown"); return LANG === "ko" ? s.ko : s.en; };
  function num(ind, v) {
    if (v === null || v === undefined || !Number.isFinite(v)) return "–";
    if (ind.labels && ind.labels[String(Math.round(v))]) return ind.labels[String(Math.round(v))][LANG];
    return new Intl.NumberFormat(LANG === "ko" ? "ko-KR" : "en-GB", { maximumFractionDigits: ind.decimals }).format(v);
  }
  const withUnit = (ind, v) => (ind.labels ? num(ind, v) : `${num(ind, v)} ${unitOf(ind)}`.trim());
  function when(ts, full = false) {
    const f = new Intl.DateTimeFormat(LANG === "ko" ? "ko-KR" : "en-GB", {
      timeZone: tz, hour: "2-digit", minute: "2-digit", hourCycle: "h23",
      ...(full ? { year: "numeric", month: "short", day: "numeric" } : {}) });
    return f.format(new Date(ts * 1000));
  }
  const simTag = (x) => (x ? ` <span class="tag sim">${W.sim}</span>` : "");

  // ------------------------------------------------------------------------------------------ exercise
  function simNow() {
    if (!clock) return null;
    let elapsed = (Date.now() / 1000 - clock.anchor) * clock.speed;
    if (clock.loop && clock.duration) elapsed = ((elapsed % clock.duration) + clock.duration) % clock.duration;
    return clock.start + elapsed;
  }
  function drawExercise(on) {
    const band = $("exercise");
    band.hidden = !on;
    document.body.dataset.exercise = String(on);
    if (!on) { band.innerHTML = ""; return; }
    const scenario = clock ? esc((LANG === "ko" ? clock.name_ko : clock.name_en) || "") : "";
    band.innerHTML = `<p class="big"><span class="mark" aria-hidden="true">⚠</span> ${W.exercise}</p>` +
      `<p>${W.exercise_more}${clock ? ` ${scenario} · ${W.sim_time} <time id="simclock"></time> (${clock.speed}${LANG === "ko" ? "" : "×"} ${W.speed})` : ""}</p>`;
    tick();
  }
  function tick() {
    const el = $("simclock");
    const t = simNow();
    if (el && t !== null) el.textContent = when(t, true);
  }

  // ------------------------------------------------------------------------------------------ now
  function drawNow(st) {
    const city = st.indicators.map((i) => i.status);
    const worst = city.reduce((a, b) => (rank(b) > rank(a) ? b : a), "unknown");
    const bad = st.indicators.filter((i) => i.now && rank(i.status) >= rank("info"))
      .sort((a, b) => rank(b.status) - rank(a.status));
    const items = bad.map((i) => `<li>${chip(i.status)} <b>${esc(name(i))}</b> ${esc(withUnit(i, i.now.value))}` +
      ` <span class="where">${W.where} ${esc(LANG === "ko" ? i.now.entity_ko : i.now.entity_en)}</span>` +
      ` <time>${when(i.now.ts)}</time>${simTag(i.now.exercise)}</li>`).join("");
    $("overall").innerHTML = `<p class="headline">${W.city_status}: ${chip(worst)}</p>` +
      (items ? `<ul class="alerts">${items}</ul>` : `<p>${W.all_ok}</p>`);
  }

  // ------------------------------------------------------------------------------------------ map and its table
  let mapView = null;
  async function drawMap(st) {
    const byCode = new Map(st.districts.map((d) => [d.code, d]));
    const spec = structuredClone(PAGE.map);
    for (const f of spec.datasets.districts) f.status = (byCode.get(f.code) || {}).status || "unknown";
    for (const l of spec.datasets.labels) {
      const s = STATUS.get((byCode.get(l.code) || {}).status || "unknown");
      l.status = s.id; l.text = s.mark;
    }
    if (mapView) mapView.finalize();
    mapView = (await vegaEmbed($("map-view").querySelector(".target"), spec, { actions: false, renderer: "svg", tooltip: false, defaultStyle: false })).view;
  }
  function drawDistricts(st) {
    const inds = new Map(st.indicators.map((i) => [i.id, i]));
    const rows = [...st.districts].sort((a, b) => name(a).localeCompare(name(b), LANG));
    const body = rows.map((d) => {
      const notable = d.readings.filter((r) => rank(r.status) >= rank("stale"));
      let why;
      if (!d.readings.length) why = W.no_data;
      else if (!notable.length) why = W.all_ok;
      else why = notable.map((r) => { const i = inds.get(r.indicator); return `${esc(name(i))} ${esc(withUnit(i, r.value))} (${esc(word(r.status))})`; }).join("; ");
      return `<tr data-code="${esc(d.code)}"><th scope="row">${esc(name(d))}</th><td>${chip(d.status)}</td><td>${why}</td></tr>`;
    }).join("");
    $("district-table").innerHTML = `<table><caption class="visually-hidden">${esc(W.district)} · ${esc(W.status)}</caption>` +
      `<thead><tr><th scope="col">${W.district}</th><th scope="col">${W.status}</th><th scope="col">${W.why}</th></tr></thead><tbody>${body}</tbody></table>`;
  }

  // ------------------------------------------------------------------------------------------ indicators
  const views = new Map();
  function caption(ind, series) {
    if (!ind.now) return W.no_history;
    if (ind.labels) return `${W.now} ${num(ind, ind.now.value)}`;   // a level (advisory) has no high and low
    const values = series ? series.points.map((p) => p.value).filter(Number.isFinite) : [];
    values.push(ind.now.value);
    const hi = Math.max(...values), lo = Math.min(...values);
    return `${W.now} ${withUnit(ind, ind.now.value)}, ${W.high} ${num(ind, hi)}, ${W.low} ${num(ind, lo)}` +
      (series && series.points.length ? ` (${series.aggregate === "min" ? W.lowest_place : W.highest_place})` : "");
  }
  async function drawCards(st, hist) {
    const bySeries = new Map(hist.series.map((s) => [s.indicator, s]));
    const offset = hist.utc_offset_s * 1000;
    const parts = [];
    for (const dom of st.domains) {
      const inds = st.indicators.filter((i) => i.domain === dom.id);
      const cards = inds.map((i) => {
        const s = bySeries.get(i.id);
        const chart = !i.labels && s && s.points.length > 1;
        const reading = i.now ? `<p class="value">${chip(i.status)} <b>${esc(withUnit(i, i.now.value))}</b></p>` +
          `<p class="meta">${W.where} ${esc(LANG === "ko" ? i.now.entity_ko : i.now.entity_en)} · <time>${when(i.now.ts)}</time>${simTag(i.now.exercise)}` +
          ` · ${esc(W.places.replace("{n}", i.places).replace("{k}", i.reporting))}</p>` : `<p class="value">${chip("unknown")}</p>`;
        return `<article class="card" id="card-${esc(i.id)}" data-indicator="${esc(i.id)}"><h4>${esc(name(i))}${i.labels ? "" : ` <span class="unit">(${esc(unitOf(i))})</span>`}</h4>${reading}` +
          `<figure>${chart ? `<div class="line" aria-hidden="true"><div class="target"></div></div>` : ""}<figcaption>${esc(caption(i, s))}</figcaption></figure></article>`;
      }).join("");
      parts.push(`<section class="domain" aria-labelledby="dom-${esc(dom.id)}"><h3 id="dom-${esc(dom.id)}">${esc(name(dom))}</h3><div class="cards">${cards}</div></section>`);
    }
    for (const v of views.values()) v.finalize();
    views.clear();
    $("cards").innerHTML = parts.join("");
    for (const el of document.querySelectorAll("#cards .line")) {
      const id = el.closest(".card").dataset.indicator;
      const spec = structuredClone(PAGE.line);
      spec.datasets = { points: bySeries.get(id).points.map((p) => ({ t: p.t * 1000 + offset, v: p.value })) };
      const { view } = await vegaEmbed(el.querySelector(".target"), spec, { actions: false, renderer: "svg", tooltip: false, defaultStyle: false });
      views.set(id, view);
    }
  }

  // ------------------------------------------------------------------------------------------ messages
  function drawMessages(m) {
    if (!m.messages.length) { $("message-list").innerHTML = `<p>${W.no_messages}</p>`; return; }
    const level = { info: "info", warning: "warning", critical: "severe" };
    $("message-list").innerHTML = `<ol class="messages">${m.messages.map((x) =>
      `<li>${simTag(x.exercise)}${chip(level[x.severity])} <b>${esc(LANG === "ko" ? x.step_ko : x.step_en)}</b> ` +
      `<time>${when(x.ts, true)}</time><p lang="${LANG === "ko" ? "ko" : "en"}">${esc(LANG === "ko" ? x.text_ko : x.text_en)}</p>` +
      `<p class="meta">${W.areas}: ${esc((LANG === "ko" ? x.areas_ko : x.areas_en).join(", "))}</p></li>`).join("")}</ol>`;
  }

  // ------------------------------------------------------------------------------------------ refresh
  async function get(path) {
    const r = await fetch(path);
    if (!r.ok) throw new Error(`${path}: ${r.status}`);
    return r.json();
  }
  async function refresh() {
    try {
      const [st, hist, msgs] = await Promise.all([get("/api/v1/public/status"), get("/api/v1/public/history?hours=24"),
        get("/api/v1/public/messages?hours=24")]);
      tz = st.city.timezone || tz;
      clock = st.clock || hist.clock || msgs.clock;
      drawExercise(st.exercise || msgs.messages.some((x) => x.exercise));
      drawNow(st);
      drawDistricts(st);
      drawMessages(msgs);
      await drawMap(st);
      await drawCards(st, hist);
      // During a replay the page's times are simulated; when it was computed is not: said so.
      $("updated").textContent = `${clock ? W.updated_real : W.updated} ${when(st.generated_at, true)}`;
      document.body.dataset.ready = "true";
      failures = 0;
    } catch (err) {
      $("updated").textContent = W.error;
      console.warn(err);
      failures += 1;
    }
    // After a failure (a server restarting, a blip of the city network) try again soon, backing off to the usual
    // pace, so a citizen who opened the page at the wrong moment is not left with an error for the whole interval.
    const every = Math.max(30, PAGE.every_s * 2);
    setTimeout(refresh, (failures ? Math.min(every, 2 ** failures) : every) * 1000);
  }
  let failures = 0;
  refresh();
  setInterval(tick, 1000);
})();
