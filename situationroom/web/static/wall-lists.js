// The panels of lists and tiles: the firing alerts grouped by rule and level, the domain tiles, the disaster
// texts (a scrolling strip or a wrapped list) and the clock.
// One of the wall's scripts (pages.py loads them in order, wall.js last); they share the page's script scope.
"use strict";

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
        const val = value ? `${cur.live ? `<small>${esc(WORDS.now)}</small> ` : ""}<span class="n">${esc(value)}</span>` : "";
        const peak = fmt(peakOf(a, cur));
        const at = hmFmt.format(shownTime(since, a.exercise));
        const when = `${LANG === "ko" ? `${at} ${WORDS.since}` : `${WORDS.since} ${at}`} · ${fmtAge(shownSpan(t - since, a.exercise))}`;
        const ack = acked ? ` · <span class="acked">${icon("normal")}${WORDS.acked}</span>` : "";
        const mute = muted ? ` · <span class="muted-by">${esc(mutedText(muted))}</span>` : "";
        const name = LANG === "ko" ? a.name_ko || a.name_en : a.name_en || a.name_ko;
        const tag = a.exercise ? `<b class="xtag">[${esc(WORDS.exercise)}]</b> ` : "";
        return `<li class="${levelStatus(a.level)}${muted ? " muted" : ""}${a.exercise ? " exercise" : ""}" data-rule="${esc(a.rule)}" data-fingerprint="${esc(a.fingerprint)}" data-count="${n}"` +
          ` data-indicator="${esc(a.indicator || "")}" data-entity="${esc(a.entity)}">` +
          `${levelChip(a.level)}<span class="head"><span class="what">${tag}${esc(name)}</span><span class="val">${val}</span></span>` +
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
