// The audit page (/audit): every change made through the product, newest first — who (token name and role),
// what, when, from which address — filtered by action, actor and time, paged back, downloadable as CSV. Admins
// only: the server refuses everyone else; the page signs in through session.js. Everything is served by the product.
"use strict";

(() => {
  const LANG = document.body.dataset.lang === "en" ? "en" : "ko";
  const DATA = JSON.parse(document.getElementById("page-data").textContent);
  const PAGE = 100;
  const T = {
    ko: {
      title: "상황실 · 감사 기록", signin: "관리자 로그인", signout: "로그아웃", token: "토큰", apply: "로그인",
      tokenHelp: "situationroom tokens create --role admin --name 이름 으로 만든 관리자 토큰을 붙여 넣으세요. 로그아웃할 때까지 로그인이 유지됩니다.",
      badToken: "토큰이 맞지 않습니다", notAdmin: (r) => `감사 기록은 관리자(admin)만 볼 수 있습니다. 지금 로그인한 역할: ${r}`,
      tooMany: (s) => `로그인 실패가 너무 많습니다. ${s}초 뒤에 다시 시도하세요.`,
      cols: ["시각", "누가", "무엇을", "대상", "주소", "내용"], action: "동작", actor: "누가 (토큰 이름·직원 ID)", since: "부터", until: "까지",
      all: "전체", filter: "찾기", csv: "CSV 내려받기", more: "더 보기", none: "기록이 없습니다.", other: "English",
      actions: {
        "token.create": "토큰 발급", "token.revoke": "토큰 폐기", "session.signin": "로그인", "session.signout": "로그아웃",
        "auth.lockout": "로그인 차단", "alert.ack": "경보 확인", "silence.create": "무음 설정", "silence.expire": "무음 해제",
        "subscription.create": "구독 추가", "subscription.update": "구독 변경", "subscription.delete": "구독 삭제",
        "collector.pause": "수집기 일시정지", "collector.resume": "수집기 재개", "collector.run": "수집기 즉시 실행",
        "rules.reload": "경보 규칙 다시 읽음", "dashboards.reload": "대시보드 다시 읽음",
      },
    },
    en: {
      title: "situation room · audit log", signin: "Admin sign-in", signout: "Sign out", token: "Token", apply: "Sign in",
      tokenHelp: "Paste an admin token made with situationroom tokens create --role admin --name NAME. You stay signed in until you sign out.",
      badToken: "That token is not valid", notAdmin: (r) => `Only admins may read the audit log; you are signed in as: ${r}`,
      tooMany: (s) => `Too many failed sign-ins: try again in ${s} s.`,
      cols: ["Time", "Who", "What", "Target", "Address", "Detail"], action: "Action", actor: "Who (token name or staff id)", since: "From", until: "Until",
      all: "all", filter: "Search", csv: "Download CSV", more: "Older entries", none: "Nothing recorded.", other: "한국어",
      actions: {
        "token.create": "token created", "token.revoke": "token revoked", "session.signin": "signed in", "session.signout": "signed out",
        "auth.lockout": "address locked out", "alert.ack": "alert acknowledged", "silence.create": "silence set", "silence.expire": "silence ended",
        "subscription.create": "subscription added", "subscription.update": "subscription changed", "subscription.delete": "subscription deleted",
        "collector.pause": "collector paused", "collector.resume": "collector resumed", "collector.run": "collector run now",
        "rules.reload": "alert rules reloaded", "dashboards.reload": "dashboard reloaded",
      },
    },
  }[LANG];
  const state = { session: null, entries: [], next: null, error: null, filters: {}, loginError: null };
  const app = document.getElementById("app");
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const stamp = (t) => new Intl.DateTimeFormat(LANG === "ko" ? "ko-KR" : "en-GB", {
    timeZone: DATA.city.timezone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    second: "2-digit", hour12: false,
  }).format(new Date(t * 1000));
  const actionName = (a) => T.actions[a] || a;

  function query(extra) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries({ ...state.filters, ...extra })) if (v) q.set(k, v);
    return q.toString();
  }

  // A detail as short "key: value" pairs; the full JSON is in the CSV and the API.
  function detail(d) {
    return Object.entries(d || {}).filter(([, v]) => v !== null && v !== undefined && v !== "")
      .map(([k, v]) => `<span class="muted">${esc(k)}:</span> ${esc(typeof v === "object" ? JSON.stringify(v) : v)}`).join(" · ");
  }

  function loginForm(message) {
    return `<form id="login" class="login"><label>${esc(T.token)} <input name="token" type="password" autocomplete="off" required></label>
      <button class="primary">${esc(T.apply)}</button><div class="muted small">${esc(T.tokenHelp)}</div>
      ${message ? `<div class="bad-text">${esc(message)}</div>` : ""}</form>`;
  }

  function render() {
    const s = state.session;
    const admin = s && s.signed_in && (s.scopes || []).includes("admin");
    const who = s && s.signed_in ? `<span class="who">${esc(s.name)} · ${esc(s.role)}</span><button id="signout">${esc(T.signout)}</button>` : "";
    let body;
    if (!s || !s.signed_in) body = loginForm(state.loginError);
    else if (!admin) body = `<p class="notice">${esc(T.notAdmin(s.role))}</p>`;
    else {
      const f = state.filters;
      const options = [`<option value="">${esc(T.all)}</option>`, ...DATA.actions.map((a) => `<option value="${esc(a)}"${f.action === a ? " selected" : ""}>${esc(actionName(a))}</option>`)];
      const rows = state.entries.map((e) => `<tr data-id="${esc(e.id)}"><td class="nowrap"><time>${esc(stamp(e.at))}</time></td>
          <td>${esc(e.actor)}<span class="role">${esc(e.role)}${e.staff && e.staff !== e.actor ? ` · ${esc(e.staff)}` : ""}</span></td>
          <td><span class="action${e.action === "auth.lockout" ? " lockout" : ""}" title="${esc(e.action)}">${esc(actionName(e.action))}</span></td>
          <td class="mono">${esc(e.target)}</td><td class="mono">${esc(e.address)}</td><td class="detail">${detail(e.detail)}</td></tr>`).join("");
      body = `<form class="filters" id="filters">
          <label>${esc(T.action)}<select name="action">${options.join("")}</select></label>
          <label>${esc(T.actor)}<input name="actor" value="${esc(f.actor || "")}"></label>
          <label>${esc(T.since)}<input name="since" type="datetime-local" value="${esc(f.since || "")}"></label>
          <label>${esc(T.until)}<input name="until" type="datetime-local" value="${esc(f.until || "")}"></label>
          <button class="primary">${esc(T.filter)}</button>
          <a class="csv" href="/api/v1/audit?${esc(query({ format: "csv", limit: "100000" }))}" download>${esc(T.csv)}</a></form>
        ${state.error ? `<p class="notice bad-text">${esc(state.error)}</p>` : ""}
        ${state.entries.length ? `<table class="audit"><thead><tr>${T.cols.map((c) => `<th>${esc(c)}</th>`).join("")}</tr></thead>
          <tbody>${rows}</tbody></table>` : `<p class="empty">${esc(T.none)}</p>`}
        ${state.next ? `<button class="more" id="more">${esc(T.more)}</button>` : ""}`;
    }
    app.innerHTML = `<header class="top"><h1>${esc(DATA.city[LANG])} ${esc(T.title)}</h1>${who}
        <a href="?lang=${LANG === "ko" ? "en" : "ko"}" class="lang">${esc(T.other)}</a></header><main>${body}</main>`;
  }

  async function load(more) {
    try {
      const d = await window.SRSession.api("GET", `/api/v1/audit?${query({ limit: String(PAGE), before: more ? state.next : "" })}`);
      state.entries = more ? [...state.entries, ...d.entries] : d.entries;
      state.next = d.next;
      state.error = null;
    } catch (err) {
      state.error = err.field ? `${err.field}: ${err.message}` : err.message;
    }
    render();
  }

  app.addEventListener("click", async (ev) => {
    const t = ev.target.closest("button");
    if (!t) return;
    if (t.id === "signout") { await window.SRSession.signOut().catch(() => null); state.session = null; state.entries = []; render(); }
    else if (t.id === "more") await load(true);
  });

  app.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const fd = new FormData(ev.target);
    if (ev.target.id === "login") {
      try {
        state.session = await window.SRSession.signIn(fd.get("token"));
        state.loginError = null;
      } catch (err) {
        state.loginError = err.status === 429 ? T.tooMany(err.retryAfter || 60) : err.status === 401 ? T.badToken : err.message;
        render();
        return;
      }
      await start();
    } else {
      state.filters = Object.fromEntries([...fd.entries()].map(([k, v]) => [k, String(v).trim()]));
      await load(false);
    }
  });

  async function start() {
    state.session = await window.SRSession.current().catch(() => ({ signed_in: false }));
    if (state.session.signed_in && (state.session.scopes || []).includes("admin")) await load(false);
    else render();
  }
  start();
})();
