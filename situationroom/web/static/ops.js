// The operator page (/ops): every collector's state, last error with its time, samples per run, last and
// next run, refreshed every few seconds; run now, pause and resume for operator tokens (the server checks the
// role on every request, the page only hides what it would refuse). Below, the site's briefings with the last
// one made and a button that makes one now (the same request as /briefings). Signing in: session.js.
// Everything is served by the product.
"use strict";

(() => {
  const LANG = document.body.dataset.lang === "en" ? "en" : "ko";
  const DATA = JSON.parse(document.getElementById("page-data").textContent);
  const TOKEN_KEY = "situationroom.ops.token";
  const REFRESH_MS = 3000;
  const BRIEFINGS_EVERY = 10;  // refreshes between readings of the briefings' archive (it changes rarely)
  const T = {
    ko: {
      title: "상황실 · 수집기 운영", briefings: "상황 보고", signin: "운영자 로그인", signout: "로그아웃", token: "토큰", apply: "로그인", cancel: "취소",
      tokenHelp: "situationroom tokens create --role operator --name 이름 으로 만든 토큰을 붙여 넣으세요. 로그아웃할 때까지 로그인이 유지되며, 토큰은 브라우저에 저장되지 않습니다.",
      badToken: "토큰이 맞지 않습니다", readOnly: "보기 전용입니다. 실행·일시정지·재개는 운영자(operator)나 관리자(admin) 토큰으로 로그인해야 쓸 수 있습니다.",
      roleOnly: (r) => `지금 토큰의 역할(${r})로는 수집기를 조작할 수 없습니다. 운영자(operator)나 관리자(admin) 토큰이 필요합니다.`,
      signedIn: (n, r) => `${n} · ${r}`,
      cols: ["상태", "수집기", "종류 · 일정", "최근 실행", "다음 실행", "수집 건수/회", "최근 오류", "조작"],
      run: "지금 실행", pause: "일시정지", resume: "재개", requested: "실행 요청됨",
      states: {
        ok: "정상", scheduled: "대기", failing: "실패", invalid: "설정 오류", disabled: "꺼짐", paused: "일시정지",
        live: "실시간", connected: "연결됨", disconnected: "연결 끊김", unknown: "알 수 없음",
      },
      none: "수집기가 없습니다. collectors/ 폴더에 파일을 추가하세요 (docs/collectors.md).",
      updated: "갱신", offline: "서버에 연결할 수 없습니다 — 다시 시도 중", ago: (s) => `${s} 전`, inT: (s) => `${s} 후`,
      now: "곧", justNow: "방금", sec: "초", min: "분", hour: "시간", day: "일", rejected: "거부", samples: "건",
      exercise: "훈련", exerciseBand: (ids) => `훈련 자료 수집 중 — 실제 상황이 아닌 훈련·모의 자료를 보내는 수집기: ${ids}`,
      failures: (n) => `연속 ${n}회 실패`, runs: (n) => `${n}회 실행`, never: "—",
      details: "최근 거부", noRejections: "최근 거부된 항목이 없습니다.", other: "English", help: "도움말",
      done: { run: "실행을 요청했습니다", pause: "일시정지했습니다", resume: "재개했습니다" },
      brief: { title: "상황 보고", cols: ["보고", "일정", "최근 작성", "조작"], run: "지금 작성", running: "작성 중…",
        onDemand: "요청 시에만", none: "보고 정의가 없습니다. briefings/ 폴더에 파일을 추가하세요 (docs/briefings.md).",
        made: (n) => `작성했습니다: ${n}`, all: "보고 목록", readOnly: "보고 작성은 운영자(operator)나 관리자(admin) 토큰으로 로그인해야 쓸 수 있습니다." },
      summary: "요약", configError: "파일 오류 — 마지막 정상 설정으로 계속 실행 중:", needsEnv: "켜려면 환경 변수 필요:",
    },
    en: {
      title: "situation room · collectors", briefings: "Briefings", signin: "Operator sign-in", signout: "Sign out", token: "Token", apply: "Sign in", cancel: "Cancel",
      tokenHelp: "Paste a token made with situationroom tokens create --role operator --name NAME. You stay signed in until you sign out; the token itself is not kept in the browser.",
      badToken: "That token is not valid", readOnly: "Read only. Run now, pause and resume need an operator or admin token: sign in.",
      roleOnly: (r) => `This token's role (${r}) cannot operate collectors; an operator or admin token is needed.`,
      signedIn: (n, r) => `${n} · ${r}`,
      cols: ["State", "Collector", "Kind · schedule", "Last run", "Next run", "Samples/run", "Last error", "Actions"],
      run: "Run now", pause: "Pause", resume: "Resume", requested: "run requested",
      states: {
        ok: "ok", scheduled: "scheduled", failing: "failing", invalid: "invalid", disabled: "disabled", paused: "paused",
        live: "live", connected: "connected", disconnected: "disconnected", unknown: "unknown",
      },
      none: "No collectors. Add a file to the collectors/ folder (docs/collectors.md).",
      updated: "updated", offline: "cannot reach the server — retrying", ago: (s) => `${s} ago`, inT: (s) => `in ${s}`,
      now: "now", justNow: "just now", sec: "s", min: "min", hour: "h", day: "d", rejected: "rejected", samples: "samples",
      exercise: "EXERCISE", exerciseBand: (ids) => `Exercise data coming in — collectors delivering drill or simulated data, not real: ${ids}`,
      failures: (n) => `${n} failures in a row`, runs: (n) => `${n} runs`, never: "—",
      details: "Recent rejections", noRejections: "Nothing rejected recently.", other: "한국어", help: "Help",
      done: { run: "Run requested", pause: "Paused", resume: "Resumed" },
      brief: { title: "Briefings", cols: ["Briefing", "Schedule", "Last made", "Actions"], run: "Make now", running: "Making…",
        onDemand: "on demand only", none: "No briefing definitions. Add a file to the briefings/ folder (docs/briefings.md).",
        made: (n) => `Made: ${n}`, all: "All briefings", readOnly: "Making a briefing needs an operator or admin token: sign in." },
      summary: "Summary", configError: "File error — still running its last good version:", needsEnv: "Needs the environment variable:",
    },
  }[LANG];
  // Colour, icon and word together: the state reads without colour vision too.
  const STATE = {
    failing: { icon: "✕", cls: "bad", rank: 0 }, invalid: { icon: "⚠", cls: "bad", rank: 1 },
    disconnected: { icon: "⚡", cls: "warn", rank: 2 }, paused: { icon: "‖", cls: "pause", rank: 3 },
    scheduled: { icon: "◷", cls: "info", rank: 4 }, ok: { icon: "✓", cls: "good", rank: 5 },
    live: { icon: "⇄", cls: "good", rank: 5 }, connected: { icon: "⇄", cls: "good", rank: 5 },
    disabled: { icon: "○", cls: "off", rank: 6 }, unknown: { icon: "?", cls: "off", rank: 7 },
  };

  const state = {
    signedIn: false, you: null, rows: [], error: null, updated: 0, login: false,
    loginError: null, busy: new Set(), open: null, rejections: new Map(), toast: null,
    briefings: null, briefingsError: null, making: null, ticks: 0,
  };
  const app = document.getElementById("app");

  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const clock = (t) => (t ? new Intl.DateTimeFormat(LANG === "ko" ? "ko-KR" : "en-GB", {
    timeZone: DATA.city.timezone, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
  }).format(new Date(t * 1000)) : "");
  const day = (t) => new Intl.DateTimeFormat(LANG === "ko" ? "ko-KR" : "en-GB", {
    timeZone: DATA.city.timezone, month: "short", day: "numeric",
  }).format(new Date(t * 1000));
  function span(seconds) {
    const s = Math.abs(Math.round(seconds));
    const sp = LANG === "ko" ? "" : " ";
    if (s < 60) return `${s}${sp}${T.sec}`;
    // Rounded before choosing the unit, so 59.9 minutes reads "1 h", not "60 min".
    const m = Math.round(s / 60);
    if (m < 60) return `${m}${sp}${T.min}`;
    const h = Math.round(s / 3600);
    if (h < 24) return `${h}${sp}${T.hour}`;
    return `${Math.round(s / 86400)}${sp}${T.day}`;
  }
  function when(t) {
    if (!t) return `<span class="muted">${T.never}</span>`;
    const d = t - Date.now() / 1000;
    const rel = Math.abs(d) < 1.5 ? (d < 0 ? T.justNow : T.now) : d < 0 ? T.ago(span(d)) : T.inT(span(d));
    const today = day(t) === day(Date.now() / 1000);
    return `<time datetime="${new Date(t * 1000).toISOString()}">${esc(today ? "" : `${day(t)} `)}${esc(clock(t))}</time>
      <span class="rel">${esc(rel)}</span>`;
  }
  // Errors name their file; the site's folder in front of collectors/ says nothing to the operator.
  const sitePath = (text) => String(text).replace(/(^|[\s(])\/\S*?\/(collectors\/)/g, "$1$2");
  // The runtime describes a schedule as "every 600s" or "cron */10 * * * *"; say it in the page's language.
  function schedule(text) {
    const m = /^every ([\d.]+)s$/.exec(text || "");
    if (!m) return text || "";
    const s = Number(m[1]);
    const [n, unit] = s % 3600 === 0 ? [s / 3600, T.hour] : s % 60 === 0 ? [s / 60, T.min] : [s, T.sec];
    return LANG === "ko" ? `${n}${unit}마다` : `every ${n} ${unit}`;
  }
  const name = (c) => (LANG === "ko" ? c.name_ko || c.name_en : c.name_en || c.name_ko) || c.id;

  const api = (method, path) => window.SRSession.api(method, path);

  // ------------------------------------------------------------------------------------------ rendering
  function stateBadge(c) {
    const s = STATE[c.state] ? c.state : "unknown";
    return `<span class="state ${STATE[s].cls}" data-state="${esc(s)}"><span class="icon" aria-hidden="true">${STATE[s].icon}</span>${esc(T.states[s] || c.state)}</span>`;
  }

  function actions(c) {
    const can = state.you && state.you.can_operate;
    const busy = state.busy.has(c.id);
    const idle = c.state === "disabled" || c.state === "invalid";
    const dis = (extra) => (!can || busy || extra ? " disabled" : "");
    const hint = can ? "" : ` title="${esc(T.readOnly)}"`;
    const toggle = c.paused
      ? `<button class="resume" data-act="resume"${dis(idle)}${hint}>${esc(T.resume)}</button>`
      : `<button data-act="pause"${dis(idle)}${hint}>${esc(T.pause)}</button>`;
    return `<button class="primary" data-act="run"${dis(c.paused || idle)}${hint}>${esc(T.run)}</button>${toggle}
      ${c.run_now_requested ? `<span class="pending">${esc(T.requested)}</span>` : ""}`;
  }

  function row(c) {
    const err = [
      c.last_error ? `<div class="err" title="${esc(c.last_error)}">${esc(sitePath(c.last_error))}</div><div class="muted small">${when(c.last_error_at)}</div>` : "",
      c.config_error ? `<div class="cfg"><b>${esc(T.configError)}</b> ${esc(sitePath(c.config_error))}</div>` : "",
      c.needs_env ? `<div class="small">${esc(T.needsEnv)} <code>${esc(c.needs_env)}</code></div>` : "",
    ].join("") || `<span class="muted">${T.never}</span>`;
    const fails = c.consecutive_failures > 1 && c.state === "failing" ? `<div class="small bad-text">${esc(T.failures(c.consecutive_failures))}</div>` : "";
    const perRun = c.last_run
      ? `<b>${Number(c.samples_last_run || 0).toLocaleString()}</b>${c.rejected_last_run ? ` <span class="rej">${esc(T.rejected)} ${Number(c.rejected_last_run).toLocaleString()}</span>` : ""}`
      : `<span class="muted">${T.never}</span>`;
    const open = state.open === c.id;
    return `<tr data-id="${esc(c.id)}" class="${STATE[c.state] ? STATE[c.state].cls : "off"}${open ? " open" : ""}">
      <td class="nowrap" data-label="${esc(T.cols[0])}">${stateBadge(c)}${fails}</td>
      <td><button class="link name" data-act="open" aria-expanded="${open}">${esc(name(c))}</button>
        <div class="muted small mono">${esc(c.file || c.id)}</div></td>
      <td data-label="${esc(T.cols[2])}">${c.kind ? `<span class="kind">${esc(c.kind)}</span>` : ""}${c.exercise ? ` <span class="xtag">${esc(T.exercise)}</span>` : ""}<div class="muted small">${esc(schedule(c.schedule))}</div></td>
      <td class="when" data-label="${esc(T.cols[3])}">${when(c.last_run)}<div class="muted small">${esc(c.runs ? T.runs(c.runs) : "")}</div></td>
      <td class="when" data-label="${esc(T.cols[4])}">${c.paused || c.state === "disabled" || c.state === "invalid" ? `<span class="muted">${T.never}</span>` : when(c.next_run)}</td>
      <td class="num" data-label="${esc(T.cols[5])}">${perRun}</td>
      <td class="error" data-label="${esc(T.cols[6])}">${err}</td>
      <td class="actions">${actions(c)}</td></tr>
      ${open ? `<tr class="detail"><td colspan="8">${detail(c)}</td></tr>` : ""}`;
  }

  function detail(c) {
    const items = state.rejections.get(c.id);
    if (!items) return "…";
    if (!items.length) return `<span class="muted">${esc(T.noRejections)}</span>`;
    return `<b>${esc(T.details)}</b><table class="rejections">${items.map((r) => `<tr><td>${esc(clock(r.at))}</td>
      <td class="mono">${esc(r.field || "")}</td><td>${esc(r.reason)}</td><td class="mono">${esc(JSON.stringify(r.value))}</td></tr>`).join("")}</table>`;
  }

  function summary() {
    const counts = {};
    for (const c of state.rows) counts[c.state] = (counts[c.state] || 0) + 1;
    return Object.keys(counts).sort((a, b) => (STATE[a] || STATE.unknown).rank - (STATE[b] || STATE.unknown).rank)
      .map((s) => `<span class="state ${(STATE[s] || STATE.unknown).cls}"><span class="icon" aria-hidden="true">${(STATE[s] || STATE.unknown).icon}</span>${esc(T.states[s] || s)} ${counts[s]}</span>`).join("");
  }

  // The briefings (GET /api/v1/briefings): each definition, the last one made of it, and make-now for operators.
  function briefings() {
    const b = state.briefings;
    if (!b) return state.briefingsError ? `<p class="bad-text">${esc(state.briefingsError)}</p>` : "";
    if (!b.definitions.length) return `<p class="empty">${esc(T.brief.none)}</p>`;
    const can = state.you && state.you.can_operate;
    const hint = can ? "" : ` title="${esc(T.brief.readOnly)}"`;
    const rows = b.definitions.map((d) => {
      const last = b.briefings.find((r) => r.name === d.name);
      const made = last
        ? `<a href="${esc(last.links.page)}">${when(last.made / 1000)}</a>${last.exercise ? ` <span class="xtag">${esc(T.exercise)}</span>` : ""}<div class="muted small">${esc(last.by)}</div>`
        : `<span class="muted">${T.never}</span>`;
      const busy = state.making === d.name;
      return `<tr data-briefing="${esc(d.name)}"><td><b>${esc(LANG === "ko" ? d.name_ko : d.name_en)}</b>
          <div class="muted small mono">briefings/${esc(d.name)}.yaml</div></td>
        <td data-label="${esc(T.brief.cols[1])}">${esc(d.schedule.length ? d.schedule.join(", ") : T.brief.onDemand)}</td>
        <td class="when" data-label="${esc(T.brief.cols[2])}">${made}</td>
        <td class="actions"><button class="primary" data-brief="${esc(d.name)}"${!can || state.making ? " disabled" : ""}${hint}>${esc(busy ? T.brief.running : T.brief.run)}</button></td></tr>`;
    }).join("");
    return `<table class="collectors briefings"><thead><tr>${T.brief.cols.map((c) => `<th>${esc(c)}</th>`).join("")}</tr></thead>
      <tbody>${rows}</tbody></table>`;
  }

  function loginForm() {
    return `<form id="login" class="login"><label>${esc(T.token)} <input name="token" type="password" autocomplete="off" required></label>
      <button class="primary">${esc(T.apply)}</button><button type="button" data-act="cancel-login">${esc(T.cancel)}</button>
      <div class="muted small">${esc(T.tokenHelp)}</div>${state.loginError ? `<div class="bad-text">${esc(state.loginError)}</div>` : ""}</form>`;
  }

  function render() {
    const you = state.you;
    const who = you && you.role
      ? `<span class="who">${esc(T.signedIn(you.name, you.role))}</span><button id="signout">${esc(T.signout)}</button>`
      : `<button id="signin">${esc(T.signin)}</button>`;
    const notice = state.login ? loginForm()
      : you && you.role && !you.can_operate ? `<p class="notice">${esc(T.roleOnly(you.role))}</p>`
        : !you || !you.can_operate ? `<p class="notice">${esc(T.readOnly)}</p>` : "";
    const rows = [...state.rows].sort((a, b) => (STATE[a.state] || STATE.unknown).rank - (STATE[b.state] || STATE.unknown).rank
      || a.id.localeCompare(b.id));
    const focused = document.activeElement && document.activeElement.closest("#login") ? document.activeElement.name : null;
    if (focused && state.login) return;  // never wipe what the operator is typing
    // While a collector delivers exercise data (a simulator, a drill): a band no one can miss.
    const drilling = state.rows.filter((c) => c.exercise && !["disabled", "invalid", "paused"].includes(c.state));
    const band = drilling.length ? `<div class="exercise-band" role="status" data-testid="exercise-band"><b>${esc(T.exercise)}</b> ` +
      `${esc(T.exerciseBand(drilling.map((c) => c.id).join(", ")))}</div>` : "";
    app.innerHTML = `${band}<header class="top"><h1>${esc(DATA.city[LANG])} ${esc(T.title)}</h1>
        <span class="updated${state.error ? " down" : ""}">${state.error ? esc(T.offline) : state.updated ? `${esc(T.updated)} ${esc(clock(state.updated))}` : ""}</span>
        ${who}<a href="/briefings${LANG === "en" ? "?lang=en" : ""}" class="lang">${esc(T.briefings)}</a>
        <a href="?lang=${LANG === "ko" ? "en" : "ko"}" class="lang">${esc(T.other)}</a></header>
      <main>${notice}
        <div class="summary" aria-label="${esc(T.summary)}">${summary()}</div>
        ${state.rows.length ? `<table class="collectors"><thead><tr>${T.cols.map((c) => `<th>${esc(c)}</th>`).join("")}</tr></thead>
          <tbody>${rows.map(row).join("")}</tbody></table>` : `<p class="empty">${esc(T.none)}</p>`}
        <section class="briefings" aria-labelledby="ops-briefings"><h2 id="ops-briefings">${esc(T.brief.title)}
          <a href="/briefings${LANG === "en" ? "?lang=en" : ""}" class="small">${esc(T.brief.all)}</a></h2>${briefings()}</section>
      </main>${state.toast ? `<div class="toast ${state.toast.bad ? "bad" : ""}" role="status">${esc(state.toast.text)}</div>` : ""}`;
  }

  function toast(text, bad) {
    state.toast = { text, bad };
    render();
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { state.toast = null; render(); }, 6000);
  }

  // ------------------------------------------------------------------------------------------ data
  async function refresh() {
    try {
      const data = await api("GET", "/api/v1/collectors");
      state.rows = data.collectors;
      state.you = data.you;
      state.error = null;
      state.updated = data.generated_at;
      if (state.signedIn && !data.you.role) {  // the token was revoked: say so instead of acting read-only
        state.signedIn = false;
        state.login = true;
        state.loginError = T.badToken;
      }
      if (state.open) await loadRejections(state.open);
      if (state.ticks++ % BRIEFINGS_EVERY === 0) await loadBriefings();
    } catch (err) {
      if (err.status === 401) { state.login = true; state.loginError = state.signedIn ? T.badToken : null; state.signedIn = false; state.error = null; }
      else state.error = err.message;
    }
    render();
  }

  async function loadBriefings() {
    try {
      state.briefings = await api("GET", "/api/v1/briefings?limit=200");
      state.briefingsError = null;
    } catch (err) {
      if (err.status !== 401) state.briefingsError = err.message;  // 401: the sign-in form says it already
    }
  }

  async function makeBriefing(name) {
    state.making = name;
    render();
    try {
      const made = await api("POST", `/api/v1/briefings/${encodeURIComponent(name)}/run`);
      await loadBriefings();
      state.making = null;
      toast(T.brief.made(made.id), false);
    } catch (err) {
      state.making = null;
      toast(`${name}: ${err.field ? `${err.field}: ` : ""}${err.message}`, true);
    }
  }

  async function loadRejections(id) {
    try {
      const c = await api("GET", `/api/v1/collectors/${encodeURIComponent(id)}?rejections=10`);
      state.rejections.set(id, c.recent_rejections);
    } catch (err) {
      state.rejections.set(id, []);
    }
  }

  app.addEventListener("click", async (ev) => {
    const t = ev.target.closest("button");
    if (!t) return;
    if (t.id === "signin") { state.login = true; state.loginError = null; render(); app.querySelector("#login input").focus(); return; }
    if (t.id === "signout") { await window.SRSession.signOut().catch(() => null); state.signedIn = false; state.ticks = 0; refresh(); return; }
    const act = t.dataset.act;
    if (act === "cancel-login") { state.login = false; render(); return; }
    if (t.dataset.brief) { await makeBriefing(t.dataset.brief); return; }
    const tr = t.closest("tr[data-id]");
    if (!tr) return;
    const id = tr.dataset.id;
    if (act === "open") {
      state.open = state.open === id ? null : id;
      render();
      if (state.open) { await loadRejections(id); render(); }
      return;
    }
    if (!["run", "pause", "resume"].includes(act)) return;
    state.busy.add(id);
    render();
    try {
      const c = await api("POST", `/api/v1/collectors/${encodeURIComponent(id)}/${act}`);
      state.rows = state.rows.map((r) => (r.id === id ? c : r));
      state.busy.delete(id);
      toast(`${name(c)}: ${T.done[act]}`, false);
    } catch (err) {
      state.busy.delete(id);
      toast(`${id}: ${err.message}`, true);
    }
  });

  app.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const token = String(new FormData(ev.target).get("token") || "").trim();
    if (!token) return;
    if (document.activeElement) document.activeElement.blur();
    try {
      await window.SRSession.signIn(token);
    } catch (err) {
      state.loginError = err.status === 401 ? T.badToken : err.message;
      render();
      return;
    }
    state.signedIn = true;
    state.ticks = 0;  // read the briefings again: the archive may need the token
    state.login = false;
    state.loginError = null;
    await refresh();
  });

  (async () => {
    const session = await window.SRSession.adopt(TOKEN_KEY).then((s) => s || window.SRSession.current()).catch(() => null);
    state.signedIn = !!(session && session.signed_in);
    await refresh();
    setInterval(refresh, REFRESH_MS);
  })();
})();
