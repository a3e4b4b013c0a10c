"""`situationroom bench` end to end (the figures are recorded in docs/benchmarks.md, not asserted)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.servers_support import cli, free_port
from tests.site_support import REPO


def test_bench_ingest_measures_every_raw_client_and_the_path(tmp_path: Path) -> None:
    """One run reports every raw baseline, picks the strongest per entry form as the ceiling and takes the
    path's shares of those very figures; hiredis is in use."""
    result = cli("bench", "ingest", "--site", str(REPO / "tests/sites/mini"), "--samples", "2000",
                 "--seconds", "1", "--rate", "200", "--port", str(free_port()), "--json", timeout=300)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["hiredis"] is True
    baselines = figures["baselines"]
    assert {(b["client"], b["entries"]) for b in baselines} == {
        (client, entries) for client in ("redis.asyncio", "redis-py sync + hiredis")
        for entries in ("per-sample", "batched")}
    assert all(b["per_s"] > 0 and "Hiredis" in b["parser"] for b in baselines) and figures["path_per_s"] > 0
    for entries, ceiling, client, share in (("per-sample", "raw_ceiling_per_s", "raw_ceiling_client", "share"),
                                            ("batched", "raw_batched_ceiling_per_s", "raw_batched_ceiling_client",
                                             "share_batched")):
        best = max((b for b in baselines if b["entries"] == entries), key=lambda b: b["per_s"])
        assert (figures[ceiling], figures[client]) == (best["per_s"], best["client"])
        assert figures[share] == figures["path_per_s"] / best["per_s"]
    assert figures["latency_samples"] > 0 and figures["latency_ms"]["p99"] > 0


def test_bench_cluster_compares_one_node_with_a_cluster_node_by_node(tmp_path: Path) -> None:
    """One run measures the same path on one redis-server and on a local cluster of three masters, and says what
    every master did (CPU and commands) and what more machines would carry at the measured cost."""
    if not (shutil.which("redis-server") and shutil.which("redis-cli")):
        pytest.skip("redis-server and redis-cli are not installed here (.ci/run installs them)")
    result = cli("bench", "cluster", "--site", str(REPO / "tests/sites/mini"), "--samples", "2000",
                 "--seconds", "1", "--rate", "200", "--port", str(free_port()), "--json", timeout=600)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    one, cluster = figures["one_node"], figures["cluster"]
    assert one["path_per_s"] > 0 and cluster["path_per_s"] > 0
    assert list(one["path_commands"]) == ["redis"]
    masters = [n for n in cluster["path_commands"] if n.endswith("(master)")]
    assert len(masters) == 3, cluster["path_commands"]
    # The partitions spread over the masters: every one of them served the path.
    assert all(cluster["path_commands"][n] > 0 and cluster["path_cpu_s"][n] >= 0 for n in masters)
    assert figures["cost_ms_per_1000"]["redis masters"] > 0
