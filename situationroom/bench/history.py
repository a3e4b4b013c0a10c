"""Benchmark of the history: Redis bytes per series, Parquet bytes per sample, the sink's rate and lag, query times."""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import redis.asyncio as aioredis

from situationroom import keys
from situationroom.aggregator import Aggregator
from situationroom.bench import history_data, start_role
from situationroom.catalog import Catalog
from situationroom.history import status
from situationroom.history.sink import HistorySink
from situationroom.history.store import HistoryStore
from situationroom.redisconn import async_client
from situationroom.roles import run_async
from situationroom.samples import Sample
from situationroom.settings import Settings
from situationroom.streams import StreamWriter, acknowledged_until, ensure_groups, unread_age


@dataclass
class Check:
    """One figure against its target."""

    name: str
    value: float
    unit: str
    target: float
    below: bool
    """Whether the figure must stay at or under the target (else at or over it)."""

    @property
    def passed(self) -> bool:
        return self.value <= self.target if self.below else self.value >= self.target


@dataclass
class HistoryResult:
    figures: dict[str, Any] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"figures": self.figures, "seconds": self.seconds,
                "checks": [{**asdict(c), "passed": c.passed} for c in self.checks]}


# ---------------------------------------------------------------------- Redis


def series_keys(indicator: str, entity: str) -> list[str]:
    """The keys of one series that may exist, per `keys.py`: its own, then the indicator's shared ones."""
    return [keys.raw(indicator, entity), *(keys.history(indicator, entity, r) for r in ("1m", "1s", "1h")),
            keys.live(indicator), keys.due(indicator)]


def retention_span(settings: Settings) -> float:
    """The longest time Redis keeps anything of a series (seconds): the longest `history_*_retention` setting there
    is, and the raw hour."""
    spans = [float(getattr(settings, name)) for name in type(settings).model_fields
             if name.startswith("history_") and name.endswith("_retention")]
    return max([3600.0, float(settings.late_limit), *spans])


def _busiest(catalog: Catalog) -> str:
    """The indicator with the most entities (a sample of many series shares its hash and due set)."""
    return max(catalog.indicators, key=lambda i: (len(catalog.entities_of(i)), i))


