"""history/compact.py: a closed hour's and a past day's files merged into one, every sample kept once, in a folder
and on an object store alike."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from situationroom.catalog import Catalog
from situationroom.history import compact, layout
from situationroom.history.layout import Partition
from situationroom.history.store import HistoryStore
from situationroom.samples import Sample
from tests.history_support import every_row, names, stored_bytes, write_batch

T0 = 1_780_000_000.0 - 1_780_000_000.0 % 86_400  # a UTC midnight, in the past
DATE = layout.date_of(int(T0 * 1000))
PART = Partition(layout.SAMPLES, DATE, "environment")


def _samples(n_hours: int, batch: int) -> list[Sample]:
    """Every series of air.pm10 every minute for `n_hours`, a tenth of them per batch (as flushes cut them)."""
    out = [Sample("air.pm10", e, T0 + 60 * k, float(k % 97), "airkorea")
           for k in range(n_hours * 60) for e in ("daesong", "yeonil")]
    return out[batch::10]


@pytest.fixture
def store(history_store: HistoryStore, mini_catalog: Catalog) -> HistoryStore:
    store = history_store
    for batch in range(10):
        write_batch(store, mini_catalog, _samples(3, batch), str(batch))
    write_batch(store, mini_catalog, _samples(3, 4), "again")  # one flush written twice
    return store


def test_closed_hours_become_one_file_each_with_every_sample_once(store: HistoryStore) -> None:
    before = every_row(store, "air.pm10", T0, T0 + 86_400)
    assert len(before) == 360 and len(names(store, PART)) == 33
    size_before = stored_bytes(store)
    partition = store.partitions("samples")[0]
    assert compact.compact_hours(store, partition, quiet=60, now=time.time() + 3600) == 30
    assert [name[:8] for name in names(store, PART)] == ["hour-00-", "hour-01-", "hour-02-"]
    assert every_row(store, "air.pm10", T0, T0 + 86_400) == before
    size = stored_bytes(store)
    assert size < size_before / 5, f"{size_before} bytes in 33 files, then {size} in 3"


def test_an_hour_still_written_to_waits(store: HistoryStore) -> None:
    assert compact.compact_closed(store, quiet=60, now=time.time()) == 0
    assert len(names(store, PART)) == 33


def test_a_past_day_becomes_one_file(store: HistoryStore, mini_catalog: Catalog) -> None:
    before = every_row(store, "air.pm10", T0, T0 + 86_400)
    assert compact.compact_closed(store, quiet=60, now=time.time() + 3600) == 32
    assert [name[:4] for name in names(store, PART)] == ["day-"]
    # A late sample of that day, then the day merged again.
    write_batch(store, mini_catalog, [Sample("air.pm10", "daesong", T0 + 7, 1.0, "airkorea")], "late")
    assert compact.compact_closed(store, quiet=60, now=time.time() + 3600) == 1
    assert every_row(store, "air.pm10", T0, T0 + 86_400) == sorted([*before, ("daesong", int(T0 * 1000) + 7000, 1.0,
                                                                               "airkorea")])


def test_a_compaction_cut_short_is_redone_without_doubling(store: HistoryStore,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    before = every_row(store, "air.pm10", T0, T0 + 86_400)

    def killed(_paths: object) -> None:
        raise KeyboardInterrupt  # the process died between writing the merged file and deleting its inputs

    monkeypatch.setattr(store, "delete", killed)
    with pytest.raises(KeyboardInterrupt):
        compact.compact_closed(store, quiet=60, now=time.time() + 3600)
    # The reader sees inputs and merged file both, and each sample once.
    assert len(names(store, PART)) == 34
    assert every_row(store, "air.pm10", T0, T0 + 86_400) == before
    monkeypatch.undo()
    compact.compact_closed(store, quiet=60, now=time.time() + 3600)
    assert [name[:4] for name in names(store, PART)] == ["day-"]
    assert every_row(store, "air.pm10", T0, T0 + 86_400) == before


def test_today_is_never_merged_into_a_day_file(tmp_path: Path, mini_catalog: Catalog) -> None:
    store = HistoryStore.local(tmp_path)
    now = time.time()
    for batch in range(3):
        write_batch(store, mini_catalog, [Sample("air.pm10", "daesong", now - 1 + batch * 0.001, 1.0, "a")],
                    str(batch))
    for path in tmp_path.rglob("*.parquet"):
        os.utime(path, (now - 7200, now - 7200))
    (partition,) = store.partitions("samples")
    assert compact.compact_day(store, partition, quiet=60, now=now) == 0
    assert compact.compact_hours(store, partition, quiet=60, now=now) == 2
