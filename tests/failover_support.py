"""What the failover test watches the product with, each in a thread of its own: a pusher that sends samples over
HTTP ingest and remembers which were confirmed, and a reader that notes every notification the alert role handed
to the notify role (`sr:{notify}`) as it appears."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import redis

from situationroom import keys
from situationroom.redisconn import sync_client


@dataclass
class Push:
    """One push of one sample: when it was sent and answered, and how."""

    sent: float
    answered: float
    ts: float
    value: float
    status: int | str
    """The HTTP status, or the name of the connection error."""

    @property
    def confirmed(self) -> bool:
        return isinstance(self.status, int) and 200 <= self.status < 300


@dataclass
class Pusher:
    """Pushes one sample of (indicator, entity) every `every` seconds to `url`'s ingest API, as an integrator's
    script would; a refused push is not sent again (the test only asks what became of the confirmed ones)."""

    url: str
    token: str
    indicator: str
    entity: str
    base: float = 0.0
    """The values sent are base + 0..99."""
    every: float = 0.05
    pushes: list[Push] = field(default_factory=list)

    def run(self, stop: threading.Event) -> None:
        n = 0
        with httpx.Client(base_url=self.url, timeout=5,
                          headers={"Authorization": f"Bearer {self.token}"}) as http:
            while not stop.is_set():
                n += 1
                ts, value = round(time.time(), 3), self.base + n % 100
                sent = time.monotonic()
                try:
                    status: int | str = http.post("/api/v1/samples", json={"samples": [
                        {"indicator": self.indicator, "entity": self.entity, "ts": ts, "value": value}]}).status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                self.pushes.append(Push(sent, time.monotonic(), ts, value, status))
                stop.wait(self.every)

    def confirmed(self) -> list[Push]:
        return [p for p in list(self.pushes) if p.confirmed]

    def resumed_after(self, at: float) -> float | None:
        """Seconds from `at` until the first push sent after it was confirmed."""
        return next((p.answered - at for p in list(self.pushes) if p.sent >= at and p.confirmed), None)

    def refused_after(self, at: float) -> list[Push]:
        return [p for p in list(self.pushes) if p.answered >= at and not p.confirmed]


@dataclass
class NotificationWatch:
    """Every notification seen in `sr:{notify}`, by key, read from wherever the stream is now (through a failover
    too: a read that fails is tried again on a new connection)."""

    redis_url: str
    seen: dict[str, dict[str, Any]] = field(default_factory=dict)

    def run(self, stop: threading.Event) -> None:
        after = "-"
        client: Any = None
        while not stop.wait(0.2):
            try:
                client = client or sync_client(self.redis_url)
                for entry_id, fields in client.xrange(keys.notifications(), min=after, count=500):
                    after = "(" + entry_id.decode()
                    notification = orjson.loads(fields[b"n"])
                    self.seen.setdefault(notification["key"], notification)
            except redis.RedisError:
                with contextlib.suppress(redis.RedisError):
                    client.close()
                client = None


@contextlib.contextmanager
def in_threads(*watchers: Pusher | NotificationWatch) -> Iterator[threading.Event]:
    """Run each watcher's `run(stop)` in a thread until the block ends (or `stop` is set earlier)."""
    stop = threading.Event()
    threads = [threading.Thread(target=w.run, args=(stop,), daemon=True, name=type(w).__name__) for w in watchers]
    for t in threads:
        t.start()
    try:
        yield stop
    finally:
        stop.set()
        for t in threads:
            t.join(10)
