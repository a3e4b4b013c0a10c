// The incident pages: /incidents (open ones first, then the recent closed ones) and /incidents/{id} (the level and
// its history, the timeline in order, the note form, the level controls for operators and admins). Everything comes
// from the incidents API with the page's session (session.js, CSRF on changes); the pages look again every
// `poll_s` seconds, so a note, an alert or a change of level made elsewhere shows without a reload.
"use strict";

(() => {
  const LANG = document.body.dataset.lang === "en" ? "en" : "ko";
  const DATA = JSON.parse(document.getElementById("page-data").textContent);
  const T = {
    ko: {
      open: "진행 중", closed: "종료", exercise: "훈련", since: "부터", until: "까지", none: "선포된 상황이 없습니다.",
      cols: ["상태", "재난", "지역", "단계", "선포", "종료"], by: "선포자", csv: "CSV 내려받기", history: "단계 이력",
      timeline: "경과", count: (n) => `${n}건`, withheld: (n) => `열람 권한이 없는 지표의 기록 ${n}건은 빠져 있습니다.`,
      note: "메모 추가", noteText: "메모", noteAt: "관련 시각 (선택)", noteIndicator: "관련 지표 (선택)", add: "추가",
      noIndicator: "없음", emptyNote: "메모 내용을 입력하세요.", added: "메모를 추가했습니다.",
      level: "단계 변경·종료", newLevel: "새 단계", reason: "사유", change: "단계 변경", end: "상황 종료",
      emptyReason: "사유를 입력하세요.", confirmEnd: "이 상황을 종료할까요?", signIn: "로그인하면 기록이 보입니다.",
      closedNote: "종료된 상황에는 메모를 더할 수 없습니다.", list: "목록", reason0: "사유", lastLook: "마지막 확인",
      kinds: { declared: "선포", raised: "단계 상향", lowered: "단계 하향", ended: "종료", note: "메모", silence: "무음 설정",
        fired: "경보 발생", "alert.raised": "경보 상향", "alert.lowered": "경보 하향", escalated: "미확인 상향 전달",
        acknowledged: "경보 확인", silenced: "경보 무음", resolved: "경보 해제", disaster_text: "재난문자", cap: "CAP 경보",
        message: "메시지" },
      pinned: "관련 시각",
    },
    en: {
      open: "open", closed: "closed", exercise: "EXERCISE", since: "since", until: "until", none: "No situation level declared.",
      cols: ["State", "Hazard", "Area", "Level", "Declared", "Ended"], by: "declared by", csv: "Download CSV",
      history: "Level history", timeline: "Timeline", count: (n) => `${n} entries`,
      withheld: (n) => `${n} entries about indicators you may not read are left out.`,
      note: "Add a note", noteText: "Note", noteAt: "Time it is about (optional)", noteIndicator: "Indicator (optional)",
      add: "Add", noIndicator: "none", emptyNote: "Write the note first.", added: "Note added.",
      level: "Change or end the level", newLevel: "New level", reason: "Reason", change: "Change level", end: "End the level",
      emptyReason: "Give the reason.", confirmEnd: "End this situation level?", signIn: "Sign in to read the record.",
      closedNote: "A closed incident takes no more notes.", list: "All incidents", reason0: "reason", lastLook: "checked",
      kinds: { declared: "declared", raised: "level raised", lowered: "level lowered", ended: "ended", note: "note",
        silence: "silence set", fired: "alert fired", "alert.raised": "alert raised", "alert.lowered": "alert lowered",
        escalated: "escalated", acknowledged: "acknowledged", silenced: "alert silenced", resolved: "alert resolved",
        disaster_text: "disaster text", cap: "CAP alert", message: "message" },
      pinned: "about",
    },
  }[LANG];
  const LOCALE = LANG === "ko" ? "ko-KR" : "en-GB";
  const TZ = DATA.city.timezone;
  const app = document.getElementById("app");
  const api = (method, path, body) => window.SRSession.api(method, path, body);
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const nm = (o, key) => o[`${key}_${LANG}`] ?? o[`${key}_ko`];
  const stamp = new Intl.DateTimeFormat(LOCALE, { timeZone: TZ, month: "short", day: "numeric", hour: "2-digit",
    minute: "2-digit", hourCycle: "h23" });
  const clock = new Intl.DateTimeFormat(LOCALE, { timeZone: TZ, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
  const day = new Intl.DateTimeFormat(LOCALE, { timeZone: TZ, year: "numeric", month: "long", day: "numeric", weekday: "short" });
  const when = (ms) => (ms ? stamp.format(ms) : "");

  // Symbols, not colour alone: each kind of entry has its shape and its word.
  const ICONS = {
    declared: '<path d="M5 21V3h11l-2 4 2 4H7v10z" fill="currentColor"/>',
    raised: '<path d="M12 3l8 9h-5v9H9v-9H4z" fill="currentColor"/>',
    lowered: '<path d="M12 21l8-9h-5V3H9v9H4z" fill="currentColor"/>',
    ended: '<rect x="5" y="5" width="14" height="14" rx="2" fill="currentColor"/>',
    note: '<path d="M4 3h12l4 4v14H4z" fill="none" stroke="currentColor" stroke-width="2.2"/><path d="M8 10h8M8 14h8M8 18h5" stroke="currentColor" stroke-width="2"/>',
    alert: '<path d="M12 2.5L23 21.5H1z" fill="currentColor"/><path d="M12 9v6" stroke="#fff" stroke-width="2.6" stroke-linecap="round"/><circle cx="12" cy="18.3" r="1.5" fill="#fff"/>',
    acknowledged: '<circle cx="12" cy="12" r="10" fill="currentColor"/><path d="M7 12.5l3.2 3.2L17 9" stroke="#fff" stroke-width="2.6" fill="none" stroke-linecap="round"/>',
    resolved: '<circle cx="12" cy="12" r="9.5" fill="none" stroke="currentColor" stroke-width="2.4"/><path d="M7.5 12.5l3 3 6-6.5" stroke="currentColor" stroke-width="2.6" fill="none" stroke-linecap="round"/>',
    silence: '<path d="M3 9h4l5-5v16l-5-5H3z" fill="currentColor"/><path d="M16 9l5 6M21 9l-5 6" stroke="currentColor" stroke-width="2.2" stroke-linecap="round"/>',
    message: '<path d="M3 4h18v13H8l-5 4z" fill="none" stroke="currentColor" stroke-width="2.2" stroke-linejoin="round"/><path d="M12 7.5v5" stroke="currentColor" stroke-width="2.4" stroke-linecap="round"/><circle cx="12" cy="14.6" r="1.3" fill="currentColor"/>',
  };
  const icon = (name) => `<svg class="icon" viewBox="0 0 24 24" aria-hidden="true">${ICONS[name] || ICONS.note}</svg>`;
  // A timeline entry's family (its colour and shape) and its word.
  function kindOf(e) {
    if (e.kind === "level") return [e.event, T.kinds[e.event]];
    if (e.kind === "alert") {
      const word = T.kinds[e.event === "raised" || e.event === "lowered" ? `alert.${e.event}` : e.event] || e.event;
      const shape = e.event === "acknowledged" ? "acknowledged" : e.event === "resolved" ? "resolved" : e.event === "silenced" ? "silence" : "alert";
      return [shape, word];
    }
    if (e.kind === "message") return ["message", T.kinds[e.event] || T.kinds.message];
    return [e.kind, T.kinds[e.kind] || e.kind];
  }
  // The level in its status colour, with the status's mark (● ▲ ◆ ■) and the level's words: never colour alone.
  const levelChip = (inc) => `<span class="level ${esc(inc.status)}" data-st="${esc(inc.status)}">${esc(DATA.marks[inc.status] || "")} ${esc(nm(inc, "level"))}</span>`;
  const xtag = (on) => (on ? `<span class="xtag">${T.exercise}</span>` : "");
  const stateTag = (inc) => `<span class="state ${inc.state}">${inc.state === "open" ? T.open : T.closed}</span>`;

  // ------------------------------------------------------------------------------------------ the list
  function drawList(list) {
    if (!list.length) { app.innerHTML = `<main><p class="empty">${T.none}</p></main>`; return; }
    const rows = list.map((i) => `<tr class="${i.state}${i.exercise ? " exercise" : ""}" data-incident="${esc(i.id)}">
      <td data-col="${T.cols[0]}">${stateTag(i)}${xtag(i.exercise)}</td>
      <td data-col="${T.cols[1]}"><a href="/incidents/${encodeURIComponent(i.id)}?lang=${LANG}">${esc(nm(i, "hazard"))}</a></td>
      <td data-col="${T.cols[2]}">${esc(nm(i, "area"))}</td><td data-col="${T.cols[3]}">${levelChip(i)}</td>
      <td data-col="${T.cols[4]}">${esc(when(i.opened))}</td><td data-col="${T.cols[5]}">${esc(when(i.closed))}</td></tr>`).join("");
    app.innerHTML = `<main><table class="incidents"><thead><tr>${T.cols.map((c) => `<th scope="col">${c}</th>`).join("")}</tr></thead>
      <tbody>${rows}</tbody></table></main>`;
  }

  // ------------------------------------------------------------------------------------------ one incident
  let shown = "";       // what the timeline last drew (drawn again only when it changes: a form keeps its input)
  function drawIncident(body) {
    const inc = body.incident;
    const levels = body.entries.filter((e) => e.kind === "declared" || e.kind === "level");
    const history = levels.map((e) => `<li>${icon(kindOf(e)[0])}<b>${esc(nm(e, "level") || e.level)}</b> <time>${esc(when(e.at))}</time> <span class="by">${esc(e.by || "")}</span></li>`).join("");
    const span = inc.closed ? `${when(inc.opened)} – ${when(inc.closed)}` : `${when(inc.opened)} ${LANG === "ko" ? T.since : ""}`.trim();
    const head = `<section class="card summary ${inc.state}" id="summary">
      <h2>${xtag(inc.exercise)}${esc(nm(inc, "hazard"))} · ${esc(nm(inc, "area"))} ${levelChip(inc)} ${stateTag(inc)}</h2>
      <p class="span">${LANG === "ko" ? "" : `${inc.closed ? "" : T.since} `}${esc(span)} · ${T.by} ${esc(inc.opened_by)}</p>
      <p class="reason">${esc(inc.reason)}</p>
      <h3>${T.history}</h3><ol class="history">${history}</ol>
      <p><a class="csv" href="/api/v1/incidents/${encodeURIComponent(inc.id)}/timeline?format=csv" download>${T.csv}</a>
        · <a href="/incidents?lang=${LANG}">${T.list}</a></p></section>`;
    let lastDay = "";
    const items = body.entries.map((e) => {
      const [shape, word] = kindOf(e);
      const d = day.format(e.at);
      const sep = d !== lastDay ? `<li class="day">${esc(d)}</li>` : "";
      lastDay = d;
      const said = nm(e, "text") || "";
      const level = e.kind === "declared" || e.kind === "level" ? ` <b>${esc(nm(e, "level"))}</b>` : "";
      const ind = e.indicator ? `<span class="ind">${esc((DATA.indicators[e.indicator] || {})[LANG] || e.indicator)}</span>` : "";
      const pin = e.pinned ? `<span class="pin">${T.pinned} ${esc(when(e.pinned))}</span>` : "";
      return `${sep}<li class="entry k-${esc(shape)}${e.exercise ? " exercise" : ""}" data-kind="${esc(e.kind)}" data-event="${esc(e.event || "")}">
        <time datetime="${new Date(e.at).toISOString()}">${esc(clock.format(e.at))}</time>
        <span class="kind">${icon(shape)}${esc(word)}</span>
        <div class="what">${level}${said ? ` <span class="said">${esc(said)}</span>` : ""}${e.text ? `<span class="text">${esc(e.text)}</span>` : ""}
          <span class="meta">${e.by ? `<span class="who">${esc(e.by)}</span>` : ""}${ind}${pin}${e.entity ? `<span class="ent">${esc(e.entity)}</span>` : ""}</span></div></li>`;
    }).join("");
    const withheld = body.withheld ? `<p class="notice">${T.withheld(body.withheld)}</p>` : "";
    document.getElementById("record").innerHTML = head + `<section class="card" id="timeline"><h2>${T.timeline} <span class="count">${T.count(body.count)}</span></h2>
      ${withheld}<ol class="timeline">${items}</ol></section>`;
    document.getElementById("forms").hidden = inc.state !== "open";
  }

  function forms() {
    const may = DATA.may;
    const opts = Object.entries(DATA.indicators).map(([id, n]) => `<option value="${esc(id)}">${esc(n[LANG])}</option>`).join("");
    const note = may.note ? `<form class="card" id="note" novalidate><h2>${T.note}</h2>
      <label class="wide">${T.noteText}<textarea name="text" rows="3" maxlength="2000"></textarea></label>
      <label>${T.noteAt}<input type="datetime-local" name="at"></label>
      <label>${T.noteIndicator}<select name="indicator"><option value="">${T.noIndicator}</option>${opts}</select></label>
      <button type="submit">${T.add}</button><p class="msg" role="alert"></p></form>` : "";
    const levels = (DATA.levels || []).map((l) => `<option value="${l.n}">${esc(l[LANG])}</option>`).join("");
    const level = may.level ? `<form class="card" id="level" novalidate><h2>${T.level}</h2>
      <label>${T.newLevel}<select name="level">${levels}</select></label>
      <label class="wide">${T.reason}<input name="reason" maxlength="1000"></label>
      <button type="submit" name="change">${T.change}</button><button type="button" class="end" name="end">${T.end}</button>
      <p class="msg" role="alert"></p></form>` : "";
    return `<div id="forms">${note}${level}</div>`;
  }

  function say(form, text, ok) {
    const msg = form.querySelector(".msg");
    msg.textContent = text;
    msg.classList.toggle("ok", !!ok);
  }
  const problem = (err) => (err.field ? `${err.message} (${err.field})` : err.message);

  async function submitNote(form) {
    const text = form.elements.text.value.trim();
    if (!text) { say(form, T.emptyNote); form.elements.text.focus(); return; }
    const body = { text };
    if (form.elements.at.value) body.at = form.elements.at.value;
    if (form.elements.indicator.value) body.indicator = form.elements.indicator.value;
    try {
      await api("POST", `/api/v1/incidents/${encodeURIComponent(DATA.id)}/notes`, body);
      form.reset();
      say(form, T.added, true);
      await refresh();
    } catch (err) { say(form, problem(err)); }
  }

  async function submitLevel(form, end) {
    const reason = form.elements.reason.value.trim();
    if (!reason) { say(form, T.emptyReason); form.elements.reason.focus(); return; }
    if (end && !window.confirm(T.confirmEnd)) return;
    const id = encodeURIComponent(DATA.id);
    try {
      if (end) await api("POST", `/api/v1/incidents/${id}/end`, { reason });
      else await api("POST", `/api/v1/incidents/${id}/level`, { level: Number(form.elements.level.value), reason });
      form.elements.reason.value = "";
      say(form, "", true);
      await refresh();
    } catch (err) { say(form, problem(err)); }
  }

  // ------------------------------------------------------------------------------------------ loading
  async function refresh() {
    try {
      if (DATA.id) {
        const body = await api("GET", `/api/v1/incidents/${encodeURIComponent(DATA.id)}/timeline`);
        const k = JSON.stringify(body);
        if (k !== shown) { shown = k; drawIncident(body); }
        const sel = document.querySelector("#level select[name=level]");
        if (sel && document.activeElement !== sel) sel.value = String(body.incident.level);
      } else {
        const k = await api("GET", "/api/v1/incidents?limit=200");
        if (JSON.stringify(k) !== shown) { shown = JSON.stringify(k); drawList(k.incidents); }
      }
      document.body.dataset.loaded = "1";
    } catch (err) {
      const box = DATA.id ? document.getElementById("record") : app;
      box.innerHTML = `<main><p class="notice" role="alert">${err.status === 401 ? T.signIn : esc(problem(err))}</p></main>`;
      shown = "";
    }
  }

  (async () => {
    window.SRSession.mountButton(DATA.labels);
    await window.SRSession.current().catch(() => null);   // the session's CSRF token for the forms
    if (DATA.id) {
      app.innerHTML = `<main class="incident"><div id="record"></div>${forms()}</main>`;
      const note = document.getElementById("note");
      if (note) note.addEventListener("submit", (ev) => { ev.preventDefault(); submitNote(note); });
      const level = document.getElementById("level");
      if (level) {
        level.addEventListener("submit", (ev) => { ev.preventDefault(); submitLevel(level, false); });
        level.querySelector("button.end").addEventListener("click", () => submitLevel(level, true));
      }
    }
    await refresh();
    setInterval(refresh, DATA.poll_s * 1000);
  })();
})();
