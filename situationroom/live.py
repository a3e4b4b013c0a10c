"""Reading live state and history of indicators from Redis, with staleness judged at read time."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import redis.asyncio as aioredis

from situationroom import keys, status
from situationroom.catalog import Catalog

STATE_FIELDS: dict[str, str] = {
    "i": "indicator", "e": "entity", "v": "value of the newest sample", "t": "its event time (ms)",
    "st": "status on the one scale, or stale", "ps": "the status before this update",
    "since": "since when (ms) the series has had this status", "n": "the expected interval (s)",
    "w": "rolling windows 1m, 5m, 1h: [count, mean, min, max]", "r": "change rate per minute",
    "s": "source of the newest sample", "x": "1 on an exercise series' state",
}
"""The fields of a live state (docs/streams.md). The aggregator's Lua scripts write them (lua/apply.lua builds the
state, mark_stale.lua and restatus.lua change its status); tests/test_lua.py holds every script to these names."""

RESOLUTIONS = ("raw", "1m")
"""What Redis keeps of a series' past: raw samples and 1-minute buckets of the last hours (docs/streams.md); hours,
days and anything older come from the history store (history/seam.py)."""
BUCKET_S = {"1m": 60}
MODES = ("shown", "real", "exercise")
"""Which data a reader wants: what the wall shows (an exercise series while it is fresh, else the real one),
only real data, or only exercise data (docs/exercise.md)."""


def effective(state: dict[str, Any], now_ms: float, grace: float) -> dict[str, Any]:
    """The state as a reader should see it: stale once its interval has passed without data,
    even before the aggregator's sweep has written it."""
    if state.get("st") != "stale" and now_ms - state["t"] > state["n"] * 1000 * grace:
        state = {**state, "ps": state["st"], "st": "stale"}
    return state


def shown(real: dict[str, Any] | None, exercise: dict[str, Any] | None) -> dict[str, Any] | None:
    """The state the wall shows of a series (both already judged for staleness): a running exercise
    takes the screen while its data is fresh, marked as such; real data otherwise; a stale exercise
    series only where there is no real one."""
    if exercise is not None and (exercise.get("st") != "stale" or real is None):
        return exercise
    return real


async def read_stored(client: aioredis.Redis, series: list[tuple[str, bool]]) -> list[dict[bytes, bytes]]:
    """The live hashes of (indicator, exercise) series as stored, entity -> state JSON, in one round trip: for a
    reader that passes the JSON on untouched (a wall's snapshot)."""
    pipe = client.pipeline(transaction=False)
    for ind, x in series:
        pipe.hgetall(keys.live(ind, x))
    return list(await pipe.execute())


async def read(client: aioredis.Redis, indicators: list[str], grace: float,
               mode: str = "shown") -> dict[str, dict[str, dict]]:
    """Live state of every series of the given indicators: {indicator: {entity: state}}; exercise states
    carry `x` = 1."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    wanted = [False, True] if mode == "shown" else [mode == "exercise"]
    pipe = client.pipeline(transaction=False)
    for ind in indicators:
        for x in wanted:
            pipe.hgetall(keys.live(ind, x))
    replies = iter(await pipe.execute())
    now_ms = time.time() * 1000
    out: dict[str, dict[str, dict]] = {}
    for ind in indicators:
        found = [{e.decode(): effective(orjson.loads(v), now_ms, grace) for e, v in next(replies).items()}
                 for _ in wanted]
        if mode != "shown":
            out[ind] = found[0]
            continue
        real, exercise = found
        merged: dict[str, dict] = {}
        for entity in real.keys() | exercise.keys():
            state = shown(real.get(entity), exercise.get(entity))
            if state is not None:
                merged[entity] = state
        out[ind] = merged
    return out


def worst(statuses: list[str]) -> str:
    """The worst of some statuses on the one scale (situationroom/status.py); "unknown" for none at all."""
    return status.worst(statuses)


def summarize(catalog: Catalog, indicator: str, states: dict[str, dict]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for ent in catalog.entities_of(indicator):
        st = states[ent]["st"] if ent in states else "unknown"
        counts[st] = counts.get(st, 0) + 1
    latest = max((s["t"] for s in states.values()), default=None)
    return {"status": worst(list(counts)), "counts": counts,
            "updated_at": latest / 1000 if latest is not None else None}


@dataclass(frozen=True, slots=True)
class Bucket:
    """One bucket of a series' Redis history (lua/apply.lua's member `start:count:sum:min:max:last_ms:last`)."""

    start: int
    """Bucket start, epoch ms."""
    count: int
    sum: float
    min: float
    max: float
    last_ms: int | None
    """Event time (ms) of the bucket's newest sample; None in a member written before buckets kept it."""
    last: float | None
    """The newest sample's value; None as `last_ms`."""


