"""Reading live state and history: read-time staleness, summaries, history resolutions and ranges."""

from __future__ import annotations

import time

import orjson
import pytest
import redis.asyncio as aioredis

from situationroom import keys, live
from situationroom.catalog import Catalog

pytestmark = pytest.mark.cluster  # also run on the suite's Redis Cluster


def _state(t_ms: float, status: str = "normal", n: float = 60) -> dict:
    return {"i": "river.level", "e": "chaeun", "v": 1.0, "t": t_ms, "st": status, "ps": "unknown",
            "since": t_ms, "n": n, "w": {}, "r": 0}


def test_effective_staleness() -> None:
    now = 1_790_000_000_000
    fresh = _state(now - 80_000)
    assert live.effective(fresh, now, 1.5) is fresh
    old = _state(now - 91_000, "critical")
    seen = live.effective(old, now, 1.5)
    assert (seen["st"], seen["ps"]) == ("stale", "critical") and old["st"] == "critical"
    already = _state(now - 999_000, "stale")
    assert live.effective(already, now, 1.5)["st"] == "stale"


def test_summarize_counts_every_entity(mini_catalog: Catalog) -> None:
    states = {"chaeun": _state(1000.0, "warning")}
    s = live.summarize(mini_catalog, "river.level", states)
    assert s == {"status": "warning", "counts": {"warning": 1, "unknown": 1}, "updated_at": 1.0}
    assert live.summarize(mini_catalog, "river.level", {}) == {
        "status": "unknown", "counts": {"unknown": 2}, "updated_at": None}
    assert live.worst(["normal", "stale", "unknown"]) == "stale"
    assert live.worst(["stale", "critical"]) == "critical"


async def test_read_and_history(aclient: aioredis.Redis) -> None:
    now_ms = time.time() * 1000
    await aclient.hset(keys.live("river.level"), mapping={
        "chaeun": orjson.dumps(_state(now_ms)), "hyeongsan": orjson.dumps(_state(now_ms - 600_000))})
    got = await live.read(aclient, ["river.level", "air.pm10"], 1.5)
    assert got["air.pm10"] == {}
    assert got["river.level"]["chaeun"]["st"] == "normal"
    assert got["river.level"]["hyeongsan"]["st"] == "stale"

    raw = keys.raw("river.level", "chaeun")
    await aclient.zadd(raw, {"1000000:1.5": 1_000_000, "1060000:2.5": 1_060_000, "1120000:-0.25": 1_120_000})
    points = await live.history(aclient, "river.level", "chaeun", "raw", 1000, 1100)
    assert points == [{"t": 1000.0, "value": 1.5}, {"t": 1060.0, "value": 2.5}]
    h1m = keys.history("river.level", "chaeun", "1m")
    await aclient.zadd(h1m, {"960:2:3:1:2": 960, "1020:1:-0.25:-0.25:-0.25": 1020})
    points = await live.history(aclient, "river.level", "chaeun", "1m", 1000, 2000)
    assert points[0] == {"t": 960.0, "count": 2, "sum": 3.0, "mean": 1.5, "min": 1.0, "max": 2.0, "last": None}, \
        "the bucket already running at `from` is included (a member written before buckets kept their newest sample)"
    assert points[1]["mean"] == -0.25
    await aclient.zadd(h1m, {"1080:2:3:1:2:1130000:1": 1080})
    assert (await live.history(aclient, "river.level", "chaeun", "1m", 1080, 1080))[0]["last"] == 1.0
    assert live.parse_bucket(b"1080:2:3:1:2:1130000:1") == live.Bucket(1_080_000, 2, 3.0, 1.0, 2.0, 1_130_000, 1.0)
    with pytest.raises(ValueError, match="history store"):
        await live.history(aclient, "river.level", "chaeun", "1h", 0, 10**10)
