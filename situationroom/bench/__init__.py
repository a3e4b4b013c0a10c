"""`situationroom bench`: throughput and latency measured as ratios against raw Redis in the same run."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from situationroom.embedded import EmbeddedRedis


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank; nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


@contextlib.contextmanager
def bench_redis(url: str | None) -> Iterator[str]:
    """A Redis to measure on: the given one (must be empty), or a fresh embedded one in a temp folder."""
    if url:
        yield url
        return
    with tempfile.TemporaryDirectory(prefix="situationroom-bench-") as tmp:
        server = EmbeddedRedis(Path(tmp))
        server.start()
        try:
            yield server.url
        finally:
            server.stop()


@dataclass
class Role:
    """A role (`situationroom run ROLE`) started as its own process for a benchmark."""

    proc: subprocess.Popen[bytes]
    role: str

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_role(role: str, *, site: Path, redis_url: str, port: int = 0, extra_env: dict[str, str] | None = None,
               log: Path | None = None) -> Role:
    env = {**os.environ, "REDIS_URL": redis_url, "SITUATIONROOM_SITE": str(site),
           "SITUATIONROOM_LOG_LEVEL": "WARNING", **(extra_env or {})}
    args = [sys.executable, "-m", "situationroom", "run", role]
    if port:
        args += ["--port", str(port)]
    out = log.open("ab") if log else subprocess.DEVNULL
    proc = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    return Role(proc, role)


def wait_http(url: str, role: Role, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if role.proc.poll() is not None:
            raise RuntimeError(f"the {role.role} role exited with status {role.proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:g}s")
