// The wall's websocket (docs/websocket.md): subscribe and resume from the last frame, heartbeats, reconnects
// with backoff and jitter, a reload when the server is upgraded, and the banner while the connection is lost.
// One of the wall's scripts (pages.py loads them in order, wall.js last); they share the page's script scope.
"use strict";

let ws = null;
let connected = false;
// The server is reached but cannot reach Redis (a failover): nothing live comes, which the wall says as for a lost
// connection; the connection stays, so the updates go on once the server reads again.
let storeDown = false;
let downSince = Date.now();
let attempt = 0;
let retryAt = 0;
let heartbeat = null;
let missed = 0;   // heartbeats since the last frame from the server: over three, and the line is taken for dead
let ticks = 0;
let beatEvery = 1;   // heartbeats between two of this page's own (the server's beat_s over its heartbeat_s)
let reconnectTimer = null;

function connect() {
  clearTimeout(reconnectTimer);
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
  let sock;
  try { sock = new WebSocket(url); } catch (err) { scheduleReconnect(); return; }
  ws = sock;
  sock.onmessage = (ev) => {
    if (ws !== sock) return;
    missed = 0;   // any frame shows the line and the server are there, not only an answer to a ping
    onFrame(JSON.parse(ev.data));
  };
  sock.onclose = () => { if (ws === sock) lost(); };
  sock.onerror = () => { /* onclose follows and handles it */ };
}

function subscribe() {
  if (!ws || ws.readyState !== WebSocket.OPEN || !def || !def.topics) return;
  const topics = def.topics;
  const tk = topics.join(",");
  // A different subscription cannot resume the old one's stream position: ask for a snapshot.
  const resume = tk === topicsKey ? lastId : null;
  topicsKey = tk;
  ws.send(JSON.stringify({ type: "subscribe", topics, resume, ref: Date.now() }));
}

function onFrame(f) {
  switch (f.type) {
    case "hello":
      if (f.build && f.build !== BUILD) { reloadSoon(); return; }
      clockOffset = typeof f.server_time === "number" ? f.server_time - Date.now() : 0;
      withheld = new Set(f.withheld || []);
      markWithheld();
      connected = true;
      storeDown = f.store_ok === false;
      attempt = 0;
      missed = 0;
      ticks = 0;
      beatEvery = Math.max(1, Math.round((f.beat_s || f.heartbeat_s || 15) / (f.heartbeat_s || 15)));
      clearInterval(heartbeat);
      heartbeat = setInterval(beat, Math.max(2, f.heartbeat_s || 15) * 1000);
      subscribe();
      loadExercise();   // a drill may have started or ended while the page was away
      loadIncidents();  // and a level been declared or ended
      tick();
      break;
    case "snapshot":
      live.clear();
      realLive.clear();
      exerciseLive.clear();
      for (const s of f.states || []) applyState(s);
      applyMessages(f.messages || [], true);
      applyAlerts(f.alerts || [], true);
      lastId = f.id;
      lastFrameAt = Date.now();
      dirty.add("*");
      break;
    case "delta":
      updates += (f.states || []).length;
      for (const s of f.states || []) applyState(s);
      if (f.states && f.states.length) renderKpisSoon();
      if (f.messages) applyMessages(f.messages, false);
      if (f.alerts) applyAlerts(f.alerts, false);
      lastId = f.id;
      lastFrameAt = Date.now();
      break;
    case "ping":
      if (ws) ws.send(JSON.stringify({ type: "pong", t: f.server_time }));
      break;
    case "store":
      // `since`: the server's last read of the updates, in its clock; nothing new has come after it.
      if (!f.ok && !storeDown) downSince = typeof f.since === "number" ? f.since - clockOffset : Date.now();
      storeDown = !f.ok;
      tick();
      break;
    case "pong":
      if (typeof f.server_time === "number" && typeof f.t === "number") {
        clockOffset = f.server_time - (f.t + Date.now()) / 2;
      }
      break;
    case "dashboard":
      if (f.name === NAME && f.version !== (def && def.version)) loadDefinition();
      break;
    case "exercise":
      exercise = { drill: f.drill, sources: f.sources || [], clock: f.clock };
      exerciseKey = "";
      tick();
      break;
    case "incidents":
      applyIncidents(f.incidents);
      break;
    case "error":
      console.warn("server refused a frame:", f.message, f.field, f.value);
      break;
    default:
      break;
  }
}

// Every heartbeat_s: the server sends a frame at least that often (an update, else a ping), so three without one
// and the line is taken for dead. Every beat_s: tell the server this screen is there, so it need not ask (docs/
// websocket.md, "Heartbeats"). While frames come the server is evidently there, so the sign of life is a pong that asks
// for nothing back (RFC 6455 allows one unsolicited); a ping, which the server answers, goes after a quiet interval
// and every fourth beat, for the server's clock. Frames back to the server are what costs at thousands of screens.
function beat() {
  if (!ws || ws.readyState !== WebSocket.OPEN) return;
  if (++missed > 3) { ws.close(); lost(); return; }
  if (missed > 1) { ws.send(JSON.stringify({ type: "ping", t: Date.now() })); return; }
  if (++ticks % beatEvery) return;
  ws.send((ticks / beatEvery) % 4 === 0 ? JSON.stringify({ type: "ping", t: Date.now() }) : '{"type":"pong"}');
}

function lost() {
  if (connected && !storeDown) downSince = Date.now();
  connected = false;
  clearInterval(heartbeat);
  if (ws) { ws.onclose = null; ws.onmessage = null; try { ws.close(); } catch (e) { /* already closed */ } }
  ws = null;
  scheduleReconnect();
  tick();
}

function scheduleReconnect() {
  clearTimeout(reconnectTimer);
  // Exponential backoff with jitter, so a hundred walls do not hammer a restarting server together.
  const base = Math.min(30000, 500 * Math.pow(2, attempt));
  const delay = base / 2 + Math.random() * base / 2;
  attempt += 1;
  retryAt = Date.now() + delay;
  reconnectTimer = setTimeout(connect, delay);
}

let reloading = false;
function reloadSoon() {
  // The server was upgraded: load the new page, once the new server really answers.
  if (reloading) return;
  reloading = true;
  fetch(location.href, { cache: "no-store" }).then((r) => { if (r.ok) location.reload(); else reloading = false; })
    .catch(() => { reloading = false; });
}

const bannerEl = document.createElement("div");
bannerEl.id = "banner";
bannerEl.setAttribute("role", "alert");
document.body.appendChild(bannerEl);
function banner(t) {
  const limit = ((def && def.dashboard && def.dashboard.disconnect_banner_s) || 10) * 1000;
  const on = (!connected || storeDown) && Date.now() - downSince > limit;
  bannerEl.classList.toggle("on", on);
  if (!on) return;
  const last = newestT ? timeFmt.format(shownTime(newestT, newestX)) : "–";   // in the header's (simulated) time
  const wait = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
  // Connected to a server that lost Redis: no attempt of the page's own to count down to.
  const retry = connected ? "" : `${WORDS.retry}${LANG === "ko" ? ` ${wait}${WORDS.inSec}` : ` in ${wait}${WORDS.inSec}`} · `;
  const html = `<div class="big">${icon("plug")}${WORDS.lost}</div><div class="sub">${WORDS.lostEn} · ${WORDS.lastData} ${last}</div>` +
    `<div class="retry">${retry}${fmtAge(Date.now() - downSince)}</div>`;
  if (bannerEl.innerHTML !== html) bannerEl.innerHTML = html;
}
