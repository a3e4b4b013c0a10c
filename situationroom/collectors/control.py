"""The operators' control of a collector (pause, resume, run now): the one owner of its record in Redis.

The record is a hash per collector (`keys.collector_control`): `paused` = `1` while an operator holds it,
`run_now` = the time a run was asked for, which the collect role deletes when it takes the request. The
API, the command line, the runtime and a drill's hold on the site's simulators (situationroom/drill.py) read and
write it through this module only.
"""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
import redis.client
from redis.asyncio.client import Pipeline

from situationroom import keys

_PAUSED = "paused"
_RUN_NOW = "run_now"

NOT_RUNNING = frozenset({"disabled", "invalid"})
"""Health states in which a collector does not run at all, so a run now has nothing to act on."""


@dataclass(frozen=True)
class ControlState:
    """What operators asked of one collector."""

    paused: bool = False
    run_now_requested: float | None = None
    """When a run now was asked for and not yet taken by the collect role."""


def _requested_at(raw: bytes | None) -> float | None:
    # Controls may be set by hand (`HSET ... run_now yes`): a value that is not a time is a request whose
    # time is unknown, shown as none rather than failing every reader.
    if not raw:
        return None
    try:
        at = float(raw)
    except ValueError:
        return None
    return at if math.isfinite(at) else None


def queue_read(pipe: Pipeline, collector: str) -> None:
    """Queue the read of one collector's control on a pipeline; `parse` reads its answer."""
    pipe.hmget(keys.collector_control(collector), _PAUSED, _RUN_NOW)


def parse(answer: list[bytes | None]) -> ControlState:
    paused, run_now = answer
    return ControlState(paused=paused == b"1", run_now_requested=_requested_at(run_now))


def _requested(answer: list[bytes | None]) -> bool:
    return answer[1] is not None


async def read(client: aioredis.Redis, collector: str) -> ControlState:
    return parse(await client.hmget(keys.collector_control(collector), _PAUSED, _RUN_NOW))


async def is_paused(client: aioredis.Redis, collector: str) -> bool:
    return await client.hget(keys.collector_control(collector), _PAUSED) == b"1"


async def take_requests(client: aioredis.Redis, collectors: Iterable[str]) -> dict[str, tuple[bool, bool]]:
    """For the collect role: each collector's (paused, run now asked for), taking the run-now requests
    (they are deleted, so each is acted on once; a paused collector's request is dropped, not kept)."""
    ids = list(collectors)
    if not ids:
        return {}
    pipe = client.pipeline(transaction=False)
    for cid in ids:
        queue_read(pipe, cid)
    answers = await pipe.execute()
    out = {cid: (answer[0] == b"1", _requested(answer)) for cid, answer in zip(ids, answers, strict=True)}
    requested = [cid for cid, (_, asked) in out.items() if asked]
    if requested:
        pipe = client.pipeline(transaction=False)
        for cid in requested:
            pipe.hdel(keys.collector_control(cid), _RUN_NOW)
        await pipe.execute()
    return out


def queue_hold(pipe: Pipeline | redis.client.Pipeline, collector: str) -> None:
    """Queue a pause on a pipeline of either client (a drill holds the site's simulators with it)."""
    pipe.hset(keys.collector_control(collector), _PAUSED, "1")


def queue_release(pipe: Pipeline | redis.client.Pipeline, collector: str) -> None:
    """Queue a resume on a pipeline of either client."""
    pipe.hdel(keys.collector_control(collector), _PAUSED)


def queue_is_paused(pipe: Pipeline | redis.client.Pipeline, collector: str) -> None:
    """Queue the read of whether a collector is paused; its answer goes to `was_paused`."""
    pipe.hget(keys.collector_control(collector), _PAUSED)


def was_paused(answer: bytes | None) -> bool:
    return answer == b"1"


async def pause(client: aioredis.Redis, collector: str) -> None:
    """Hold a collector: its due runs are skipped until resumed; a pending run now is withdrawn with it."""
    pipe = client.pipeline(transaction=True)
    pipe.hset(keys.collector_control(collector), _PAUSED, "1")
    pipe.hdel(keys.collector_control(collector), _RUN_NOW)  # a paused collector must not run
    await pipe.execute()


async def resume(client: aioredis.Redis, collector: str) -> None:
    await client.hdel(keys.collector_control(collector), _PAUSED)


async def request_run(client: aioredis.Redis, collector: str) -> float:
    """Ask the collect role to run a collector now (check `run_now_refusal` first); returns the time asked."""
    at = time.time()
    await client.hset(keys.collector_control(collector), _RUN_NOW, f"{at:.3f}")
    return at


class Refusal(enum.Enum):
    """Why a run now is refused; the API and the command line each say it in their own words."""

    UNKNOWN = "unknown"
    """No collector of that id has reported health."""
    LIVE = "live"
    """A live kind (a subscription) has no run to start (refused only to those who wait for the run)."""
    PAUSED = "paused"
    NOT_RUNNING = "not_running"
    """Disabled or invalid: `RunNowRefused.state` says which, `file` where to fix it."""


@dataclass(frozen=True)
class RunNowRefused:
    reason: Refusal
    state: str | None = None
    file: str | None = None


def run_now_refusal(health: Mapping[str, Any] | None, *, waiting: bool = False) -> RunNowRefused | None:
    """Why a run now of a collector with this health (as `health.read_one` gives it) cannot be asked for,
    or None when it can. `waiting`: the asker waits for the run, which a live collector never makes."""
    if health is None:
        return RunNowRefused(Refusal.UNKNOWN)
    state = health.get("state")
    if waiting and health.get("schedule") == "live":
        return RunNowRefused(Refusal.LIVE, state, health.get("file"))
    if health.get("paused"):
        return RunNowRefused(Refusal.PAUSED, state, health.get("file"))
    if state in NOT_RUNNING:
        return RunNowRefused(Refusal.NOT_RUNNING, state, health.get("file"))
    return None
