// The one status scale (its order, words, marks and chips) and how the wall writes values, units, times and
// spans: in the city's time zone, and in the simulated time of a replay for exercise data.
// One of the wall's scripts (pages.py loads them in order, wall.js last); they share the page's script scope.
"use strict";

// The one status scale (situationroom/status.py, sent with the dashboard as `scale`): its order, words,
// marks and icons; its colours are the page's CSS variables --st-<id>. Filled in by useScale().
const ORDER = {};
const MARK = {};
const BY_LEVEL = [];           // crisis level 1-4 -> status id (info, warning, critical, severe)
const word = (status) => WORDS[status] || status;
// A status is never colour alone: the chip has the icon and the word.
const chip = (status) => `<span class="chip ${status}" data-st="${status}">${icon(status)}${word(status)}</span>`;
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
const worse = (a, b) => ((ORDER[b] || 0) > (ORDER[a] || 0) ? b : a);

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
  const m = Math.max(1, Math.round(seconds / 60));
  // Whole hours from two on: "125 min" reads worse than "2 h" on a tile read from across the room.
  if (m >= 120 || (m >= 60 && m % 60 === 0)) return `${Math.round(m / 60)}${LANG === "ko" ? "시간" : " h"}`;
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
