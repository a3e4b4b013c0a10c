"""history/rollup_query.py through HistoryQuery.aggregate and aggregate_spans: buckets read from the rollups of
closed periods and the samples of the rest equal, exactly, the buckets computed from every stored sample, over a
store with rolled-up days, rolled-up and open hours, late samples before and after their period is rolled up again,
and exercise data."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from situationroom.catalog import Catalog
from situationroom.history import compact, layout, rollup_query, rollups
from situationroom.history.layout import Partition
from situationroom.history.query import Bucket, HistoryQuery
from situationroom.history.store import HistoryStore
from situationroom.samples import Sample
from tests.history_support import write_batch

DAY = 86_400.0
T0 = 1_780_000_000.0 - 1_780_000_000.0 % DAY  # a UTC midnight, in the past
ENTITIES = ("daesong", "yeonil")
STEPS = {"1m": 60_000, "1h": 3_600_000, "1d": 86_400_000}
FAR = time.time() + 3600  # every file is quiet by then


def _part(day: int) -> Partition:
    return Partition(layout.SAMPLES, layout.date_of(int((T0 + day * DAY) * 1000)), "environment")


def _samples(rng: random.Random, start: float, end: float, *, exercise: bool = False) -> list[Sample]:
    """PM10 of three stations every 7 minutes or so, some instants from two sources. Values are multiples of 1/4,
    so every sum is exact whatever the order it is added in and buckets compare exactly."""
    out = []
    t = start
    while t < end:
        for entity in ENTITIES:
            if rng.random() < 0.9:
                out.append(Sample("air.pm10", entity, round(t, 3), rng.randrange(400) / 4, "airkorea",
                                  exercise=exercise))
            if rng.random() < 0.1:  # the same instant from another source: two samples
                out.append(Sample("air.pm10", entity, round(t, 3), rng.randrange(400) / 4, "push:lab",
                                  exercise=exercise))
        t += rng.uniform(60, 840)
    return out


def _write(store: HistoryStore, catalog: Catalog, samples: list[Sample], name: str) -> None:
    """In three flushes, one of them written twice (a batch written again after a crash)."""
    for k in range(3):
        write_batch(store, catalog, samples[k::3], f"{name}{k}")
    write_batch(store, catalog, samples[1::3], f"{name}1again")


def _settle(store: HistoryStore) -> None:
    """A rollup counts as current only when newer than its inputs: let the file clock move on (an object store's
    times are whole seconds)."""
    time.sleep(0.05 if store.is_local else 1.1)


def _expected(query: HistoryQuery, start: int, end: int, entities: list[str] | None, resolution: str,
              by_entity: bool, exercise: bool) -> list[Bucket]:
    """The buckets from every stored sample, computed here in Python."""
    step = STEPS[resolution]
    acc: dict[tuple[str | None, int], list] = {}
    for p in query.samples("air.pm10", start, end, entities, exercise=exercise):
        key = (p.entity if by_entity else None, p.ts - p.ts % step)
        a = acc.setdefault(key, [0, 0.0, p.value, p.value, (p.ts, p.value)])
        a[0] += 1
        a[1] += p.value
        a[2], a[3] = min(a[2], p.value), max(a[3], p.value)
        a[4] = max(a[4], (p.ts, p.value))
    return [Bucket(e, b, n, s, lo, hi, s / n, last[1])
            for (e, b), (n, s, lo, hi, last) in sorted(acc.items(), key=lambda kv: (kv[0][0] or "", kv[0][1]))]


def _check(store: HistoryStore, rng: random.Random) -> None:
    rounds = 40 if store.is_local else 10  # every query lists the bucket again: slow on the local S3 server
    query = HistoryQuery(store)
    try:
        for _ in range(rounds):
            resolution = rng.choice(list(STEPS))
            lo, hi = int((T0 - 3600) * 1000), int((T0 + 3 * DAY + 3600) * 1000)
            start, end = sorted(rng.randrange(lo, hi) for _ in range(2))
            if rng.random() < 0.5:  # aligned to the buckets, as the seam asks
                step = STEPS[resolution]
                start, end = start - start % step, end - end % step + step
            entities = rng.choice([None, list(ENTITIES), ["yeonil"], ["daesong"]])
            by_entity, exercise = rng.random() < 0.6, rng.random() < 0.15
            got = query.aggregate("air.pm10", start, end, entities, resolution=resolution,  # type: ignore[arg-type]
                                  by_entity=by_entity, exercise=exercise)
            want = _expected(query, start, end, entities, resolution, by_entity, exercise)
            assert got == want, (resolution, start, end, entities, by_entity, exercise)
    finally:
        query.close()


def _check_spans(store: HistoryStore, rng: random.Random) -> None:
    """Several ranges in one query (the same minutes of an hour on some of the days, as an anomaly baseline asks):
    the buckets of each range, as if each were asked for alone."""
    query = HistoryQuery(store)
    try:
        for _ in range(12 if store.is_local else 3):
            hour, days = rng.randrange(24), sorted(rng.sample(range(-1, 4), rng.randint(1, 4)))
            minutes = rng.choice([(0, 60), tuple(sorted(rng.sample(range(61), 2)))])
            spans = [(int((T0 + d * DAY + hour * 3600 + minutes[0] * 60) * 1000),
                      int((T0 + d * DAY + hour * 3600 + minutes[1] * 60) * 1000)) for d in days]
            resolution = "1h" if minutes == (0, 60) and rng.random() < 0.5 else "1m"
            entities = rng.choice([None, list(ENTITIES), ["yeonil"]])
            by_entity, exercise = rng.random() < 0.6, rng.random() < 0.15
            got = query.aggregate_spans("air.pm10", spans, entities, resolution=resolution,  # type: ignore[arg-type]
                                        by_entity=by_entity, exercise=exercise)
            want = sorted((b for lo, hi in spans
                           for b in _expected(query, lo, hi, entities, resolution, by_entity, exercise)),
                          key=lambda b: (b.entity or "", b.start))
            assert got == want, (resolution, spans, entities, by_entity, exercise)
    finally:
        query.close()


def _read_raw(plan: rollup_query.Plan, start: float, end: float) -> bool:
    """Whether the plan reads [start, end) (epoch s) from the samples."""
    return any(lo <= int(start * 1000) and int(end * 1000) <= hi for lo, hi in plan.raw_spans)


def _whole(store: HistoryStore, resolution: str) -> rollup_query.Plan:
    return rollup_query.plan(store, [(int(T0 * 1000), int((T0 + 3 * DAY) * 1000))], resolution)


def test_aggregates_from_rollups_equal_those_from_every_sample(history_store: HistoryStore,
                                                               mini_catalog: Catalog) -> None:
    """In a folder and on an object store alike."""
    store = history_store
    rng = random.Random(17)
    # Days 0 and 2: compacted and rolled up whole. Day 1: hours 0-11 rolled up, 12-23 open.
    _write(store, mini_catalog, _samples(rng, T0, T0 + DAY), "d0")
    _write(store, mini_catalog, _samples(rng, T0 + 2 * DAY, T0 + 3 * DAY), "d2")
    _write(store, mini_catalog, _samples(rng, T0 + DAY, T0 + 1.5 * DAY), "d1")
    _write(store, mini_catalog, _samples(rng, T0, T0 + 3 * DAY, exercise=True), "x")
    _settle(store)
    for day in (0, 2):
        assert compact.compact_day(store, _part(day), quiet=0, now=FAR)
        _settle(store)
        assert rollups.roll_day(store, _part(day), quiet=0, now=FAR)
    assert rollups.roll_hours(store, _part(1), quiet=0, now=FAR) == 12
    # The exercise samples' day 0 too, into the exercise rollups: exercise queries read those.
    drill = Partition(layout.EXERCISE, _part(0).date, "environment")
    assert compact.compact_day(store, drill, quiet=0, now=FAR)
    _settle(store)
    assert rollups.roll_day(store, drill, quiet=0, now=FAR)
    _settle(store)
    _write(store, mini_catalog, _samples(rng, T0 + 1.5 * DAY, T0 + 2 * DAY), "d1pm")

    # What is read from where: days 0 and 2 and the morning of day 1 from the rollups, the afternoon from samples.
    plan = _whole(store, "1h")
    assert set(plan.rollups) == {"1h"}
    assert plan.raw_spans == [(int((T0 + 1.5 * DAY) * 1000), int((T0 + 2 * DAY) * 1000))]
    assert all("/samples/" in p and f"date={_part(1).date}" in p for p in plan.raw_paths)
    daily = _whole(store, "1d")
    assert set(daily.rollups) == {"1d", "1h"}  # day 1's rolled-up hours count towards its day
    drilled = rollup_query.plan(store, [(int(T0 * 1000), int((T0 + DAY) * 1000))], "1h", exercise=True)
    assert set(drilled.rollups) == {"1h"} and drilled.raw_spans == []
    assert all("/exercise_rollup_1h/" in p for p in drilled.rollups["1h"][0])
    spans_rng = random.Random(23)
    _check(store, rng)
    _check_spans(store, spans_rng)

    # A late sample in a rolled-up day and in a rolled-up hour: those periods are read from the samples ...
    _settle(store)
    write_batch(store, mini_catalog, [Sample("air.pm10", "yeonil", T0 + 2 * DAY + 5 * 3600 + 1, 999.0, "late"),
                                      Sample("air.pm10", "daesong", T0 + DAY + 3 * 3600 + 7, 0.25, "late")], "late")
    plan = _whole(store, "1h")
    assert _read_raw(plan, T0 + 2 * DAY, T0 + 3 * DAY)
    assert _read_raw(plan, T0 + DAY + 3 * 3600, T0 + DAY + 4 * 3600)
    assert not _read_raw(plan, T0 + DAY + 2 * 3600, T0 + DAY + 3 * 3600)
    _check(store, rng)
    _check_spans(store, spans_rng)

    # ... until they are rolled up again, from all their samples.
    _settle(store)
    assert rollups.roll_day(store, _part(2), quiet=0, now=FAR)
    assert rollups.roll_hours(store, _part(1), quiet=0, now=FAR) == 13  # hour 3 again, and the afternoon's 12
    _settle(store)
    plan = _whole(store, "1h")
    assert plan.raw_paths == [] and plan.raw_spans == []
    _check(store, rng)
    _check_spans(store, spans_rng)


@pytest.mark.parametrize("resolution", ["1m", "1h", "1d"])
def test_a_range_that_cuts_a_period_reads_its_edges_from_the_samples(tmp_path: Path, mini_catalog: Catalog,
                                                                     resolution: str) -> None:
    store = HistoryStore.local(tmp_path / "history")
    rng = random.Random(3)
    _write(store, mini_catalog, _samples(rng, T0, T0 + DAY), "d0")
    _settle(store)
    assert rollups.roll_day(store, _part(0), quiet=0, now=FAR)
    _settle(store)
    start, end = int((T0 + 3600 * 5.5 + 17) * 1000), int((T0 + 3600 * 20.25) * 1000)
    plan = rollup_query.plan(store, [(start, end)], resolution)
    # Whole rows of the coarsest resolution that fits, finer ones towards the edges (1 h, then 1 min), and the
    # samples only for the part of a minute the range cuts.
    coarsest = {"1m": "1m", "1h": "1h", "1d": "1h"}[resolution]
    assert plan.rollups[coarsest][1] == [(int((T0 + 3600 * (6 if coarsest == "1h" else 5.5 + 1 / 60)) * 1000),
                                          int((T0 + 3600 * (20 if coarsest == "1h" else 20.25)) * 1000))]
    assert plan.raw_spans == [(start, start - start % 60_000 + 60_000)]
    query = HistoryQuery(store)
    try:
        for by_entity in (True, False):
            assert query.aggregate("air.pm10", start, end, resolution=resolution,  # type: ignore[arg-type]
                                   by_entity=by_entity) == _expected(query, start, end, None, resolution,
                                                                     by_entity, False)
    finally:
        query.close()
