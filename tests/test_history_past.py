"""Writing samples of the past into the history store (history/past.py): once each, and a second write of the
same samples changes no file and no answer."""

from __future__ import annotations

import pyarrow as pa

from situationroom.history import layout
from situationroom.history.past import write_past
from situationroom.history.store import HistoryStore
from tests.history_support import every_row

DOMAINS = {"air.pm10": "environment", "river.level": "safety"}
T0 = 1_700_000_000_000  # 2023-11-14 22:13:20 UTC


def _table(values: list[float]) -> pa.Table:
    return pa.table({"indicator": ["air.pm10", "air.pm10", "air.pm10", "river.level"],
                     "entity": ["daesong", "daesong", "yeonil", "hyeongsan"],
                     "ts": [T0, T0, T0 + 3_600_000, T0], "value": values, "source": ["airkorea"] * 3 + ["hrfco"]})


def _files(store: HistoryStore) -> dict[str, bytes]:
    out = {}
    for dataset in layout.DATASETS:
        for partition in store.partitions(dataset):
            for f in store.files(partition):
                with store.fs.open_input_stream(f.path) as stream:
                    out[f.path] = stream.read()
    return out


def test_past_samples_are_written_once_per_partition_and_hour_and_again_changes_nothing(
        history_store: HistoryStore) -> None:
    first = write_past(history_store, _table([1.0, 1.0, 2.0, 3.0]), False, DOMAINS)
    # A past day: one file per partition, as compaction would leave it.
    assert (first.rows, first.present, first.written, len(first.files)) == (3, 0, 3, 2)
    assert sorted(p.rsplit("/", 2)[1] + "/" + p.rsplit("/", 1)[1][:4] for p in first.files) == [
        "domain=environment/day-", "domain=safety/day-"]
    files = _files(history_store)
    rows = every_row(history_store, "air.pm10", T0 / 1000 - 1, T0 / 1000 + 7200)
    assert rows == [("daesong", T0, 1.0, "airkorea"), ("yeonil", T0 + 3_600_000, 2.0, "airkorea")]

    again = write_past(history_store, _table([1.0, 1.0, 2.0, 3.0]), False, DOMAINS)
    assert (again.rows, again.present, again.written, again.files) == (3, 3, 0, [])
    assert _files(history_store) == files
    assert every_row(history_store, "air.pm10", T0 / 1000 - 1, T0 / 1000 + 7200) == rows


def test_a_changed_value_is_written_and_read_by_the_dedup_rule_and_exercise_goes_apart(
        history_store: HistoryStore) -> None:
    write_past(history_store, _table([1.0, 1.0, 2.0, 3.0]), False, DOMAINS)
    changed = write_past(history_store, _table([1.0, 1.0, 5.0, 3.0]), False, DOMAINS)
    assert (changed.present, changed.written) == (2, 1)
    # Two values for one key: every reader keeps the greater (history/query.py).
    assert every_row(history_store, "air.pm10", T0 / 1000 + 1, T0 / 1000 + 7200) == [
        ("yeonil", T0 + 3_600_000, 5.0, "airkorea")]
    drill = write_past(history_store, _table([7.0, 7.0, 7.0, 7.0]), True, DOMAINS)
    assert drill.written == 3 and all("/exercise/" in p for p in drill.files)
    assert every_row(history_store, "river.level", T0 / 1000 - 1, T0 / 1000 + 1, exercise=True) == [
        ("hyeongsan", T0, 7.0, "hrfco")]
    assert every_row(history_store, "river.level", T0 / 1000 - 1, T0 / 1000 + 1) == [("hyeongsan", T0, 3.0, "hrfco")]


def test_samples_of_today_are_written_per_event_hour_once(history_store: HistoryStore) -> None:
    today = T0 / 1000 + 1800  # the same UTC date, later
    first = write_past(history_store, _table([1.0, 1.0, 2.0, 3.0]), False, DOMAINS, now=today)
    assert sorted(p.rsplit("/", 1)[1][:8] for p in first.files) == ["part-22-", "part-22-", "part-23-"]
    files = _files(history_store)
    again = write_past(history_store, _table([1.0, 1.0, 2.0, 3.0]), False, DOMAINS, now=today)
    assert (again.present, again.written, again.files) == (3, 0, [])
    assert _files(history_store) == files