def parse_bucket(member: bytes | str) -> Bucket:
    """A bucket member, in either format: `start:count:sum:min:max:last_ms:last`, or the older one without the
    newest sample (`start:count:sum:min:max`), which buckets written before it still have until they age out."""
    parts = (member.decode() if isinstance(member, bytes) else member).split(":")
    last_ms, last = (int(float(parts[5])), float(parts[6])) if len(parts) >= 7 else (None, None)
    return Bucket(int(float(parts[0])) * 1000, int(parts[1]), float(parts[2]), float(parts[3]), float(parts[4]),
                  last_ms, last)


async def newest_ms(client: aioredis.Redis, indicator: str, entities: Sequence[str],
                    exercise: bool = False) -> list[int]:
    """The event time (ms) of each entity's newest sample, for those Redis holds a live state of."""
    if not entities:
        return []
    states = await client.hmget(keys.live(indicator, exercise), list(entities))
    return [int(orjson.loads(raw)["t"]) for raw in states if raw is not None]


async def raw_samples(client: aioredis.Redis, indicator: str, entities: Sequence[str], start_ms: float,
                      end_ms: float, exercise: bool = False) -> dict[str, list[tuple[int, float]]]:
    """Each entity's raw samples (event ms, value) with event time in [start_ms, end_ms], oldest first."""
    pipe = client.pipeline(transaction=False)
    for entity in entities:
        pipe.zrangebyscore(keys.raw(indicator, entity, exercise), start_ms, end_ms)
    out: dict[str, list[tuple[int, float]]] = {}
    for entity, members in zip(entities, await pipe.execute(), strict=True):
        points = out[entity] = []
        for m in members:
            ts, value = m.decode().split(":", 1)
            points.append((int(ts), float(value)))
    return out


async def buckets(client: aioredis.Redis, indicator: str, entities: Sequence[str], start_ms: float, end_ms: float,
                  exercise: bool = False) -> dict[str, list[Bucket]]:
    """Each entity's 1-minute buckets that start in [start_ms, end_ms], oldest first."""
    pipe = client.pipeline(transaction=False)
    for entity in entities:
        pipe.zrangebyscore(keys.history(indicator, entity, "1m", exercise), start_ms / 1000, end_ms / 1000)
    return {entity: [parse_bucket(m) for m in members]
            for entity, members in zip(entities, await pipe.execute(), strict=True)}


async def history(client: aioredis.Redis, indicator: str, entity: str, resolution: str,
                  start: float, end: float, exercise: bool = False) -> list[dict[str, Any]]:
    """Points between start and end (epoch seconds) as Redis holds them: raw samples, or 1-minute buckets (the one
    already running at `start` included)."""
    if resolution not in RESOLUTIONS:
        raise ValueError(f"Redis keeps {' and '.join(RESOLUTIONS)} only, not {resolution!r}: older and coarser history "
                         "is the history store's (history/seam.py)")
    if resolution == "raw":
        found = await raw_samples(client, indicator, [entity], start * 1000, end * 1000, exercise)
        return [{"t": ts / 1000, "value": value} for ts, value in found[entity]]
    size = BUCKET_S[resolution]
    found_buckets = await buckets(client, indicator, [entity], start // size * size * 1000, end * 1000, exercise)
    return [{"t": b.start / 1000, "count": b.count, "sum": b.sum, "mean": b.sum / b.count, "min": b.min,
             "max": b.max, "last": b.last} for b in found_buckets[entity]]
