"""history/rollups.py: a closed hour's 1-minute and 1-hour rollups, a closed day's 1-minute, 1-hour and 1-day ones,
equal to what a query of the samples computes, named by their period (computed again, replaced), computed again
when a late sample lands in a closed period; in a folder and on an object store alike."""

from __future__ import annotations

import time

import pyarrow as pa

from situationroom.catalog import Catalog
from situationroom.history import compact, layout, rollups
from situationroom.history.layout import Partition
from situationroom.history.query import HistoryQuery
from situationroom.history.store import HistoryStore
from situationroom.samples import Sample
from tests.history_support import names, write_batch

DAY = 86_400.0
T0 = 1_780_000_000.0 - 1_780_000_000.0 % DAY  # a UTC midnight, in the past
PART = Partition(layout.SAMPLES, layout.date_of(int(T0 * 1000)), "environment")
LATER = time.time() + 3600  # every file written by the test is quiet by then


def _tick() -> None:
    """Let a second pass: an object store's times are whole seconds, and a rollup counts as done only when it is
    newer than its inputs (the role writes it `history_compact_after` after them)."""
    time.sleep(1.1)


def _samples(n_hours: int, batch: int, of: int = 3) -> list[Sample]:
    """PM10 at two stations every 20 s for `n_hours`, one batch in `of` (as flushes cut them)."""
    out = [Sample("air.pm10", e, T0 + 20 * k, float((k * 7) % 53), "airkorea")
           for k in range(n_hours * 180) for e in ("daesong", "yeonil")]
    return out[batch::of]


def _rollups(store: HistoryStore, resolution: str) -> list[tuple]:
    """Every rollup row of the partition at a resolution, deduplicated on series and start as a reader does."""
    part = rollups.rollup_partition(PART, resolution)
    table = rollups.deduplicated(store.read([f.path for f in store.files(part)], layout.ROLLUP_SCHEMA))
    return [(r["entity"], int(r["start"].timestamp() * 1000), r["count"], r["sum"], r["min"], r["max"], r["last"])
            for r in table.to_pylist()]


def _queried(store: HistoryStore, resolution: str) -> list[tuple]:
    query = HistoryQuery(store)
    try:
        return [(b.entity, b.start, b.count, b.sum, b.min, b.max, b.last)
                for b in query.aggregate("air.pm10", int(T0 * 1000), int((T0 + DAY) * 1000), resolution=resolution)]
    finally:
        query.close()


def test_closed_hours_are_rolled_up_to_minutes_and_hours(history_store: HistoryStore, mini_catalog: Catalog) -> None:
    for batch in range(3):
        write_batch(history_store, mini_catalog, _samples(2, batch), str(batch))
    write_batch(history_store, mini_catalog, _samples(2, 1), "again")  # one flush written twice
    assert rollups.roll_hours(history_store, PART, quiet=60) == 0  # just written: still open
    _tick()
    assert rollups.roll_hours(history_store, PART, quiet=60, now=LATER) == 2
    assert names(history_store, rollups.rollup_partition(PART, "1m")) == ["rollup-00.parquet", "rollup-01.parquet"]
    assert _rollups(history_store, "1m") == _queried(history_store, "1m")
    assert len(_rollups(history_store, "1m")) == 2 * 120
    assert _rollups(history_store, "1h") == _queried(history_store, "1h")
    assert [row[2] for row in _rollups(history_store, "1h")] == [180, 180, 180, 180]
    # Done once: nothing newer than the rollups, nothing to do.
    assert rollups.roll_hours(history_store, PART, quiet=60, now=LATER) == 0


