// The briefings page (/briefings): the archive of briefings made (newest first, 훈련 marked), each as its page and
// PDF, and the site's briefing definitions with their schedule; operators and admins make one now. Signs in through
// session.js; everything is served by the product.
"use strict";

(() => {
  const LANG = document.body.dataset.lang === "en" ? "en" : "ko";
  const DATA = JSON.parse(document.getElementById("page-data").textContent);
  const T = {
    ko: {
      title: "상황실 · 상황 보고", signout: "로그아웃", token: "토큰", apply: "로그인",
      tokenHelp: "situationroom tokens create 로 만든 토큰을 붙여 넣으세요. 로그아웃할 때까지 로그인이 유지됩니다.",
      badToken: "토큰이 맞지 않습니다", archive: "작성된 보고", defs: "보고 종류", schedule: "일정", none: "아직 작성된 보고가 없습니다.",
      cols: ["보고", "기간", "작성", "전달", ""], view: "보기", pdf: "PDF", run: "지금 작성", running: "작성 중…",
      onDemand: "요청 시에만", exercise: "훈련", sent: (n, all) => `${n}/${all} 전달`, other: "English",
      queued: "전달 대기 중", retrying: (n) => `${n}건 재시도 중`, dead: (n) => `${n}건 실패`,
      made: (id) => `작성했습니다: ${id}`,
    },
    en: {
      title: "situation room · briefings", signout: "Sign out", token: "Token", apply: "Sign in",
      tokenHelp: "Paste a token made with situationroom tokens create. You stay signed in until you sign out.",
      badToken: "That token is not valid", archive: "Briefings made", defs: "Briefings of the site", schedule: "Schedule",
      none: "No briefing made yet.", cols: ["Briefing", "Period", "Made", "Delivered", ""], view: "Open", pdf: "PDF",
      run: "Make now", running: "Making…", onDemand: "on demand only", exercise: "EXERCISE",
      sent: (n, all) => `${n}/${all} sent`, other: "한국어", made: (id) => `Made: ${id}`,
      queued: "queued for delivery", retrying: (n) => `${n} retrying`, dead: (n) => `${n} failed`,
    },
  }[LANG];
  const state = { session: null, data: null, error: null, notice: null, busy: null };
  const app = document.getElementById("app");
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const stamp = (ms) => new Intl.DateTimeFormat(LANG === "ko" ? "ko-KR" : "en-GB", {
    timeZone: DATA.city.timezone, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false,
  }).format(new Date(ms));
  const nm = (x) => (LANG === "ko" ? x.title_ko || x.name_ko : x.title_en || x.name_en);
  const other = LANG === "ko" ? "?lang=en" : "?lang=ko";

  function loginForm() {
    return `<form id="login" class="login"><label>${esc(T.token)} <input name="token" type="password" autocomplete="off" required></label>
      <button class="primary">${esc(T.apply)}</button><div class="muted small">${esc(T.tokenHelp)}</div>
      ${state.error ? `<div class="bad-text">${esc(state.error)}</div>` : ""}</form>`;
  }

  // What the notify role's delivery log says of a briefing: sent of all, and what is being retried or gave up.
  function delivered(b) {
    const count = (status) => b.deliveries.filter((d) => d.status === status).length;
    if (!b.deliveries.length) return esc(T.queued);
    const parts = [T.sent(count("sent"), b.deliveries.length)];
    if (count("retrying")) parts.push(T.retrying(count("retrying")));
    if (count("dead")) parts.push(T.dead(count("dead")));
    return parts.map(esc).join(" · ");
  }

  function row(b) {
    const mark = b.exercise ? `<span class="x-badge">${esc(T.exercise)}</span> ` : "";
    return `<tr><td>${mark}<a href="${esc(b.links.page)}">${esc(nm(b))}</a></td>
      <td>${esc(stamp(b.from))} ~ ${esc(stamp(b.to))}</td><td>${esc(stamp(b.made))} · ${esc(b.by)}</td>
      <td class="delivered">${delivered(b)}</td>
      <td><a href="${esc(b.links.page)}">${esc(T.view)}</a> · <a href="${esc(b.links.pdf)}">${esc(T.pdf)}</a></td></tr>`;
  }

  function render() {
    const s = state.session;
    const operator = s && s.signed_in && (s.scopes || []).includes("operate");
    const who = s && s.signed_in ? `<span class="who">${esc(s.name)} · ${esc(s.role)}</span><button id="signout">${esc(T.signout)}</button>` : "";
    let body = "";
    if (!s || !s.signed_in) body = loginForm();
    else if (state.data) {
      const defs = state.data.definitions.map((d) => `<li><b>${esc(nm(d))}</b> <span class="muted">(${esc(d.name)})</span> ·
        ${esc(T.schedule)}: ${esc(d.schedule.length ? d.schedule.join(", ") : T.onDemand)}
        ${operator ? `<button data-run="${esc(d.name)}" ${state.busy ? "disabled" : ""}>${esc(state.busy === d.name ? T.running : T.run)}</button>` : ""}</li>`).join("");
      const rows = state.data.briefings.map(row).join("");
      body = `${state.notice ? `<p class="notice">${esc(state.notice)}</p>` : ""}${state.error ? `<p class="bad-text">${esc(state.error)}</p>` : ""}
        <h2>${esc(T.defs)}</h2><ul class="defs">${defs}</ul>
        <h2>${esc(T.archive)}</h2>${rows ? `<table class="archive"><thead><tr>${T.cols.map((c) => `<th>${esc(c)}</th>`).join("")}</tr></thead><tbody>${rows}</tbody></table>` : `<p class="muted">${esc(T.none)}</p>`}`;
    }
    app.innerHTML = `<header class="top"><h1>${esc(DATA.city[LANG])} ${esc(T.title)}</h1>${who}<a class="lang" href="${other}">${esc(T.other)}</a></header>
      <main class="briefings">${body}</main>`;
  }

  async function load() {
    try {
      state.data = await window.SRSession.api("GET", "/api/v1/briefings");
    } catch (err) {
      state.error = err.message;
    }
    render();
  }

  app.addEventListener("click", async (ev) => {
    const t = ev.target.closest("button");
    if (!t) return;
    if (t.id === "signout") { await window.SRSession.signOut().catch(() => null); state.session = null; render(); return; }
    if (t.dataset.run) {
      state.busy = t.dataset.run; state.error = null; state.notice = null; render();
      try {
        const made = await window.SRSession.api("POST", `/api/v1/briefings/${encodeURIComponent(t.dataset.run)}/run`);
        state.notice = T.made(made.id);
      } catch (err) {
        state.error = err.field ? `${err.field}: ${err.message}` : err.message;
      }
      state.busy = null;
      await load();
    }
  });

  app.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      state.session = await window.SRSession.signIn(new FormData(ev.target).get("token"));
      state.error = null;
    } catch (err) {
      state.error = err.status === 401 ? T.badToken : err.message;
      render();
      return;
    }
    await load();
  });

  async function start() {
    state.session = await window.SRSession.current().catch(() => ({ signed_in: false }));
    if (state.session.signed_in) await load();
    else render();
  }
  start();
})();
