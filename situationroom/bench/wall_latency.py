"""Push-to-pixel latency of the wall: one KPI tile's series pushed through push ingest, the tile's text watched in
Chromium, beside the same pushes' frames at a plain websocket client."""

from __future__ import annotations

import asyncio
import math
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from situationroom import tokens
from situationroom.bench import Pusher, Role, percentile, start_role, subscribed_to_all, wait_http
from situationroom.bench.wall import CHROMIUM_ARGS, playwright_for
from situationroom.catalog import Catalog
from situationroom.redisconn import sync_client
from situationroom.settings import Settings

TILE = ("river.level", "hrfco-2101690")
"""The overview's 형산교 river-level tile: the river-level chart on the same page draws the same pushes."""
TARGET_P99_MS = 100.0
WARMUP = 1.0
"""Seconds of unmeasured pushes first: the first requests of a process, and the page's first renders of a
series, cost tens of milliseconds."""
SETTLE = 2.0
"""Seconds after the last push for its frame and its render (the wall's slowest render pass is 1 s apart)."""

OBSERVE = """
(sel) => {
  // The tile's text as the wall renders it: the first moment each text is in the DOM, on the page's clock
  // (the machine's wall clock, as the benchmark's send times).
  const panel = document.querySelector(sel);
  if (!panel) return false;
  const seen = new Set();
  window.__pixels = [];
  const record = () => {
    const t = performance.timeOrigin + performance.now();
    const el = panel.querySelector('.value');
    const text = el ? el.textContent : '';
    if (seen.has(text)) return;
    seen.add(text);
    window.__pixels.push([text, t]);
  };
  new MutationObserver(record).observe(panel, { childList: true, characterData: true, subtree: true });
  // Tasks of 50 ms or more on the page's main thread (a chart's redraw, say): a render they hold back waits.
  window.__long = [];
  new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__long.push(e.duration); })
    .observe({ type: 'longtask' });
  return true;
}
"""


@dataclass
class Push:
    k: int
    value: float
    t_ms: int
    """The sample's event time (ms), by which its state is recognised in a frame."""
    sent_ms: float
    """Wall clock (ms) when the request's bytes went to the socket."""


@dataclass
class WallLatencyResult:
    indicator: str
    entity: str
    rate: float
    seconds: float
    pushed: int
    load_before: list[float]
    """1, 5 and 15 minute load averages when the run started, and (load_after) when it ended."""
    load_after: list[float] = field(default_factory=list)
    wall: dict[str, Any] = field(default_factory=dict)
    websocket: dict[str, Any] = field(default_factory=dict)
    browser_ms: dict[str, float] = field(default_factory=dict)
    """Pixel − websocket frame, per value the tile showed: the page's share of the latency."""
    long_tasks: dict[str, float] = field(default_factory=dict)
    """The page's main-thread tasks of 50 ms or more while measuring: how many, the longest, their sum."""
    target_p99_ms: float = TARGET_P99_MS

    @property
    def passed(self) -> bool:
        p99 = self.wall.get("latency_ms", {}).get("p99", math.inf)
        return self.wall.get("missing", 1) == 0 and p99 <= self.target_p99_ms

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


def stats(values: list[float]) -> dict[str, float]:
    """p50/p95/p99/max in ms, rounded to 0.1 ms; nan for no values."""
    return {"p50": round(percentile(values, 50), 1), "p95": round(percentile(values, 95), 1),
            "p99": round(percentile(values, 99), 1), "max": round(max(values), 1) if values else math.nan}


def values_for(catalog: Catalog, indicator: str, count: int) -> tuple[float, float]:
    """The first value and the step of `count` distinct values of `indicator`, one display digit apart, inside its
    range: each push is then recognised by the text the tile shows."""
    ind = catalog.indicators[indicator]
    step = 10.0 ** -ind.decimals
    lo, hi = ind.range if ind.range else (0.0, 1e9)
    start = max(lo, 0.0) + step
    if start + step * count > hi:
        raise RuntimeError(f"{indicator}: {count} distinct values of {step:g} apart do not fit its range "
                           f"{lo:g}..{hi:g}; push for fewer seconds or at a lower rate")
    if ind.labels:
        raise RuntimeError(f"{indicator} shows labels instead of numbers; pick a numeric KPI tile")
    return start, step


