// The wall display: draws a dashboard once from /api/v1/dashboards/<name>, then keeps it live over /ws
// (docs/websocket.md). Built to run unattended for weeks: bounded buffers, no view rebuilt on updates,
// reconnects with backoff, says so when data or the connection stops, reloads when the server is upgraded.
"use strict";

(() => {
  const body = document.body;
  // The dashboard shown; the wall at `/` (data-follow) switches it to the boards of the open incidents' hazards and
  // back to its own (HOME) when they end (docs/incidents.md).
  const HOME = body.dataset.dashboard;
  const FOLLOW = body.dataset.follow === "1";
  let NAME = HOME;
  const LANG = body.dataset.lang === "en" ? "en" : "ko";
  const BUILD = body.dataset.build;
  const LOCALE = LANG === "ko" ? "ko-KR" : "en-GB";
  // The one status scale (situationroom/status.py, sent with the dashboard as `scale`): its order, words,
  // marks and icons; its colours are the page's CSS variables --st-<id>. Filled in by useScale().
  const ORDER = {};
  const MARK = {};
  const BY_LEVEL = [];           // crisis level 1-4 -> status id (info, warning, critical, severe)
  const WORDS = {
    ko: {
      asOf: "데이터", asOfSuffix: "기준", noData: "데이터 없음", lost: "연결 끊김", lostEn: "Connection lost",
      lastData: "마지막 데이터", retry: "재연결 시도", inSec: "초 후", connecting: "연결 중",
      allClear: "발령 중인 경보 없음", since: "부터", more: "건 더", configError: "대시보드 파일 오류",
      lastGood: "마지막 정상 버전 표시 중", staleSince: "지연 · 마지막", ago: "전", sec: "초", min: "분",
      hour: "시간", day: "일", noMessages: "수신된 재난문자 없음",
      noDashboard: "표시할 대시보드가 없습니다", acked: "확인", now: "현재", peak: "최고", centre: "시내",
      last: "최근", range: "범위",
      exercise: "훈련", exerciseBand: "훈련 상황 · 실제 상황이 아닙니다", exerciseOther: "EXERCISE — not a real situation",
      drill: "훈련", simulated: "모의 시각", sim: "모의", speed: "배속", incidentSince: (t) => `${t}부터`,
      withheld: "열람 권한 없음", withheldWhy: "부서 한정 지표: 이 화면의 로그인으로는 볼 수 없습니다",
      // A disaster text's own class (행정안전부): 위급재난, 긴급재난, 안전안내 — not a status of the city.
      msg: { critical: "위급재난", warning: "긴급재난", info: "안전안내" },
    },
    en: {
      asOf: "Data as of", asOfSuffix: "", noData: "no data", lost: "Connection lost", lostEn: "연결 끊김",
      lastData: "last data", retry: "reconnecting", inSec: "s", connecting: "connecting",
      allClear: "No alerts firing", since: "since", more: "more", configError: "Dashboard file error",
      lastGood: "showing the last good version", staleSince: "stale · last", ago: "ago", sec: "s", min: "min",
      hour: "h", day: "d", noMessages: "No disaster messages",
      noDashboard: "No dashboard to show", acked: "acknowledged", now: "now", peak: "peak", centre: "City centre",
      last: "last", range: "range",
      exercise: "EXERCISE", exerciseBand: "EXERCISE · not a real situation", exerciseOther: "훈련 상황 — 실제 상황이 아닙니다",
      drill: "Drill", simulated: "simulated time", sim: "simulated", speed: "speed", incidentSince: (t) => `since ${t}`,
      withheld: "Not yours to read", withheldWhy: "restricted to departments: this screen's sign-in may not read it",
      msg: { critical: "extreme", warning: "emergency", info: "safety notice" },
    },
  }[LANG];

  // ------------------------------------------------------------------------------------------ icons
  // Inline SVG so the symbols never depend on a font having the glyph.
  // One shape per status, as the scale's `mark` characters: ● 관심, ▲ 주의, ◆ 경계, ■ (a stop sign) 심각.
  const ICONS = {
    normal: '<circle cx="12" cy="12" r="9.5" fill="none" stroke="currentColor" stroke-width="2.4"/><path d="M7.5 12.5l3 3 6-6.5" stroke="currentColor" stroke-width="2.6" fill="none" stroke-linecap="round" stroke-linejoin="round"/>',
    none: '<circle cx="12" cy="12" r="9.5" fill="none" stroke="currentColor" stroke-width="2.4"/><path d="M7.5 12h9" stroke="currentColor" stroke-width="2.6" stroke-linecap="round"/>',
    info: '<circle cx="12" cy="12" r="10" fill="currentColor"/><path d="M12 10.5v7" stroke="var(--chip-bg, #0a0f15)" stroke-width="2.6" stroke-linecap="round"/><circle cx="12" cy="6.8" r="1.6" fill="var(--chip-bg, #0a0f15)"/>',
    warning: '<path d="M12 2.5L23 21.5H1z" fill="currentColor"/><path d="M12 9v6" stroke="var(--chip-bg, #0a0f15)" stroke-width="2.6" stroke-linecap="round"/><circle cx="12" cy="18.3" r="1.5" fill="var(--chip-bg, #0a0f15)"/>',
    critical: '<path d="M12 1l11 11-11 11L1 12z" fill="currentColor"/><path d="M12 7v6.5" stroke="var(--chip-bg, #0a0f15)" stroke-width="2.6" stroke-linecap="round"/><circle cx="12" cy="17" r="1.5" fill="var(--chip-bg, #0a0f15)"/>',
    severe: '<path d="M8 1.5h8l6.5 6.5v8L16 22.5H8L1.5 16V8z" fill="currentColor"/><path d="M12 6.5v7" stroke="var(--chip-bg, #0a0f15)" stroke-width="2.8" stroke-linecap="round"/><circle cx="12" cy="17.5" r="1.7" fill="var(--chip-bg, #0a0f15)"/>',
    stale: '<circle cx="12" cy="12" r="9.5" fill="none" stroke="currentColor" stroke-width="2.4"/><path d="M12 6.5V12l4 2.5" stroke="currentColor" stroke-width="2.4" fill="none" stroke-linecap="round"/>',
    unknown: '<circle cx="12" cy="12" r="9" fill="none" stroke="currentColor" stroke-width="2.4" stroke-dasharray="4 3"/>',
    up: '<path d="M12 3l8 9h-5v9H9v-9H4z" fill="currentColor"/>',
    lock: '<rect x="4.5" y="10.5" width="15" height="11" rx="2" fill="currentColor"/><path d="M8 10.5V7a4 4 0 0 1 8 0v3.5" fill="none" stroke="currentColor" stroke-width="2.4"/>',
    down: '<path d="M12 21l8-9h-5V3H9v9H4z" fill="currentColor"/>',
    flat: '<path d="M21 12l-9-8v5H3v6h9v5z" fill="currentColor"/>',
    plug: '<path d="M7 2v6M17 2v6M5 8h14v4a7 7 0 0 1-14 0zM12 19v3" stroke="currentColor" stroke-width="2.4" fill="none" stroke-linecap="round"/><path d="M3 3l18 18" stroke="currentColor" stroke-width="2.6" stroke-linecap="round"/>',
  };
  const icon = (name) => `<svg class="icon" viewBox="0 0 24 24" aria-hidden="true">${ICONS[name] || ""}</svg>`;
  const word = (status) => WORDS[status] || status;
  // A status is never colour alone: the chip has the icon and the word.
  const chip = (status) => `<span class="chip ${status}" data-st="${status}">${icon(status)}${word(status)}</span>`;
  const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
  // An alert's crisis level 1-4 is the status of the same name: 관심 info, 주의 warning, 경계 critical, 심각 severe.
  const levelStatus = (level) => BY_LEVEL[level] || "warning";
  const levelChip = (level) => chip(levelStatus(level));
  function useScale(scale) {
    for (const st of scale || []) {
      ORDER[st.id] = st.rank;
      WORDS[st.id] = st[LANG];
      MARK[st.id] = st.mark;
      if (st.level) BY_LEVEL[st.level] = st.id;
    }
  }
  // At or above 관심: a level is in force (what the map and the domain tiles count).
  const inForce = (status) => (ORDER[status] || 0) >= (ORDER.info || 4);

  // ------------------------------------------------------------------------------------------ state
  let def = null;                 // the resolved dashboard (GET /api/v1/dashboards/<name>)
  const live = new Map();         // "indicator\u0000entity" -> the state shown, one per series (bounded by the catalog)
  // Real and exercise states of a series are both kept; `live` holds the one shown: a running exercise while it
  // is fresh (marked as such), real data otherwise (docs/exercise.md). Each is bounded by the catalog too.
  const realLive = new Map();
  const exerciseLive = new Map();
  // The running drill, the collectors delivering exercise data and the simulated clock of a replay
  // (GET /api/v1/exercise, then the websocket's `exercise` frames).
  let exercise = { drill: null, sources: [], clock: null };
  let exerciseShown = false;      // any exercise value, alert or message on the screen now (the band is up)
  // The open incidents (GET /api/v1/incidents?state=open, then the websocket's `incidents` frames), highest level
  // first; `plan` the boards the wall at `/` goes through while they are open: their hazards' dashboards in that
  // order, each once (its own board when none is open).
  let incidents = [];
  let plan = [HOME];
  // Notes of the open incidents pinned to a time and an indicator: indicator -> [{t, label}] (read with this
  // screen's sign-in, so a restricted indicator's notes reach only a screen that may read it).
  let notes = new Map();
  let notesFrom = "";             // the incidents (id and last change) the notes were read for
  let messages = [];              // newest first, at most 50
  const alerts = new Map();       // fingerprint -> the alert role's pending or firing alert (bounded: rules × entities)
  let alertsDirty = true;
  let lastId = null;              // update-stream id of the last frame applied, for resume
  let clockOffset = 0;            // server clock minus ours (ms)
  let newestT = 0;                // event time of the freshest value shown
  let newestX = false;            // ... and whether it is exercise data
  let lastFrameAt = 0;            // when (our clock) the last data frame arrived
  let updates = 0;                // states received in deltas since the page loaded (a counter, for the soak)
  const dirty = new Set();        // indicator ids changed since the last render; "*" for everything
  const kpiDirty = new Set();     // series keys changed since the KPI tiles' last frame (renderKpisSoon)
  let withheld = new Set();       // restricted indicators this screen's sign-in may not read (the hello frame says)
  let messagesDirty = true;
  let panels = [];                // Panel objects of every page
  let pageEls = [];
  // ?page=2 starts on the second page (rotation goes on from there); ?rotate=0 holds it (for a desk screen).
  const params = new URLSearchParams(location.search);
  let current = Math.max(0, (parseInt(params.get("page"), 10) || 1) - 1);
  const ROTATE = params.get("rotate") !== "0";
  let rotateTimer = null;
  let topicsKey = "";

  const now = () => Date.now() + clockOffset;
  const LONG_S = 12 * 3600;       // a line over a longer span is drawn from hourly or daily buckets
  const key = (i, e) => i + "\u0000" + e;
  const grace = () => (def && def.stale_grace) || 2.5;
  const isStale = (s, t) => s.st === "stale" || t - s.t > s.n * 1000 * grace();
  const statusOf = (s, t) => (isStale(s, t) ? "stale" : s.st);
  const worse = (a, b) => ((ORDER[b] || 0) > (ORDER[a] || 0) ? b : a);
  const ind = (id) => def.indicators[id];
  const domainRank = (id) => Object.keys(def.domains).indexOf(ind(id).domain);
  const entName = (id) => { const e = def.entities[id]; return e ? e.name[LANG] : id; };

  // ------------------------------------------------------------------------------------------ formatting
  const tz = () => (def && def.city.timezone) || "Asia/Seoul";
  const fmtCache = new Map();
  function numFmt(decimals) {
    if (!fmtCache.has(decimals)) {
      fmtCache.set(decimals, new Intl.NumberFormat(LOCALE, { minimumFractionDigits: decimals, maximumFractionDigits: decimals }));
    }
    return fmtCache.get(decimals);
  }
  function fmtValue(indicatorId, v) {
    const meta = ind(indicatorId);
    if (v === null || v === undefined) return "–";
    const label = meta.labels[String(Math.round(v))];
    if (label && Object.keys(meta.labels).length) return label[LANG];
    return numFmt(meta.decimals).format(v);
  }
  const unitOf = (indicatorId) => {
    const meta = ind(indicatorId);
    return Object.keys(meta.labels).length ? "" : meta.unit[LANG];
  };
  let timeFmt = null, dateFmt = null, hmFmt = null;
  function makeFormats() {
    timeFmt = new Intl.DateTimeFormat(LOCALE, { timeZone: tz(), hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
    hmFmt = new Intl.DateTimeFormat(LOCALE, { timeZone: tz(), hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    dateFmt = new Intl.DateTimeFormat(LOCALE, { timeZone: tz(), year: "numeric", month: "long", day: "numeric", weekday: "short" });
  }
  makeFormats();
  // A sparkline's span: "3시간", "90분" / "3 h", "90 min".
  function fmtSpan(seconds) {
    const m = Math.round(seconds / 60);
    if (m >= 60 && m % 60 === 0) return `${m / 60}${LANG === "ko" ? "시간" : " h"}`;
    return `${m}${LANG === "ko" ? "분" : " min"}`;
  }
  function fmtAge(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return `${s}${WORDS.sec}`;
    if (s < 3600) return `${Math.round(s / 60)}${WORDS.min}`;
    if (s < 86400 * 2) return `${Math.floor(s / 3600)}${WORDS.hour} ${Math.round((s % 3600) / 60)}${WORDS.min}`;
    return `${Math.round(s / 86400)}${WORDS.day}`;
  }
  // ------------------------------------------------------------------------------------------ simulated time
  // During a replay the wall speaks the simulated time of its exercise data (docs/exercise.md): simulated =
  // start + (real − anchor) × speed, wrapped when the scenario loops. Real data keeps the real time.
  function replayClock() {
    const c = exercise.clock;
    if (!c || (c.speed === 1 && !c.loop && Math.abs(c.start - c.anchor) < 60)) return null;   // the ordinary day, now
    return c;
  }
  function simClock() { return exerciseShown ? replayClock() : null; }
  function simTime(ms) {
    const c = simClock();
    if (!c) return ms;
    let elapsed = (ms / 1000 - c.anchor) * c.speed;
    if (c.loop && c.duration) elapsed = ((elapsed % c.duration) + c.duration) % c.duration;
    return (c.start + elapsed) * 1000;
  }
  // An item's time and a span of it as the wall shows them: simulated for exercise data during a replay.
  const shownTime = (ms, x) => (x ? simTime(ms) : ms);
  const shownSpan = (ms, x) => { const c = x ? simClock() : null; return c ? ms * c.speed : ms; };


  // ------------------------------------------------------------------------------------------ bounded series
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

  class KpiPanel extends Panel {
    constructor(spec, el) {
      super(spec, el);
      this.k = key(spec.indicator, spec.entity);
      el.dataset.indicator = spec.indicator;
      el.dataset.entity = spec.entity;
      // The sparkline says what it spans and between which values it moves (its top and bottom).
      this.bodyEl.innerHTML = `<div class="row"><span class="value">–</span><span class="unit"></span><span class="trend"></span></div>
        <div class="status"></div><div class="sparkbox"><span class="hi"></span><span class="span">${esc(WORDS.last)} ${esc(fmtSpan(spec.spark_s))}</span>
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
      if (p.length < 2) { this.sparkEl.innerHTML = ""; this.hiEl.textContent = ""; this.loEl.textContent = ""; return; }
      let lo = Infinity, hi = -Infinity;
      for (const q of p) { if (q.v < lo) lo = q.v; if (q.v > hi) hi = q.v; }
      const unit = unitOf(this.spec.indicator);
      const hiText = `${fmtValue(this.spec.indicator, hi)}${unit ? " " + unit : ""}`;
      const loText = `${fmtValue(this.spec.indicator, lo)}${unit ? " " + unit : ""}`;
      if (this.hiEl.textContent !== hiText) this.hiEl.textContent = hiText;
      // During a replay the line covers that many simulated hours: the span is said in the time the wall shows.
      const spanText = `${WORDS.last} ${fmtSpan(shownSpan(this.spec.spark_s * 1000, p[p.length - 1].x) / 1000)}`;
      if (this.spanEl.textContent !== spanText) this.spanEl.textContent = spanText;
      if (this.loEl.textContent !== loText) this.loEl.textContent = loText;
      if (hi - lo < 1e-9) { hi += 1; lo -= 1; }
      const t0 = p[0].t, span = Math.max(1, p[p.length - 1].t - t0);
      const pts = p.map((q) => `${((q.t - t0) / span * 100).toFixed(2)},${(38 - (q.v - lo) / (hi - lo) * 36).toFixed(2)}`).join(" ");
      this.sparkEl.innerHTML = `<polyline points="${pts}"/>`;
    }
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

  // The alert role's firing alerts (docs/alerts.md), worst and newest first. One row per rule and severity:
  // heavy rain over six 행정동 is one line naming the worst place and how many more, as its notification is.
  // A row shows the place's value now — the live state the KPI tiles show, not the value the alert fired at —
  // and the worst it reached. Alerts held back by a down source are left out (the source has its own alert). A
  // silence mutes notifications only: a silenced alert stays in the list, as its own row marked 무음 with who set
  // it and until when, below the unsilenced rows of its level.
  // A silenced alert's silence ({by, by_name, until}), or null; "무음 · 박서연 · 18:00까지".
  const mutedOf = (a) => (a.silenced && a.silenced.length ? a.muted || {} : null);
  function mutedText(m) {
    const who = (m.by_name && m.by_name[LANG]) || m.by || "";
    const until = m.until ? (LANG === "ko" ? `${hmFmt.format(m.until)}까지` : `until ${hmFmt.format(m.until)}`) : "";
    return [LANG === "ko" ? "무음" : "muted", who, until].filter(Boolean).join(" · ");
  }

  class AlertsPanel extends Panel {
    constructor(spec, el) { super(spec, el); this.domains = new Set(spec.domains || []); }
    seriesForFreshness() { return []; }   // fresh as long as the connection is: "no alerts" is news too
    covers(a) { return !this.domains.size || this.domains.has(a.domain); }
    wants() { return alertsDirty; }
    render() {
      const t = now();
      const groups = new Map();
      for (const a of alerts.values()) {
        if (a.state !== "firing" || a.inhibited) continue;
        if (!this.covers(a)) continue;
        const cur = valueNow(a, t);
        const muted = mutedOf(a);
        // A drill's alerts are rows of their own, never grouped with real ones.
        const gk = a.rule + "\u0000" + a.level + (muted ? "\u0000m" : "") + (a.exercise ? "\u0000x" : "");
        const g = groups.get(gk);
        if (!g) groups.set(gk, { top: a, cur, n: 1, since: a.since, acked: !!a.acked, muted });
        else {
          g.n += 1;
          g.since = Math.min(g.since, a.since);
          g.acked = g.acked && !!a.acked;
          if (furtherPast(a, cur, g.top, g.cur)) { g.top = a; g.cur = cur; }
        }
      }
      const rows = [...groups.values()].sort((x, y) => (y.top.level - x.top.level) || (!!x.muted - !!y.muted) || (y.since - x.since));
      this.setStatus(rows.length ? levelStatus(rows[0].top.level) : "normal");
      const shown = rows.slice(0, this.spec.limit);
      let html;
      if (!rows.length) html = `<div class="all-clear">${icon("normal")}${WORDS.allClear}</div>`;
      else {
        html = '<ul class="alerts">' + shown.map(({ top: a, cur, n, since, acked, muted }) => {
          const place = LANG === "ko" ? a.entity_ko || a.entity_en : a.entity_en || a.entity_ko;
          const others = n > 1 ? (LANG === "ko" ? ` 외 ${n - 1}곳` : ` +${n - 1} more`) : "";
          const known = a.indicator && ind(a.indicator);   // the catalog's unit and value labels, in this language
          const unit = known ? unitOf(a.indicator) : "";
          const fmt = (v) => (typeof v === "number" && known ? `${fmtValue(a.indicator, v)}${unit ? " " + unit : ""}` : "");
          const value = fmt(cur.v);
          const val = value ? (cur.live ? `<small>${esc(WORDS.now)}</small> ${esc(value)}` : esc(value)) : "";
          const peak = fmt(peakOf(a, cur));
          const at = hmFmt.format(shownTime(since, a.exercise));
          const when = `${LANG === "ko" ? `${at} ${WORDS.since}` : `${WORDS.since} ${at}`} · ${fmtAge(shownSpan(t - since, a.exercise))}`;
          const ack = acked ? ` · <span class="acked">${icon("normal")}${WORDS.acked}</span>` : "";
          const mute = muted ? ` · <span class="muted-by">${esc(mutedText(muted))}</span>` : "";
          const name = LANG === "ko" ? a.name_ko || a.name_en : a.name_en || a.name_ko;
          const tag = a.exercise ? `<b class="xtag">[${esc(WORDS.exercise)}]</b> ` : "";
          return `<li class="${levelStatus(a.level)}${muted ? " muted" : ""}${a.exercise ? " exercise" : ""}" data-rule="${esc(a.rule)}" data-fingerprint="${esc(a.fingerprint)}" data-count="${n}"` +
            ` data-indicator="${esc(a.indicator || "")}" data-entity="${esc(a.entity)}">` +
            `${levelChip(a.level)}<span class="what">${tag}${esc(name)}</span><span class="val">${val}</span>` +
            `<span class="since">${place ? `<b class="where">${esc(place + others)}</b> · ` : ""}${esc(when)}` +
            `${peak && peak !== value ? ` · <span class="peak">${esc(WORDS.peak)} ${esc(peak)}</span>` : ""}${ack}${mute}</span></li>`;
        }).join("") + (rows.length > shown.length ? `<li class="more">+${rows.length - shown.length} ${WORDS.more}</li>` : "") + "</ul>";
      }
      if (html !== this.html) { this.bodyEl.innerHTML = html; this.html = html; this.fit(rows.length); }
    }
    // Drop the rows that do not fit (a clipped row reads as a broken screen) and say how many are left out.
    fit(total) {
      const list = this.bodyEl.querySelector("ul.alerts");
      if (!list) return;
      const room = this.bodyEl.clientHeight;
      let more = list.querySelector("li.more");
      let items = [...list.querySelectorAll("li:not(.more)")];
      while (items.length > 1 && list.scrollHeight > room) {
        items.pop().remove();
        if (!more) { more = document.createElement("li"); more.className = "more"; list.appendChild(more); }
        more.textContent = `+${total - items.length} ${WORDS.more}`;
      }
    }
  }

  // An alert's series now: the live state's value when the page has it and it is fresh, else the alert's own.
  function valueNow(a, t) {
    const s = a.indicator ? live.get(key(a.indicator, a.entity)) : null;
    if (s && !isStale(s, t)) return { v: s.v, live: true };
    return { v: a.value, live: false };
  }
  const badDown = (a) => a.indicator && ind(a.indicator) && ind(a.indicator).direction === "below";
  // The worst value an alert's episode reached: the alert role's peak, and what the page has seen since.
  const peaks = new Map();        // fingerprint -> { episode, v }: one per alert the page holds
  function peakOf(a, cur) {
    const seen = peaks.get(a.fingerprint);
    let p = seen && seen.episode === a.episode ? seen.v : a.peak;
    for (const v of [a.peak, cur.v]) {
      if (typeof v !== "number") continue;
      if (typeof p !== "number" || (badDown(a) ? v < p : v > p)) p = v;
    }
    if (typeof p === "number") peaks.set(a.fingerprint, { episode: a.episode, v: p });
    return p;
  }
  // Of two alerts of one rule, the one further past its threshold now: the place a group's row names.
  function furtherPast(a, ac, b, bc) {
    if (typeof ac.v !== "number" || typeof a.threshold !== "number") return false;
    if (typeof bc.v !== "number" || typeof b.threshold !== "number") return true;
    const sign = badDown(a) ? -1 : 1;
    return sign * (ac.v - a.threshold) > sign * (bc.v - b.threshold);
  }

  // One tile per domain: its worst status, and how many series are at each crisis level (and late).
  const COUNTED = ["severe", "critical", "warning", "info", "stale"];
  class DomainsPanel extends Panel {
    constructor(spec, el) { super(spec, el); this.scope = new Set(spec.indicators); }
    seriesForFreshness() { return seriesOf(this.scope); }
    render() {
      const t = now();
      const agg = new Map(this.spec.domains.map((d) => [d, { worst: "unknown", n: {} }]));
      for (const s of live.values()) {
        if (!this.scope.has(s.i)) continue;
        const a = agg.get(ind(s.i).domain);
        if (!a) continue;
        const status = statusOf(s, t);
        a.worst = worse(a.worst, status);
        a.n[status] = (a.n[status] || 0) + 1;
      }
      let worst = "unknown";
      const html = '<div class="domains">' + this.spec.domains.map((d) => {
        const a = agg.get(d);
        worst = worse(worst, a.worst);
        // Counts as icon + number: short enough for seven tiles in a row in either language; the words are in
        // the title for anyone who asks.
        const shown = COUNTED.filter((st) => a.n[st]);
        const counts = shown.map((st) => `<span class="n ${st}">${icon(st)}${a.n[st]}</span>`).join(" ");
        const title = shown.map((st) => `${word(st)} ${a.n[st]}`).join(" · ");
        return `<div class="domain ${a.worst}" data-domain="${esc(d)}"><span class="name">${esc(def.domains[d].name[LANG])}</span>` +
          `<span class="line">${chip(a.worst)}<span class="counts" title="${esc(title)}">${counts}</span></span></div>`;
      }).join("") + "</div>";
      this.setStatus(worst);
      if (html !== this.html) { this.bodyEl.innerHTML = html; this.html = html; }
    }
  }

  // Disaster texts, newest first, each in full: a strip one row high scrolls them past (when they do not fit),
  // a taller panel wraps them and drops the oldest that do not fit. A text's own class (위급재난, 긴급재난,
  // 안전안내) is its chip, in the colour of the crisis level it is closest to.
  const MSG_STATUS = { critical: "severe", warning: "critical", info: "info" };
  class TickerPanel extends Panel {
    constructor(spec, el) {
      super(spec, el);
      const [, , , h] = spec.at;
      this.strip = h === 1;
      if (this.strip) el.classList.add("ticker-strip");
    }
    wants() { return messagesDirty; }
    freshness() { return { stale: false }; }
    render() {
      const t = now();
      const shown = messages.filter((m) => !m.expires || m.expires > t).slice(0, this.spec.limit);
      const worst = shown.reduce((acc, m) => worse(acc, MSG_STATUS[m.severity] || "info"), "normal");
      this.setStatus(worst);
      const items = shown.map((m) => {
        const text = (LANG === "ko" ? m.text_ko || m.text_en : m.text_en || m.text_ko) || "";
        const st = MSG_STATUS[m.severity] || "info";
        const cls = `<span class="chip ${st}" data-st="${st}">${icon(st)}${esc(WORDS.msg[m.severity] || m.severity)}</span>`;
        const tag = m.x ? `<b class="xtag">[${esc(WORDS.exercise)}]</b> ` : "";
        return `<li class="${esc(m.severity)}${m.x ? " exercise" : ""}" data-message="${esc(m.id)}"><span class="when">${esc(hmFmt.format(shownTime(m.t, m.x)))}</span>${cls}<span class="text">${tag}${esc(text)}</span></li>`;
      }).join("");
      const html = shown.length ? (this.strip ? `<div class="ticker"><ul class="track">${items}</ul></div>` : `<ul class="ticker">${items}</ul>`)
        : `<div class="empty">${WORDS.noMessages}</div>`;
      if (html === this.html) return;
      this.bodyEl.innerHTML = html;
      this.html = html;
      if (this.strip) this.scroll(); else this.fit(shown.length);
    }
    // The strip: when the texts are wider than the strip they move past, repeated without a gap, at a pace
    // one can read (every text is shown in full, none cut at the edge).
    scroll() {
      const box = this.bodyEl.querySelector(".ticker");
      const track = box && box.querySelector(".track");
      if (!track) return;
      const width = track.scrollWidth;
      if (width <= box.clientWidth) { box.dataset.marquee = "off"; return; }
      track.insertAdjacentHTML("beforeend", track.innerHTML.replace(/<li /g, '<li aria-hidden="true" '));
      const rem = parseFloat(getComputedStyle(document.documentElement).fontSize);
      track.style.setProperty("--marquee-s", `${Math.max(10, width / (7 * rem))}s`);
      box.dataset.marquee = "on";
    }
    // A taller panel: whole texts, newest first, as many as fit; "+N" says how many more there are.
    fit(total) {
      const list = this.bodyEl.querySelector("ul.ticker");
      if (!list) return;
      const room = this.bodyEl.clientHeight;
      let items = [...list.querySelectorAll("li")];
      let more = null;
      while (items.length > 1 && list.scrollHeight > room) {
        items.pop().remove();
        if (!more) { more = document.createElement("li"); more.className = "more"; list.appendChild(more); }
        more.textContent = `+${total - items.length} ${WORDS.more}`;
      }
      list.classList.toggle("tight", list.scrollHeight > room);   // one text longer than the panel: smaller type
    }
  }

  class ClockPanel extends Panel {
    constructor(spec, el) { super(spec, el); this.bodyEl.innerHTML = '<div class="bigclock"><div class="time"></div><div class="date"></div></div>'; }
    wants() { return false; }
    freshness() { return { stale: false }; }
    render() {
      this.setStatus("none");
      const t = simTime(now());
      this.bodyEl.querySelector(".time").textContent = hmFmt.format(t);
      this.bodyEl.querySelector(".date").textContent = dateFmt.format(t);
    }
  }

  const KINDS = { kpi: KpiPanel, timeseries: TimeseriesPanel, ranking: RankingPanel, map: MapPanel, alerts: AlertsPanel,
    domains: DomainsPanel, ticker: TickerPanel, clock: ClockPanel };

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

  // ------------------------------------------------------------------------------------------ building the page
  const wall = document.getElementById("wall");
  let header = null;
  let bandEl = null;              // the exercise band under the header (docs/exercise.md)

  function build() {
    for (const p of panels) p.destroy();
    panels = [];
    pageEls = [];
    clearTimeout(rotateTimer);
    wall.innerHTML = "";
    header = document.createElement("header");
    header.className = "top";
    const d = def.dashboard;
    header.innerHTML = `<h1>${esc(d ? d.title[LANG] : NAME)}</h1><span class="page"></span><span class="dots"></span>` +
      `<span class="incident" role="status" data-testid="incident" hidden></span><span class="spacer"></span>` +
      `<span class="fresh"><span class="dot">${icon("normal")}</span><span class="txt">${WORDS.connecting}</span></span>` +
      `<span class="simchip" hidden></span><div class="clock"><div class="time"></div><div class="date"></div></div>`;
    wall.appendChild(header);
    renderIncident();
    bandEl = document.createElement("div");
    bandEl.className = "exercise-band";
    bandEl.setAttribute("role", "status");
    bandEl.dataset.testid = "exercise-band";
    wall.appendChild(bandEl);
    exerciseKey = "";
    if (def.error) {
      const strip = document.createElement("div");
      strip.className = "config-error";
      strip.dataset.testid = "config-error";
      const lines = def.error.problems.map((p) => p.text).join("\n");
      strip.innerHTML = `${icon("critical")}<b>${WORDS.configError}${d ? " — " + WORDS.lastGood : ""}</b><code>${esc(lines)}</code>`;
      wall.appendChild(strip);
    }
    if (!d) {
      const box = document.createElement("div");
      box.className = "fatal";
      box.innerHTML = `<b>${WORDS.noDashboard}</b>`;
      wall.appendChild(box);
      return;
    }
    d.pages.forEach((page, n) => {
      const main = document.createElement("main");
      main.className = "page";
      main.dataset.page = String(n);
      main.style.gridTemplateColumns = `repeat(${d.grid.columns}, minmax(0, 1fr))`;
      main.style.gridTemplateRows = `repeat(${d.grid.rows}, minmax(0, 1fr))`;
      main.hidden = true;
      for (const spec of page.panels) {
        const el = document.createElement("section");
        el.className = `panel kind-${spec.kind}`;
        el.id = spec.id;
        el.dataset.kind = spec.kind;
        el.dataset.status = "unknown";
        const [c, r, w, h] = spec.at;
        el.style.gridArea = `${r} / ${c} / span ${h} / span ${w}`;
        el.innerHTML = `<h2><span class="t">${esc(spec.title[LANG])}</span><span class="stale-badge"></span></h2><div class="body"></div>`;
        main.appendChild(el);
        panels.push(Object.assign(new KINDS[spec.kind](spec, el), { page: n }));
      }
      wall.appendChild(main);
      pageEls.push(main);
    });
    header.querySelector(".dots").innerHTML = d.pages.length > 1 ? d.pages.map(() => "<i></i>").join("") : "";
    for (const [k, s] of live) feedSeries(k, s);
    markWithheld();
    showPage(Math.min(current, d.pages.length - 1));
  }

  function showPage(n) {
    const d = def.dashboard;
    current = n;
    pageEls.forEach((el, i) => { el.hidden = i !== n; });
    for (const p of panels) if (p.page !== n && p.visible) p.hide();
    header.querySelector(".page").textContent = d.pages.length > 1 || d.pages[n].title[LANG] !== d.title[LANG] ? d.pages[n].title[LANG] : "";
    header.querySelectorAll(".dots i").forEach((el, i) => el.classList.toggle("on", i === n));
    for (const p of panels) if (p.page === n) p.show();
    tick();
    clearTimeout(rotateTimer);
    if (!ROTATE) return;
    // Following incidents over several boards: after a board's last page comes the next board's first.
    const nextBoard = FOLLOW && plan.length > 1 && n === d.pages.length - 1;
    if (nextBoard) rotateTimer = setTimeout(() => switchTo(plan[(plan.indexOf(NAME) + 1) % plan.length]), d.pages[n].duration_s * 1000);
    else if (d.pages.length > 1) rotateTimer = setTimeout(() => showPage((current + 1) % d.pages.length), d.pages[n].duration_s * 1000);
  }

  // ------------------------------------------------------------------------------------------ incidents
  // Several open incidents: the highest level first (on the one status scale), real before exercise, then the
  // earliest declared; the header names the first and counts the others.
  const rankOf = (i) => ORDER[i.status] || 0;
  function applyIncidents(list) {
    incidents = [...(list || [])].sort((a, b) => rankOf(b) - rankOf(a) || (a.exercise - b.exercise) || a.opened - b.opened);
    renderIncident();
    exerciseKey = "";
    loadNotes();
    if (!FOLLOW) return;
    const boards = [...new Set(incidents.flatMap((i) => i.dashboards || []))];
    const next = boards.length ? boards : [HOME];
    if (next.join(",") === plan.join(",")) return;
    plan = next;
    if (!plan.includes(NAME)) switchTo(plan[0]);
    else if (def && def.dashboard) showPage(current);   // the board stays; its rotation now leads on to the others
  }
  function switchTo(name) {
    if (name === NAME && def && def.name === name) { showPage(0); return; }
    NAME = name;
    current = 0;
    loadDefinition();
  }
  let sinceFmt = null;
  function renderIncident() {
    if (!header) return;
    const el = header.querySelector(".incident");
    const top = incidents[0];
    el.hidden = !top;
    // The level takes the place of the page's name (the dots still say which page): both do not fit beside a long
    // title on 1920 pixels, and the level must not be cut.
    header.classList.toggle("declared", !!top);
    if (!top) { el.innerHTML = ""; el.className = "incident"; delete el.dataset.st; delete el.dataset.incident; return; }
    sinceFmt = sinceFmt || new Intl.DateTimeFormat(LOCALE, { timeZone: tz(), month: LANG === "ko" ? "long" : "short",
      day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    const what = LANG === "ko" ? `${top.hazard_ko} ${top.level_ko}` : `${top.hazard_en} · ${top.level_en}`;
    const area = def && top.area !== def.city.id ? ` · ${LANG === "ko" ? top.area_ko : top.area_en}` : "";
    const tag = top.exercise ? `<b class="xtag">${WORDS.exercise}</b>` : "";
    const more = incidents.length > 1 ? `<span class="more">+${incidents.length - 1}</span>` : "";
    el.className = `incident chip ${top.status}${top.exercise ? " exercise" : ""}`;
    el.dataset.st = top.status;
    el.dataset.incident = top.id;
    el.innerHTML = `${icon(top.status)}${tag}<span class="lines"><span class="what">${esc(what + area)}</span>` +
      `<span class="since">${esc(WORDS.incidentSince(sinceFmt.format(top.opened)))}</span></span>${more}`;
  }
  // A note changes its incident's `updated`, so the `incidents` frame tells when to read the notes again.
  async function loadNotes() {
    const k = incidents.map((i) => `${i.id}@${i.updated}`).join(",");
    if (k === notesFrom) return;
    notesFrom = k;
    const found = new Map();
    for (const inc of incidents) {
      try {
        const r = await fetch(`/api/v1/incidents/${encodeURIComponent(inc.id)}/timeline`, { cache: "no-store" });
        if (!r.ok) continue;
        for (const e of (await r.json()).entries) {
          if (e.kind !== "note" || !e.pinned || !e.indicator) continue;
          const text = e.text.length > 24 ? `${e.text.slice(0, 23)}…` : e.text;
          if (!found.has(e.indicator)) found.set(e.indicator, []);
          found.get(e.indicator).push({ t: e.pinned, label: `${inc.exercise ? `[${WORDS.exercise}] ` : ""}${text}` });
        }
      } catch (err) { notesFrom = ""; }   // asked again with the next frame
    }
    notes = found;
    for (const p of panels) if (p instanceof TimeseriesPanel && p.view && p.visible) p.syncNotes();
  }
  async function loadIncidents() {
    try {
      const r = await fetch("/api/v1/incidents?state=open", { cache: "no-store" });
      if (r.ok) applyIncidents((await r.json()).incidents);
    } catch (e) { /* the server is not up: the websocket's frame brings them later */ }
  }

  // ------------------------------------------------------------------------------------------ data in
  function feedSeries(k, s) {
    const spark = sparks.get(k);
    if (spark) { if (s.n) spark.adapt(s.n * 1000); spark.add(s.t, s.v, !!s.x); }
    for (const p of panels) if (p instanceof TimeseriesPanel && p.spec.indicator === s.i) p.add(s.e, s.t, s.v, s.n, s.x);
  }

  // A series' lines start over when the wall switches between its real and its exercise data, so a drill's
  // values and the real ones are never drawn as one line.
  function restartSeries(k, s) {
    const spark = sparks.get(k);
    if (spark) spark.points = [];
    for (const p of panels) {
      if (!(p instanceof TimeseriesPanel) || p.spec.indicator !== s.i) continue;
      const ring = p.rings.get(s.e);
      if (ring) { ring.points = []; p.synced = false; }
    }
  }

  // The state the wall shows of a series: the exercise one while it is fresh, the real one otherwise, a stale
  // exercise one only where there is no real one (as the server's live.shown).
  function shownOf(k, t) {
    const real = realLive.get(k), x = exerciseLive.get(k);
    if (x && (!isStale(x, t) || !real)) return x;
    return real || x;
  }

  function applyState(s) {
    const k = key(s.i, s.e);
    const own = s.x ? exerciseLive : realLive;
    const before = own.get(k);
    if (before && before.t > s.t && s.st === before.st) return;   // a late sample does not move the value back
    own.set(k, s);
    const shown = shownOf(k, now());
    const was = live.get(k);
    if (shown === was) return;
    const switched = was && !!was.x !== !!shown.x;
    if (switched) restartSeries(k, shown);
    live.set(k, shown);
    if (shown.t > newestT) { newestT = shown.t; newestX = !!shown.x; }
    if (switched || !was || was.t !== shown.t || was.v !== shown.v) feedSeries(k, shown);
    dirty.add(s.i);
    kpiDirty.add(k);
  }

  // The furthest past its threshold of two alerts of one rule: the place a group's row names.
  const worseValue = (a, b) => typeof a.value === "number" && typeof a.threshold === "number" &&
    (typeof b.value !== "number" || Math.abs(a.value - a.threshold) > Math.abs(b.value - (b.threshold ?? b.value)));

  // Alerts arrive whole (an alert's JSON is its state); pending and firing ones are kept, the rest dropped.
  // A delta (never a snapshot: a reload must not replay old alarms) that makes an alert fire, or fire at a
  // higher level, raises a browser notification when the wall's browser allows them (a kiosk grants it by
  // policy; docs/dashboards.md) — one per rule and level, as the list groups them, and only for alerts one
  // of the dashboard's alert panels covers (an economy board does not sound for a flood).
  function applyAlerts(list, replace) {
    if (replace) { alerts.clear(); peaks.clear(); }
    const raised = new Map();
    for (const a of list) {
      if (!a || a.type !== "alert" || !a.fingerprint) continue;   // in-app inbox items are the staff page's
      const before = alerts.get(a.fingerprint);
      if (a.state === "pending" || a.state === "firing") alerts.set(a.fingerprint, a);
      else { alerts.delete(a.fingerprint); peaks.delete(a.fingerprint); }
      const rose = a.state === "firing" && (!before || before.state !== "firing" || a.level > before.level);
      if (!replace && rose && !a.inhibited && !(a.silenced && a.silenced.length) && panels.some((p) => p instanceof AlertsPanel && p.covers(a))) {
        const k = a.rule + "\u0000" + a.level;
        const g = raised.get(k);
        raised.set(k, g ? { top: worseValue(a, g.top) ? a : g.top, n: g.n + 1 } : { top: a, n: 1 });
      }
    }
    alertsDirty = true;
    for (const { top, n } of raised.values()) notifyAlert(top, n);
  }

  function notifyAlert(a, n) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    const name = LANG === "ko" ? a.name_ko || a.name_en : a.name_en || a.name_ko;
    const place = LANG === "ko" ? a.entity_ko || a.entity_en : a.entity_en || a.entity_ko;
    const others = n > 1 ? (LANG === "ko" ? ` 외 ${n - 1}곳` : ` +${n - 1} more`) : "";
    const title = `[${word(levelStatus(a.level))}] ${name}${place ? " — " + place + others : ""}`;
    const shownTitle = a.exercise ? `[${WORDS.exercise}] ${title}` : title;
    const text = (LANG === "ko" ? a.message_ko || a.message_en : a.message_en || a.message_ko) || "";
    try {
      new Notification(shownTitle, { body: text, tag: `${a.exercise ? "x/" : ""}${a.rule}/${a.level}`, lang: LANG, requireInteraction: a.level >= 3 });
    } catch (err) { /* a browser that only notifies through a service worker: the list still shows it */ }
  }

  function applyMessages(list, replace) {
    if (replace) messages = [];
    const seen = new Set(messages.map((m) => m.id));
    const fresh = list.filter((m) => !seen.has(m.id));
    if (!fresh.length && !replace) return;
    messages = fresh.concat(messages).sort((a, b) => b.t - a.t).slice(0, 50);
    messagesDirty = true;
  }

  // What a line's past is asked for, by the span it shows: raw samples for the hour Redis keeps them, minute
  // buckets up to half a day, hourly ones up to a season, (local) days beyond: a few hundred points a line.
  function historyParts(windowS, from, to) {
    if (windowS <= 3600) return [["raw", from, to]];
    if (windowS <= LONG_S) return [[ "1m", from, Math.max(from, to - 3600)], ["raw", Math.max(from, to - 3600), to]];
    return [[windowS <= 90 * 86400 ? "1h" : "1d", from, to]];
  }
  const BUCKET_S = { raw: 0, "1m": 60, "1h": 3600, "1d": 86400 };
  // Whether a line's past covers what it was asked: it starts near `from`, ends near `to`, and has no hole
  // longer than a few of its buckets (or deliveries). A store still filling (the demo's backfill at start, a
  // history role catching up) or a series not yet known to be exercise data does not, and is asked again.
  function covers(points, from, to, stepS, intervalS) {
    if (!points.length) return false;
    const slack = Math.max(2 * stepS, 3 * intervalS, (to - from) / 48);
    if (points[0].t / 1000 - from > slack || to - points[points.length - 1].t / 1000 > slack) return false;
    for (let n = 1; n < points.length; n++) if ((points[n].t - points[n - 1].t) / 1000 > slack) return false;
    return true;
  }
  const historyAsks = new Map();   // series|window -> how often its past was asked again
  const HISTORY_RETRY_S = [5, 10, 15, 30, 60, 120, 300, 300];

  async function loadHistory(only = null) {
    // Sparklines and charts start with their past from the HTTP API; afterwards /ws feeds them. A line whose
    // past does not cover its window asks again (HISTORY_RETRY_S: soon at first, then every five minutes).
    const lines = new Map();
    const want = (i, e, windowS) => {
      const id = key(i, e) + "|" + windowS;
      if (lines.has(id) || (only && !only.has(id))) return;
      const s = live.get(key(i, e));
      const to = now() / 1000;
      let from = to - windowS;
      // During a replay an exercise line shows simulated time: only the replay's own data has one.
      const c = replayClock();
      if (c && (!s || s.x)) from = Math.min(to, Math.max(from, c.anchor));
      const mode = s ? `&mode=${s.x ? "exercise" : "real"}` : "";
      const parts = historyParts(windowS, from, to).filter(([, a, b]) => b > a);
      const jobs = parts.map(([res, a, b]) => {
        const url = `/api/v1/indicators/${encodeURIComponent(i)}/history?entity=${encodeURIComponent(e)}&resolution=${res}&from=${a.toFixed(3)}&to=${b.toFixed(3)}${mode}`;
        return fetch(url).then((r) => (r.ok ? r.json() : null)).catch(() => null);
      });
      lines.set(id, { i, e, windowS, from, to, step: BUCKET_S[parts[0] ? parts[0][0] : "raw"], jobs });
    };
    for (const p of panels) {
      if (p instanceof KpiPanel) want(p.spec.indicator, p.spec.entity, p.spec.spark_s);
      if (p instanceof TimeseriesPanel) for (const e of p.spec.entities) want(p.spec.indicator, e, p.spec.window_s);
    }
    const again = new Set();
    for (const [id, line] of lines) {
      const points = [];
      for (const body of await Promise.all(line.jobs)) {   // older part first
        if (!body) continue;
        const half = BUCKET_S[body.resolution] * 500;
        for (const pt of body.points) {
          const v = pt.value !== undefined ? pt.value : pt.mean;
          // A bucket is drawn at its middle, the running one no later than now.
          const t = pt.value !== undefined ? pt.t * 1000 : Math.min(pt.t * 1000 + half, line.to * 1000);
          if (v !== null && v !== undefined) points.push({ t, v, x: body.exercise ? 1 : 0 });
        }
      }
      loadLine(line.i, line.e, line.windowS, points);
      const meta = ind(line.i);
      if (!covers(points, line.from, line.to, line.step, (meta && meta.interval_s) || 0)) again.add(id);
    }
    for (const [k, s] of live) if (!only || [...only].some((id) => id.startsWith(k + "|"))) feedSeries(k, s);
    dirty.add("*");
    if (!again.size) return;
    const tries = Math.max(...[...again].map((id) => historyAsks.get(id) || 0));
    for (const id of again) historyAsks.set(id, (historyAsks.get(id) || 0) + 1);
    if (tries >= HISTORY_RETRY_S.length) return;
    setTimeout(() => loadHistory(again), HISTORY_RETRY_S[tries] * 1000);
  }

  // A line's past into the rings drawn at that window: a KPI's sparkline, the charts of the series.
  function loadLine(i, e, windowS, points) {
    const spark = sparks.get(key(i, e));
    if (spark && spark.windowMs === windowS * 1000) spark.load(points);
    for (const p of panels) {
      if (!(p instanceof TimeseriesPanel) || p.spec.indicator !== i || p.spec.window_s !== windowS) continue;
      const ring = p.rings.get(e);
      if (ring) { ring.load(points); p.synced = false; }
    }
  }

  // ------------------------------------------------------------------------------------------ exercise
  // The band stays up while any exercise value, alert or message is on the screen; during a replay the header
  // and the band say the time shown is simulated, and at which speed.
  let exerciseKey = "";
  function updateExercise(t) {
    let on = false;
    for (const s of live.values()) if (s.x) { on = true; break; }
    if (!on) for (const a of alerts.values()) if (a.exercise) { on = true; break; }
    if (!on) on = messages.some((m) => m.x && (!m.expires || m.expires > t));
    if (!on) on = incidents.some((i) => i.exercise);
    const changed = on !== exerciseShown;
    exerciseShown = on;
    body.classList.toggle("exercise", on);
    // The band takes room from the panels: the charts sized to their boxes (Vega's "container", which follows
    // the window's resize events) fit themselves again. Not a real resize: the page is not rebuilt for it.
    if (changed) {
      requestAnimationFrame(() => {
        window.dispatchEvent(new Event("resize"));
        for (const p of panels) if (p instanceof MapPanel) p.refit();
      });
    }
    const c = simClock();
    const scenario = c ? (LANG === "ko" ? c.name_ko : c.name_en) || c.scenario : "";
    const what = [exercise.drill ? `${WORDS.drill} ${esc(exercise.drill.id)}` : "", c ? esc(scenario) : "",
      c ? `${WORDS.simulated} ×${numFmt(0).format(c.speed)}` : ""].filter(Boolean).join(" · ");
    const sim = c ? `${c.start}|${c.anchor}|${c.speed}` : "";
    const k = `${on}|${sim}|${what}`;
    if (k === exerciseKey) return;
    exerciseKey = k;
    if (bandEl) bandEl.innerHTML = on ? `<span class="mark">${WORDS.exercise}</span><b>${WORDS.exerciseBand}</b>` +
      `<span class="other">${WORDS.exerciseOther}</span>${what ? `<span class="what">${what}</span>` : ""}` : "";
    if (header) {
      const chip = header.querySelector(".simchip");
      chip.hidden = !c;
      chip.textContent = c ? `${WORDS.sim} ×${numFmt(0).format(c.speed)}` : "";   // the band says it in full
    }
    if (changed || sim) {
      // Times on the charts change with the clock: draw their datasets again.
      for (const p of panels) if (p instanceof TimeseriesPanel) p.synced = false;
      dirty.add("*");
      messagesDirty = true;
      alertsDirty = true;
    }
  }
  async function loadExercise() {
    try {
      const r = await fetch("/api/v1/exercise", { cache: "no-store" });
      if (r.ok) { exercise = await r.json(); exerciseKey = ""; }
    } catch (e) { /* the server is not up: the websocket's frame brings it later */ }
  }

  // ------------------------------------------------------------------------------------------ rendering
  // One render pass per second: a burst of updates costs one repaint, not one per update (a KPI tile's number
  // does not wait for it: renderKpisSoon).
  function tick() {
    const t = now();
    updateExercise(t);
    if (header) {
      const shownNow = simTime(t);
      header.querySelector(".clock .time").textContent = timeFmt.format(shownNow);
      header.querySelector(".clock .date").textContent = dateFmt.format(shownNow);
      const fresh = header.querySelector(".fresh");
      let cls = "ok";
      let text;
      if (!connected || storeDown) {
        cls = "down";
        text = `${WORDS.lost}${newestT ? ` · ${WORDS.lastData} <b>${timeFmt.format(shownTime(newestT, newestX))}</b>` : ""}`;
      } else if (!newestT) {
        text = WORDS.noData;
        cls = "late";
      } else {
        const asOf = timeFmt.format(shownTime(newestT, newestX));
        text = LANG === "ko" ? `${WORDS.asOf} <b>${asOf}</b> ${WORDS.asOfSuffix}` : `${WORDS.asOf} <b>${asOf}</b>`;
        if (t - lastFrameAt > 60000 && t - newestT > 60000) cls = "late";
      }
      fresh.className = `fresh ${cls}`;
      fresh.dataset.state = cls;
      fresh.querySelector(".dot").innerHTML = icon(cls === "ok" ? "normal" : cls === "late" ? "stale" : "critical");
      const txt = fresh.querySelector(".txt");
      if (txt.innerHTML !== text) txt.innerHTML = text;
    }
    WallCompare.tick(panels, current);
    for (const p of panels) {
      if (p.page !== current) continue;
      if (p.wants(dirty) || p instanceof ClockPanel || p instanceof AlertsPanel) p.render();
      p.updateStale(t);
    }
    dirty.clear();
    messagesDirty = false;
    alertsDirty = false;
    banner(t);
  }

  // A KPI tile's number shows a new value in the next frame: waiting for the pass above held it back up to a
  // second, and at 10 updates a second nine values in ten never showed. The charts, maps and rankings keep to
  // the pass, where a burst of updates costs one redraw; `dirty` stays for it.
  // Only the tiles whose own series changed: a district's rainfall does not redraw the city's rainfall tile.
  let kpiFrame = 0;
  function renderKpisSoon() {
    if (kpiFrame || !kpiDirty.size) return;
    kpiFrame = requestAnimationFrame(() => {
      kpiFrame = 0;
      for (const p of panels) if (p instanceof KpiPanel && p.page === current && kpiDirty.has(p.k)) p.render();
      kpiDirty.clear();
    });
  }

  // ------------------------------------------------------------------------------------------ connection
  let ws = null;
  let connected = false;
  // The server is reached but cannot reach Redis (a failover): nothing live comes, which the wall says as for a lost
  // connection; the connection stays, so the updates go on once the server reads again.
  let storeDown = false;
  let downSince = Date.now();
  let attempt = 0;
  let retryAt = 0;
  let heartbeat = null;
  let missed = 0;
  let reconnectTimer = null;

  function connect() {
    clearTimeout(reconnectTimer);
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
    let sock;
    try { sock = new WebSocket(url); } catch (err) { scheduleReconnect(); return; }
    ws = sock;
    sock.onmessage = (ev) => { if (ws === sock) onFrame(JSON.parse(ev.data)); };
    sock.onclose = () => { if (ws === sock) lost(); };
    sock.onerror = () => { /* onclose follows and handles it */ };
  }

  function subscribe() {
    if (!ws || ws.readyState !== WebSocket.OPEN || !def || !def.topics) return;
    const topics = def.topics;
    const tk = topics.join(",");
    // A different subscription cannot resume the old one's stream position: ask for a snapshot.
    const resume = tk === topicsKey ? lastId : null;
    topicsKey = tk;
    ws.send(JSON.stringify({ type: "subscribe", topics, resume, ref: Date.now() }));
  }

  function onFrame(f) {
    switch (f.type) {
      case "hello":
        if (f.build && f.build !== BUILD) { reloadSoon(); return; }
        clockOffset = typeof f.server_time === "number" ? f.server_time - Date.now() : 0;
        withheld = new Set(f.withheld || []);
        markWithheld();
        connected = true;
        storeDown = f.store_ok === false;
        attempt = 0;
        missed = 0;
        clearInterval(heartbeat);
        heartbeat = setInterval(() => {
          if (!ws || ws.readyState !== WebSocket.OPEN) return;
          if (++missed > 3) { ws.close(); lost(); return; }   // three missed pongs: the line is dead
          ws.send(JSON.stringify({ type: "ping", t: Date.now() }));
        }, Math.max(2, f.heartbeat_s || 15) * 1000);
        subscribe();
        loadExercise();   // a drill may have started or ended while the page was away
        loadIncidents();  // and a level been declared or ended
        tick();
        break;
      case "snapshot":
        live.clear();
        realLive.clear();
        exerciseLive.clear();
        for (const s of f.states || []) applyState(s);
        applyMessages(f.messages || [], true);
        applyAlerts(f.alerts || [], true);
        lastId = f.id;
        lastFrameAt = Date.now();
        dirty.add("*");
        break;
      case "delta":
        updates += (f.states || []).length;
        for (const s of f.states || []) applyState(s);
        if (f.states && f.states.length) renderKpisSoon();
        if (f.messages) applyMessages(f.messages, false);
        if (f.alerts) applyAlerts(f.alerts, false);
        lastId = f.id;
        lastFrameAt = Date.now();
        break;
      case "ping":
        missed = 0;
        if (ws) ws.send(JSON.stringify({ type: "pong", t: f.server_time }));
        break;
      case "store":
        // `since`: the server's last read of the updates, in its clock; nothing new has come after it.
        if (!f.ok && !storeDown) downSince = typeof f.since === "number" ? f.since - clockOffset : Date.now();
        storeDown = !f.ok;
        tick();
        break;
      case "pong":
        missed = 0;
        if (typeof f.server_time === "number" && typeof f.t === "number") {
          clockOffset = f.server_time - (f.t + Date.now()) / 2;
        }
        break;
      case "dashboard":
        if (f.name === NAME && f.version !== (def && def.version)) loadDefinition();
        break;
      case "exercise":
        exercise = { drill: f.drill, sources: f.sources || [], clock: f.clock };
        exerciseKey = "";
        tick();
        break;
      case "incidents":
        applyIncidents(f.incidents);
        break;
      case "error":
        console.warn("server refused a frame:", f.message, f.field, f.value);
        break;
      default:
        break;
    }
  }

  function lost() {
    if (connected && !storeDown) downSince = Date.now();
    connected = false;
    clearInterval(heartbeat);
    if (ws) { ws.onclose = null; ws.onmessage = null; try { ws.close(); } catch (e) { /* already closed */ } }
    ws = null;
    scheduleReconnect();
    tick();
  }

  function scheduleReconnect() {
    clearTimeout(reconnectTimer);
    // Exponential backoff with jitter, so a hundred walls do not hammer a restarting server together.
    const base = Math.min(30000, 500 * Math.pow(2, attempt));
    const delay = base / 2 + Math.random() * base / 2;
    attempt += 1;
    retryAt = Date.now() + delay;
    reconnectTimer = setTimeout(connect, delay);
  }

  let reloading = false;
  function reloadSoon() {
    // The server was upgraded: load the new page, once the new server really answers.
    if (reloading) return;
    reloading = true;
    fetch(location.href, { cache: "no-store" }).then((r) => { if (r.ok) location.reload(); else reloading = false; })
      .catch(() => { reloading = false; });
  }

  const bannerEl = document.createElement("div");
  bannerEl.id = "banner";
  bannerEl.setAttribute("role", "alert");
  document.body.appendChild(bannerEl);
  function banner(t) {
    const limit = ((def && def.dashboard && def.dashboard.disconnect_banner_s) || 10) * 1000;
    const on = (!connected || storeDown) && Date.now() - downSince > limit;
    bannerEl.classList.toggle("on", on);
    if (!on) return;
    const last = newestT ? timeFmt.format(shownTime(newestT, newestX)) : "–";   // in the header's (simulated) time
    const wait = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
    // Connected to a server that lost Redis: no attempt of the page's own to count down to.
    const retry = connected ? "" : `${WORDS.retry}${LANG === "ko" ? ` ${wait}${WORDS.inSec}` : ` in ${wait}${WORDS.inSec}`} · `;
    const html = `<div class="big">${icon("plug")}${WORDS.lost}</div><div class="sub">${WORDS.lostEn} · ${WORDS.lastData} ${last}</div>` +
      `<div class="retry">${retry}${fmtAge(Date.now() - downSince)}</div>`;
    if (bannerEl.innerHTML !== html) bannerEl.innerHTML = html;
  }

  // ------------------------------------------------------------------------------------------ definition
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
})();
