// The staff page: who I am (signed in once with a staff token: session.js), my alerts with acknowledge and silence, my subscriptions,
// what reached me. New alerts arrive over /ws (topic `alerts`) and pop up at once, in the page and through
// the browser's Notification API. Everything the page loads is served by the product (offline).
"use strict";

(() => {
  const LANG = document.body.dataset.lang === "en" ? "en" : "ko";
  const BUILD = document.body.dataset.build;
  const DATA = JSON.parse(document.getElementById("page-data").textContent);
  const TOKEN_KEY = "situationroom.staff.token";
  const T = {
    ko: {
      title: "상황실 직원", login: "직원 토큰으로 로그인", loginHelp: "관리자에게 받은 직원 토큰(situationroom tokens create --role staff --staff ID)을 붙여 넣으세요. 한 번 로그인하면 로그아웃할 때까지 유지되며, 토큰은 브라우저에 저장되지 않습니다.",
      token: "토큰", signin: "로그인", signout: "로그아웃", badToken: "토큰이 맞지 않습니다", tooMany: (s) => `로그인 실패가 너무 많습니다. ${s}초 뒤에 다시 시도하세요.`,
      myAlerts: "내 알림", allAlerts: "모든 경보 보기", noAlerts: "지금 발생한 경보가 없습니다.",
      ack: "확인", acked: "확인함", silence: "무음", silenceFor: "기간", reason: "사유", reasonHint: "예: 현장 조치 중",
      apply: "적용", cancel: "취소", since: "부터", by: "",
      subs: "내 구독", addSub: "구독 추가", edit: "수정", del: "삭제", save: "저장", confirmDel: "이 구독을 삭제할까요?",
      name: "이름", minSev: "최소 단계", domains: "분야", districts: "지역", indicators: "지표", channels: "받는 방법",
      quiet: "방해 금지", quietHelp: "이 시간에는 관심·주의 단계를 앱 알림으로만 받습니다 (경계·심각은 항상).",
      resolved: "해제도 알림", enabled: "사용", any: "전체", noSubs: "구독이 없습니다.",
      history: "받은 알림", noHistory: "아직 받은 알림이 없습니다.", deliveries: "전달 기록",
      enableNotif: "브라우저 알림 켜기", notifOn: "브라우저 알림 켜짐", notifBlocked: "브라우저 알림이 차단됨",
      kinds: { firing: "발생", repeat: "지속", resolved: "해제", escalation: "미확인 상향", incident: "상황 단계", briefing: "상황 보고" },
      states: { pending: "대기", firing: "발생", resolved: "해제", inactive: "종료" },
      durations: [["1h", "1시간"], ["4h", "4시간"], ["12h", "12시간"], ["1d", "1일"], ["7d", "7일"]],
      exercise: "훈련", exerciseBand: "훈련 경보가 있습니다 — [훈련] 표시는 실제 상황이 아닙니다",
      silenced: "무음 중", until: "까지", tier: "상향 단계", details: "자세히", less: "접기", alertHistory: "경보 이력", other: "English", live: "실시간 연결", offline: "연결 끊김 — 다시 연결 중", dept: "부서", mine: "내 부서·구독",
    },
    en: {
      title: "Situation room staff", login: "Sign in with your staff token", loginHelp: "Paste the staff token your administrator gave you (situationroom tokens create --role staff --staff ID). You stay signed in until you sign out; the token itself is not kept in the browser.",
      token: "Token", signin: "Sign in", signout: "Sign out", badToken: "That token is not valid", tooMany: (s) => `Too many failed sign-ins: try again in ${s} s.`,
      myAlerts: "My alerts", allAlerts: "Show every alert", noAlerts: "No alerts right now.",
      ack: "Acknowledge", acked: "Acknowledged", silence: "Silence", silenceFor: "For", reason: "Reason", reasonHint: "e.g. crew on site",
      apply: "Apply", cancel: "Cancel", since: "since", by: "by",
      subs: "My subscriptions", addSub: "Add subscription", edit: "Edit", del: "Delete", save: "Save", confirmDel: "Delete this subscription?",
      name: "Name", minSev: "Minimum level", domains: "Domains", districts: "Districts", indicators: "Indicators", channels: "Channels",
      quiet: "Quiet hours", quietHelp: "During these hours info and warning come in-app only (critical and severe always get through).",
      resolved: "Tell me when resolved", enabled: "Enabled", any: "any", noSubs: "No subscriptions.",
      history: "Received", noHistory: "Nothing received yet.", deliveries: "Deliveries",
      enableNotif: "Turn on browser notifications", notifOn: "Browser notifications on", notifBlocked: "Browser notifications blocked",
      kinds: { firing: "firing", repeat: "still firing", resolved: "resolved", escalation: "escalated", incident: "situation level", briefing: "briefing" },
      states: { pending: "pending", firing: "firing", resolved: "resolved", inactive: "ended" },
      durations: [["1h", "1 hour"], ["4h", "4 hours"], ["12h", "12 hours"], ["1d", "1 day"], ["7d", "7 days"]],
      exercise: "EXERCISE", exerciseBand: "Exercise alerts are shown — those marked [EXERCISE] are not real",
      silenced: "silenced", until: "until", tier: "escalation tier", details: "Details", less: "Show fewer", alertHistory: "Alert history", other: "한국어", live: "live", offline: "offline — reconnecting", dept: "Department", mine: "mine",
    },
  }[LANG];
  const LEVEL = Object.fromEntries(DATA.levels.map((l) => [l.level, l]));
  const IND = Object.fromEntries(DATA.indicators.map((i) => [i.id, i]));
  const DOM = Object.fromEntries(DATA.domains.map((d) => [d.id, d]));
  const DIST = Object.fromEntries(DATA.districts.map((d) => [d.id, d]));
  // The server bounds a silence by role (docs/access.md); the form offers only what it would accept.
  const SECONDS = { "1h": 3600, "4h": 14400, "12h": 43200, "1d": 86400, "7d": 604800 };
  const maxSilence = () => (state.me && (state.me.scopes || []).includes("operate") ? DATA.silence_max.operator : DATA.silence_max.staff);

  const state = {
    me: null, alerts: new Map(), inbox: [], subs: [], channels: [],
    showAll: false, expanded: new Set(), editing: null, silencing: null, open: null, seen: new Set(), fresh: new Set(), connected: false,
  };
  const app = document.getElementById("app");

  // ------------------------------------------------------------------------------------------ helpers
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const nm = (o) => (o ? o[LANG] ?? o.ko ?? "" : "");
  const fmtTime = (ms) => {
    if (!ms) return "";
    return new Intl.DateTimeFormat(LANG === "ko" ? "ko-KR" : "en-GB", {
      timeZone: DATA.city.timezone, month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hour12: false,
    }).format(new Date(ms));
  };
  const sevName = (a) => nm(LEVEL[a.level]) || a.severity || "";
  // A level's badge: its mark and its word (● 관심, ▲ 주의, ◆ 경계, ■ 심각), never its colour alone.
  const badge = (level, text) => `<span class="badge l${level}">${LEVEL[level] ? `<i aria-hidden="true">${esc(LEVEL[level].mark)}</i>` : ""}${esc(text)}</span>`;
  const fmtValue = (a) => {
    if (a.value == null) return "";
    const ind = IND[a.indicator];
    if (ind && ind.labels && ind.labels[String(Math.round(a.value))]) return nm(ind.labels[String(Math.round(a.value))]);
    const d = ind ? ind.decimals : 1;
    const unit = ind ? ind.unit[LANG] : (LANG === "ko" ? a.unit : a.unit_en || a.unit) || "";
    return `${Number(a.value).toLocaleString(LANG === "ko" ? "ko-KR" : "en-GB", { maximumFractionDigits: d, minimumFractionDigits: d })} ${unit}`.trim();
  };
  // An exercise alert's name starts with [훈련], everywhere the page names it.
  const exerciseTag = (a) => (a.exercise ? `[${T.exercise}] ` : "");
  const alertWhat = (a) => exerciseTag(a) +
    (IND[a.indicator] ? nm(IND[a.indicator]) : (LANG === "ko" ? a.name_ko : a.name_en) || a.rule);
  const alertWhere = (a) => {
    const e = DATA.entities[a.entity];
    let s = e ? nm(e) : (LANG === "ko" ? a.entity_ko : a.entity_en) || a.entity || "";
    if (a.district && a.district !== a.entity && DATA.entities[a.district]) s += ` · ${nm(DATA.entities[a.district])}`;
    return s;
  };
  const alertMsg = (a) => (LANG === "ko" ? a.message_ko : a.message_en) || "";
  // Silenced: who set it and until when (the alert role puts it on the alert as `muted`).
  const mutedText = (a) => {
    const m = a.muted;
    if (!m) return T.silenced;
    const who = (m.by_name && m.by_name[LANG]) || m.by || "";
    const until = m.until ? (LANG === "ko" ? `${fmtTime(m.until)}${T.until}` : `${T.until} ${fmtTime(m.until)}`) : "";
    return [T.silenced, who, until].filter(Boolean).join(" ");
  };

  const api = (method, path, body) => window.SRSession.api(method, path, body);

  // ------------------------------------------------------------------------------------------ relevance
  function myOwners() {
    if (!state.me || !state.me.staff) return new Set();
    return new Set([state.me.staff.id, state.me.staff.department]);
  }
  function isMine(a) {
    if (!state.me || !state.me.staff) return true;
    if (a.department === state.me.staff.department) return true;
    return state.inbox.some((it) => (it.alerts || []).some((x) => x.fingerprint === a.fingerprint));
  }

  // ------------------------------------------------------------------------------------------ notifications
  function notifyNew(item) {
    const alerts = item.alerts || [];
    const top = alerts.reduce((m, a) => (!m || (a.level || 0) > (m.level || 0) ? a : m), null);
    if (!top) return;
    const kind = T.kinds[item.kind] || item.kind;
    // [훈련] first, before the level: a drill's pop-up is never read as the real thing.
    const what = alertWhat(top).slice(exerciseTag(top).length);
    const title = `${exerciseTag(top)}[${item.kind === "resolved" ? kind : sevName(top)}] ${what} — ${alertWhere(top)}`;
    const body = [alertMsg(top), fmtValue(top), alerts.length > 1 ? `+${alerts.length - 1}` : ""].filter(Boolean).join(" · ");
    const toast = document.createElement("div");
    toast.className = `toast l${top.level || 2}`;
    toast.innerHTML = `<div class="t">${esc(title)}</div><div class="b">${esc(kind)} · ${esc(body)}</div>`;
    const box = document.getElementById("toasts");
    box.prepend(toast);
    while (box.children.length > 3) box.lastElementChild.remove();
    setTimeout(() => toast.remove(), 12000);
    if ("Notification" in window && Notification.permission === "granted") {
      try {
        const n = new Notification(title, { body, tag: item.id, lang: LANG, requireInteraction: (top.level || 0) >= 3 });
        n.onclick = () => { window.focus(); n.close(); };
      } catch (_) { /* some browsers allow notifications only from a service worker */ }
    }
  }

  // ------------------------------------------------------------------------------------------ live updates
  let ws = null;
  let backoff = 1000;
  function connect() {
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
    ws = new WebSocket(url);
    ws.onopen = () => { backoff = 1000; ws.send(JSON.stringify({ type: "subscribe", topics: ["alerts"] })); };
    ws.onmessage = (ev) => {
      const f = JSON.parse(ev.data);
      if (f.type === "hello") {
        if (f.build && BUILD && f.build !== BUILD) location.reload();
      } else if (f.type === "snapshot") {
        state.connected = true;
        for (const a of f.alerts || []) if (a.type !== "inbox" && a.fingerprint) state.alerts.set(a.fingerprint, a);
        render();
      } else if (f.type === "delta") {
        let changed = false;
        for (const a of f.alerts || []) {
          if (a.type === "inbox") {
            if (!myOwners().has(a.recipient) || state.seen.has(a.id)) continue;
            state.seen.add(a.id);
            state.inbox.unshift(a);
            for (const x of a.alerts || []) state.fresh.add(x.fingerprint);
            notifyNew(a);
          } else if (a.fingerprint) {
            state.alerts.set(a.fingerprint, a);
          }
          changed = true;
        }
        if (changed) render();
      } else if (f.type === "ping") {
        ws.send(JSON.stringify({ type: "pong", t: f.server_time }));
      }
    };
    ws.onclose = () => {
      state.connected = false;
      renderHeader();
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 30000);
    };
  }

  // ------------------------------------------------------------------------------------------ rendering
  function renderLogin(message) {
    app.innerHTML = `<section class="card login"><h2>${esc(T.login)}</h2><p>${esc(T.loginHelp)}</p>
      <form id="login"><label>${esc(T.token)}<input name="token" type="password" autocomplete="off" required></label>
      ${message ? `<p class="error">${esc(message)}</p>` : ""}<button class="primary">${esc(T.signin)}</button>
      <a href="?lang=${LANG === "ko" ? "en" : "ko"}" style="margin-left:12px">${esc(T.other)}</a></form></section>`;
    document.getElementById("login").onsubmit = async (ev) => {
      ev.preventDefault();
      try {
        await window.SRSession.signIn(new FormData(ev.target).get("token"));
      } catch (err) {
        renderLogin(err.status === 429 ? T.tooMany(err.retryAfter || 60) : err.status === 401 ? T.badToken : err.message);
        return;
      }
      start();
    };
  }

  function renderHeader() {
    const h = document.querySelector("header.top");
    if (!h) return;
    h.querySelector(".conn").className = `conn${state.connected ? " on" : ""}`;
    h.querySelector(".conn").title = state.connected ? T.live : T.offline;
  }

  function notifButton() {
    if (!("Notification" in window)) return "";
    if (Notification.permission === "granted") return `<span class="who">${esc(T.notifOn)}</span>`;
    if (Notification.permission === "denied") return `<span class="who">${esc(T.notifBlocked)}</span>`;
    return `<button id="notif">${esc(T.enableNotif)}</button>`;
  }

  function alertCard(a) {
    const acked = a.acked;
    const fresh = state.fresh.has(a.fingerprint);
    const silencing = state.silencing === a.fingerprint;
    const open = state.open === a.fingerprint;
    const active = a.state === "firing" || a.state === "pending";
    const stateBadge = a.state === "firing" ? "" : `<span class="badge state${a.state === "resolved" ? " resolved" : ""}">${esc(T.states[a.state] || a.state)}</span>`;
    const dept = DATA.departments[a.department];
    const since = LANG === "ko" ? `${fmtTime(a.fired || a.since)} ${T.since}` : `${T.since} ${fmtTime(a.fired || a.since)}`;
    const meta = [since, dept ? nm(dept) : "", a.silenced && a.silenced.length ? mutedText(a) : "", a.tier ? `${T.tier} ${a.tier}` : ""]
      .filter(Boolean).join(" · ");
    return `<article class="alert l${a.level}${fresh ? " new" : ""}${a.state === "resolved" ? " over" : ""}${a.exercise ? " exercise" : ""}" data-fp="${esc(a.fingerprint)}">
      <div class="head">${badge(a.level, sevName(a))}${stateBadge}
        <span class="what">${esc(alertWhat(a))}</span><span class="where">${esc(alertWhere(a))}</span>
        <span class="value">${esc(fmtValue(a))}</span><span class="meta">${esc(meta)}</span>
        <span class="actions">
          ${acked ? `<span class="done">✓ ${esc(T.acked)} ${esc(T.by)} ${esc(acked.by || "")} · ${esc(fmtTime(acked.at))}</span>`
            : active ? `<button class="primary" data-act="ack">${esc(T.ack)}</button>` : ""}
          ${active && !silencing ? `<button data-act="silence">${esc(T.silence)}</button>` : ""}
          <button data-act="open" aria-expanded="${open}">${esc(T.details)}</button>
        </span></div>
      ${silencing ? `<form class="silence" data-fp="${esc(a.fingerprint)}">
          <label>${esc(T.silenceFor)} <select name="duration">${T.durations.filter(([v]) => SECONDS[v] <= maxSilence()).map(([v, l]) => `<option value="${v}">${esc(l)}</option>`).join("")}</select></label>
          <input name="reason" required placeholder="${esc(T.reasonHint)}" aria-label="${esc(T.reason)}">
          <button class="primary">${esc(T.apply)}</button><button type="button" data-act="unsilence">${esc(T.cancel)}</button></form>` : ""}
      ${open ? `<div class="detail">${alertMsg(a) ? `<div class="msg">${esc(alertMsg(a))}</div>` : ""}
          <div class="deliveries" data-deliveries="${esc(a.fingerprint)}">…</div></div>` : ""}
    </article>`;
  }

  // Alerts of one rule at one level (a storm's rain over many dongs) are one group: the first few shown.
  const GROUP_SHOWN = 3;
  function alertGroups(alerts) {
    const groups = new Map();
    for (const a of alerts) {
      const key = `${a.rule}/${a.level}/${a.state === "resolved" ? "r" : "a"}${a.exercise ? "/x" : ""}`;   // a drill apart
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(a);
    }
    return [...groups.entries()].map(([key, list]) => {
      if (list.length === 1) return alertCard(list[0]);
      const a = list[0];
      const open = state.expanded.has(key);
      const shown = open ? list : list.slice(0, GROUP_SHOWN);
      const more = list.length - shown.length;
      const word = LANG === "ko" ? `${list.length}곳` : `${list.length} places`;
      return `<div class="group" data-group="${esc(key)}"><div class="ghead">${badge(a.level, sevName(a))}
          <span class="what">${esc(alertWhat(a))}</span><span class="count">${esc(word)}</span></div>
        ${shown.map(alertCard).join("")}
        ${more > 0 ? `<button class="more" data-act="expand">${esc(LANG === "ko" ? `${more}곳 더 보기` : `${more} more`)}</button>`
          : list.length > GROUP_SHOWN ? `<button class="more" data-act="expand">${esc(T.less)}</button>` : ""}</div>`;
    }).join("");
  }

  function filterChips(s) {
    const chips = [];
    for (const d of s.departments) chips.push(nm(DATA.departments[d]) || d);
    for (const d of s.domains) chips.push(nm(DOM[d]) || d);
    for (const d of s.districts) chips.push(nm(DIST[d]) || d);
    for (const i of s.indicators) chips.push(nm(IND[i]) || i);
    if (!chips.length) chips.push(T.any);
    return chips.map((c) => `<span class="chip">${esc(c)}</span>`).join("");
  }

  function channelName(id) {
    const c = state.channels.find((x) => x.id === id);
    return c ? (LANG === "ko" ? c.name_ko : c.name_en) : id;
  }

  function subCard(s) {
    if (state.editing === s.id) return subForm(s);
    const lv = DATA.levels.find((l) => l.ko === s.min_severity) || {};
    const quiet = s.quiet_hours ? `${T.quiet} ${s.quiet_hours.start.slice(0, 5)}–${s.quiet_hours.end.slice(0, 5)}` : "";
    return `<div class="sub" data-sub="${esc(s.id)}"><div class="row"><span class="name grow">${esc(s.name || s.id)}</span>
        ${badge(lv.level || 2, `${nm(lv)}+`)}</div>
      <div class="filters">${filterChips(s)}</div>
      <div class="row"><span class="grow">${s.channels.map((c) => `<span class="chip${s.enabled ? "" : " off"}">${esc(channelName(c))}</span>`).join("")} ${esc(quiet)}</span>
        <button data-act="edit">${esc(T.edit)}</button><button class="danger" data-act="delete">${esc(T.del)}</button></div></div>`;
  }

  function checks(name, items, chosen) {
    return `<div class="checks">${items.map((it) => `<label><input type="checkbox" name="${name}" value="${esc(it.id)}"${chosen.includes(it.id) ? " checked" : ""}> ${esc(it.label)}</label>`).join("")}</div>`;
  }

  function subForm(s) {
    const isNew = !s;
    s = s || { name: "", departments: [], domains: [], districts: [], indicators: [], min_severity: "주의", channels: ["inapp"], quiet_hours: null, resolved: true, enabled: true };
    const gus = DATA.districts.filter((d) => d.kind === "gu").map((d) => ({ id: d.id, label: nm(d) }));
    const chans = state.channels.filter((c) => c.usable || s.channels.includes(c.id)).map((c) => ({ id: c.id, label: LANG === "ko" ? c.name_ko : c.name_en }));
    const inds = s.indicators.join(", ");
    return `<form class="subform" data-sub="${esc(isNew ? "" : s.id)}">
      <label class="k">${esc(T.name)}</label><input name="name" value="${esc(s.name)}">
      <label class="k">${esc(T.minSev)}</label><select name="min_severity">${DATA.levels.map((l) => `<option value="${l.ko}"${l.ko === s.min_severity ? " selected" : ""}>${esc(nm(l))}</option>`).join("")}</select>
      <label class="k">${esc(T.domains)}</label>${checks("domains", DATA.domains.map((d) => ({ id: d.id, label: nm(d) })), s.domains)}
      <label class="k">${esc(T.districts)}</label>${checks("districts", gus, s.districts)}
      <label class="k">${esc(T.indicators)}</label><input name="indicators" value="${esc(inds)}" placeholder="river.level, rain.hourly" list="indicator-ids">
      <label class="k">${esc(T.channels)}</label>${checks("channels", chans, s.channels)}
      <label class="k">${esc(T.quiet)}</label><div><input name="qstart" type="time" value="${s.quiet_hours ? s.quiet_hours.start.slice(0, 5) : ""}"> – <input name="qend" type="time" value="${s.quiet_hours ? s.quiet_hours.end.slice(0, 5) : ""}"><div class="empty" style="padding:2px 0;font-size:13px">${esc(T.quietHelp)}</div></div>
      <label class="k">${esc(T.resolved)}</label><div><input type="checkbox" name="resolved"${s.resolved ? " checked" : ""}> &nbsp; <label><input type="checkbox" name="enabled"${s.enabled ? " checked" : ""}> ${esc(T.enabled)}</label></div>
      ${s.departments.length ? `<input type="hidden" name="departments" value="${esc(s.departments.join(","))}">` : ""}
      <div class="error" hidden></div>
      <div class="buttons"><button type="button" data-act="cancel-edit">${esc(T.cancel)}</button><button class="primary">${esc(T.save)}</button></div>
      <datalist id="indicator-ids">${DATA.indicators.map((i) => `<option value="${esc(i.id)}">${esc(nm(i))}</option>`).join("")}</datalist>
    </form>`;
  }

  function historyItem(it) {
    if (it.kind === "briefing" && it.briefing) {
      // A briefing is a link to its page, its title already tagged [훈련] when it cites exercise data.
      const b = it.briefing;
      return `<li><time>${esc(fmtTime(it.at))}</time><span class="badge resolved state">${esc(T.kinds.briefing)}</span>
        <span class="txt"><a href="${esc(b.link)}">${esc(LANG === "ko" ? b.title_ko : b.title_en)}</a></span></li>`;
    }
    const alerts = it.alerts || [];
    const top = alerts[0] || {};
    const kind = T.kinds[it.kind] || it.kind;
    return `<li><time>${esc(fmtTime(it.at))}</time>${it.kind === "resolved" ? `<span class="badge resolved state">${esc(kind)}</span>` : badge(top.level || 2, sevName(top))}
      <span class="txt">${esc(alertWhat(top))} — ${esc(alertWhere(top))}${alerts.length > 1 ? ` +${alerts.length - 1}` : ""}
      <span class="empty" style="padding:0"> · ${esc(kind)}${it.tier ? ` · ${esc(T.tier)} ${it.tier}` : ""}</span></span></li>`;
  }

  function render() {
    if (!state.me) return;
    const me = state.me.staff;
    const who = me ? `${nm({ ko: me.name_ko, en: me.name_en })} · ${nm({ ko: me.role_ko, en: me.role_en })} · ${nm(DATA.departments[me.department])}` : state.me.name;
    const recent = Date.now() - 6 * 3600 * 1000;  // resolved alerts stay in view for six hours
    const alerts = [...state.alerts.values()]
      .filter((a) => a.state === "firing" || a.state === "pending" || (a.state === "resolved" && (a.resolved || 0) > recent))
      .filter((a) => state.showAll || isMine(a))
      .sort((a, b) => (b.state === "firing") - (a.state === "firing") || b.level - a.level || (a.since || 0) - (b.since || 0));
    const subs = state.subs;
    // While any exercise alert is in view: a band no one can miss, and each one tagged.
    const drill = alerts.some((a) => a.exercise) || state.inbox.some((it) => (it.alerts || []).some((a) => a.exercise));
    document.body.classList.toggle("exercise", drill);
    app.innerHTML = `${drill ? `<div class="exercise-band" role="status" data-testid="exercise-band"><b>${esc(T.exercise)}</b> ${esc(T.exerciseBand)}</div>` : ""}<header class="top"><h1>${esc(nm(DATA.city))} ${esc(T.title)}</h1><span class="conn" title=""></span>
        <span class="who">${esc(who)}</span>${notifButton()}
        <a class="lang" href="?lang=${LANG === "ko" ? "en" : "ko"}"><button>${esc(T.other)}</button></a>
        <button id="signout">${esc(T.signout)}</button></header>
      <main><div class="col">
        <section class="card" id="alerts"><h2>${esc(T.myAlerts)} <span class="count">${alerts.length}</span><span class="grow"></span>
          <label style="font-size:14px;font-weight:400"><input type="checkbox" id="showall"${state.showAll ? " checked" : ""}> ${esc(T.allAlerts)}</label></h2>
          ${alerts.length ? alertGroups(alerts) : `<div class="empty">${esc(T.noAlerts)}</div>`}</section>
      </div><div class="col">
        <section class="card" id="subs"><h2>${esc(T.subs)} <span class="count">${subs.length}</span><span class="grow"></span>
          ${state.editing === "" ? "" : `<button id="addsub">+ ${esc(T.addSub)}</button>`}</h2>
          ${state.editing === "" ? subForm(null) : ""}
          ${subs.length ? subs.map(subCard).join("") : `<div class="empty">${esc(T.noSubs)}</div>`}</section>
        <section class="card history" id="history"><h2>${esc(T.history)} <span class="count">${state.inbox.length}</span></h2>
          ${state.inbox.length ? `<ul>${state.inbox.slice(0, 100).map(historyItem).join("")}</ul>` : `<div class="empty">${esc(T.noHistory)}</div>`}</section>
      </div></main>`;
    renderHeader();
    state.fresh.clear();
    if (state.open) loadDeliveries(state.open);
  }

  async function loadDeliveries(fp) {
    const box = document.querySelector(`[data-deliveries="${CSS.escape(fp)}"]`);
    if (!box) return;
    try {
      const d = await api("GET", `/api/v1/alerts/${encodeURIComponent(fp)}`);
      const rows = (d.deliveries || []).slice(0, 20).map((e) => `<tr><td>${esc(fmtTime(e.at))}</td><td>${esc(e.recipient || "")}</td>
        <td>${esc(e.channel ? channelName(e.channel) : "")}</td><td class="${esc(e.status)}">${esc(e.status)}${e.attempt > 1 ? ` (${e.attempt})` : ""}</td>
        <td>${esc(e.error || e.note || "")}</td></tr>`).join("");
      const events = (d.history || []).slice(0, 12).map((h) => `<tr><td>${esc(fmtTime(h.at))}</td>
        <td colspan="4">${esc(h.event)}${h.by ? ` · ${esc(h.by)}` : ""}${h.tier ? ` · ${esc(T.tier)} ${h.tier}` : ""}${h.comment ? ` · ${esc(h.comment)}` : ""}</td></tr>`).join("");
      box.innerHTML = `<table><tr><th colspan="5">${esc(T.deliveries)}</th></tr>${rows || "<tr><td>—</td></tr>"}
        <tr><th colspan="5">${esc(T.alertHistory)}</th></tr>${events || "<tr><td>—</td></tr>"}</table>`;
    } catch (err) {
      box.textContent = err.message;
    }
  }

  // ------------------------------------------------------------------------------------------ actions
  function formSubscription(form) {
    const fd = new FormData(form);
    const list = (name) => fd.getAll(name).map(String);
    const qs = fd.get("qstart"), qe = fd.get("qend");
    const body = {
      name: String(fd.get("name") || ""), min_severity: String(fd.get("min_severity")),
      domains: list("domains"), districts: list("districts"),
      indicators: String(fd.get("indicators") || "").split(/[\s,]+/).filter(Boolean),
      channels: list("channels"), resolved: fd.get("resolved") === "on", enabled: fd.get("enabled") === "on",
      quiet_hours: qs && qe ? { start: qs, end: qe } : null,
    };
    const deps = fd.get("departments");
    body.departments = deps ? String(deps).split(",").filter(Boolean) : [];
    return body;
  }

  app.addEventListener("click", async (ev) => {
    const t = ev.target.closest("button, input#showall");
    if (!t) return;
    if (t.id === "showall") { state.showAll = t.checked; render(); return; }
    if (t.id === "signout") { await window.SRSession.signOut().catch(() => null); location.reload(); return; }
    if (t.id === "notif") { await Notification.requestPermission(); render(); return; }
    if (t.id === "addsub") { state.editing = ""; render(); return; }
    const act = t.dataset.act;
    const card = t.closest("[data-fp]");
    const fp = card && card.dataset.fp;
    try {
      if (act === "ack") {
        t.disabled = true;
        const r = await api("POST", `/api/v1/alerts/${encodeURIComponent(fp)}/ack`, {});
        state.alerts.set(fp, r.alert);
        render();
      } else if (act === "silence") { state.silencing = fp; render(); }
      else if (act === "unsilence") { state.silencing = null; render(); }
      else if (act === "open") { state.open = state.open === fp ? null : fp; render(); }
      else if (act === "expand") {
        const key = t.closest("[data-group]").dataset.group;
        if (state.expanded.has(key)) state.expanded.delete(key); else state.expanded.add(key);
        render();
      }
      else if (act === "edit") { state.editing = t.closest("[data-sub]").dataset.sub; render(); }
      else if (act === "cancel-edit") { state.editing = null; render(); }
      else if (act === "delete") {
        const id = t.closest("[data-sub]").dataset.sub;
        if (!confirm(T.confirmDel)) return;
        await api("DELETE", `/api/v1/subscriptions/${encodeURIComponent(id)}`);
        state.subs = state.subs.filter((s) => s.id !== id);
        render();
      }
    } catch (err) {
      alert(err.message);
      t.disabled = false;
    }
  });

  app.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = ev.target;
    if (form.classList.contains("silence")) {
      const a = state.alerts.get(form.dataset.fp);
      const fd = new FormData(form);
      try {
        await api("POST", "/api/v1/silences", { matchers: { rule: a.rule, entity: a.entity }, duration: fd.get("duration"), reason: fd.get("reason") });
        state.silencing = null;
        render();
      } catch (err) { alert(err.message); }
    } else if (form.classList.contains("subform")) {
      const id = form.dataset.sub;
      const body = formSubscription(form);
      try {
        const saved = id ? await api("PUT", `/api/v1/subscriptions/${encodeURIComponent(id)}`, body)
          : await api("POST", "/api/v1/subscriptions", body);
        state.subs = id ? state.subs.map((s) => (s.id === id ? saved : s)) : [...state.subs, saved];
        state.editing = null;
        render();
      } catch (err) {
        const box = form.querySelector(".error");
        box.hidden = false;
        box.textContent = err.field ? `${err.field}: ${err.message}` : err.message;
      }
    }
  });

  // ------------------------------------------------------------------------------------------ start
  async function start() {
    try {
      const session = (await window.SRSession.adopt(TOKEN_KEY)) || (await window.SRSession.current());
      if (!session.signed_in) { renderLogin(); return; }
      state.me = await api("GET", "/api/v1/staff/me");
    } catch (err) {
      if (err.status === 401 || err.status === 403) { await window.SRSession.signOut().catch(() => null); renderLogin(T.badToken); return; }
      renderLogin(err.message); return;
    }
    state.channels = state.me.channels || [];
    const [subs, inbox, alerts] = await Promise.all([
      api("GET", "/api/v1/subscriptions"), api("GET", "/api/v1/staff/me/inbox"),
      api("GET", "/api/v1/alerts?state=all&limit=200").catch(() => ({ alerts: [] })),
    ]);
    state.subs = subs.subscriptions;
    state.inbox = inbox.items;
    for (const it of state.inbox) state.seen.add(it.id);
    for (const a of alerts.alerts || []) state.alerts.set(a.fingerprint, a);
    render();
    connect();
  }
  start();
})();
