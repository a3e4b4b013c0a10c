"""Load on the citizens' view of a running server: locust, headless, against /public and each /api/v1/public/* route,
with and without If-None-Match, beside a baseline route of the same server (/healthz) in the same run."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

LOCUSTFILE = Path(__file__).with_name("public_locust.py")
BASELINE = "/healthz"
PATHS = ("/public", "/api/v1/public/status", "/api/v1/public/history?hours=24", "/api/v1/public/messages?hours=24")


@dataclass
class Target:
    path: str
    conditional: bool
    """Sent If-None-Match with the ETag of the last full answer (a browser revalidating)."""
    requests: int
    failures: int
    """Answers other than 200 (or 304 to a conditional request)."""
    rps: float
    p50_ms: float
    p99_ms: float
    statuses: dict[str, int]
    ratio: float = float("nan")
    """Requests per second as a fraction of the baseline's."""


@dataclass
class PublicResult:
    url: str
    users: int
    seconds: float
    targets: list[Target] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _stats(prefix: Path) -> dict[str, float]:
    """The Aggregated row of locust's CSV statistics."""
    with Path(f"{prefix}_stats.csv").open(encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["Name"] == "Aggregated"]
    if not rows:
        raise RuntimeError("locust wrote no statistics (did the server answer?)")
    row = rows[0]
    # Locust writes N/A for the percentiles of a run without a single answer.
    return {k: float(row[col]) if row[col] != "N/A" else float("nan") for k, col in (
        ("requests", "Request Count"), ("failures", "Failure Count"), ("rps", "Requests/s"), ("p50", "50%"),
        ("p99", "99%"))}


def _one(url: str, path: str, conditional: bool, *, users: int, seconds: float, tmp: Path) -> Target:
    name = f"{'inm-' if conditional else ''}{len(list(tmp.iterdir()))}"
    prefix, counts = tmp / name, tmp / f"{name}-counts.json"
    env = {**os.environ, "SR_BENCH_PATH": path, "SR_BENCH_CONDITIONAL": "1" if conditional else "0",
           "SR_BENCH_COUNTS": str(counts)}
    args = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", url, "-u", str(users),
            "-r", str(users), "-t", f"{seconds:g}s", "--csv", str(prefix), "--only-summary", "--loglevel", "ERROR",
            "--stop-timeout", "5"]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=seconds + 120, check=False)
    # Locust ends with 1 when some request failed: the counts say which, the report shows them.
    if done.returncode not in (0, 1):
        raise RuntimeError(f"locust ended with {done.returncode}: {done.stderr[-2000:]}")
    s = _stats(prefix)
    statuses = json.loads(counts.read_text(encoding="utf-8")) if counts.exists() else {}
    return Target(path, conditional, int(s["requests"]), int(s["failures"]), s["rps"], s["p50"], s["p99"], statuses)


def run(url: str, *, users: int, seconds: float, paths: tuple[str, ...] = PATHS,
        on_target: Callable[[Target], None] | None = None) -> PublicResult:
    """The baseline first, then each path without and with If-None-Match, one locust run of `seconds` each."""
    url = url.rstrip("/")
    try:
        httpx.get(f"{url}{BASELINE}", timeout=10).raise_for_status()
    except httpx.HTTPError as exc:
        raise RuntimeError(f"{url}{BASELINE} does not answer: {exc}") from None
    result = PublicResult(url, users, seconds)
    with tempfile.TemporaryDirectory(prefix="situationroom-bench-public-") as tmp:
        plan = [(BASELINE, False)] + [(p, c) for p in paths for c in (False, True)]
        for path, conditional in plan:
            target = _one(url, path, conditional, users=users, seconds=seconds, tmp=Path(tmp))
            base = result.targets[0].rps if result.targets else target.rps
            target.ratio = target.rps / base if base else float("nan")
            result.targets.append(target)
            if on_target is not None:
                on_target(target)
    return result
