"""`situationroom bench` end to end (the figures are recorded in docs/benchmarks.md, not asserted)."""

from __future__ import annotations

from pathlib import Path

from tests.servers_support import cli, free_port
from tests.site_support import REPO


def test_bench_ingest_measures_both_paths(tmp_path: Path) -> None:
    """The benchmark itself runs end to end (its figures are recorded in docs/benchmarks.md, not asserted)."""
    result = cli("bench", "ingest", "--site", str(REPO / "tests/sites/mini"), "--samples", "2000",
                 "--seconds", "1", "--rate", "200", "--port", str(free_port()), "--json", timeout=300)
    assert result.returncode == 0, result.stderr
    import json

    figures = json.loads(result.stdout)
    assert figures["raw_xadd_per_s"] > 0 and figures["raw_xadd_batched_per_s"] > 0 and figures["path_per_s"] > 0
    assert figures["latency_samples"] > 0
