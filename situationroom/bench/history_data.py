"""The history benchmark's stores: the simulated city's samples through the sink's files and compaction, and years of
generated 1-minute series written straight into compacted day files and their rollups; bytes and query times."""

from __future__ import annotations

import math
import multiprocessing
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs

from situationroom.catalog import Catalog
from situationroom.collectors.kinds.simulator.load import load_baseline, load_scenario
from situationroom.collectors.kinds.simulator.model import Simulation
from situationroom.history import compact, layout, rollups
from situationroom.history.buffer import Buffer
from situationroom.history.layout import Partition
from situationroom.history.query import HistoryQuery, connect
from situationroom.history.store import HistoryStore
from situationroom.sample_entries import encode_batch

DAY_S = 86_400
MINUTE_MS = 60_000
INDICATOR = "bench.level"
"""The generated series' indicator: one indicator, many entities, so one query can ask for 100 of them."""


def past_midnight(days_back: int) -> float:
    """The UTC midnight `days_back` days before today's (epoch s): generated days are closed, past days."""
    now = time.time()
    return now - now % DAY_S - days_back * DAY_S


def dataset_bytes(store: HistoryStore, dataset: str) -> int:
    """The bytes of every data file of a dataset."""
    infos = store.fs.get_file_info(pafs.FileSelector(f"{store.root}/{dataset}", allow_not_found=True,
                                                     recursive=True))
    return sum(info.size or 0 for info in infos
               if info.type == pafs.FileType.File and layout.is_data_file(info.base_name))


# ---------------------------------------------------------------------- the simulated city


@dataclass
class CityDay:
    """The simulated city's samples over `hours`, as the sink writes them and compaction merges them."""

    hours: float
    series: int
    samples: int
    flush_files: int
    bytes_flushed: int
    bytes_compacted: int
    bytes_rollups: int
    seconds: float

    @property
    def bytes_per_sample(self) -> float:
        return self.bytes_compacted / self.samples

    @property
    def rollup_bytes_per_sample(self) -> float:
        return self.bytes_rollups / self.samples


def simulated_city(store: HistoryStore, catalog: Catalog, seeds: Path, *, hours: float, every: float,
                   flush_every: float) -> CityDay:
    """Every series the simulator models, one sample each `every` seconds (the simulator collectors' schedule) for
    `hours` of an ordinary past day, through the sink's buffer into flush files of `flush_every` seconds each;
    then compaction and rollups as the history role runs them once the day is closed."""
    started = time.perf_counter()
    baseline = load_baseline(seeds, catalog)
    scenario = load_scenario(seeds, "ordinary", catalog, baseline)
    t0 = past_midnight(max(1, math.ceil(hours / 24)) + 1)
    sim = Simulation(catalog, baseline, scenario, seed=2022, start=t0)
    indicators = [i for i in catalog.indicators if i in baseline.series]
    stream = b"sr:samples:{p0}"
    buffer = Buffer(catalog)
    samples = files = entry = 0
    steps = int(hours * 3600 / every)
    per_flush = max(1, round(flush_every / every))
    for k in range(steps):
        # One entry per run of the simulator, as its collectors write them (one stream here: the partitions change
        # which entries hold a sample, not the files).
        tick = sim.samples(indicators, t0 + k * every, source="sim-bench")
        for start in range(0, len(tick), 1000):
            entry += 1
            fields = {key.encode(): value for key, value in encode_batch(tick[start:start + 1000]).items()}
            buffer.add(stream, f"{entry}-0".encode(), fields)
        if (k + 1) % per_flush == 0 or k == steps - 1:
            for f in buffer.files():
                store.write(f.partition, f.name, f.table)
                samples += f.table.num_rows
                files += 1
            buffer.clear()
    flushed = dataset_bytes(store, layout.SAMPLES)
    compact.compact_closed(store, quiet=0, now=time.time() + 1)
    rollups.roll_closed(store, quiet=0, now=time.time() + 1)
    return CityDay(hours=hours, series=sum(len(catalog.entities_of(i)) for i in indicators), samples=samples,
                   flush_files=files, bytes_flushed=flushed, bytes_compacted=dataset_bytes(store, layout.SAMPLES),
                   bytes_rollups=sum(dataset_bytes(store, d) for d in layout.ROLLUPS.values()),
                   seconds=time.perf_counter() - started)


# ---------------------------------------------------------------------- generated years of 1-minute series


@dataclass
class Generated:
    """Series generated straight into compacted day files and their rollups."""

    series: int
    days: int
    domains: int
    samples: int
    bytes_samples: int
    bytes_rollups: int
    seconds: float
    start_ms: int
    end_ms: int

    @property
    def bytes_per_sample(self) -> float:
        return self.bytes_samples / self.samples


def entity_name(n: int) -> str:
    return f"e{n:06d}"


def _day_table(rng: np.random.Generator, entities: range, midnight_ms: int, levels: np.ndarray) -> pa.Table:
    """One day of one sample a minute of each entity: a level, a daily swing and smooth noise, to one decimal."""
    n_series, minutes = len(entities), 1440
    phase = np.linspace(0, 2 * np.pi, minutes, endpoint=False)
    swing = 0.3 * levels[:, None] * np.sin(phase[None, :] - 2.0)
    noise = np.cumsum(rng.normal(0, 0.02, (n_series, minutes)), axis=1) * levels[:, None] ** 0.5
    values = np.round(np.maximum(0.0, levels[:, None] + swing + noise), 1).ravel()
    n = values.size
    zeros = pa.array(np.zeros(n, dtype=np.int32))
    names = pa.array([entity_name(e) for e in entities])
    entity = pa.DictionaryArray.from_arrays(pa.array(np.repeat(np.arange(n_series, dtype=np.int32), minutes)), names)
    ts = np.tile(midnight_ms + np.arange(minutes, dtype=np.int64) * MINUTE_MS, n_series)
    return pa.table({
        "indicator": pa.DictionaryArray.from_arrays(zeros, pa.array([INDICATOR])),
        "entity": entity,
        "ts": pa.array(ts, pa.timestamp("ms", tz="UTC")),
        "value": pa.array(values),
        "source": pa.DictionaryArray.from_arrays(zeros, pa.array(["bench"])).cast(pa.string()),
    }, schema=layout.SCHEMA)


