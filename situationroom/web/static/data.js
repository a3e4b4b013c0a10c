// The data page (/data): a query form whose choices the URL holds (the export API's parameter names, so a link sent
// in a message opens the same query), a chart and a table of the history API's figures, and the export's links.
"use strict";

(() => {
  const D = JSON.parse(document.getElementById("page-data").textContent);
  const L = D.labels;
  const TABLE_MAX = 2000;   // rows drawn in the table; a month of minutes is for the download
  const DAY = 86400000;
  const $ = (id) => document.getElementById(id);
  const form = $("query");
  const byId = {};
  for (const d of D.domains) for (const ind of d.indicators) byId[ind.id] = { ...ind, domain: d.id };
  const events = Object.fromEntries(D.events.map((e) => [e.id, e]));
  const fill = (text, values) => text.replace(/\{(\w+)\}/g, (_, k) => (k in values ? values[k] : `{${k}}`));
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  const numFmt = (d) => new Intl.NumberFormat(D.lang === "ko" ? "ko-KR" : "en-GB", { maximumFractionDigits: d });

  window.SRSession.mountButton(L);

  // Times are the city's (its time zone from the catalog), whatever the browser's zone.
  const { local, offsetMs, instant, isoLocal, dateOf, shown, parseTime } = window.SRCityTime(D.tz);

  // ------------------------------------------------------------------------------ the simulated clock
  // During an exercise replay the wall speaks its simulated time (simulated = start + (real − anchor) × speed);
  // so does this page for exercise data, and "today" is the simulated day (docs/exercise.md).
  let replay = null;
  const simTime = (ms) => {
    if (!replay) return ms;
    let elapsed = (ms / 1000 - replay.anchor) * replay.speed;
    if (replay.loop && replay.duration) elapsed = ((elapsed % replay.duration) + replay.duration) % replay.duration;
    return (replay.start + elapsed) * 1000;
  };
  // The real instant the replay showed a simulated one (never before the replay began).
  const realOf = (simMs) => Math.max(replay.anchor * 1000, replay.anchor * 1000 + (simMs - replay.start * 1000) / replay.speed);

  // ---------------------------------------------------------------------------------------- the form
  const domainSel = $("f-domain");
  const areaSel = $("f-area");
  const presetSel = $("f-preset");
  const boxes = $("f-indicators");
  domainSel.innerHTML = D.domains.map((d) => `<option value="${esc(d.id)}">${esc(d.name)}</option>`).join("");

  function drawPresets() {
    const keep = presetSel.value;
    const own = [["today", replay ? L.p_today_sim : L.p_today], ["7d", L.p_7d], ["30d", L.p_30d], ["year", L.p_year],
      ["last-year", L.p_last_year], ["custom", L.p_custom]];
    presetSel.innerHTML = own.map(([v, t]) => `<option value="${v}">${esc(t)}</option>`).join("") +
      (D.events.length ? `<optgroup label="${esc(L.p_events)}">${D.events.map((e) =>
        `<option value="event:${esc(e.id)}" title="${esc(e.label)}">${esc(e.name)}${e.dataset === "exercise" ? ` · ${esc(L.exercise_tag)}` : ""}</option>`).join("")}</optgroup>` : "");
    if (keep) presetSel.value = keep;
  }

  function drawIndicators(checked) {
    const domain = D.domains.find((d) => d.id === domainSel.value) || D.domains[0];
    boxes.innerHTML = domain.indicators.map((ind) => {
      const why = ind.withheld
        ? `<span class="withheld">${esc(L.withheld)}</span><span class="reason">${esc(ind.reason || "")} ` +
          `(${esc(fill(L.readers, { readers: ind.readers || "" }))})</span>` : "";
      return `<label class="ind${ind.withheld ? " disabled" : ""}"><input type="checkbox" name="indicator" ` +
        `value="${esc(ind.id)}"${ind.withheld ? " disabled" : ""}${checked.includes(ind.id) ? " checked" : ""}>` +
        `<span class="name">${esc(ind.name)}</span> <span class="unit">${esc(ind.unit)}</span>${why}</label>`;
    }).join("");
  }
  const chosen = () => [...boxes.querySelectorAll("input:checked")].map((i) => i.value);

  // The areas where every chosen indicator has a place: what the history and export APIs accept for all of them.
  function drawAreas() {
    const keep = areaSel.value;
    const inds = chosen().map((id) => byId[id]);
    const ok = (code) => inds.every((ind) => ind.areas.includes(code));
    const gus = D.gus.filter((g) => ok(g.id));
    const dongs = D.dongs.filter((d) => ok(d.id));
    areaSel.innerHTML = `<option value="">${esc(fill(L.city, { city: D.city }))}</option>` +
      (gus.length ? `<optgroup label="${esc(L.gu_group)}">${gus.map((g) => `<option value="gu:${esc(g.id)}">${esc(g.name)}</option>`).join("")}</optgroup>` : "") +
      (dongs.length ? `<optgroup label="${esc(L.dong_group)}">${dongs.map((d) => `<option value="district:${esc(d.id)}">${esc(d.name)}</option>`).join("")}</optgroup>` : "");
    areaSel.value = [...areaSel.options].some((o) => o.value === keep) ? keep : "";
  }

  // The default resolution of a span: minutes for a day, hours up to a quarter, days beyond (the history API
  // answers at most 200,000 buckets a series, and a chart of a few thousand points a line reads best).
  const resolutionFor = (spanMs) => (spanMs <= 26 * 3600000 ? "1m" : spanMs <= 92 * DAY ? "1h" : "1d");

  // The range of a preset, as instants: [from, to, mode or null].
  function presetRange(preset, current) {
    const now = Date.now();
    if (preset === "today") {
      if (replay) {
        const s = local(simTime(now));
        return [realOf(instant(s.y, s.m, s.d)), now, "exercise"];
      }
      const p = local(now);
      return [instant(p.y, p.m, p.d), now, null];
    }
    if (preset === "7d") return [now - 7 * DAY, now, null];
    if (preset === "30d") return [now - 30 * DAY, now, null];
    if (preset === "year") return [instant(local(now).y, 1, 1), now, null];
    if (preset === "last-year") {
      const back = (ms) => { const p = local(ms); return instant(p.y - 1, p.m, p.d, p.H, p.M, p.S); };
      const [a, b] = current || [now - 30 * DAY, now];
      return [back(a), back(b), null];
    }
    const ev = preset.startsWith("event:") ? events[preset.slice(6)] : null;
    if (ev) return [Date.parse(ev.from), Date.parse(ev.to), ev.dataset];
    return null;
  }

  let range = null;   // [from ms, to ms] of the form
  function setRange(from, to) {
    range = [from, to];
    $("f-from").value = dateOf(from);
    $("f-to").value = dateOf(to);
  }
  // Real data unless every chosen indicator has exercise data only (a demo site, or a city before its first real
  // collector): then the form starts on the data there is.
  const defaultMode = () => {
    const ids = chosen();
    return ids.length && ids.every((id) => !byId[id].real && byId[id].exercise) ? "exercise" : "real";
  };
  function applyPreset() {
    const found = presetRange(presetSel.value, range);
    if (!found) return;
    setRange(found[0], found[1]);
    form.elements.resolution.value = resolutionFor(found[1] - found[0]);
    form.elements.mode.value = found[2] || defaultMode();
  }

  // ----------------------------------------------------------------------------------------- the URL
  function query() {
    const q = new URLSearchParams();
    for (const id of chosen()) q.append("indicator", id);
    const [kind, code] = areaSel.value.split(":");
    if (code) q.set(kind, code);
    q.set("from", isoLocal(range[0]));
    q.set("to", isoLocal(range[1]));
    q.set("resolution", form.elements.resolution.value);
    if (form.elements.aggregate.value) q.set("aggregate", form.elements.aggregate.value);
    q.set("mode", form.elements.mode.value);
    q.set("lang", D.lang);
    q.set("preset", presetSel.value);
    return q;
  }
  function remember(q) {
    history.replaceState(null, "", `/data?${q}`);
    const other = new URLSearchParams(q);
    other.set("lang", D.lang === "ko" ? "en" : "ko");
    $("lang").href = `/data?${other}`;
  }

  // The form as the URL says, with what in it cannot be used said on the page.
  function restore() {
    const q = new URLSearchParams(location.search);
    const problems = [];
    const wanted = [];
    for (const id of q.getAll("indicator")) {
      const ind = byId[id];
      if (!ind) problems.push(fill(L.bad_indicator, { value: id }));
      else if (ind.withheld) problems.push(fill(L.bad_withheld, { value: ind.name, reason: ind.reason || "" }));
      else if (!wanted.length || byId[wanted[0]].domain === ind.domain) wanted.push(id);
      else problems.push(fill(L.bad_param, { field: "indicator", value: id }));
    }
    if (wanted.length) domainSel.value = byId[wanted[0]].domain;
    drawIndicators(wanted);
    // The first chosen indicator in sight within its scrolling list.
    const first = boxes.querySelector("input:checked");
    if (first) boxes.scrollTop += first.closest("label").getBoundingClientRect().top - boxes.getBoundingClientRect().top - 4;
    drawAreas();
    const area = q.get("gu") ? `gu:${q.get("gu")}` : q.get("district") ? `district:${q.get("district")}` : "";
    if (area) {
      areaSel.value = area;
      if (areaSel.value !== area) { areaSel.value = ""; problems.push(fill(L.bad_area, { value: area.split(":")[1] })); }
    }
    const preset = q.get("preset") || "7d";
    presetSel.value = preset;
    if (presetSel.value !== preset) {
      problems.push(fill(L.bad_param, { field: "preset", value: preset }));
      presetSel.value = "7d";
    }
    applyPreset();
    let from = range[0];
    let to = range[1];
    for (const [field, isEnd] of [["from", false], ["to", true]]) {
      const v = q.get(field);
      if (v === null) continue;
      const ms = parseTime(v, isEnd);
      if (ms === null) { problems.push(fill(L.bad_date, { field, value: v })); continue; }
      if (isEnd) to = ms; else from = ms;
    }
    setRange(from, to);
    for (const field of ["resolution", "aggregate", "mode"]) {
      const v = q.get(field);
      if (v === null) continue;
      const sel = form.elements[field];
      const before = sel.value;
      sel.value = v;
      if (sel.value !== v) { sel.value = before; problems.push(fill(L.bad_param, { field, value: v })); }
    }
    return { problems, run: wanted.length > 0 };
  }

  // ------------------------------------------------------------------------------------------ showing
  function say(el, text) { el.textContent = text || ""; el.hidden = !text; }

  function seriesOf(ind, body, aggregate, areaName) {
    const value = (p) => (aggregate || body.resolution === "raw" ? p.value : p.mean);
    if (aggregate) {
      return [{ ind, name: `${ind.name} · ${fill(L.aggregated, { area: areaName, agg: L[`agg_${aggregate}`] })}`,
        points: body.points.map((p) => [p.t, value(p)]) }];
    }
    const all = body.series || [{ entity: body.entity, points: body.points }];
    return all.map((s) => ({ ind, name: `${ind.name} · ${D.entities[s.entity] || s.entity}`,
      points: s.points.map((p) => [p.t, value(p)]) }));
  }

  function drawCharts(series, exercise) {
    const box = $("charts");
    box.innerHTML = "";
    const units = [...new Set(series.map((s) => s.ind.unit))];
    return Promise.all(units.map((unit) => {
      const spec = JSON.parse(JSON.stringify(D.spec));
      spec.encoding.y.title = unit;
      // The whole period asked for, so a gap in the data shows as one.
      spec.encoding.x.scale.domain = range.map((ms) => { const t = exercise ? simTime(ms) : ms; return t + offsetMs(t); });
      if (exercise) spec.title = L.mode_exercise;
      spec.datasets.points = series.filter((s) => s.ind.unit === unit).flatMap((s) => s.points
        .filter(([, v]) => v !== null && v !== undefined)
        .map(([t, v]) => { const ms = exercise ? simTime(t * 1000) : t * 1000; return { t: ms + offsetMs(ms), v, s: s.name }; }));
      spec.mark = { ...(typeof spec.mark === "string" ? { type: spec.mark } : spec.mark), clip: true };
      const el = document.createElement("figure");
      el.className = "chart";
      box.append(el);
      // A narrow screen: one legend entry a line, as long as the chart is wide (no name cut off at its edge); many
      // lines: more columns, and the chart grows by the legend's rows so its plot keeps its height.
      const named = new Set(spec.datasets.points.map((p) => p.s)).size;
      const columns = el.clientWidth < 720 ? 1 : named > 8 ? 3 : 2;
      spec.encoding.color.legend = { ...spec.encoding.color.legend, columns,
        labelLimit: Math.max(120, el.clientWidth / columns - 60) };
      el.style.height = `${el.clientHeight + Math.max(0, Math.ceil(named / columns) - 1) * 22}px`;
      el.setAttribute("role", "img");
      el.setAttribute("aria-label", `${L.chart}: ${series.filter((s) => s.ind.unit === unit).map((s) => s.name).join(", ")} (${unit})`);
      // SVG up to a few thousand points; beyond, a canvas draws them without thousands of elements.
      const renderer = spec.datasets.points.length > 4000 ? "canvas" : "svg";
      return vegaEmbed(el, spec, { actions: false, renderer, tooltip: false, defaultStyle: false })
        .catch((err) => say($("problem"), String(err)));
    }));
  }

  function drawTable(series, exercise, raw) {
    const rows = series.flatMap((s) => s.points.map(([t, v]) => ({ t, v, s })));
    rows.sort((a, b) => a.t - b.t || a.s.name.localeCompare(b.s.name));
    const box = $("table-box");
    const head = `<thead><tr><th scope="col">${esc(fill(L.col_time, { zone: D.zone }))}</th><th scope="col">${esc(L.col_series)}</th>` +
      `<th scope="col" class="num">${esc(L.col_value)}</th><th scope="col">${esc(L.col_unit)}</th></tr></thead>`;
    const body = rows.slice(0, TABLE_MAX).map((r) => {
      const ms = exercise ? simTime(r.t * 1000) : r.t * 1000;
      const text = r.v === null || r.v === undefined ? "—" : numFmt(r.s.ind.decimals ?? 2).format(r.v);
      return `<tr><td><time datetime="${esc(new Date(r.t * 1000).toISOString())}">${shown(ms, raw)}</time></td>` +
        `<td>${esc(r.s.name)}</td><td class="num" data-v="${r.v ?? ""}">${text}</td><td>${esc(r.s.ind.unit)}</td></tr>`;
    }).join("");
    const cut = rows.length > TABLE_MAX
      ? `<p class="cut">${esc(fill(L.rows_cut, { shown: numFmt(0).format(TABLE_MAX), total: numFmt(0).format(rows.length) }))}</p>` : "";
    box.innerHTML = `${cut}<table><caption>${esc(L.table)}</caption>${head}<tbody>${body}</tbody></table>`;
    box.hidden = false;
  }

  // The export's links: one set when one query holds every indicator; with "the whole city", indicators measured
  // for different places each get their own (the export takes one list of places for all its indicators).
  function drawDownloads(q, perIndicator) {
    const groups = new Map();
    for (const [id, entities] of perIndicator) {
      const key = entities.join(",");
      if (!groups.has(key)) groups.set(key, { entities, ids: [] });
      groups.get(key).ids.push(id);
    }
    const parts = [];
    for (const { entities, ids } of groups.values()) {
      const p = new URLSearchParams(q);
      p.delete("preset");
      p.delete("indicator");
      for (const id of ids) p.append("indicator", id);
      for (const e of entities) p.append("entity", e);
      const link = (fmt) => { const x = new URLSearchParams(p); x.set("format", fmt); return `/api/v1/export?${x}`; };
      const names = groups.size > 1 ? `<span class="for">${esc(ids.map((id) => byId[id].name).join(", "))}</span>` : "";
      parts.push(`<div class="set">${names}<a class="button" download href="${esc(link("csv"))}" data-format="csv">${esc(L.csv)}</a>` +
        `<a class="button" download href="${esc(link("xlsx"))}" data-format="xlsx">${esc(L.xlsx)}</a>` +
        `<a class="button" download href="${esc(link("parquet"))}" data-format="parquet">${esc(L.parquet)}</a>` +
        `<a class="manifest" download href="/api/v1/export/manifest?${esc(p.toString())}">${esc(L.manifest)}</a></div>`);
    }
    const box = $("downloads");
    box.innerHTML = `<h3>${esc(L.download)}</h3>${parts.join("")}<button type="button" id="copy">${esc(L.copy)}</button>` +
      '<span id="copied" role="status"></span>';
    box.hidden = false;
    $("copy").addEventListener("click", async () => {
      try { await navigator.clipboard.writeText(location.href); } catch (_) {
        const t = document.createElement("textarea");
        t.value = location.href; document.body.append(t); t.select(); document.execCommand("copy"); t.remove();
      }
      $("copied").textContent = L.copied;
    });
  }

  let asked = 0;
  async function run() {
    const ids = chosen();
    say($("problem"), "");
    if (!ids.length) { say($("problem"), L.pick_indicator); return; }
    const q = query();
    remember(q);
    const mine = ++asked;
    const exercise = q.get("mode") === "exercise";
    const ev = events[(q.get("preset") || "").replace(/^event:/, "")];
    say($("exercise"), exercise ? (ev && ev.dataset === "exercise" ? fill(L.exercise_event, { event: ev.name }) : L.exercise) : "");
    const raw = q.get("resolution") === "raw";
    const period = presetSel.options[presetSel.selectedIndex].text;
    const span = (ms) => shown(exercise ? simTime(ms) : ms, false);
    $("summary").textContent = fill(L.summary, { period, from: span(range[0]), to: span(range[1]), zone: D.zone,
      resolution: L[`res_${q.get("resolution")}`] });
    $("charts").innerHTML = `<p class="loading">${esc(L.loading)}</p>`;
    const aggregate = q.get("aggregate");
    const areaName = areaSel.options[areaSel.selectedIndex].text;
    const perIndicator = [];
    const answers = await Promise.all(ids.map(async (id) => {
      const p = new URLSearchParams(q);
      for (const k of ["indicator", "lang", "preset"]) p.delete(k);
      const entities = areaSel.value ? [] : byId[id].city;
      for (const e of entities) p.append("entity", e);
      perIndicator.push([id, entities]);
      const res = await fetch(`/api/v1/indicators/${encodeURIComponent(id)}/history?${p}`, { credentials: "same-origin", cache: "no-store" });
      const body = await res.json().catch(() => ({}));
      if (!res.ok) {
        const e = body.error || {};
        const where = e.field ? ` (${e.field}=${e.value ?? ""})` : "";
        throw new Error(fill(L.refused, { indicator: byId[id].name, message: `${e.message || `HTTP ${res.status}`}${where}` }));
      }
      return seriesOf(byId[id], body, aggregate, areaName);
    })).catch((err) => err);
    if (mine !== asked) return;   // a newer query was asked meanwhile
    perIndicator.sort((a, b) => ids.indexOf(a[0]) - ids.indexOf(b[0]));
    drawDownloads(q, perIndicator);
    if (answers instanceof Error) {
      say($("problem"), answers.message);
      $("charts").innerHTML = "";
      $("table-box").hidden = true;
      return;
    }
    const series = answers.flat();
    if (!series.some((s) => s.points.length)) {
      $("charts").innerHTML = `<p class="empty">${esc(L.no_data)}</p>`;
      $("table-box").hidden = true;
      return;
    }
    drawTable(series, exercise, raw);
    await drawCharts(series, exercise);
  }
  // A query's answer drawn (figures, none, or the server's refusal): the tests wait for this mark.
  async function show() {
    await run();
    document.body.dataset.shown = location.search;
  }

  // ------------------------------------------------------------------------------------------ wiring
  domainSel.addEventListener("change", () => { drawIndicators([]); drawAreas(); });
  boxes.addEventListener("change", () => {
    drawAreas();
    const found = presetRange(presetSel.value, range);
    if (found && !found[2]) form.elements.mode.value = defaultMode();   // an event or a replay keeps its own
  });
  presetSel.addEventListener("change", applyPreset);
  for (const [id, isEnd] of [["f-from", false], ["f-to", true]]) {
    $(id).addEventListener("change", () => {
      const ms = parseTime($(id).value, isEnd);
      if (ms === null) return;
      presetSel.value = "custom";
      range = isEnd ? [range[0], ms] : [ms, range[1]];
    });
  }
  form.addEventListener("submit", (event) => { event.preventDefault(); show(); });

  async function start() {
    try {
      const r = await fetch("/api/v1/exercise", { cache: "no-store", credentials: "same-origin" });
      const c = r.ok ? (await r.json()).clock : null;
      // The ordinary day, now, is no replay (the wall's rule).
      if (c && !(c.speed === 1 && !c.loop && Math.abs(c.start - c.anchor) < 60)) replay = c;
    } catch (_) { /* not signed in where reads need it: no replay to speak of */ }
    if (replay) say($("simclock"), fill(L.sim_clock, { time: shown(simTime(Date.now()), false), speed: replay.speed }));
    drawPresets();
    const { problems, run: now } = restore();
    if (problems.length) say($("problem"), problems.join(" "));
    if (now) {
      await show();
      if (problems.length) say($("problem"), `${problems.join(" ")} ${$("problem").textContent}`.trim());
    }
    document.body.dataset.ready = "true";
  }
  start();
})();
