"""The aggregator against real Redis: windows, statuses, late and duplicate samples, recovery, staleness."""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis

from situationroom import keys, live
from situationroom.aggregator import Aggregator
from situationroom.catalog import Catalog, Thresholds
from situationroom.redisconn import async_client
from situationroom.sample_entries import entry_samples
from situationroom.samples import Sample
from situationroom.settings import Settings
from situationroom.streams import StreamWriter, ensure_groups
from tests.redis_support import aempty
from tests.site_support import MINI, REPO, settings_for

pytestmark = pytest.mark.cluster  # also run on the suite's Redis Cluster


def _settings(url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"site": MINI, "partitions": 4, "claim_idle": 0.05}
    values.update(overrides)
    return settings_for(url, **values)


async def _setup(client: aioredis.Redis, catalog: Catalog, settings: Settings,
                 consumer: str = "agg-1") -> tuple[Aggregator, StreamWriter]:
    await ensure_groups(client, settings.partitions)
    writer = StreamWriter(client, partitions=settings.partitions, retention=settings.stream_retention,
                          deadletter_maxlen=settings.deadletter_maxlen, batch_size=settings.batch_size)
    return Aggregator(client, catalog, settings, consumer=consumer), writer


async def _drain(*aggs: Aggregator) -> int:
    """Let the aggregators take turns until no new entries are left."""
    total = 0
    while True:
        n = 0
        for agg in aggs:
            n += await agg.step(None)
        total += n
        if n == 0:
            return total


async def _state(client: aioredis.Redis, indicator: str, entity: str) -> dict[str, Any]:
    raw = await client.hget(keys.live(indicator), entity)
    assert raw is not None, f"no live state for {indicator}/{entity}"
    return orjson.loads(raw)


async def _snapshot(client: aioredis.Redis, catalog: Catalog) -> dict[str, dict[str, dict]]:
    """Live state of every series, without `ps` (the status before the last update depends on
    how updates were interleaved, by design)."""
    out: dict[str, dict[str, dict]] = {}
    for ind in catalog.indicators:
        rows = await client.hgetall(keys.live(ind))
        out[ind] = {e.decode(): {k: v for k, v in orjson.loads(s).items() if k != "ps"} for e, s in rows.items()}
    return out


async def _updates(client: aioredis.Redis) -> list[dict[str, Any]]:
    return [orjson.loads(f[b"d"]) for _, f in await client.xrange(keys.updates())]


async def _deadletter(client: aioredis.Redis) -> list[dict[str, str]]:
    return [{k.decode(): v.decode() for k, v in f.items()} for _, f in await client.xrange(keys.deadletter())]


def _reference_windows(points: dict[int, float]) -> dict[str, list[float]]:
    """Windows computed the obvious way from every accepted (ms, value) of a series."""
    newest = max(points)
    out = {}
    for name, span in (("1m", 60_000), ("5m", 300_000), ("1h", 3_600_000)):
        vals = [v for t, v in points.items() if t > newest - span]
        if vals:
            out[name] = [len(vals), sum(vals) / len(vals), min(vals), max(vals)]
    return out


