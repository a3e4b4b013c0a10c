"""`situationroom bench public` for a few seconds against a served site: locust's figures for /healthz (the baseline),
/public and each /api/v1/public/* route, without and with If-None-Match, and the conditional runs answered 304."""

from __future__ import annotations

import json
from pathlib import Path

from situationroom.bench.public import BASELINE, PATHS
from tests.public_support import public_site
from tests.servers_support import cli


def test_bench_public_reports_each_route_beside_the_baseline(embedded_url: str, tmp_path: Path) -> None:
    with public_site(embedded_url, tmp_path) as served:
        done = cli("bench", "public", "--url", served.url, "--seconds", "2", "--users", "4", "--json", timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    targets = result["targets"]
    assert [(t["path"], t["conditional"]) for t in targets] == \
        [(BASELINE, False)] + [(p, c) for p in PATHS for c in (False, True)]
    assert targets[0]["ratio"] == 1.0
    for t in targets:
        assert t["requests"] > 0 and t["rps"] > 0 and t["failures"] == 0, t
        assert 0 <= t["p50_ms"] <= t["p99_ms"] and t["p99_ms"] > 0, t
        if t["conditional"]:
            # Every answer after a citizen's first is a 304: nothing changed within the period.
            assert t["statuses"].get("304", 0) > t["statuses"].get("200", 0), t
        else:
            assert set(t["statuses"]) == {"200"}, t
