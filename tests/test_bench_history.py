"""`situationroom bench history` on tiny sizes: every part runs, each figure is a positive number, every check says
PASS or FAIL against its target and the exit status follows them (the figures themselves are recorded in
docs/benchmarks.md, not asserted)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from situationroom.redisconn import sync_client
from tests.redis_support import SERVICE_URL, NotTheSuites, answers, empty_url
from tests.site_support import REPO

TINY = ["--duration", "2", "--rate", "500", "--city-hours", "0.05", "--sink-samples", "3000", "--series", "4",
        "--days", "3", "--query-series", "3", "--query-days", "2", "--workers", "1"]


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "situationroom", "bench", "history", "--site", str(REPO), *args],
                          capture_output=True, text=True, timeout=600)


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def test_bench_history_measures_every_figure_and_exits_by_its_targets(tmp_path: Path) -> None:
    result = _bench(*TINY, "--work-dir", str(tmp_path), "--json")
    report = json.loads(result.stdout)
    f = report["figures"]
    assert set(f) == {"redis", "city", "sink", "lag", "year", "queries"}
    redis = f["redis"]
    assert _positive(redis["bytes_per_series"]) and redis["series"] == 1
    # At least the series' raw samples, its 1-minute buckets and its live state, each with entries.
    assert {"sr:{i:<indicator>}:raw:<entity>", "sr:{i:<indicator>}:h1m:<entity>",
            "sr:{i:<indicator>}:live"} <= set(redis["keys"])
    assert all(_positive(k["bytes"]) and _positive(k["entries"]) for k in redis["keys"].values())
    assert redis["filled_s"] >= 3600
    city = f["city"]
    assert city["series"] > 500 and _positive(city["samples"])
    for name in ("bytes_flushed", "bytes_compacted", "bytes_rollups", "bytes_per_sample", "flush_files"):
        assert _positive(city[name]), name
    assert city["bytes_compacted"] < city["bytes_flushed"]  # compaction merges many small files into one a day
    sink = f["sink"]
    assert sink["rows_written"] == sink["samples"] == 3000
    for name in ("sink_per_s", "pyarrow_per_s", "ratio", "raw_read_per_s", "read_and_pyarrow_per_s"):
        assert _positive(sink[name]), name
    lag = f["lag"]
    assert _positive(lag["offered_per_s"]) and lag["readings"] > 2 and lag["lag_s_max"] >= 0
    assert f["year"]["samples"] == 4 * 3 * 1440 and _positive(f["year"]["bytes_per_sample"])
    assert [q["buckets"] for q in f["queries"]] == [3, 3 * 2 * 24]
    assert all(_positive(q[t]) for q in f["queries"] for t in ("first_ms", "median_ms", "raw_ms"))
    checks = report["checks"]
    assert [c["unit"] for c in checks] == ["KB", "B", "%", "s", "ms", "ms"]
    assert all(c["passed"] == (c["value"] <= c["target"] if c["below"] else c["value"] >= c["target"])
               for c in checks)
    assert result.returncode == (0 if all(c["passed"] for c in checks) else 1), result.stderr
    # Nothing left behind in the work folder.
    assert list(tmp_path.iterdir()) == []


def test_bench_history_prints_each_target_with_pass_or_fail(tmp_path: Path) -> None:
    result = _bench(*TINY, "--work-dir", str(tmp_path))
    verdicts = [line for line in result.stdout.splitlines() if line.startswith(("PASS", "FAIL"))]
    assert len(verdicts) == 6 and all("target" in line for line in verdicts)
    assert result.returncode == (1 if any(v.startswith("FAIL") for v in verdicts) else 0)


def test_bench_history_says_what_is_wrong_with_its_options(tmp_path: Path) -> None:
    result = _bench("--work-dir", str(tmp_path / "missing"))
    assert result.returncode == 2
    assert "--work-dir" in result.stderr and "no such folder" in result.stderr and "Traceback" not in result.stderr
    result = _bench("--series", "0")
    assert result.returncode == 2 and "--series" in result.stderr and "Traceback" not in result.stderr


def test_bench_history_refuses_a_redis_that_holds_data_and_leaves_it_alone() -> None:
    if not answers(SERVICE_URL):
        pytest.skip("no Redis service answers at 127.0.0.1:6379")
    try:
        empty_url(SERVICE_URL)  # emptied, and marked as the suite's with one key
    except NotTheSuites as refused:
        pytest.skip(str(refused))
    client = sync_client(SERVICE_URL)
    try:
        held = {k: client.get(k) for k in client.keys("*")}
        result = _bench(*TINY, "--redis-url", SERVICE_URL)
        assert result.returncode == 2 and "is not empty" in result.stderr and "Traceback" not in result.stderr
        assert {k: client.get(k) for k in client.keys("*")} == held
    finally:
        client.close()
