"""Soak of the wall display: `situationroom up` with an accelerated scenario, the wall open in Chromium for
minutes, its JS heap (after a forced GC) and DOM size sampled at a fixed interval."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from situationroom.bench import Role, wait_http

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@dataclass
class Sample:
    minute: float
    heap_mb: float
    """JS heap in use after a forced garbage collection (CDP Runtime.getHeapUsage)."""
    nodes: int
    """DOM nodes alive (CDP Performance.getMetrics)."""
    listeners: int
    series: int
    """Live series the page holds."""
    updates: int
    """States the page has received in deltas since it loaded."""


@dataclass
class WallResult:
    minutes: float
    speed: float
    scenario: str
    viewport: str
    samples: list[Sample] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "summary": self.summary()}

    def summary(self) -> dict[str, float]:
        """Heap at the start and the end of the second half, and the slope over it (MB per hour): the first
        minutes fill the bounded buffers (sparklines, charts) and are left out of the trend."""
        if len(self.samples) < 2:
            return {}
        half = self.samples[len(self.samples) // 2:] if len(self.samples) >= 4 else self.samples
        xs = [s.minute for s in half]
        ys = [s.heap_mb for s in half]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        var = sum((x - mx) ** 2 for x in xs)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0
        heaps = [s.heap_mb for s in self.samples]
        return {"heap_first_mb": heaps[0], "heap_last_mb": heaps[-1], "heap_min_mb": min(heaps),
                "heap_max_mb": max(heaps), "second_half_slope_mb_per_h": slope * 60,
                "nodes_first": self.samples[0].nodes, "nodes_last": self.samples[-1].nodes}


def playwright_for(chromium: str) -> Any:
    """Playwright's `sync_playwright`, once it and the Chromium at `chromium` are known to be there (RuntimeError
    saying what to install otherwise): the wall benches drive the page through them."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise RuntimeError("bench wall drives Chromium through Playwright: pip install 'situationroom[test]'") \
            from None
    if not Path(chromium).exists():
        raise RuntimeError(f"no Chromium at {chromium} (apt-get install chromium, or give --chromium PATH)")
    return sync_playwright


def run(site: Path, *, minutes: float, every: float, speed: float, scenario: str, port: int, dashboard: str,
        width: int, height: int, chromium: str, log: Path | None, snapshots: Path | None = None,
        on_sample: Callable[[Sample], None] | None = None) -> WallResult:
    """Start everything on a temporary data dir, open the wall, sample until `minutes` have passed.

    With `snapshots`, a heap snapshot is written there at every sample (`heap-MMM.M.heapsnapshot`), for
    Chromium DevTools' Memory tab to compare when the heap grows between two of them."""
    sync_playwright = playwright_for(chromium)
    result = WallResult(minutes, speed, scenario, f"{width}x{height}")
    with tempfile.TemporaryDirectory(prefix="situationroom-wall-") as tmp:
        out = log.open("ab") if log else subprocess.DEVNULL
        proc = subprocess.Popen(
            [sys.executable, "-m", "situationroom", "up", "--site", str(site), "--data-dir", tmp, "--port",
             str(port), "--scenario", scenario, "--speed", f"{speed:g}", "--log-level", "WARNING"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            env={k: v for k, v in os.environ.items() if k != "REDIS_URL"})  # always its own embedded Redis
        role = Role(proc, "up")  # type: ignore[arg-type]
        try:
            base = f"http://127.0.0.1:{port}"
            wait_http(base + "/healthz", role, timeout=60)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": width, "height": height})
                cdp = page.context.new_cdp_session(page)
                cdp.send("Performance.enable")
                cdp.send("HeapProfiler.enable")
                page.goto(f"{base}/" if dashboard == "overview" else f"{base}/dashboards/{dashboard}")
                page.wait_for_function("window.__wall && window.__wall.connected && window.__wall.live.size > 0",
                                       timeout=60_000)
                start = time.monotonic()
                while True:
                    elapsed = time.monotonic() - start
                    cdp.send("HeapProfiler.collectGarbage")
                    heap = cdp.send("Runtime.getHeapUsage")
                    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
                    state = page.evaluate("[window.__wall.live.size, window.__wall.updates]")
                    sample = Sample(round(elapsed / 60, 2), round(heap["usedSize"] / 2**20, 2),
                                    int(metrics.get("Nodes", 0)), int(metrics.get("JSEventListeners", 0)),
                                    int(state[0]), int(state[1] or 0))
                    result.samples.append(sample)
                    if snapshots is not None:
                        _snapshot(cdp, snapshots / f"heap-{sample.minute:05.1f}.heapsnapshot")
                    if on_sample is not None:
                        on_sample(sample)
                    if elapsed >= minutes * 60:
                        break
                    time.sleep(min(every, max(0.0, minutes * 60 - elapsed)))
                browser.close()
        finally:
            role.stop()
    return result


def _snapshot(cdp: Any, path: Path) -> None:
    """Write the page's heap snapshot to `path`; DevTools sends it in chunks as events while the call runs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        def chunk(event: dict[str, Any]) -> None:
            out.write(event["chunk"])
        cdp.on("HeapProfiler.addHeapSnapshotChunk", chunk)
        try:
            cdp.send("HeapProfiler.takeHeapSnapshot", {"reportProgress": False})
        finally:
            cdp.remove_listener("HeapProfiler.addHeapSnapshotChunk", chunk)
