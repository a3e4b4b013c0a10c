"""history/query.py: DuckDB over the datasets: samples once each, buckets at 1m/1h/1d, exercise data apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from situationroom.catalog import Catalog
from situationroom.history.query import Bucket, HistoryQuery, deduplicated
from situationroom.history.store import HistoryStore
from situationroom.samples import Sample
from tests.history_support import every_row, write_batch

T0 = 1_780_000_000.0 - 1_780_000_000.0 % 86_400  # a UTC midnight
MS = int(T0 * 1000)


def _minutes(entity: str, n: int, *, start: float = T0, exercise: bool = False) -> list[Sample]:
    return [Sample("air.pm10", entity, start + 60 * k, float(k), "airkorea", exercise=exercise) for k in range(n)]


@pytest.fixture
def store(tmp_path: Path) -> HistoryStore:
    return HistoryStore.local(tmp_path)


def test_samples_come_back_once_each_though_written_twice(store: HistoryStore, mini_catalog: Catalog) -> None:
    samples = _minutes("daesong", 90) + _minutes("yeonil", 90)
    write_batch(store, mini_catalog, samples, "1")
    write_batch(store, mini_catalog, samples[:100], "2")  # a batch written again after a crash, cut differently
    rows = every_row(store, "air.pm10", T0, T0 + 86_400)
    assert len(rows) == 180 and len(set(rows)) == 180
    assert rows[0] == ("daesong", MS, 0.0, "airkorea")


def test_a_range_entities_and_sources_select(store: HistoryStore, mini_catalog: Catalog) -> None:
    write_batch(store, mini_catalog, [*_minutes("daesong", 90), *_minutes("yeonil", 90),
                                      Sample("air.pm10", "daesong", T0, 5.0, "push:other")], "1")
    query = HistoryQuery(store)
    got = query.samples("air.pm10", MS + 60_000, MS + 180_000, ["yeonil"])
    assert [(p.entity, p.ts, p.value) for p in got] == [("yeonil", MS + 60_000, 1.0), ("yeonil", MS + 120_000, 2.0)]
    # One event time from two sources is two samples.
    assert [(p.value, p.source) for p in query.samples("air.pm10", MS, MS + 1, ["daesong"])] == [
        (0.0, "airkorea"), (5.0, "push:other")]
    assert query.samples("air.pm10", MS, MS + 1, []) == []
    assert query.samples("weather.visibility", MS, MS + 86_400_000) == []
    assert query.samples("air.pm10", MS, MS + 86_400_000, domain="weather") == []
    query.close()


def test_an_empty_store_answers_nothing(store: HistoryStore) -> None:
    query = HistoryQuery(store)
    assert query.samples("air.pm10", 0, MS) == []
    assert query.aggregate("air.pm10", 0, MS, resolution="1d") == []


def test_buckets_at_a_minute_an_hour_and_a_day(store: HistoryStore, mini_catalog: Catalog) -> None:
    write_batch(store, mini_catalog, _minutes("daesong", 90) + _minutes("yeonil", 90), "1")
    write_batch(store, mini_catalog, _minutes("daesong", 90), "2")  # doubled rows count once
    query = HistoryQuery(store)
    hours = query.aggregate("air.pm10", MS, MS + 86_400_000, ["daesong"], resolution="1h")
    assert hours == [
        Bucket("daesong", MS, 60, float(sum(range(60))), 0.0, 59.0, 29.5, 59.0),
        Bucket("daesong", MS + 3_600_000, 30, float(sum(range(60, 90))), 60.0, 89.0, 74.5, 89.0),
    ]
    minutes = query.aggregate("air.pm10", MS, MS + 86_400_000, resolution="1m")
    assert len(minutes) == 180 and {b.count for b in minutes} == {1}
    (day,) = query.aggregate("air.pm10", MS, MS + 86_400_000, resolution="1d", by_entity=False)
    assert (day.entity, day.start, day.count, day.min, day.max, day.last) == (None, MS, 180, 0.0, 89.0, 89.0)
    assert day.mean == pytest.approx(44.5)


def test_exercise_samples_are_a_dataset_of_their_own(store: HistoryStore, mini_catalog: Catalog) -> None:
    write_batch(store, mini_catalog, _minutes("daesong", 10) + _minutes("yeonil", 5, exercise=True), "1")
    assert {r[0] for r in every_row(store, "air.pm10", T0, T0 + 3600)} == {"daesong"}
    assert {r[0] for r in every_row(store, "air.pm10", T0, T0 + 3600, exercise=True)} == {"yeonil"}


def test_a_half_written_file_is_never_read(store: HistoryStore, mini_catalog: Catalog, tmp_path: Path) -> None:
    write_batch(store, mini_catalog, _minutes("daesong", 10), "1")
    (folder,) = {p.parent for p in tmp_path.rglob("*.parquet")}
    (folder / ".part-00-0123456789abcdef.parquet.tmp").write_bytes(b"PAR1 cut short")
    assert len(every_row(store, "air.pm10", T0, T0 + 3600)) == 10


def test_dedup_keeps_one_row_per_key_sorted(store: HistoryStore, mini_catalog: Catalog) -> None:
    write_batch(store, mini_catalog, [*_minutes("yeonil", 3), *_minutes("daesong", 3)], "1")
    write_batch(store, mini_catalog, _minutes("daesong", 3), "2")
    table = deduplicated(store.read(f for f in store.files_for("samples", ["2026-05-28", _date()])))
    assert [(r["entity"], r["value"]) for r in table.to_pylist()] == [
        ("daesong", 0.0), ("daesong", 1.0), ("daesong", 2.0), ("yeonil", 0.0), ("yeonil", 1.0), ("yeonil", 2.0)]


def _date() -> str:
    from situationroom.history.layout import date_of

    return date_of(MS)
