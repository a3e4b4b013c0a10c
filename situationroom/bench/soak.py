"""Memory soak of a whole site: `situationroom up` under an accelerated scenario for hours, every process's
RSS (the roles' process and its embedded Redis) sampled at a fixed interval and compared with a baseline minute."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson
from redis.exceptions import RedisError

from situationroom import keys
from situationroom.bench import Role, wait_http
from situationroom.counters import Counter
from situationroom.embedded import EmbeddedRedis
from situationroom.redisconn import sync_client

MB = 2**20


@dataclass
class Sample:
    minute: float
    rss_mb: dict[str, float]
    """Resident set size of each process, by its label (`up`, `redis`)."""
    redis_used_mb: float
    """What Redis holds (INFO memory `used_memory`): its data, bounded by the retention settings."""
    samples_in: int
    """Samples the collectors have written since the start."""
    frames: int
    """Websocket frames the walls have received since the start."""


@dataclass
class SoakResult:
    minutes: float
    speed: float
    scenario: str
    walls: int
    baseline_minute: float
    tolerance: float
    """Allowed departure from the baseline minute's RSS, as a fraction (0.1 = 10%)."""
    processes: dict[str, str] = field(default_factory=dict)
    """Label -> the process's command line."""
    samples: list[Sample] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "summary": self.summary()}

    def baseline(self) -> Sample | None:
        """The sample nearest the baseline minute."""
        if not self.samples:
            return None
        return min(self.samples, key=lambda s: abs(s.minute - self.baseline_minute))

    def summary(self) -> dict[str, dict[str, float | bool]]:
        """Per process: RSS at the baseline minute, lowest and highest from then on, the largest departure (%),
        and whether it stayed within the tolerance."""
        base = self.baseline()
        if base is None:
            return {}
        out: dict[str, dict[str, float | bool]] = {}
        after = [s for s in self.samples if s.minute >= base.minute]
        for label, at_base in base.rss_mb.items():
            values = [s.rss_mb[label] for s in after if label in s.rss_mb]
            worst = max(abs(v - at_base) for v in values) / at_base if at_base else 0.0
            out[label] = {"baseline_mb": at_base, "min_mb": min(values), "max_mb": max(values),
                          "last_mb": values[-1], "max_departure_pct": round(worst * 100, 2),
                          "within": worst <= self.tolerance}
        return out


def _is_redis(proc: Any) -> bool:
    import psutil

    try:
        return any(name in proc.name() for name in ("valkey-server", "redis-server"))
    except psutil.Error:
        return False


def _rss(processes: dict[str, Any]) -> dict[str, float]:
    import psutil

    out = {}
    for label, proc in processes.items():
        with contextlib.suppress(psutil.Error):
            out[label] = round(proc.memory_info().rss / MB, 2)
    return out


class _Walls:
    """Websocket clients subscribed to everything, as walls left open for the whole soak: they read every frame,
    answer the server's pings, and reconnect if the connection drops."""

    def __init__(self, url: str, count: int) -> None:
        self.url = url
        self.count = count
        self.frames = 0
        self.reconnects = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="soak-walls", daemon=True)
        self._ready = threading.Event()

    def start(self) -> None:
        if self.count:
            self._thread.start()
            self._ready.wait(30)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._ready.set()
        await asyncio.gather(*(self._one() for _ in range(self.count)))

    async def _one(self) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import WebSocketException

        assert self._stop is not None
        while not self._stop.is_set():
            try:
                async with connect(self.url, compression=None, max_size=None, ping_interval=None,
                                   close_timeout=1) as ws:
                    await ws.send('{"type": "subscribe", "topics": ["all"]}')
                    stopping = asyncio.ensure_future(self._stop.wait())
                    try:
                        while True:
                            receiving = asyncio.ensure_future(ws.recv())
                            done, _ = await asyncio.wait({receiving, stopping}, return_when=asyncio.FIRST_COMPLETED)
                            if stopping in done:
                                receiving.cancel()
                                return
                            self.frames += 1
                            if orjson.loads(receiving.result()).get("type") == "ping":
                                await ws.send('{"type": "pong"}')
                    finally:
                        stopping.cancel()
            except (OSError, WebSocketException):
                self.reconnects += 1
                await asyncio.sleep(1)


