"""What the alert role reads of the series for the engine: the live states (a snapshot at start), the first value
of a rate rule's window and an anomaly rule's baseline."""

from __future__ import annotations

from typing import Any

import orjson
import redis.asyncio as aioredis

from situationroom import keys, live
from situationroom.alerts.measure import Baseline, Fetch


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


async def fetch(client: aioredis.Redis, reads: list[tuple[str, tuple[Any, ...]]], exercise: bool) -> Fetch:
    """Read what `Engine.reads_for` asked for, in one pipeline."""
    out = Fetch()
    if not reads:
        return out
    pipe = client.pipeline(transaction=False)
    for kind, key in reads:
        if kind == "rate":
            ind, ent, t, window = key
            pipe.zrangebyscore(keys.raw(ind, ent, exercise), f"({t - int(window * 1000)}", t, start=0, num=1)
        else:
            ind, ent, hour, days = key
            pipe.zrangebyscore(keys.history(ind, ent, "1h", exercise), (hour - days * 24) * 3600, (hour - 1) * 3600)
    for (kind, key), result in zip(reads, await pipe.execute(), strict=True):
        if kind == "rate":
            if result:
                ms, value = result[0].decode().split(":", 1)
                out.rate_first[key] = (int(ms), float(value))  # type: ignore[index]
            else:
                out.rate_first[key] = None  # type: ignore[index]
        else:
            out.baselines[key] = baseline_of(result, key[2])  # type: ignore[index]
    return out


def baseline_of(members: list[bytes], hour: int) -> Baseline | None:
    """Mean and spread of the hourly means at the same hour of day in the 1-hour history read."""
    means = []
    for m in members:
        bucket = live.parse_bucket(m)
        if bucket.count and (bucket.start // 3_600_000) % 24 == hour % 24:
            means.append(bucket.sum / bucket.count)
    if not means:
        return None
    mean = sum(means) / len(means)
    spread = (sum((x - mean) ** 2 for x in means) / len(means)) ** 0.5
    return mean, spread, len(means)
