"""Drills: a scenario replayed as exercise data beside real data, started and stopped by an operator (the record)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson
import redis
import redis.asyncio as aioredis

from situationroom import keys
from situationroom.collectors import control

COLLECTOR_PREFIX = "drill-"
"""A drill's scenario runs in the collect role as the collector `drill-<id>` (kind simulator, exercise data); no
collector file may take such an id."""
SCHEDULE_S = 5.0
"""How often the drill's simulator delivers (real seconds), as the demo site's disaster simulator does."""


class DrillError(Exception):
    """A drill cannot be started or stopped now (one is already running, none is)."""


@dataclass
class Drill:
    id: str
    scenario: str
    speed: float
    seed: int
    started: float
    """Epoch seconds (real time)."""
    started_by: str
    stopped: float | None = None
    stopped_by: str | None = None
    held: list[str] = field(default_factory=list)
    """The site's own exercise collectors (simulators) paused while the drill runs: its scenario is the only
    exercise data, so the two never write the same exercise series. They resume when it stops."""
    report: dict[str, str] = field(default_factory=dict)
    """Where its report was written: {"markdown": path, "json": path}."""

    @property
    def collector(self) -> str:
        return f"{COLLECTOR_PREFIX}{self.id}"

    @property
    def running(self) -> bool:
        return self.stopped is None

    def public(self) -> dict[str, Any]:
        return {**asdict(self), "collector": self.collector, "running": self.running}

    def encode(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def decode(cls, raw: bytes | str) -> Drill:
        data = orjson.loads(raw)
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})


def start(client: redis.Redis, scenario: str, speed: float, seed: int, by: str,
          exercise_collectors: list[str]) -> Drill:
    """Record a new running drill (one at a time) and hold the site's exercise collectors that run now."""
    drill = Drill(id=time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2), scenario=scenario, speed=speed,
                  seed=seed, started=time.time(), started_by=by)
    if not client.set(keys.drill(), drill.id, nx=True):
        running = current(client)
        raise DrillError(f"drill {running.id if running else '?'} is running; stop it first (situationroom drill stop)")
    pipe = client.pipeline(transaction=False)
    for cid in exercise_collectors:
        control.queue_is_paused(pipe, cid)
    paused = pipe.execute() if exercise_collectors else []
    drill.held = [cid for cid, p in zip(exercise_collectors, paused, strict=True) if not control.was_paused(p)]
    # The record before the holds, each its own step (the keys are in several slots of a cluster): a crash
    # in between leaves a running drill whose record names what it holds, and `drill stop` releases it all.
    save(client, drill)
    _queue_each(client, drill.held, control.queue_hold)
    return drill


def stop(client: redis.Redis, by: str) -> Drill:
    """End the running drill and resume what it held; the collect role stops its scenario."""
    running = current(client)
    if running is None:
        marked = client.get(keys.drill())
        if marked is not None:
            # A start cut short after taking the running mark and before writing its record: nothing runs
            # and nothing is held, so letting go of the mark is the whole repair.
            client.delete(keys.drill())
            raise DrillError(f"drill {marked.decode()} never finished starting; cleared, start it again")
        raise DrillError("no drill is running")
    running.stopped = running.stopped or time.time()
    running.stopped_by = running.stopped_by or by
    # Record, release, then let go of the running mark, each its own step: a crash between them leaves the
    # drill still running, and `drill stop` again repeats what is left (a release twice is a release).
    save(client, running)
    _queue_each(client, running.held, control.queue_release)
    client.delete(keys.drill())
    return running


def _queue_each(client: redis.Redis, collectors: list[str], queue: Callable[[Any, str], object]) -> None:
    """One pipelined round trip of `queue(pipe, collector)` for each collector (hold or release)."""
    if collectors:
        pipe = client.pipeline(transaction=False)
        for cid in collectors:
            queue(pipe, cid)
        pipe.execute()


def save(client: redis.Redis, drill: Drill) -> None:
    client.hset(keys.drills(), drill.id, drill.encode())


def current(client: redis.Redis) -> Drill | None:
    """The running drill, or None."""
    drill_id = client.get(keys.drill())
    if drill_id is None:
        return None
    raw = client.hget(keys.drills(), drill_id)
    return Drill.decode(raw) if raw is not None else None


def get(client: redis.Redis, drill_id: str) -> Drill | None:
    raw = client.hget(keys.drills(), drill_id)
    return Drill.decode(raw) if raw is not None else None


def latest(client: redis.Redis) -> Drill | None:
    """The most recently started drill, running or not."""
    found = [Drill.decode(v) for v in client.hvals(keys.drills())]
    return max(found, key=lambda d: d.started) if found else None


async def read_current(client: aioredis.Redis) -> Drill | None:
    """The running drill, or None (for the roles)."""
    drill_id = await client.get(keys.drill())
    if drill_id is None:
        return None
    raw = await client.hget(keys.drills(), drill_id)
    found = Drill.decode(raw) if raw is not None else None
    # A stop recorded but not finished (its mark goes last) is over for the roles already.
    return found if found is not None and found.running else None


async def read(client: aioredis.Redis, drill_id: str) -> Drill | None:
    raw = await client.hget(keys.drills(), drill_id)
    return Drill.decode(raw) if raw is not None else None
