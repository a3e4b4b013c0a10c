// What the wall holds: the dashboard drawn, the latest state of every series (real and exercise), alerts,
// disaster texts, open incidents and their notes, the panels and the page shown; and when a series is stale.
// One of the wall's scripts (pages.py loads them in order, wall.js last); they share the page's script scope.
"use strict";

let def = null;                 // the resolved dashboard (GET /api/v1/dashboards/<name>)
const live = new Map();         // "indicator\u0000entity" -> the state shown, one per series (bounded by the catalog)
// Real and exercise states of a series are both kept; `live` holds the one shown: a running exercise while it
// is fresh (marked as such), real data otherwise (docs/exercise.md). Each is bounded by the catalog too.
const realLive = new Map();
const exerciseLive = new Map();
// The running drill, the collectors delivering exercise data and the simulated clock of a replay
// (GET /api/v1/exercise, then the websocket's `exercise` frames).
let exercise = { drill: null, sources: [], clock: null };
let exerciseShown = false;      // any exercise value, alert or message on the screen now (the band is up)
// The open incidents (GET /api/v1/incidents?state=open, then the websocket's `incidents` frames), highest level
// first; `plan` the boards the wall at `/` goes through while they are open: their hazards' dashboards in that
// order, each once (its own board when none is open).
let incidents = [];
let plan = [HOME];
// Notes of the open incidents pinned to a time and an indicator: indicator -> [{t, label}] (read with this
// screen's sign-in, so a restricted indicator's notes reach only a screen that may read it).
let notes = new Map();
let notesFrom = "";             // the incidents (id and last change) the notes were read for
let messages = [];              // newest first, at most 50
const alerts = new Map();       // fingerprint -> the alert role's pending or firing alert (bounded: rules × entities)
let alertsDirty = true;
let lastId = null;              // update-stream id of the last frame applied, for resume
let clockOffset = 0;            // server clock minus ours (ms)
let newestT = 0;                // event time of the freshest value shown
let newestX = false;            // ... and whether it is exercise data
let lastFrameAt = 0;            // when (our clock) the last data frame arrived
let updates = 0;                // states received in deltas since the page loaded (a counter, for the soak)
const dirty = new Set();        // indicator ids changed since the last render; "*" for everything
const kpiDirty = new Set();     // series keys changed since the KPI tiles' last frame (renderKpisSoon)
let withheld = new Set();       // restricted indicators this screen's sign-in may not read (the hello frame says)
let messagesDirty = true;
let panels = [];                // Panel objects of every page
let pageEls = [];
// ?page=2 starts on the second page (rotation goes on from there); ?rotate=0 holds it (for a desk screen).
const params = new URLSearchParams(location.search);
let current = Math.max(0, (parseInt(params.get("page"), 10) || 1) - 1);
const ROTATE = params.get("rotate") !== "0";
let rotateTimer = null;
let topicsKey = "";

const now = () => Date.now() + clockOffset;
const LONG_S = 12 * 3600;       // a line over a longer span is drawn from hourly or daily buckets
const key = (i, e) => i + "\u0000" + e;
const grace = () => (def && def.stale_grace) || 2.5;
const isStale = (s, t) => s.st === "stale" || t - s.t > s.n * 1000 * grace();
const statusOf = (s, t) => (isStale(s, t) ? "stale" : s.st);
const ind = (id) => def.indicators[id];
const domainRank = (id) => Object.keys(def.domains).indexOf(ind(id).domain);
const entName = (id) => { const e = def.entities[id]; return e ? e.name[LANG] : id; };