def _day(root: str, day: int, domain: int, first: float, entities: range, levels: list[float]) -> None:
    """Write one day of one partition (a worker process's task in `generate`)."""
    store = HistoryStore.local(Path(root))
    rng = np.random.default_rng((17, day, domain))
    midnight = first + day * DAY_S
    partition = Partition(layout.SAMPLES, layout.date_of(int(midnight * 1000)), f"bench{domain}")
    table = _day_table(rng, entities, int(midnight * 1000), np.array(levels))
    store.write(partition, layout.day_name([partition.path]), table, compression_level=compact.COMPRESSION_LEVEL)
    # Generated rows are unique and sorted already: rolled up as they are, as roll_day would after reading them.
    rollups.write_rollups(store, partition, layout.ROLLUP_DAY_NAME, table)


def generate(store: HistoryStore, *, series: int, days: int, domains: int = 1, workers: int = 2,
             progress: Callable[[int, int], None] | None = None) -> Generated:
    """`series` series (entities of one indicator, spread over `domains` partitions) of one sample a minute for
    the `days` whole UTC days before yesterday, each day of each partition written as compaction writes a closed
    day (one sorted file, zstd level 9) with its 1-minute, 1-hour and 1-day rollups, in `workers` processes.
    `progress` gets the days done and the days."""
    if not store.is_local:
        raise ValueError("the benchmark generates its history in a local folder")
    started = time.perf_counter()
    rng = np.random.default_rng(17)
    first = past_midnight(days + 1)
    per_domain = -(-series // domains)
    groups = [range(d * per_domain, min(series, (d + 1) * per_domain)) for d in range(domains)]
    levels = [rng.uniform(5, 150, len(g)).tolist() for g in groups]
    done = 0
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no DuckDB threads forked mid-flight
    with ProcessPoolExecutor(max_workers=max(1, workers), mp_context=context) as pool:
        futures = [pool.submit(_day, store.root, day, d, first, groups[d], levels[d])
                   for day in range(days) for d in range(domains)]
        for future in as_completed(futures):
            future.result()
            done += 1
            if progress is not None and done % domains == 0:
                progress(done // domains, days)
    return Generated(series=series, days=days, domains=domains, samples=series * days * 1440,
                     bytes_samples=dataset_bytes(store, layout.SAMPLES),
                     bytes_rollups=sum(dataset_bytes(store, d) for d in layout.ROLLUPS.values()),
                     seconds=time.perf_counter() - started, start_ms=int(first * 1000),
                     end_ms=int((first + days * DAY_S) * 1000))


# ---------------------------------------------------------------------- queries


@dataclass
class QueryTime:
    """One query timed: the first run, the median of the runs after it, the buckets it answered, and the same
    buckets computed by DuckDB from the raw samples alone (the strongest raw baseline)."""

    name: str
    first_ms: float
    median_ms: float
    buckets: int
    raw_ms: float


def _timed(run: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    times, out = [], None
    for _ in range(repeat + 1):
        start = time.perf_counter()
        out = run()
        times.append((time.perf_counter() - start) * 1000)
    return times[0], statistics.median(times[1:]), out


def _raw_scan(store: HistoryStore, entities: list[str], start_ms: int, end_ms: int, resolution: str) -> float:
    """The same buckets by DuckDB's own Parquet reader over every sample file of the range (ms)."""
    paths = store.files_for(layout.SAMPLES, layout.dates_between(start_ms, end_ms))
    step = layout.ROLLUP_STEP_MS[resolution]
    names = ", ".join(f"'{e}'" for e in entities)
    files = ", ".join(f"'{p}'" for p in paths)
    sql = (f"SELECT entity, (epoch_ms(ts) // {step}) * {step} AS b, count(*), sum(value), min(value), max(value), "
           f"arg_max(value, ts) FROM read_parquet([{files}]) WHERE indicator = '{INDICATOR}' AND entity IN ({names}) "
           f"AND epoch_ms(ts) >= {start_ms} AND epoch_ms(ts) < {end_ms} GROUP BY ALL")
    con = connect()
    try:
        start = time.perf_counter()
        con.sql(sql).fetchall()
        return (time.perf_counter() - start) * 1000
    finally:
        con.close()


def time_query(store: HistoryStore, name: str, entities: list[str], start_ms: int, end_ms: int, resolution: str,
               *, repeat: int = 5, raw: bool = True) -> QueryTime:
    """HistoryQuery.aggregate of `entities` over [start_ms, end_ms) at `resolution`, timed."""
    query = HistoryQuery(store)
    try:
        first, median, out = _timed(lambda: query.aggregate(INDICATOR, start_ms, end_ms, entities,
                                                            resolution=resolution), repeat)  # type: ignore[arg-type]
    finally:
        query.close()
    assert isinstance(out, list)
    raw_ms = _raw_scan(store, entities, start_ms, end_ms, resolution) if raw and store.is_local else float("nan")
    return QueryTime(name, first, median, len(out), raw_ms)
