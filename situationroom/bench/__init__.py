"""`situationroom bench`: throughput and latency measured as ratios against raw Redis in the same run."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h11
import httpx
import orjson

from situationroom.embedded import EmbeddedRedis


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank; nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


async def subscribed_to_all(ws: Any) -> None:
    """Subscribe a websocket client to every topic and read past its snapshot: what it receives next are deltas."""
    await ws.send(orjson.dumps({"type": "subscribe", "topics": ["all"]}).decode())
    while orjson.loads(await ws.recv())["type"] != "snapshot":
        continue


class Pusher:
    """One kept-alive HTTP/1.1 connection for timed pushes: the request is encoded before the clock starts.

    A latency measured from just before `httpx.post` includes the client library building the request
    (about a millisecond of Python per request on the 2-core VM): time of the benchmark, not of the
    server. The bare broadcast it is compared with gets its messages over a websocket opened before its
    clock starts, so the push gets a connection opened beforehand and its bytes ready as well.
    """

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        self.headers = [("Host", f"{host}:{port}"), *headers.items()]
        self._conn = h11.Connection(our_role=h11.CLIENT)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> Pusher:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()

    async def post(self, path: str, body: bytes) -> tuple[float, int, bytes]:
        """POST `body`; returns when its bytes were handed to the socket (perf_counter), the status and the body."""
        assert self._reader is not None and self._writer is not None, "use Pusher as an async context manager"
        conn = self._conn
        request = h11.Request(method="POST", target=path,
                              headers=[*self.headers, ("Content-Length", str(len(body)))])
        data = conn.send(request) + conn.send(h11.Data(data=body)) + conn.send(h11.EndOfMessage())
        sent = time.perf_counter()
        self._writer.write(data)
        status, parts = 0, []
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                chunk = await self._reader.read(65536)
                if not chunk:
                    raise ConnectionError(f"{self.host}:{self.port} closed the connection")
                conn.receive_data(chunk)
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                parts.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionError(f"{self.host}:{self.port} closed the connection")
        conn.start_next_cycle()
        return sent, status, b"".join(parts)
