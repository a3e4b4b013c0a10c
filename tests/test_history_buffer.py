"""history/buffer.py: entries held as rows per partition and event hour, every entry (stored or not) to acknowledge."""

from __future__ import annotations

import math
import time

from situationroom.catalog import Catalog
from situationroom.history import layout
from situationroom.history.buffer import Buffer
from situationroom.samples import Sample
from tests.history_support import STREAM, fields_of

DAY = 86_400.0


def test_rows_go_to_the_partition_and_hour_of_their_event_time(mini_catalog: Catalog) -> None:
    buffer = Buffer(mini_catalog)
    t = 1_780_000_000.0 - 1_780_000_000.0 % DAY  # a UTC midnight
    buffer.add(STREAM, b"1-0", fields_of(Sample("air.pm10", "daesong", t + 3600 * 5 + 1, 30, "airkorea")))
    buffer.add(STREAM, b"1-1", fields_of(Sample("air.pm10", "daesong", t - 1, 20, "airkorea")))  # late: yesterday
    buffer.add(STREAM, b"1-2", fields_of(Sample("weather.visibility", "pohang", t + 5, 9, "kma")))
    buffer.add(STREAM, b"1-3", fields_of(Sample("air.pm10", "daesong", t + 7, 25, "sim", exercise=True)))
    files = {(f.partition.path, f.name[:8]): f.table.num_rows for f in buffer.files()}
    today, yesterday = layout.date_of(int(t * 1000)), layout.date_of(int((t - 1) * 1000))
    assert files == {
        (f"samples/date={today}/domain=environment", "part-05-"): 1,
        (f"samples/date={yesterday}/domain=environment", "part-23-"): 1,
        (f"samples/date={today}/domain=weather", "part-00-"): 1,
        (f"exercise/date={today}/domain=environment", "part-00-"): 1,
    }


def test_entries_that_are_not_samples_are_acknowledged_but_not_stored(mini_catalog: Catalog) -> None:
    buffer = Buffer(mini_catalog)
    now = time.time()
    assert buffer.add(STREAM, b"1-0", fields_of(Sample("air.pm10", "daesong", now, 30, "airkorea"))) == 1
    assert not buffer.add(STREAM, b"1-1", {b"i": b"air.pm10"})  # malformed
    # The catalog's check is made for the whole flush at once: these are held until then.
    assert buffer.add(STREAM, b"1-2", fields_of(Sample("no.such", "daesong", now, 30, "x"),
                                                Sample("air.pm10", "nowhere", now, 30, "x"),
                                                Sample("air.pm10", "daesong", now, math.inf, "x"),
                                                Sample("air.pm10", "daesong", now, -5.0, "x"),  # outside its range
                                                Sample("air.pm10", "yeonil", now, 31, "airkorea"))) == 5
    assert not buffer.add(STREAM, b"1-3", {})  # trimmed while pending
    assert not buffer.add(STREAM, b"1-0", fields_of(Sample("air.pm10", "daesong", now, 30, "airkorea")))  # again
    assert (buffer.rows, buffer.skipped, len(buffer)) == (6, 2, 4)
    assert buffer.entries == {STREAM: [b"1-0", b"1-1", b"1-2", b"1-3"]}
    stored = [(r["entity"], r["value"]) for f in buffer.files() for r in f.table.to_pylist()]
    assert sorted(stored) == [("daesong", 30.0), ("yeonil", 31.0)]
    assert buffer.skipped == 6
    buffer.clear()
    assert (len(buffer), buffer.rows, buffer.age()) == (0, 0, 0.0)


def test_a_file_is_sorted_by_series_and_time(mini_catalog: Catalog) -> None:
    buffer = Buffer(mini_catalog)
    t = 1_780_000_000.0 - 1_780_000_000.0 % DAY
    for n, (entity, dt) in enumerate([("yeonil", 3), ("daesong", 2), ("yeonil", 1), ("daesong", 4)]):
        buffer.add(STREAM, f"1-{n}".encode(), fields_of(Sample("air.pm10", entity, t + dt, float(dt), "a")))
    (only,) = buffer.files()
    rows = only.table.to_pylist()
    assert [(r["entity"], r["value"]) for r in rows] == [("daesong", 2.0), ("daesong", 4.0), ("yeonil", 1.0),
                                                         ("yeonil", 3.0)]
    assert only.table.schema == layout.SCHEMA


def test_a_file_is_named_from_the_entries_whose_samples_it_holds(mini_catalog: Catalog) -> None:
    t = 1_780_000_000.0 - 1_780_000_000.0 % DAY
    first, second = Buffer(mini_catalog), Buffer(mini_catalog)
    pm10 = fields_of(Sample("air.pm10", "daesong", t + 5, 1.0, "a"))
    both = fields_of(Sample("air.pm10", "yeonil", t + 6, 2.0, "a"), Sample("weather.visibility", "pohang", t, 9, "k"))
    first.add(STREAM, b"1-0", pm10)
    first.add(STREAM, b"1-1", both)
    second.add(STREAM, b"1-1", both)  # the same entries read again after a crash, in another order
    second.add(STREAM, b"1-0", pm10)
    names = {f.partition.path: f.name for f in first.files()}
    assert names == {f.partition.path: f.name for f in second.files()}
    # The weather file holds samples of entry 1-1 alone, so its name differs from the same hour's environment file.
    assert len(set(names.values())) == 2