async def push(port: int, token: str, indicator: str, entity: str, start: float, step: float, decimals: int,
               *, rate: float, seconds: float) -> tuple[list[Push], dict[int, float]]:
    """Push one sample every 1/rate s (WARMUP s unmeasured, then `seconds`), each with the next value; a plain
    websocket client subscribed to everything records when each one's state arrives (wall clock, ms)."""
    from websockets.asyncio.client import connect

    pushes: list[Push] = []
    frames: dict[int, float] = {}
    # One clock for the send and arrival times: perf_counter, placed on the wall clock once.
    epoch = time.time() - time.perf_counter()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    async with connect(f"ws://127.0.0.1:{port}/ws", compression=None, max_size=None, ping_interval=None) as ws, \
            Pusher("127.0.0.1", port, headers) as http:
        await subscribed_to_all(ws)

        async def watch() -> None:
            async for message in ws:
                at = (epoch + time.perf_counter()) * 1000
                frame = orjson.loads(message)
                if frame.get("type") != "delta":
                    continue
                for s in frame.get("states", ()):
                    if s.get("i") == indicator and s.get("e") == entity:
                        frames.setdefault(s["t"], at)

        watcher = asyncio.create_task(watch())
        k, last_t = 0, 0
        warm = round(WARMUP * rate)
        total = warm + round(seconds * rate)
        tick = time.perf_counter()
        while k < total:
            value = round(start + k * step, decimals)
            t_ms = last_t = max(int(time.time() * 1000), last_t + 1)
            body = orjson.dumps({"samples": [{"indicator": indicator, "entity": entity, "ts": t_ms / 1000,
                                              "value": value}]})
            sent, status, answer = await http.post("/api/v1/samples", body)
            if status != 200 or orjson.loads(answer).get("accepted") != 1:
                raise RuntimeError(f"ingest answered {status}: {answer[:300]!r}")
            if k >= warm:
                pushes.append(Push(k, value, t_ms, (epoch + sent) * 1000))
            k += 1
            tick += 1 / rate
            await asyncio.sleep(max(0.0, tick - time.perf_counter()))
        await asyncio.sleep(SETTLE)
        watcher.cancel()
    return pushes, frames


def shown_index(text: str, start: float, step: float) -> int | None:
    """Which push a text of the tile shows (its value's index), None for a text that is no number ("–")."""
    try:
        value = float(text.replace(",", "").strip())
    except ValueError:
        return None
    return round((value - start) / step)


def account(pushes: list[Push], frames: dict[int, float], pixels: list[tuple[str, float]], start: float,
            step: float) -> tuple[dict[str, Any], dict[str, Any], dict[str, float]]:
    """Every measured push is shown (its own value appeared), coalesced (a later push's value appeared first: the
    wall rendered once for both, or the server merged both into one frame for a client behind; the value counts
    as arrived when that later one did) or missing (neither, by the end). The same for the tile's text and for
    the websocket client's frames.

    Latencies count shown and coalesced values, each at the first moment it or a later value arrived;
    `exact_ms` is the tile's shown values alone, at their own text."""
    first_shown: dict[int, float] = {}
    for text, at in pixels:
        k = shown_index(text, start, step)
        if k is not None:
            first_shown.setdefault(k, at)
    by_t = {p.t_ms: p.k for p in pushes}
    first_frame = {by_t[t]: at for t, at in frames.items() if t in by_t}
    wall, caught, exact = _arrivals(pushes, first_shown)
    counts, ws_caught, _ = _arrivals(pushes, first_frame)
    websocket: dict[str, Any] = {"seen": counts["shown"], "coalesced": counts["coalesced"],
                                 "missing": counts["missing"]}
    wall["latency_ms"], wall["exact_ms"] = stats(caught), stats(exact)
    websocket["latency_ms"] = stats(ws_caught)
    browser = [first_shown[p.k] - first_frame[p.k] for p in pushes if p.k in first_shown and p.k in first_frame]
    return wall, websocket, stats(browser)


