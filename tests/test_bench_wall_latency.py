"""`situationroom bench wall --latency`: every pushed value of a KPI tile accounted for, on the wall and at a plain
websocket client (the figures are recorded in docs/benchmarks.md, not asserted)."""

from __future__ import annotations

import json
import subprocess
import sys

from situationroom.bench.wall_latency import Push, account
from tests.browser import needs_chromium
from tests.servers_support import free_port
from tests.site_support import REPO


def _pushes(n: int) -> list[Push]:
    """n pushes 100 ms apart of 0.01, 0.02, … (k = 0, 1, …), sent at 1000, 1100, … ms."""
    return [Push(k, round(0.01 + k * 0.01, 2), 5000 + k, 1000.0 + 100 * k) for k in range(n)]


def test_a_value_overwritten_before_a_render_counts_as_coalesced_at_the_time_a_later_one_showed() -> None:
    pushes = _pushes(4)
    frames = {p.t_ms: p.sent_ms + 5 for p in pushes[:3]}   # the last push's frame never came
    # One render showed 0.01, the next already 0.03 (0.02 overwritten before it), the last never showed.
    pixels = [("–", 900.0), ("0.01", 1040.0), ("0.03", 1250.0)]
    wall, ws, browser = account(pushes, frames, pixels, start=0.01, step=0.01)
    assert (wall["shown"], wall["coalesced"], wall["missing"]) == (2, 1, 1)
    # Every value: 40 ms, 150 ms (0.02 reached the screen as 0.03 did), 50 ms; the shown ones alone: 40 and 50.
    assert wall["latency_ms"]["max"] == 150.0 and wall["latency_ms"]["p50"] == 50.0
    assert wall["exact_ms"]["max"] == 50.0
    assert (ws["seen"], ws["coalesced"], ws["missing"], ws["latency_ms"]["max"]) == (3, 0, 1, 5.0)
    assert browser["max"] == 45.0   # pixel − frame for the values shown: 35 and 45 ms


@needs_chromium
def test_bench_wall_latency_accounts_for_every_pushed_value() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "situationroom", "bench", "wall", "--latency", "--site", str(REPO), "--seconds", "3",
         "--port", str(free_port()), "--json"],
        capture_output=True, text=True, timeout=240)
    assert result.stdout.startswith("{"), result.stderr
    r = json.loads(result.stdout)
    assert (r["indicator"], r["entity"], r["rate"]) == ("river.level", "hrfco-2101690", 10)
    assert r["pushed"] == 30
    wall, ws = r["wall"], r["websocket"]
    # Every push reached the websocket client and the tile, or a later value did first; none vanished.
    assert ws["seen"] + ws["coalesced"] == 30 and ws["missing"] == 0 and ws["seen"] >= 1
    assert wall["shown"] + wall["coalesced"] == 30 and wall["missing"] == 0
    assert wall["shown"] >= 1
    for figures in (wall["latency_ms"], wall["exact_ms"], ws["latency_ms"], r["browser_ms"]):
        assert set(figures) == {"p50", "p95", "p99", "max"}
        assert figures["p50"] <= figures["p95"] <= figures["p99"] <= figures["max"]
    # Pixel − frame can be below zero (Chromium read its frame before the Python client did); the rest cannot.
    assert min(wall["latency_ms"]["p50"], wall["exact_ms"]["p50"], ws["latency_ms"]["p50"]) > 0
    assert set(r["long_tasks"]) == {"count", "max_ms", "total_ms"}
    assert len(r["load_before"]) == len(r["load_after"]) == 3
    assert r["passed"] == (wall["latency_ms"]["p99"] <= r["target_p99_ms"])
    assert result.returncode == (0 if r["passed"] else 1), result.stderr


def test_bench_wall_latency_names_a_tile_the_catalog_does_not_have() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "situationroom", "bench", "wall", "--latency", "--site", str(REPO), "--indicator",
         "river.nope", "--port", str(free_port())], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "--indicator river.nope: not in the site's catalog" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_state_the_server_merged_into_a_later_frame_counts_as_coalesced_at_the_websocket_client() -> None:
    pushes = _pushes(3)
    frames = {pushes[0].t_ms: 1004.0, pushes[2].t_ms: 1230.0}   # 0.02 was merged into the frame with 0.03
    pixels = [("0.01", 1010.0), ("0.03", 1240.0)]
    wall, ws, _ = account(pushes, frames, pixels, start=0.01, step=0.01)
    assert (ws["seen"], ws["coalesced"], ws["missing"]) == (2, 1, 0)
    assert ws["latency_ms"]["max"] == 130.0   # 0.02 sent at 1100, reached the client in 0.03's frame at 1230
    assert (wall["shown"], wall["coalesced"], wall["missing"]) == (2, 1, 0)