async def redis_memory(url: str, catalog: Catalog, settings: Settings, *, series: int = 1, every: float = 60.0,
                       progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Fill `series` series of one indicator with a sample every `every` seconds for the whole default retention
    through the streams and the aggregator, then `MEMORY USAGE` every key they have. The indicator's hash and due
    set are shared by its series: each series counts its share."""
    indicator = _busiest(catalog)
    entities = list(catalog.entities_of(indicator))[:series]
    lo, hi = catalog.indicators[indicator].range or (0.0, 100.0)
    span = retention_span(settings)
    client = async_client(url)
    rng = random.Random(11)
    try:
        await ensure_groups(client, settings.partitions)
        writer = StreamWriter(client, partitions=settings.partitions, retention=settings.stream_retention,
                              deadletter_maxlen=settings.deadletter_maxlen)
        aggregator = Aggregator(client, catalog, settings, consumer="bench")
        now = time.time()
        start = now - now % every - span
        day = 86_400.0
        for chunk in range(int(-(-span // day))):
            t0 = start + chunk * day
            times = [t0 + k * every for k in range(int(day / every)) if t0 + k * every <= now]
            await writer.write([Sample(indicator, e, t, round(rng.uniform(lo, lo + (hi - lo) / 4), 1), "bench")
                                for t in times for e in entities])
            applied = 1
            while applied:  # until the aggregator has applied every entry written
                applied = await aggregator.step()
            for stream in keys.all_samples(settings.partitions):
                await client.xtrim(stream, maxlen=0)  # the streams are not the series': keep them out of the count
            if progress is not None and (chunk + 1) % 15 == 0:
                progress(f"  {chunk + 1} of {int(-(-span // day))} days")
        # Each series' own keys, and the indicator's hash and due set once: every series counts its share of all.
        measured = dict.fromkeys(k for e in entities for k in series_keys(indicator, e)[:3])
        measured.update(dict.fromkeys(series_keys(indicator, entities[0])[3:]))
        per_key: dict[str, dict[str, float]] = {}
        total = 0.0
        for key in measured:
            kind = (await client.type(key)).decode()
            if kind == "none":
                continue
            size = float(await client.memory_usage(key, samples=0) or 0)
            entries = await (client.zcard(key) if kind == "zset" else client.hlen(key))
            label = key.replace(indicator, "<indicator>")
            for e in entities:
                label = label.replace(f":{e}", ":<entity>")
            found = per_key.setdefault(label, {"bytes": 0.0, "entries": 0.0})
            found["bytes"] += size / len(entities)
            found["entries"] += entries / len(entities)
            total += size
        return {"indicator": indicator, "series": len(entities), "every_s": every, "filled_s": span,
                "bytes_per_series": total / len(entities), "keys": per_key}
    finally:
        await _drop_own_keys(client)
        await client.aclose()


async def _drop_own_keys(client: aioredis.Redis) -> None:
    """Delete what the benchmark wrote: the database was empty when it started (the CLI checks it)."""
    batch = [key async for key in client.scan_iter(match=f"{keys.PREFIX}:*", count=1000)]
    for k in range(0, len(batch), 1000):
        await client.delete(*batch[k:k + 1000])


# ---------------------------------------------------------------------- the sink


def _offered(catalog: Catalog, n: int, rng: random.Random, *, start: float, span: float) -> list[Sample]:
    """n samples over every series of the catalog in turn, event times spread over `span` seconds from `start`."""
    series = [(i, e) for i in catalog.indicators for e in catalog.entities_of(i)]
    out = []
    for k in range(n):
        ind, ent = series[k % len(series)]
        lo, hi = catalog.indicators[ind].range or (0.0, 100.0)
        out.append(Sample(ind, ent, round(start + span * k / n, 3), round(rng.uniform(lo, hi), 2), "bench"))
    return out


async def sink_rate(url: str, catalog: Catalog, settings: Settings, root: Path, samples: int) -> dict[str, Any]:
    """The history sink reading `samples` entries already in the streams and writing them as the role does, against
    pyarrow writing the same rows (built from the same Python values) to one zstd Parquet file."""
    client = async_client(url)
    rng = random.Random(5)
    items = _offered(catalog, samples, rng, start=time.time() - 3 * 3600, span=3 * 3600)
    try:
        await ensure_groups(client, settings.partitions, keys.HISTORY_GROUP)
        writer = StreamWriter(client, partitions=settings.partitions, retention=settings.stream_retention,
                              deadletter_maxlen=settings.deadletter_maxlen)
        await writer.write(items)
        read_s = await _raw_read(client, settings.partitions)
        sink = HistorySink(client, catalog, settings, store=HistoryStore.local(root / "sink"), consumer="bench")
        started = time.perf_counter()
        while await sink.read(">", None):
            if sink.due():
                await sink.flush()
        await sink.flush()
        sink_s = time.perf_counter() - started
        started = time.perf_counter()
        table = pa.table({
            "indicator": pa.array([s.indicator for s in items]).dictionary_encode(),
            "entity": pa.array([s.entity for s in items]).dictionary_encode(),
            "ts": pa.array([round(s.ts * 1000) for s in items], pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
            "value": pa.array([s.value for s in items], pa.float64()),
            "source": pa.array([s.source for s in items]),
        })
        pq.write_table(table, root / "pyarrow.parquet", compression="zstd")
        arrow_s = time.perf_counter() - started
    finally:
        await _drop_own_keys(client)
        await client.aclose()
    return {"samples": samples, "rows_written": sink.rows_written, "files": sink.files_written,
            "sink_per_s": samples / sink_s, "pyarrow_per_s": samples / arrow_s, "ratio": arrow_s / sink_s,
            "raw_read_per_s": samples / read_s, "read_and_pyarrow_per_s": samples / (read_s + arrow_s)}


async def _raw_read(client: aioredis.Redis, partitions: int) -> float:
    """Seconds to read every entry of the sample streams with XRANGE, 1,000 at a time, doing nothing with them:
    what reading the streams costs this client before the sink does anything."""
    started = time.perf_counter()
    for stream in keys.all_samples(partitions):
        after = "-"
        while entries := await client.xrange(stream, min=after, count=1000):
            after = "(" + entries[-1][0].decode()
    return time.perf_counter() - started


async def _offer(url: str, catalog: Catalog, settings: Settings, rate: float, seconds: float,
                 every: float = 0.25) -> dict[str, Any]:
    """Offer `rate` samples/s of live event times through the streams (10 ms batches) for `seconds`, reading the
    historians' lag every `every` seconds: entries not read yet (`history status`), and how long ago the oldest of them
    was written (`streams.unread_age`)."""
    client = async_client(url)
    writer = StreamWriter(client, partitions=settings.partitions, retention=settings.stream_retention,
                          deadletter_maxlen=settings.deadletter_maxlen)
    rng = random.Random(9)
    lags: list[int] = []
    unread: list[float] = []
    behind: list[float] = []
    sending = True

    async def watch() -> None:
        while sending:
            found = await status.group(client, settings.partitions)
            lags.append(sum(int(s.lag or 0) for s in found.streams))
            unread.append(await unread_age(client, settings.partitions, keys.HISTORY_GROUP) or 0.0)
            until = await acknowledged_until(client, settings.partitions, keys.HISTORY_GROUP)
            if until is not None:
                behind.append(max(0.0, time.time() - until / 1000))
            await asyncio.sleep(every)

    watcher = asyncio.create_task(watch())
    per_batch = max(1, round(rate / 100))
    sent = 0
    start = tick = time.perf_counter()
    try:
        while time.perf_counter() - start < seconds:
            now = time.time()
            sent += await writer.write(_offered(catalog, per_batch, rng, start=now, span=0.0))
            tick += 0.01
            await asyncio.sleep(max(0.0, tick - time.perf_counter()))
    finally:
        sending = False
        await watcher
        await client.aclose()
    elapsed = time.perf_counter() - start
    return {"rate": rate, "offered_per_s": sent / elapsed, "seconds": elapsed, "readings": len(lags),
            "lag_entries_max": max(lags, default=0), "lag_s_max": max(unread, default=0.0),
            "lag_s_median": statistics.median(unread) if unread else 0.0,
            "in_files_behind_s_max": max(behind, default=float("nan"))}


def sink_lag(url: str, catalog: Catalog, settings: Settings, root: Path, *, rate: float, seconds: float,
             log: Path | None) -> dict[str, Any]:
    """`situationroom run history` as its own process, `rate` samples/s offered through the streams."""
    run_async(_groups(url, settings))
    env = {"SITUATIONROOM_HISTORY_DIR": str(root / "lag"), "SITUATIONROOM_PARTITIONS": str(settings.partitions)}
    role = start_role("history", site=settings.site, redis_url=url, extra_env=env, log=log)
    try:
        time.sleep(2.0)  # the role's start (imports, the store) before the clock starts
        if role.proc.poll() is not None:
            raise RuntimeError(f"the history role exited with status {role.proc.returncode}")
        out = run_async(_offer(url, catalog, settings, rate, seconds))
    finally:
        role.stop()
        run_async(_cleanup(url))
    return out


async def _groups(url: str, settings: Settings) -> None:
    client = async_client(url)
    try:
        await ensure_groups(client, settings.partitions, keys.HISTORY_GROUP)
    finally:
        await client.aclose()


async def _cleanup(url: str) -> None:
    client = async_client(url)
    try:
        await _drop_own_keys(client)
    finally:
        await client.aclose()


# ---------------------------------------------------------------------- the whole run


@dataclass
class Sizes:
    """How much each part of the run does."""

    city_hours: float = 24.0
    city_every: float = 10.0
    sink_samples: int = 200_000
    lag_rate: float = 2000.0
    lag_seconds: float = 30.0
    year_series: int = 100
    year_days: int = 365
    query_series: int = 100
    query_days: int = 30
    redis_series: int = 1
    workers: int = 2
    scale_series: int = 0
    """0: no scale run; else that many series at one sample a minute for `scale_days`."""
    scale_days: int = 7
    scale_redis_series: int = 20


def run(settings: Settings, catalog: Catalog, url: str, sizes: Sizes, *, work_dir: Path | None = None,
        log: Path | None = None, progress: Callable[[str], None] | None = None) -> HistoryResult:
    say = progress or (lambda _: None)
    result = HistoryResult()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="situationroom-bench-history-", dir=work_dir) as tmp:
        root = Path(tmp)
        say(f"Redis: filling {sizes.redis_series} series' retention through the streams and the aggregator")
        mem = run_async(redis_memory(url, catalog, settings, series=sizes.redis_series, progress=say))
        result.figures["redis"] = mem
        result.checks.append(Check("Redis memory per series", float(mem["bytes_per_series"]) / 1000, "KB", 60, True))

        say(f"disk: the simulated city for {sizes.city_hours:g} h, a sample every {sizes.city_every:g} s per series")
        city = history_data.simulated_city(HistoryStore.local(root / "city"), catalog, settings.seeds,
                                           hours=sizes.city_hours, every=sizes.city_every,
                                           flush_every=settings.history_flush_every)
        result.figures["city"] = {**asdict(city), "bytes_per_sample": city.bytes_per_sample,
                                  "rollup_bytes_per_sample": city.rollup_bytes_per_sample}
        result.checks.append(Check("disk per sample, compacted", city.bytes_per_sample, "B", 4, True))

        say(f"sink: {sizes.sink_samples:,} samples from the streams into Parquet, and pyarrow alone")
        sink = run_async(sink_rate(url, catalog, settings, root, sizes.sink_samples))
        result.figures["sink"] = sink
        result.checks.append(Check("sink rate / pyarrow", float(sink["ratio"]) * 100, "%", 50, False))

        say(f"lag: {sizes.lag_rate:,.0f} samples/s for {sizes.lag_seconds:g} s through `run history`")
        lag = sink_lag(url, catalog, settings, root, rate=sizes.lag_rate, seconds=sizes.lag_seconds, log=log)
        result.figures["lag"] = lag
        result.checks.append(Check(f"historians' lag at {sizes.lag_rate:,.0f}/s (max)", float(lag["lag_s_max"]),
                                   "s", 5, True))

        say(f"queries: generating {sizes.year_days} days of {sizes.year_series} series at one sample a minute")
        year_store = HistoryStore.local(root / "year")
        year = history_data.generate(year_store, series=sizes.year_series, days=sizes.year_days,
                                     workers=sizes.workers,
                                     progress=lambda d, n: say(f"  day {d} of {n}") if d % 30 == 0 else None)
        result.figures["year"] = {**asdict(year), "bytes_per_sample": year.bytes_per_sample}
        result.figures["queries"] = _queries(year_store, year, sizes.query_series, sizes.query_days, result)

        if sizes.scale_series:
            result.figures["scale"] = _scale(url, catalog, settings, root, sizes, log, say, result)
    result.seconds = time.perf_counter() - started
    return result


def _queries(store: HistoryStore, gen: history_data.Generated, series: int, days: int, result: HistoryResult,
             label: str = "") -> list[dict[str, Any]]:
    whole = history_data.time_query(store, f"1 series, {gen.days} days at 1d", [history_data.entity_name(0)],
                                    gen.start_ms, gen.end_ms, "1d")
    n = min(series, gen.series)
    start = max(gen.start_ms, gen.end_ms - days * 86_400_000)
    many = history_data.time_query(store, f"{n} series, {(gen.end_ms - start) // 86_400_000} days at 1h",
                                   [history_data.entity_name(k) for k in range(n)], start, gen.end_ms, "1h")
    result.checks.append(Check(f"{label}query: {whole.name}", whole.median_ms, "ms", 300, True))
    result.checks.append(Check(f"{label}query: {many.name}", many.median_ms, "ms", 500, True))
    return [asdict(whole), asdict(many)]


def _scale(url: str, catalog: Catalog, settings: Settings, root: Path, sizes: Sizes, log: Path | None,
           say: Callable[[str], None], result: HistoryResult) -> dict[str, Any]:
    started = time.perf_counter()
    say(f"scale: Redis, {sizes.scale_redis_series} series measured, extrapolated to {sizes.scale_series:,}")
    mem = run_async(redis_memory(url, catalog, settings, series=sizes.scale_redis_series, progress=say))
    say(f"scale: generating {sizes.scale_days} days of {sizes.scale_series:,} series at one sample a minute")
    store = HistoryStore.local(root / "scale")
    domains = max(1, sizes.scale_series // 10_000)
    gen = history_data.generate(store, series=sizes.scale_series, days=sizes.scale_days, domains=domains,
                                workers=sizes.workers, progress=lambda d, n: say(f"  {d} of {n} days"))
    queries = _queries(store, gen, sizes.query_series, sizes.scale_days, result, "scale ")
    rate = sizes.scale_series / 60
    say(f"scale: lag at {rate:,.0f} samples/s (one a minute from each series) for {sizes.lag_seconds:g} s")
    lag = sink_lag(url, catalog, settings, root, rate=rate, seconds=sizes.lag_seconds, log=log)
    result.checks.append(Check(f"scale historians' lag at {rate:,.0f}/s (max)", float(lag["lag_s_max"]), "s",
                               5, True))
    per_series = float(mem["bytes_per_series"])
    return {"series": sizes.scale_series, "redis_measured_series": mem["series"],
            "redis_bytes_per_series": per_series, "redis_bytes_extrapolated": per_series * sizes.scale_series,
            "generated": {**asdict(gen), "bytes_per_sample": gen.bytes_per_sample}, "queries": queries, "lag": lag,
            "seconds": time.perf_counter() - started}
