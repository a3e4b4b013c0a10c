"""history/layout.py: partitions by UTC date and domain, file names from their contents' ids, the schema."""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa

from situationroom.history import layout
from situationroom.history.layout import Partition


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def test_an_event_time_falls_in_its_utc_date_and_hour() -> None:
    # 08:30 in Pohang (KST) on 6 September is 23:30 UTC on the 5th.
    ms = _ms("2022-09-06T08:30:00+09:00")
    assert layout.date_of(ms) == "2022-09-05"
    assert layout.hour_of(ms) == 23
    assert layout.date_of(_ms("2022-09-06T00:00:00+00:00")) == "2022-09-06"


def test_the_dates_of_a_range_are_every_utc_date_it_touches() -> None:
    start, end = _ms("2026-02-27T23:00:00+00:00"), _ms("2026-03-02T00:00:00+00:00")
    assert layout.dates_between(start, end) == ["2026-02-27", "2026-02-28", "2026-03-01"]
    assert layout.dates_between(start, start + 1) == ["2026-02-27"]


def test_a_partition_is_a_hive_path_and_parses_back() -> None:
    part = Partition(layout.SAMPLES, "2026-03-01", "environment")
    assert part.path == "samples/date=2026-03-01/domain=environment"
    assert layout.parse_partition("samples", "date=2026-03-01/domain=environment") == part
    assert layout.parse_partition("samples", "date=2026-3-1/domain=environment") is None
    assert layout.dataset_of(True) == "exercise" and layout.dataset_of(False) == "samples"


def test_file_names_come_from_the_ids_they_hold_whatever_their_order() -> None:
    ids = [b"sr:samples:{p0}/1-0", b"sr:samples:{p1}/1-0"]
    assert layout.flush_name(7, ids) == layout.flush_name(7, reversed(ids))
    assert layout.flush_name(7, ids) != layout.flush_name(7, ids[:1])
    assert layout.flush_name(7, ids).startswith("part-07-")
    assert layout.hour_name(7, ["a", "b"]).startswith("hour-07-")
    assert layout.day_name(["a", "b"]).startswith("day-")
    for name in (layout.flush_name(7, ids), layout.hour_name(7, ["a"]), layout.day_name(["a"])):
        assert layout.is_data_file(name)
        assert not layout.is_data_file(layout.temporary_name(name))
    assert layout.hour_of_file(layout.hour_name(23, ["a"])) == 23
    assert layout.hour_of_file(layout.day_name(["a"])) is None


def test_the_schema_names_the_key_and_keeps_event_times_in_utc_milliseconds() -> None:
    assert layout.SCHEMA.names == ["indicator", "entity", "ts", "value", "source"]
    assert layout.SCHEMA.field("ts").type == pa.timestamp("ms", tz="UTC")
    assert pa.types.is_dictionary(layout.SCHEMA.field("indicator").type)
    assert set(layout.KEY) <= set(layout.SCHEMA.names)
