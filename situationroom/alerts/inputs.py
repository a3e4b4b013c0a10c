"""What the alert role reads of the series for the engine: the live states (a snapshot at start), the first value
of a rate rule's window from Redis, and an anomaly rule's baseline from the history store."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import redis.asyncio as aioredis

from situationroom import keys
from situationroom.alerts.measure import Baseline, BaselineKey, Fetch
from situationroom.history.query import Bucket, HistoryQuery

log = logging.getLogger(__name__)

HOUR_MS = 3_600_000


async def live_states(client: aioredis.Redis, indicators: list[str]) -> list[dict[str, Any]]:
    """The live state of every series of these indicators, real and exercise."""
    pipe = client.pipeline(transaction=False)
    for ind in indicators:
        for x in (False, True):
            pipe.hgetall(keys.live(ind, x))
    states: list[dict[str, Any]] = []
    for raw in await pipe.execute():
        states.extend(orjson.loads(v) for v in raw.values())
    return states


class BaselineReader:
    """Reads anomaly baselines from the history store off the event loop. A store that cannot be read (an object
    store down, a damaged file) leaves the baselines unknown, so they are asked for again with the next update, and
    is logged once a minute rather than once per update."""

    def __init__(self, query: HistoryQuery) -> None:
        self.query = query
        self._quiet_until = 0.0

    async def read(self, asked: list[BaselineKey], exercise: bool) -> dict[BaselineKey, Baseline | None]:
        try:
            return await asyncio.to_thread(baselines, self.query, asked, exercise)
        except (duckdb.Error, OSError, pa.ArrowException) as exc:
            if time.monotonic() >= self._quiet_until:
                self._quiet_until = time.monotonic() + 60
                log.warning("anomaly baselines unreadable from the history store at %s: %s", self.query.store.url, exc)
            return {}


async def fetch(client: aioredis.Redis, reader: BaselineReader, reads: list[tuple[str, tuple[Any, ...]]],
                exercise: bool) -> Fetch:
    """Read what `Engine.reads_for` asked for: rate windows in one Redis pipeline, baselines from the history store
    off the event loop."""
    out = Fetch()
    rates = [key for kind, key in reads if kind == "rate"]
    if rates:
        pipe = client.pipeline(transaction=False)
        for ind, ent, t, window in rates:
            pipe.zrangebyscore(keys.raw(ind, ent, exercise), f"({t - int(window * 1000)}", t, start=0, num=1)
        for key, result in zip(rates, await pipe.execute(), strict=True):
            if result:
                ms, value = result[0].decode().split(":", 1)
                out.rate_first[key] = (int(ms), float(value))  # type: ignore[index]
            else:
                out.rate_first[key] = None  # type: ignore[index]
    asked: list[BaselineKey] = [key for kind, key in reads if kind == "baseline"]  # type: ignore[misc]
    if asked:
        out.baselines.update(await reader.read(asked, exercise))
    return out


def baselines(query: HistoryQuery, asked: Sequence[BaselineKey], exercise: bool) -> dict[BaselineKey, Baseline | None]:
    """Each baseline asked for, from the store's hourly buckets of the same hour of day on the `days` days before
    its hour: one query per indicator, hour and number of days, for every entity together, reading those hours alone.
    The newest of them is a day old, which the history store holds; the hours Redis alone has are never part of a
    baseline."""
    groups: dict[tuple[str, int, int], list[str]] = defaultdict(list)
    for ind, ent, hour, days in asked:
        groups[ind, hour, days].append(ent)
    out: dict[BaselineKey, Baseline | None] = {}
    for (ind, hour, days), entities in groups.items():
        found: dict[str | None, list[Bucket]] = defaultdict(list)
        spans = [((hour - 24 * day) * HOUR_MS, (hour - 24 * day + 1) * HOUR_MS) for day in range(days, 0, -1)]
        for bucket in query.aggregate_spans(ind, spans, entities, resolution="1h", exercise=exercise):
            found[bucket.entity].append(bucket)
        for ent in entities:
            out[ind, ent, hour, days] = baseline_of(found[ent], hour)
    return out


def baseline_of(buckets: Sequence[Bucket], hour: int) -> Baseline | None:
    """Mean and spread of the hourly means at the same hour of day (UTC hours; whole-hour offsets make them the city's
    hours too) among these hourly buckets, with how many days had data."""
    means = [b.mean for b in buckets if b.count and (b.start // HOUR_MS) % 24 == hour % 24]
    if not means:
        return None
    mean = sum(means) / len(means)
    spread = (sum((x - mean) ** 2 for x in means) / len(means)) ** 0.5
    return mean, spread, len(means)