def test_a_late_sample_in_a_closed_hour_computes_its_rollups_again(history_store: HistoryStore,
                                                                   mini_catalog: Catalog) -> None:
    write_batch(history_store, mini_catalog, _samples(2, 0, of=1), "0")
    _tick()
    assert rollups.roll_hours(history_store, PART, quiet=60, now=LATER) == 2
    _tick()
    write_batch(history_store, mini_catalog, [Sample("air.pm10", "daesong", T0 + 3599.5, 999.0, "late")], "late")
    _tick()
    assert rollups.roll_hours(history_store, PART, quiet=60, now=LATER + 5) == 1  # hour 00 only
    hour = {(e, s): rest for e, s, *rest in _rollups(history_store, "1h")}
    assert hour[("daesong", int(T0 * 1000))] == [181, hour[("daesong", int(T0 * 1000))][1], 0.0, 999.0, 999.0]
    assert _rollups(history_store, "1m") == _queried(history_store, "1m")
    assert names(history_store, rollups.rollup_partition(PART, "1h")) == ["rollup-00.parquet", "rollup-01.parquet"]


def test_rollups_read_twice_come_back_once_the_greater_count_kept() -> None:
    row = {"indicator": "air.pm10", "entity": "daesong", "start": 0, "sum": 1.0, "min": 1.0, "max": 1.0, "last": 1.0,
           "last_ts": 0}
    table = pa.Table.from_pylist([{**row, "count": 1}, {**row, "count": 2, "sum": 3.0, "max": 2.0, "last": 2.0},
                                  {**row, "count": 2, "sum": 3.0, "max": 2.0, "last": 2.0}],
                                 schema=pa.schema([pa.field(f.name, pa.int64()) if f.name in ("start", "last_ts") else f
                                            for f in layout.ROLLUP_SCHEMA]))
    (once,) = rollups.deduplicated(table.cast(layout.ROLLUP_SCHEMA)).to_pylist()
    assert (once["count"], once["sum"], once["max"], once["last"]) == (2, 3.0, 2.0, 2.0)


def test_a_closed_day_is_rolled_up_whole_and_replaces_its_hours(history_store: HistoryStore,
                                                               mini_catalog: Catalog) -> None:
    for batch in range(3):
        write_batch(history_store, mini_catalog, _samples(3, batch), str(batch))
    write_batch(history_store, mini_catalog, [Sample("air.pm10", "yeonil", T0 + 1, 1.0, "drill", exercise=True)],
                "x")
    _tick()
    rollups.roll_hours(history_store, PART, quiet=60, now=LATER)
    compact.compact_closed(history_store, quiet=60, now=LATER)
    assert rollups.roll_closed(history_store, quiet=60, now=time.time()) == 0  # the day file is new: not yet quiet
    _tick()
    assert rollups.roll_closed(history_store, quiet=60, now=LATER + 3600) == 2  # the city's day, the drill's
    for resolution in ("1m", "1h", "1d"):
        assert names(history_store, rollups.rollup_partition(PART, resolution)) == ["rollup-day.parquet"]
        assert _rollups(history_store, resolution) == _queried(history_store, resolution)
    assert [row[2:] for row in _rollups(history_store, "1d")] == [
        (540, *_queried(history_store, "1d")[0][3:]), (540, *_queried(history_store, "1d")[1][3:])]
    assert rollups.roll_closed(history_store, quiet=60, now=LATER + 3600) == 0
    # The drill's sample is rolled up apart: no real rollup counts it.
    drill = Partition(layout.EXERCISE, PART.date, PART.domain)
    assert history_store.partitions("rollup_1m") == [rollups.rollup_partition(PART, "1m")]
    assert history_store.partitions("exercise_rollup_1m") == [rollups.rollup_partition(drill, "1m")]
    assert [r["count"] for r in history_store.read(
        [f.path for f in history_store.files(rollups.rollup_partition(drill, "1d"))], layout.ROLLUP_SCHEMA
    ).to_pylist()] == [1]
    # A late sample of that day: the day is rolled up again once quiet.
    _tick()
    write_batch(history_store, mini_catalog, [Sample("air.pm10", "daesong", T0 + 7 * 3600, 5.0, "late")], "late")
    _tick()
    assert rollups.roll_closed(history_store, quiet=60, now=LATER + 3600) == 1
    assert [row[2] for row in _rollups(history_store, "1d")] == [541, 540]
    assert _rollups(history_store, "1h") == _queried(history_store, "1h")
