// Drawing the wall: the pass once a second (header clock, data freshness, every panel shown), KPI tiles
// in the next frame, and the exercise band with the simulated time of a replay.
// One of the wall's scripts (pages.py loads them in order, wall.js last); they share the page's script scope.
"use strict";

// The band stays up while any exercise value, alert or message is on the screen; during a replay the header
// and the band say the time shown is simulated, and at which speed.
let exerciseKey = "";
function updateExercise(t) {
  let on = false;
  for (const s of live.values()) if (s.x) { on = true; break; }
  if (!on) for (const a of alerts.values()) if (a.exercise) { on = true; break; }
  if (!on) on = messages.some((m) => m.x && (!m.expires || m.expires > t));
  if (!on) on = incidents.some((i) => i.exercise);
  const changed = on !== exerciseShown;
  exerciseShown = on;
  body.classList.toggle("exercise", on);
  // The band takes room from the panels: the charts sized to their boxes (Vega's "container", which follows
  // the window's resize events) fit themselves again. Not a real resize: the page is not rebuilt for it.
  if (changed) {
    requestAnimationFrame(() => {
      window.dispatchEvent(new Event("resize"));
      for (const p of panels) if (p instanceof MapPanel) p.refit();
    });
  }
  const c = simClock();
  const scenario = c ? (LANG === "ko" ? c.name_ko : c.name_en) || c.scenario : "";
  const what = [exercise.drill ? `${WORDS.drill} ${esc(exercise.drill.id)}` : "", c ? esc(scenario) : "",
    c ? `${WORDS.simulated} ×${numFmt(0).format(c.speed)}` : ""].filter(Boolean).join(" · ");
  const sim = c ? `${c.start}|${c.anchor}|${c.speed}` : "";
  const k = `${on}|${sim}|${what}`;
  if (k === exerciseKey) return;
  exerciseKey = k;
  if (bandEl) bandEl.innerHTML = on ? `<span class="mark">${WORDS.exercise}</span><b>${WORDS.exerciseBand}</b>` +
    `<span class="other">${WORDS.exerciseOther}</span>${what ? `<span class="what">${what}</span>` : ""}` : "";
  if (header) {
    const chip = header.querySelector(".simchip");
    chip.hidden = !c;
    chip.textContent = c ? `${WORDS.sim} ×${numFmt(0).format(c.speed)}` : "";   // the band says it in full
  }
  if (changed || sim) {
    // Times on the charts change with the clock: draw their datasets again.
    for (const p of panels) if (p instanceof TimeseriesPanel) p.synced = false;
    dirty.add("*");
    messagesDirty = true;
    alertsDirty = true;
  }
}
async function loadExercise() {
  try {
    const r = await fetch("/api/v1/exercise", { cache: "no-store" });
    if (r.ok) { exercise = await r.json(); exerciseKey = ""; }
  } catch (e) { /* the server is not up: the websocket's frame brings it later */ }
}

// ------------------------------------------------------------------------------------------ rendering
// One render pass per second: a burst of updates costs one repaint, not one per update (a KPI tile's number
// does not wait for it: renderKpisSoon).
function tick() {
  const t = now();
  updateExercise(t);
  if (header) {
    const shownNow = simTime(t);
    header.querySelector(".clock .time").textContent = timeFmt.format(shownNow);
    header.querySelector(".clock .date").textContent = dateFmt.format(shownNow);
    const fresh = header.querySelector(".fresh");
    let cls = "ok";
    let text;
    if (!connected || storeDown) {
      cls = "down";
      text = `${WORDS.lost}${newestT ? ` · ${WORDS.lastData} <b>${timeFmt.format(shownTime(newestT, newestX))}</b>` : ""}`;
    } else if (!newestT) {
      text = WORDS.noData;
      cls = "late";
    } else {
      const asOf = timeFmt.format(shownTime(newestT, newestX));
      text = LANG === "ko" ? `${WORDS.asOf} <b>${asOf}</b> ${WORDS.asOfSuffix}` : `${WORDS.asOf} <b>${asOf}</b>`;
      if (t - lastFrameAt > 60000 && t - newestT > 60000) cls = "late";
    }
    fresh.className = `fresh ${cls}`;
    fresh.dataset.state = cls;
    fresh.querySelector(".dot").innerHTML = icon(cls === "ok" ? "normal" : cls === "late" ? "stale" : "critical");
    const txt = fresh.querySelector(".txt");
    if (txt.innerHTML !== text) txt.innerHTML = text;
  }
  WallCompare.tick(panels, current);
  for (const p of panels) {
    if (p.page !== current) continue;
    if (p.wants(dirty) || p instanceof ClockPanel || p instanceof AlertsPanel) p.render();
    p.updateStale(t);
  }
  dirty.clear();
  messagesDirty = false;
  alertsDirty = false;
  banner(t);
}

// A KPI tile's number shows a new value in the next frame: waiting for the pass above held it back up to a
// second, and at 10 updates a second nine values in ten never showed. The charts, maps and rankings keep to
// the pass, where a burst of updates costs one redraw; `dirty` stays for it.
// Only the tiles whose own series changed: a district's rainfall does not redraw the city's rainfall tile.
let kpiFrame = 0;
function renderKpisSoon() {
  if (kpiFrame || !kpiDirty.size) return;
  kpiFrame = requestAnimationFrame(() => {
    kpiFrame = 0;
    for (const p of panels) if (p instanceof KpiPanel && p.page === current && kpiDirty.has(p.k)) p.render();
    kpiDirty.clear();
  });
}
