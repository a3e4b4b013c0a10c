// The wall's layout: the header and the pages of panels built from the dashboard, the rotation through
// pages, and the open incidents' boards the wall at `/` follows (the header names the highest level).
// One of the wall's scripts (pages.py loads them in order, wall.js last); they share the page's script scope.
"use strict";

const KINDS = { kpi: KpiPanel, timeseries: TimeseriesPanel, ranking: RankingPanel, map: MapPanel, alerts: AlertsPanel,
  domains: DomainsPanel, ticker: TickerPanel, clock: ClockPanel };

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
