// Data into the wall: series states (real or exercise, the one shown fed to sparklines and charts), alerts
// (and their browser notifications), disaster texts, and the past of every line from the history API.
// One of the wall's scripts (pages.py loads them in order, wall.js last); they share the page's script scope.
"use strict";

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