def _close(a: dict[str, list[float]], b: dict[str, list[float]]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert a[name][0] == b[name][0], name
        for x, y in zip(a[name][1:], b[name][1:], strict=True):
            assert x == pytest.approx(y, rel=1e-9), name


def _now_ms() -> int:
    # Whole minutes plus a fixed offset, so windows start mid-bucket the same way on every run.
    return (int(time.time() * 1000) // 60_000) * 60_000 + 17_123


async def test_in_order_windows_status_rate_and_updates(aclient: aioredis.Redis, redis_url: str,
                                                        mini_catalog: Catalog) -> None:
    settings = _settings(redis_url)
    agg, writer = await _setup(aclient, mini_catalog, settings)
    now = _now_ms()
    # PM10 at one station, every 30 s over the last 50 minutes, rising into warning at the end.
    points = {now - 3_000_000 + k * 30_000: 40.0 + k * 0.5 for k in range(101)}
    samples = [Sample("air.pm10", "daesong", t / 1000, v, "test") for t, v in points.items()]
    await writer.write(samples)
    assert await _drain(agg) == len(samples)

    st = await _state(aclient, "air.pm10", "daesong")
    newest = max(points)
    assert st["t"] == newest and st["v"] == points[newest] == 90.0
    assert st["st"] == "warning"  # 90 >= 81 (direction above)
    _close(st["w"], _reference_windows(points))
    # Rate per minute over the 5-minute window: +0.5 per 30 s = +1 per minute.
    assert st["r"] == pytest.approx(1.0)
    assert st["n"] == 3600  # the catalog's interval

    updates = await _updates(aclient)
    assert updates and updates[-1]["v"] == 90.0 and updates[-1]["st"] == "warning"
    assert all(u["i"] == "air.pm10" and u["e"] == "daesong" for u in updates)
    assert await aclient.hget(keys.counters(), "samples_aggregated") == str(len(samples)).encode()
    for stream in keys.all_samples(settings.partitions):
        pending = await aclient.xpending(stream, keys.AGGREGATOR_GROUP)
        assert pending["pending"] == 0, "every entry is acknowledged after its state is written"


async def test_batch_size_does_not_change_the_result(aclient: aioredis.Redis, redis_url: str,
                                                     mini_catalog: Catalog) -> None:
    now = _now_ms()
    values = [10, 90, 200, 90, 10, 10, 160, 20]  # normal, warning, critical, warning, normal...
    samples = [Sample("air.pm10", "yeonil", (now - (len(values) - k) * 60_000) / 1000, float(v))
               for k, v in enumerate(values)]
    snapshots = []
    for batch in (1, 3, 1000):
        await aempty(aclient)
        settings = _settings(redis_url, batch_size=batch)
        agg, writer = await _setup(aclient, mini_catalog, settings)
        await writer.write(samples)
        await _drain(agg)
        snapshots.append(await _snapshot(aclient, mini_catalog))
    assert snapshots[0] == snapshots[1] == snapshots[2]
    st = snapshots[0]["air.pm10"]["yeonil"]
    assert st["st"] == "normal" and st["v"] == 20.0
    # The series became normal again at the last sample (from critical at 160).
    assert st["since"] == round(samples[-1].ts * 1000)


async def test_late_and_duplicate_samples(aclient: aioredis.Redis, redis_url: str,
                                          mini_catalog: Catalog) -> None:
    settings = _settings(redis_url, late_limit="20m")
    agg, writer = await _setup(aclient, mini_catalog, settings)
    now = _now_ms()
    first = {now - 600_000 + k * 60_000: float(k) for k in range(11)}  # 10 minutes, 1 per minute
    await writer.write([Sample("river.level", "chaeun", t / 1000, v) for t, v in first.items()])
    await _drain(agg)
    before = await _state(aclient, "river.level", "chaeun")

    late = {now - 630_000: 9.0, now - 90_000: 7.5}  # within the late limit: belong to the windows
    dup = {now - 300_000: 12.3, now: 4.56}  # same series and event ms as accepted samples
    too_late = {now - 1_500_000: 1.0}  # 25 min behind the newest sample: beyond the 20 min limit
    batch = {**late, **dup, **too_late}
    await writer.write([Sample("river.level", "chaeun", t / 1000, v) for t, v in batch.items()])
    await _drain(agg)

    st = await _state(aclient, "river.level", "chaeun")
    assert st["t"] == before["t"] == now and st["v"] == 10.0, "late samples do not replace the newest value"
    accepted = {**first, **late}
    _close(st["w"], _reference_windows(accepted))
    assert st["w"]["5m"][0] == 6  # the five per-minute samples and the late one at now-90s
    assert await aclient.hget(keys.counters(), "samples_duplicate") == b"2"

    dead = await _deadletter(aclient)
    assert len(dead) == 1
    assert dead[0]["field"] == "ts" and "late-arrival limit" in dead[0]["reason"]
    assert orjson.loads(dead[0]["item"])["entity"] == "chaeun"
    assert dead[0]["source"] == "aggregator"

    # History buckets count every accepted sample exactly once, late ones in their own minute.
    points = await live.history(aclient, "river.level", "chaeun", "1m", (now - 3_600_000) / 1000, now / 1000)
    assert sum(p["count"] for p in points) == len(accepted)
    by_minute = {int(p["t"]): p for p in points}
    late_minute = ((now - 90_000) // 60_000) * 60
    assert by_minute[late_minute]["min"] == 7.5
    raw = await live.history(aclient, "river.level", "chaeun", "raw", (now - 3_600_000) / 1000, now / 1000)
    assert len(raw) == len(accepted)
    assert [p["t"] for p in raw] == sorted(p["t"] for p in raw)


async def test_random_order_matches_reference(aclient: aioredis.Redis, redis_url: str,
                                              mini_catalog: Catalog) -> None:
    """Shuffled arrival with duplicates gives exactly the windows of the accepted samples."""
    settings = _settings(redis_url, batch_size=17)
    agg, writer = await _setup(aclient, mini_catalog, settings)
    rng = random.Random(7)
    now = _now_ms()
    points = {now - rng.randrange(0, 3_300_000): round(rng.uniform(0, 5000), 3) for _ in range(400)}
    items = [Sample("economy.spending", "4711125300", t / 1000, v) for t, v in points.items()]
    items += rng.sample(items, 50)  # re-sent copies
    rng.shuffle(items)
    for k in range(0, len(items), 40):
        await writer.write(items[k:k + 40])
        await agg.step(None)
    await _drain(agg)
    st = await _state(aclient, "economy.spending", "4711125300")
    assert st["t"] == max(points) and st["v"] == points[max(points)]
    _close(st["w"], _reference_windows(points))
    hist = await live.history(aclient, "economy.spending", "4711125300", "1m", 0, now / 1000)
    assert sum(p["count"] for p in hist) == len(points)
    assert sum(p["mean"] * p["count"] for p in hist) == pytest.approx(sum(points.values()))


async def test_thresholds_above_below_and_per_entity(aclient: aioredis.Redis, redis_url: str,
                                                     mini_catalog: Catalog) -> None:
    settings = _settings(redis_url)
    agg, writer = await _setup(aclient, mini_catalog, settings)
    ts = time.time()
    await writer.write([
        Sample("weather.visibility", "pohang", ts, 150.0),  # below 200: critical
        Sample("air.pm10", "daesong", ts, 151.0),  # at the critical threshold
        Sample("air.pm10", "yeonil", ts, 80.9),  # just under warning
        Sample("river.level", "hyeongsan", ts, 2.5),  # its own warning is 2.0
        Sample("river.level", "chaeun", ts, 2.5),  # the indicator's warning is 3.0
        Sample("economy.spending", "4711325000", ts, 1e9),  # no thresholds: 기준 없음, never 정상
    ])
    await _drain(agg)
    expect = {("weather.visibility", "pohang"): "critical", ("air.pm10", "daesong"): "critical",
              ("air.pm10", "yeonil"): "normal", ("river.level", "hyeongsan"): "warning",
              ("river.level", "chaeun"): "normal", ("economy.spending", "4711325000"): "none"}
    for (ind, ent), status in expect.items():
        st = await _state(aclient, ind, ent)
        assert st["st"] == status, (ind, ent)
        assert st["ps"] == "unknown" and st["since"] == round(ts * 1000)

    await writer.write([Sample("weather.visibility", "pohang", ts + 1, 800.0),
                        Sample("weather.visibility", "pohang", ts + 2, 5000.0)])
    await _drain(agg)
    st = await _state(aclient, "weather.visibility", "pohang")
    assert (st["st"], st["ps"], st["since"]) == ("normal", "critical", round((ts + 2) * 1000))


async def test_the_days_rain_during_a_heavy_rain_warning_is_no_threshold_not_normal(
        aclient: aioredis.Redis, redis_url: str, site_catalog: Catalog) -> None:
    # What the mayor's office saw: 209.5 mm since midnight at Pohang during a 호우경보, shown as a green 정상.
    agg, writer = await _setup(aclient, site_catalog, _settings(redis_url, site=REPO))
    ts = time.time()
    await writer.write([Sample("rain.daily", "kma-asos-138", ts, 209.5), Sample("rain.3h", "kma-asos-138", ts, 95.0),
                        Sample("advisory.heavy_rain", "pohang", ts, 2)])
    await _drain(agg)
    assert (await _state(aclient, "rain.daily", "kma-asos-138"))["st"] == "none"       # 기준 없음
    assert (await _state(aclient, "rain.3h", "kma-asos-138"))["st"] == "critical"      # 호우경보 criterion: 경계
    assert (await _state(aclient, "advisory.heavy_rain", "pohang"))["st"] == "critical"  # 경보: 경계


def _with_thresholds(catalog: Catalog, indicator: str, entity: str, **levels: float) -> Catalog:
    """The catalog with other thresholds for one series (as an operator's edit of catalog.yaml would give)."""
    ind = catalog.indicators[indicator]
    changed = ind.model_copy(update={"thresholds_by_entity": {**ind.thresholds_by_entity,
                                                              entity: Thresholds(**levels)}})
    return Catalog(catalog.city, list(catalog.domains.values()), list(catalog.entities.values()),
                   [changed if i.id == indicator else i for i in catalog.indicators.values()],
                   list(catalog.entity_kinds.values()))


async def test_a_series_passes_through_every_crisis_level(aclient: aioredis.Redis, redis_url: str,
                                                          mini_catalog: Catalog) -> None:
    catalog = _with_thresholds(mini_catalog, "river.level", "hyeongsan", info=1.5, warning=2.0, critical=3.0,
                               severe=3.5)
    agg, writer = await _setup(aclient, catalog, _settings(redis_url))
    ts = time.time()
    seen = []
    for n, v in enumerate([1.0, 1.6, 2.2, 3.1, 3.6, 1.4]):
        await writer.write([Sample("river.level", "hyeongsan", ts + n, v)])
        await _drain(agg)
        st = await _state(aclient, "river.level", "hyeongsan")
        seen.append((st["st"], st["ps"]))
    assert seen == [("normal", "unknown"), ("info", "normal"), ("warning", "info"), ("critical", "warning"),
                    ("severe", "critical"), ("normal", "severe")]


async def test_at_start_old_states_are_judged_again_against_the_catalog(aclient: aioredis.Redis, redis_url: str,
                                                                        mini_catalog: Catalog) -> None:
    settings = _settings(redis_url)
    agg, writer = await _setup(aclient, mini_catalog, settings)
    ts = time.time()
    await writer.write([Sample("economy.spending", "4711325000", ts, 1e9),
                        Sample("river.level", "hyeongsan", ts, 2.5),
                        Sample("river.level", "chaeun", ts, 3.2),
                        Sample("weather.visibility", "pohang", ts - 3600, 5000.0)])
    await _drain(agg)
    # What an older version wrote: 정상 for a series without thresholds.
    old = await _state(aclient, "economy.spending", "4711325000")
    await aclient.hset(keys.live("economy.spending"), "4711325000", orjson.dumps({**old, "st": "normal"}))
    await agg.sweep_stale()
    assert (await _state(aclient, "weather.visibility", "pohang"))["st"] == "stale"
    before = len(await _updates(aclient))

    # 형산교's stages moved (2.0 → 2.5 m for 주의, a 심각 stage at 3.5 m) and the aggregator restarts.
    moved = _with_thresholds(mini_catalog, "river.level", "hyeongsan", warning=2.6, critical=3.0, severe=3.5)
    restarted = Aggregator(aclient, moved, settings, consumer="agg-2")
    assert await restarted.restatus() == 2
    spending = await _state(aclient, "economy.spending", "4711325000")
    assert (spending["st"], spending["ps"], spending["since"]) == ("none", "normal", old["since"])
    hyeongsan = await _state(aclient, "river.level", "hyeongsan")
    assert (hyeongsan["st"], hyeongsan["ps"], hyeongsan["since"]) == ("normal", "warning", round(ts * 1000))
    assert (await _state(aclient, "river.level", "chaeun"))["st"] == "warning"   # unchanged thresholds
    assert (await _state(aclient, "weather.visibility", "pohang"))["st"] == "stale"  # stale says so until a sample
    published = (await _updates(aclient))[before:]
    assert sorted((u["i"], u["e"], u["st"]) for u in published) == [
        ("economy.spending", "4711325000", "none"), ("river.level", "hyeongsan", "normal")]
    assert await restarted.restatus() == 0   # nothing left to put right: nothing published again


async def test_staleness_sweep_and_read_time(aclient: aioredis.Redis, redis_url: str,
                                             mini_catalog: Catalog) -> None:
    settings = _settings(redis_url, stale_grace=1.0, stale_check_every=0.01)
    agg, writer = await _setup(aclient, mini_catalog, settings)
    # A source announcing a 0.5 s interval (as the accelerated simulator does).
    await writer.write([Sample("river.level", "chaeun", time.time(), 1.0, interval=0.5),
                        Sample("river.level", "hyeongsan", time.time(), 1.0)])
    await _drain(agg)
    assert await agg.sweep_stale() == 0
    assert (await _state(aclient, "river.level", "chaeun"))["st"] == "normal"

    await asyncio.sleep(0.7)
    # Before any sweep, readers already see it stale.
    states = await live.read(aclient, ["river.level"], settings.stale_grace)
    assert states["river.level"]["chaeun"]["st"] == "stale"
    assert states["river.level"]["hyeongsan"]["st"] == "normal"  # 1-minute interval: still fresh

    await asyncio.sleep(0.02)
    assert await agg.sweep_stale() == 1
    st = await _state(aclient, "river.level", "chaeun")
    assert (st["st"], st["ps"]) == ("stale", "normal")
    last = (await _updates(aclient))[-1]
    assert last["e"] == "chaeun" and last["st"] == "stale"
    await asyncio.sleep(0.02)
    assert await agg.sweep_stale() == 0, "a stale series is published once, not on every sweep"

    # A fresh sample ends the staleness.
    await writer.write([Sample("river.level", "chaeun", time.time(), 1.2, interval=0.5)])
    await _drain(agg)
    st = await _state(aclient, "river.level", "chaeun")
    assert (st["st"], st["ps"], st["v"]) == ("normal", "stale", 1.2)


async def test_a_redis_that_forgot_the_scripts_loses_nothing(aclient: aioredis.Redis, redis_url: str,
                                                              mini_catalog: Catalog) -> None:
    # A restarted or failed-over Redis has an empty script cache; the aggregator loads its scripts again.
    settings = _settings(redis_url, stale_grace=1.0)
    agg, writer = await _setup(aclient, mini_catalog, settings)
    await writer.write([Sample("river.level", "chaeun", time.time(), 1.0, interval=0.2)])
    await _drain(agg)
    await aclient.script_flush()

    await writer.write([Sample("river.level", "hyeongsan", time.time(), 2.0)])
    assert await _drain(agg) == 1
    assert (await _state(aclient, "river.level", "hyeongsan"))["v"] == 2.0
    await aclient.script_flush()
    await asyncio.sleep(0.6)
    assert await agg.sweep_stale() == 1, "the stale sweep reloads its script too"
    assert [(u["e"], u["v"], u["st"] == "stale") for u in await _updates(aclient)] == [
        ("chaeun", 1.0, False), ("hyeongsan", 2.0, False), ("chaeun", 1.0, True)]
    assert await _deadletter(aclient) == []


async def test_catching_up_on_old_data_stays_stale(aclient: aioredis.Redis, redis_url: str,
                                                   mini_catalog: Catalog) -> None:
    settings = _settings(redis_url)
    agg, writer = await _setup(aclient, mini_catalog, settings)
    old = time.time() - 600  # 10 minutes ago; river.level is expected every minute
    await writer.write([Sample("river.level", "chaeun", old, 5.0)])
    await _drain(agg)
    st = await _state(aclient, "river.level", "chaeun")
    assert st["st"] == "stale" and st["v"] == 5.0


async def test_history_retention(aclient: aioredis.Redis, redis_url: str, mini_catalog: Catalog) -> None:
    settings = _settings(redis_url, late_limit="1h")
    agg, writer = await _setup(aclient, mini_catalog, settings)
    now = time.time()
    hours = [now - h * 3600 for h in (10, 5, 2, 1, 0)]
    await writer.write([Sample("economy.spending", "4711125000", t, 1.0) for t in hours])
    await _drain(agg)
    minutes = await live.history(aclient, "economy.spending", "4711125000", "1m", now - 86400, now)
    assert len(minutes) == 3, "the default 3-hour retention drops the buckets of 5 and 10 hours ago"
    assert min(p["t"] for p in minutes) >= now - 3 * 3600 - 60
    raw = await aclient.zcard(keys.raw("economy.spending", "4711125000"))
    assert raw == 2, "raw samples are kept for the last hour only"
    assert not await aclient.keys("*h1h*"), "no 1-hour buckets: hours and days are the history store's"
    # A short 1-minute retention never goes below the hour the windows need.
    await aclient.delete(keys.live("economy.spending"), keys.raw("economy.spending", "4711125000"),
                         keys.history("economy.spending", "4711125000", "1m"))
    short = _settings(redis_url, late_limit="1h", history_1m_retention="61m")
    agg, writer = await _setup(aclient, mini_catalog, short)
    await writer.write([Sample("economy.spending", "4711125000", t, 1.0) for t in hours])
    await _drain(agg)
    minutes = await live.history(aclient, "economy.spending", "4711125000", "1m", now - 86400, now)
    assert len(minutes) == 2, "61 minutes keep the buckets of the last hour"


async def test_the_aggregator_deletes_the_1_hour_sets_earlier_versions_kept(
        aclient: aioredis.Redis, redis_url: str, mini_catalog: Catalog) -> None:
    retired = [keys.retired_hourly("economy.spending", "4711125000"),
               keys.retired_hourly("economy.spending", "4711125000", exercise=True)]
    for key in retired:
        await aclient.zadd(key, {"3600:1:1:1:1": 3600})
    kept = keys.history("economy.spending", "4711125000", "1m")
    await aclient.zadd(kept, {"60:1:1:1:1": 60})
    agg, _writer = await _setup(aclient, mini_catalog, _settings(redis_url))
    assert await agg.drop_retired() == 2
    assert not await aclient.exists(*retired) and await aclient.exists(kept)


async def test_rejects_unknown_and_malformed_entries(aclient: aioredis.Redis, redis_url: str,
                                                     mini_catalog: Catalog) -> None:
    settings = _settings(redis_url)
    agg, writer = await _setup(aclient, mini_catalog, settings)
    stream = keys.samples(0)
    await aclient.xadd(stream, {"i": "air.pm10", "e": "daesong"})  # no time, no value
    await aclient.xadd(stream, {"i": "no.such", "e": "x", "t": "1", "v": "1", "s": ""})
    await aclient.xadd(stream, {"i": "air.pm10", "e": "daesong", "t": "1", "v": "abc", "s": ""})
    await writer.write([Sample("air.pm10", "pohang", time.time(), 3.0)])  # not a station
    await _drain(agg)
    dead = await _deadletter(aclient)
    fields = sorted(d["field"] for d in dead)
    assert fields == ["entity", "entry", "entry", "indicator"]
    assert any("malformed stream entry" in d["reason"] for d in dead)
    assert any(d["reason"].startswith("unknown indicator") for d in dead)
    assert await aclient.xpending(stream, keys.AGGREGATOR_GROUP) == {
        "pending": 0, "min": None, "max": None, "consumers": []}


async def _pending(client: aioredis.Redis, agg: Aggregator) -> int:
    return sum([(await client.xpending(s, keys.AGGREGATOR_GROUP))["pending"] for s in agg.streams])


def _workload(now_ms: int) -> list[Sample]:
    rng = random.Random(11)
    out = []
    for ind, ents in (("air.pm10", ("daesong", "yeonil")), ("river.level", ("hyeongsan", "chaeun")),
                      ("economy.spending", ("4711125000", "4711331000"))):
        for ent in ents:
            for k in range(60):
                out.append(Sample(ind, ent, (now_ms - (60 - k) * 20_000) / 1000, round(rng.uniform(0, 6), 2)))
    rng.shuffle(out)
    return out


async def _reference(aclient: aioredis.Redis, url: str, catalog: Catalog, samples: list[Sample]) -> dict:
    await aempty(aclient)
    agg, writer = await _setup(aclient, catalog, _settings(url), consumer="reference")
    await writer.write(samples)
    await _drain(agg)
    snap = await _snapshot(aclient, catalog)
    await aempty(aclient)
    return snap


def _samples_in(entries: list[tuple[bytes, bytes, dict[bytes, bytes]]]) -> int:
    return sum(len(entry_samples(fields)) for _, _, fields in entries)


async def test_consumer_dies_mid_batch_and_is_reclaimed(aclient: aioredis.Redis, redis_url: str,
                                                        mini_catalog: Catalog) -> None:
    samples = _workload(_now_ms())
    expected = await _reference(aclient, redis_url, mini_catalog, samples)

    settings = _settings(redis_url, batch_size=50)
    survivor, writer = await _setup(aclient, mini_catalog, settings, consumer="survivor")
    await writer.write(samples)
    # The dead consumer reads a batch from every partition and never acknowledges it.
    dead = Aggregator(aclient, mini_catalog, settings, consumer="dead")
    taken = await dead._read(">", None)
    assert taken
    await _drain(survivor)
    pending = await _pending(aclient, survivor)
    assert pending == len(taken)
    assert await _snapshot(aclient, mini_catalog) != expected

    await asyncio.sleep(0.1)  # longer than claim_idle
    assert await survivor.reclaim() == _samples_in(taken)
    assert await _snapshot(aclient, mini_catalog) == expected
    pending = await _pending(aclient, survivor)
    assert pending == 0


async def test_consumer_dies_after_writing_state_before_ack(aclient: aioredis.Redis, redis_url: str,
                                                            mini_catalog: Catalog) -> None:
    samples = _workload(_now_ms())
    expected = await _reference(aclient, redis_url, mini_catalog, samples)

    settings = _settings(redis_url)
    survivor, writer = await _setup(aclient, mini_catalog, settings, consumer="survivor")
    await writer.write(samples)
    dead = Aggregator(aclient, mini_catalog, settings, consumer="dead")
    taken = await dead._read(">", None)
    await dead.apply(taken)  # state written, then the process dies: nothing published or acknowledged
    assert await aclient.xlen(keys.updates()) == 0

    await asyncio.sleep(0.1)
    assert await survivor.reclaim() == _samples_in(taken)
    assert await _snapshot(aclient, mini_catalog) == expected
    assert await aclient.hget(keys.counters(), "samples_aggregated") is None, "nothing counted twice"
    assert await aclient.hget(keys.counters(), "samples_duplicate") == str(len(samples)).encode()
    published = {(u["i"], u["e"]) for u in await _updates(aclient)}
    assert published == {(ind, ent) for ind, ents in expected.items() for ent in ents}


async def test_restarted_consumer_recovers_its_own_pending(aclient: aioredis.Redis, redis_url: str,
                                                           mini_catalog: Catalog) -> None:
    samples = _workload(_now_ms())
    expected = await _reference(aclient, redis_url, mini_catalog, samples)
    settings = _settings(redis_url, batch_size=30)
    first, writer = await _setup(aclient, mini_catalog, settings, consumer="agg-a")
    await writer.write(samples)
    await first._read(">", None)  # read, then crash
    again = Aggregator(aclient, mini_catalog, settings, consumer="agg-a")
    assert await again.recover_own() > 0
    await _drain(again)
    assert await _snapshot(aclient, mini_catalog) == expected


async def test_two_aggregators_share_the_partitions(aclient: aioredis.Redis, redis_url: str,
                                                    mini_catalog: Catalog) -> None:
    samples = _workload(_now_ms())
    expected = await _reference(aclient, redis_url, mini_catalog, samples)
    settings = _settings(redis_url, batch_size=9)
    one, writer = await _setup(aclient, mini_catalog, settings, consumer="one")
    two = Aggregator(aclient, mini_catalog, settings, consumer="two")
    other = async_client(redis_url)
    try:
        # The second one on its own connection, so the two really interleave on the server.
        three = Aggregator(other, mini_catalog, settings, consumer="three")
        for k in range(0, len(samples), 60):
            await writer.write(samples[k:k + 60])
            await asyncio.gather(one.step(None), two.step(None), three.step(None))
        while sum(await asyncio.gather(one.step(None), two.step(None), three.step(None))):
            pass
    finally:
        await other.aclose()
    assert one.processed and two.processed and three.processed
    assert one.processed + two.processed + three.processed == len(samples)
    assert await _snapshot(aclient, mini_catalog) == expected


async def test_run_loop_consumes_sweeps_and_stops(aclient: aioredis.Redis, redis_url: str,
                                                  mini_catalog: Catalog) -> None:
    settings = _settings(redis_url, block_ms=50, stale_check_every=0.05, stale_grace=1.0)
    agg, writer = await _setup(aclient, mini_catalog, settings, consumer="looper")
    stop = asyncio.Event()
    task = asyncio.create_task(agg.run(stop))
    try:
        await writer.write([Sample("river.level", "chaeun", time.time(), 2.0, interval=0.3)])
        deadline = time.monotonic() + 5
        while await aclient.hget(keys.live("river.level"), "chaeun") is None:
            assert time.monotonic() < deadline, "the loop never applied the sample"
            await asyncio.sleep(0.01)
        # With no new data, the loop's own sweep marks the series stale.
        while (await _state(aclient, "river.level", "chaeun"))["st"] != "stale":
            assert time.monotonic() < deadline, "the loop never swept"
            await asyncio.sleep(0.02)
        # The groups vanish (an operator flushed Redis): the loop recreates them and goes on.
        await aempty(aclient)
        await asyncio.sleep(0.1)
        await writer.write([Sample("river.level", "hyeongsan", time.time(), 1.0)])
        while await aclient.hget(keys.live("river.level"), "hyeongsan") is None:
            assert time.monotonic() < deadline, "the loop did not recover from lost groups"
            await asyncio.sleep(0.01)
    finally:
        stop.set()
        await asyncio.wait_for(task, 2)
    assert task.exception() is None


async def test_exercise_samples_never_touch_the_real_series(aclient: aioredis.Redis, redis_url: str,
                                                            mini_catalog: Catalog) -> None:
    """A drill beside real data: the same station's exercise PM10 of 250 is a series of its own, so the real
    value, its windows and its history stay as they were, and every exercise state says it is one."""
    settings = _settings(redis_url)
    agg, writer = await _setup(aclient, mini_catalog, settings)
    now = _now_ms()
    await writer.write([Sample("air.pm10", "daesong", (now - 60_000) / 1000, 40.0, "airkorea"),
                        Sample("air.pm10", "daesong", now / 1000, 250.0, "drill-1", exercise=True)])
    await _drain(agg)

    real = await _state(aclient, "air.pm10", "daesong")
    assert real["v"] == 40.0 and real["st"] == "normal" and "x" not in real
    assert real["w"]["1h"][0] == 1, "the exercise sample is not in the real window"
    exercise = orjson.loads(await aclient.hget(keys.live("air.pm10", exercise=True), "daesong"))
    assert exercise["v"] == 250.0 and exercise["st"] == "critical" and exercise["x"] == 1
    assert await aclient.zcard(keys.raw("air.pm10", "daesong")) == 1
    assert await aclient.zcard(keys.raw("air.pm10", "daesong", exercise=True)) == 1
    published = await _updates(aclient)
    assert sorted((u["v"], u.get("x")) for u in published) == [(40.0, None), (250.0, 1)]

    grace = settings.stale_grace
    assert (await live.read(aclient, ["air.pm10"], grace, "real"))["air.pm10"]["daesong"]["v"] == 40.0
    assert (await live.read(aclient, ["air.pm10"], grace, "exercise"))["air.pm10"]["daesong"]["v"] == 250.0
    shown = (await live.read(aclient, ["air.pm10"], grace))["air.pm10"]["daesong"]
    assert shown["v"] == 250.0 and shown["x"] == 1, "a running exercise takes the screen, marked as such"


async def test_a_stale_exercise_series_gives_the_screen_back_to_real_data(aclient: aioredis.Redis,
                                                                          redis_url: str,
                                                                          mini_catalog: Catalog) -> None:
    settings = _settings(redis_url)
    agg, writer = await _setup(aclient, mini_catalog, settings)
    now = _now_ms()
    await writer.write([Sample("river.level", "hyeongsan", now / 1000, 1.2, "hrfco"),
                        Sample("river.level", "hyeongsan", (now - 600_000) / 1000, 3.4, "drill-1", exercise=True),
                        Sample("river.level", "chaeun", (now - 600_000) / 1000, 5.0, "drill-1", exercise=True)])
    await _drain(agg)
    shown = (await live.read(aclient, ["river.level"], settings.stale_grace))["river.level"]
    assert shown["hyeongsan"]["v"] == 1.2 and "x" not in shown["hyeongsan"], "the drill is over: real data again"
    assert shown["chaeun"]["x"] == 1 and shown["chaeun"]["st"] == "stale", \
        "without real data the exercise series stays, shown as stale"


async def test_history_keeps_every_value_exactly_in_short_members(aclient: aioredis.Redis, redis_url: str,
                                                                  mini_catalog: Catalog) -> None:
    """Raw samples and bucket members are written with as few digits as read back to the same number."""
    agg, writer = await _setup(aclient, mini_catalog, _settings(redis_url))
    now = _now_ms()
    values = [0.1, 72.1, 1 / 3, 123456789.123456789, -2.5e-300, 1e22, 0.30000000000000004]
    minute = now - now % 60_000 - 600_000
    await writer.write([Sample("economy.spending", "4711125300", (minute + k * 60_000) / 1000, v)
                        for k, v in enumerate(values)])
    await _drain(agg)
    raw = await live.history(aclient, "economy.spending", "4711125300", "raw", minute / 1000, now / 1000)
    assert [p["value"] for p in raw] == values
    buckets = await live.history(aclient, "economy.spending", "4711125300", "1m", minute / 1000, now / 1000)
    assert [(b["sum"], b["min"], b["max"], b["last"]) for b in buckets] == [(v, v, v, v) for v in values]
    member = (await aclient.zrange(keys.history("economy.spending", "4711125300", "1m"), 1, 1))[0]
    assert member == b"%d:1:72.1:72.1:72.1:%d:72.1" % ((minute + 60_000) // 1000, minute + 60_000)


async def test_a_fast_series_reads_its_windows_first_minute_from_seconds(aclient: aioredis.Redis, redis_url: str,
                                                                         mini_catalog: Catalog) -> None:
    """A series sampled many times a second gets exact windows after every batch, in order, late or repeated; its
    busy minutes keep 1-second buckets that account for every sample, and the seconds of a minute crossed in the
    middle are filled from its raw samples."""
    agg, writer = await _setup(aclient, mini_catalog, _settings(redis_url, batch_size=50))
    rng = random.Random(11)
    now = _now_ms()
    start = now - 7 * 60_000
    # 20 samples a second for seven minutes, at uneven milliseconds, and a slow start: one sample in each of the
    # first 15 seconds, so the first minute crosses to keeping seconds in the middle.
    times = [start + k * 1000 + rng.randrange(1000) for k in range(15)]
    times += [start + 15_000 + k * 50 + rng.randrange(50) for k in range((now - start - 15_000) // 50)]
    points = {t: round(rng.uniform(0, 5000), 2) for t in times}
    accepted: dict[int, float] = {}
    ordered = sorted(points)
    for k in range(0, len(ordered), 400):
        chunk = ordered[k:k + 400]
        if k and k % 1200 == 0:  # late: a few from earlier minutes come again with new ones, duplicates too
            chunk = chunk + rng.sample(ordered[:k], 30)
        rng.shuffle(chunk)
        await writer.write([Sample("economy.spending", "4711125300", t / 1000, points[t]) for t in chunk])
        await _drain(agg)
        accepted.update({t: points[t] for t in chunk})
        st = await _state(aclient, "economy.spending", "4711125300")
        _close(st["w"], _reference_windows(accepted))
    assert st["t"] == max(points) and st["v"] == points[max(points)]

    minutes = {int(p["t"]): p["count"] for p in await live.history(
        aclient, "economy.spending", "4711125300", "1m", start / 1000 - 60, now / 1000)}
    seconds = await aclient.zrange(keys.history("economy.spending", "4711125300", "1s"), 0, -1, withscores=True)
    per_minute: dict[int, int] = defaultdict(int)
    for member, score in seconds:
        per_minute[int(score) // 60 * 60] += int(member.split(b":")[1])
    assert per_minute == minutes, "every busy minute's seconds add up to its 1-minute bucket"
    assert len(seconds) <= 60 * len(minutes)

    # Seconds that are missing (written by a version without them) or incomplete: the raw samples decide.
    await aclient.delete(keys.history("economy.spending", "4711125300", "1s"))
    last = {max(points) + 10: 1.5}
    await writer.write([Sample("economy.spending", "4711125300", t / 1000, v) for t, v in last.items()])
    await _drain(agg)
    _close((await _state(aclient, "economy.spending", "4711125300"))["w"], _reference_windows({**accepted, **last}))


async def test_a_slow_series_keeps_no_seconds(aclient: aioredis.Redis, redis_url: str,
                                              mini_catalog: Catalog) -> None:
    agg, writer = await _setup(aclient, mini_catalog, _settings(redis_url))
    now = _now_ms()
    points = {now - k * 5_000: float(k) for k in range(200)}  # every 5 s: 12 a minute
    await writer.write([Sample("economy.spending", "4711125300", t / 1000, v) for t, v in points.items()])
    await _drain(agg)
    _close((await _state(aclient, "economy.spending", "4711125300"))["w"], _reference_windows(points))
    assert not await aclient.exists(keys.history("economy.spending", "4711125300", "1s"))