def run(site: Path, *, minutes: float, every: float, speed: float, scenario: str, port: int, walls: int,
        baseline_minute: float, tolerance: float, log: Path | None,
        on_sample: Callable[[Sample], None] | None = None,
        on_start: Callable[[dict[str, str]], None] | None = None) -> SoakResult:
    """Start `situationroom up` on a temporary data dir, open `walls` websocket clients, sample until `minutes`."""
    if importlib.util.find_spec("psutil") is None:
        raise RuntimeError("bench soak reads each process's memory through psutil: pip install 'situationroom[test]'")
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: a closed port is free
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise RuntimeError(f"port {port} is in use: choose another with --port") from None
    result = SoakResult(minutes, speed, scenario, walls, baseline_minute, tolerance)
    # A soak runs for hours and is often stopped with kill: stop the server under test then too, not only on Ctrl-C.
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        _soak(result, site, every=every, port=port, log=log, on_sample=on_sample, on_start=on_start)
    except RedisError as exc:
        raise RuntimeError(f"the embedded Redis of the server under test stopped answering: {exc}") from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    return result


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _soak(result: SoakResult, site: Path, *, every: float, port: int, log: Path | None,
          on_sample: Callable[[Sample], None] | None, on_start: Callable[[dict[str, str]], None] | None) -> None:
    import psutil

    minutes, walls = result.minutes, result.walls
    with tempfile.TemporaryDirectory(prefix="situationroom-soak-") as tmp:
        out = log.open("ab") if log else subprocess.DEVNULL
        proc = subprocess.Popen(
            [sys.executable, "-m", "situationroom", "up", "--site", str(site), "--data-dir", tmp, "--port",
             str(port), "--scenario", result.scenario, "--speed", f"{result.speed:g}", "--log-level", "WARNING"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            env={k: v for k, v in os.environ.items() if k != "REDIS_URL"})  # always its own embedded Redis
        role = Role(proc, "up")  # type: ignore[arg-type]
        walls_clients = _Walls(f"ws://127.0.0.1:{port}/ws", walls)
        redis = sync_client(EmbeddedRedis(Path(tmp)).url)
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz", role, timeout=60)
            up = psutil.Process(proc.pid)
            # `up` and its Redis live as long as it does; other children (the history fill's workers, the named
            # events' recording) end within its first minutes and cannot grow over hours.
            redis_proc = next((c for c in up.children(recursive=True) if _is_redis(c)), None)
            if redis_proc is None:
                raise RuntimeError("situationroom up answers but runs no embedded Redis server")
            processes = {"up": up, "redis": redis_proc}
            result.processes = {label: " ".join(p.cmdline()).strip() for label, p in processes.items()}
            if on_start is not None:
                on_start(result.processes)
            walls_clients.start()
            start = time.monotonic()
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"situationroom up exited with status {proc.returncode}")
                elapsed = time.monotonic() - start
                counters = redis.hmget(keys.counters(), Counter.SAMPLES_IN.value)
                sample = Sample(round(elapsed / 60, 2), _rss(processes),
                                round(int(redis.info("memory")["used_memory"]) / MB, 2),
                                int(counters[0] or 0), walls_clients.frames)
                result.samples.append(sample)
                if on_sample is not None:
                    on_sample(sample)
                if elapsed >= minutes * 60:
                    break
                # Samples stay on the grid of `every` however long a sample took.
                time.sleep(max(0.0, min(every * (len(result.samples)), minutes * 60) - (time.monotonic() - start)))
        finally:
            walls_clients.stop()
            redis.close()
            role.stop()