def _arrivals(pushes: list[Push], first: dict[int, float]) -> tuple[dict[str, Any], list[float], list[float]]:
    """Counts of shown/coalesced/missing pushes given when each value first arrived, their latencies (shown and
    coalesced) and the shown ones' alone."""
    # The earliest arrival of any value from k on, walking back from the newest push.
    from_k: dict[int, float] = {}
    earliest = math.inf
    for k in sorted({p.k for p in pushes} | set(first), reverse=True):
        earliest = min(earliest, first.get(k, math.inf))
        from_k[k] = earliest
    caught: list[float] = []
    exact: list[float] = []
    coalesced = missing = 0
    for p in pushes:
        if p.k in first:
            exact.append(first[p.k] - p.sent_ms)
            caught.append(first[p.k] - p.sent_ms)
        elif from_k[p.k] < math.inf:
            coalesced += 1
            caught.append(from_k[p.k] - p.sent_ms)
        else:
            missing += 1
    return {"shown": len(exact), "coalesced": coalesced, "missing": missing}, caught, exact


def run(settings: Settings, catalog: Catalog, url: str, *, indicator: str, entity: str, rate: float,
        seconds: float, dashboard: str, port: int, width: int, height: int, chromium: str,
        log: Path | None) -> WallLatencyResult:
    """The web and aggregate roles on `url` (an empty Redis), the dashboard in Chromium with its rotation off,
    pushes at `rate` for `seconds` after a warm-up; the tile's text and a websocket client record each value."""
    sync_playwright = playwright_for(chromium)
    if indicator not in catalog.indicators:
        raise RuntimeError(f"--indicator {indicator}: not in the site's catalog")
    if entity not in catalog.entities_of(indicator):
        raise RuntimeError(f"--entity {entity}: {indicator} is not measured for it")
    start, step = values_for(catalog, indicator, round((WARMUP + seconds) * rate) + 1)
    decimals = catalog.indicators[indicator].decimals
    sync = sync_client(url)
    token = tokens.create(sync, "ingest", "bench-wall-latency")
    sync.close()
    result = WallLatencyResult(indicator, entity, rate, seconds, 0, [round(x, 2) for x in os.getloadavg()])
    env = {"SITUATIONROOM_PARTITIONS": str(settings.partitions)}
    roles: list[Role] = []
    try:
        roles.append(start_role("web", site=settings.site, redis_url=url, port=port, extra_env=env, log=log))
        roles.append(start_role("aggregate", site=settings.site, redis_url=url, extra_env=env, log=log))
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/healthz", roles[0], timeout=60)
        page_url = f"{base}/?rotate=0" if dashboard == "overview" else f"{base}/dashboards/{dashboard}?rotate=0"
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(page_url)
            page.wait_for_function("window.__wall && window.__wall.connected", timeout=60_000)
            tile = f'[data-indicator="{indicator}"][data-entity="{entity}"]'
            if not page.evaluate(OBSERVE, tile):
                raise RuntimeError(f"the {dashboard} dashboard's first page has no KPI tile of {indicator} "
                                   f"for {entity} (--dashboard, --indicator, --entity)")
            try:
                pushes, frames = _in_thread(push(port, token, indicator, entity, start, step, decimals, rate=rate,
                                                 seconds=seconds))
            except OSError as exc:  # the web role went away mid-run: say so, not a traceback
                raise RuntimeError(f"pushing to {base}: {exc}") from None
            pixels = [(str(text), float(at)) for text, at in page.evaluate("window.__pixels")]
            long = [float(d) for d in page.evaluate("window.__long")]
            browser.close()
    finally:
        for role in roles:
            role.stop()
    result.pushed = len(pushes)
    result.wall, result.websocket, result.browser_ms = account(pushes, frames, pixels, start, step)
    result.long_tasks = {"count": len(long), "max_ms": round(max(long, default=0.0), 1),
                         "total_ms": round(sum(long), 1)}
    result.load_after = [round(x, 2) for x in os.getloadavg()]
    return result


def _in_thread(coro: Any) -> Any:
    """Run a coroutine to its end on an event loop of its own thread: Playwright's sync API holds this one."""
    from situationroom.roles import run_async

    out: dict[str, Any] = {}

    def main() -> None:
        try:
            out["value"] = run_async(coro)
        except BaseException as exc:  # handed to the caller's thread
            out["error"] = exc

    thread = threading.Thread(target=main, name="wall-latency-push")
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]
    return out["value"]
