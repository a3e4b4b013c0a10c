"""history/store.py: files appear whole under their final name, partitions and files are listed, reading and
deleting, all through pyarrow.fs, in a folder and on an S3-compatible object store."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from situationroom.history import compact, layout
from situationroom.history.layout import Partition
from situationroom.history.query import HistoryQuery
from situationroom.history.store import HistoryStore, store_for
from situationroom.settings import Settings
from tests.servers_support import S3Server
from tests.site_support import MINI

PART = Partition(layout.SAMPLES, "2026-03-01", "environment")


def _table(n: int) -> pa.Table:
    return pa.table({"indicator": ["air.pm10"] * n, "entity": ["daesong"] * n,
                     "ts": pa.array(range(n), pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
                     "value": [float(i) for i in range(n)], "source": ["test"] * n}).cast(layout.SCHEMA)


def test_a_file_is_written_under_a_temporary_name_then_renamed(tmp_path: Path) -> None:
    store = HistoryStore.local(tmp_path)
    seen: list[set[str]] = []
    folder = tmp_path / PART.path
    original = pq.write_table

    def spying(table: pa.Table, where: str, **kwargs: object) -> None:
        original(table, where, **kwargs)
        seen.append({p.name for p in folder.iterdir()})

    pq.write_table = spying  # type: ignore[assignment]
    try:
        path = store.write(PART, "part-00-abc.parquet", _table(10))
    finally:
        pq.write_table = original  # type: ignore[assignment]
    # Fully written, the file still had its temporary name, which no reader lists; then it was renamed.
    assert seen == [{".part-00-abc.parquet.tmp"}]
    assert not layout.is_data_file(".part-00-abc.parquet.tmp")
    assert {p.name for p in folder.iterdir()} == {"part-00-abc.parquet"}
    assert pq.read_table(path).num_rows == 10
    assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "ZSTD"


def test_readers_never_list_a_file_being_written(tmp_path: Path) -> None:
    store = HistoryStore.local(tmp_path)
    stop = threading.Event()
    listed: list[int] = []

    failed: list[BaseException] = []

    def list_files() -> None:
        try:
            while not stop.is_set():
                for f in store.files(PART):
                    listed.append(pq.read_table(f.path).num_rows)  # every file listed is whole
        except Exception as exc:  # reported by the assertion below, not lost with the thread
            failed.append(exc)

    reader = threading.Thread(target=list_files)
    reader.start()
    try:
        for n in range(20):
            store.write(PART, f"part-00-{n:04x}.parquet", _table(20_000))
        # The reader may not have had a turn while the files were written (the writes are quick): let it list
        # at least once before it stops, so the assertion below always has something to judge.
        deadline = time.monotonic() + 10
        while not listed and not failed and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        reader.join()
    assert not failed, failed
    assert listed and set(listed) == {20_000}


def test_partitions_files_read_and_delete(tmp_path: Path) -> None:
    store = HistoryStore.local(tmp_path)
    other = Partition(layout.SAMPLES, "2026-03-02", "weather")
    store.write(PART, "part-00-a.parquet", _table(3))
    store.write(PART, "part-01-b.parquet", _table(4))
    store.write(other, "day-c.parquet", _table(5))
    (tmp_path / PART.path / ".part-02-d.parquet.tmp").write_bytes(b"half")
    (tmp_path / "samples" / "not-a-partition").mkdir()
    assert store.partitions(layout.SAMPLES) == [PART, other]
    assert store.partitions(layout.EXERCISE) == []
    assert [f.name for f in store.files(PART)] == ["part-00-a.parquet", "part-01-b.parquet"]
    assert len(store.files_for(layout.SAMPLES, ["2026-03-01", "2026-03-02"])) == 3
    assert len(store.files_for(layout.SAMPLES, ["2026-03-01", "2026-03-02"], ["weather"])) == 1
    assert store.files_for(layout.SAMPLES, ["2020-01-01"]) == []
    assert store.read(f.path for f in store.files(PART)).num_rows == 7
    store.delete([f.path for f in store.files(PART)] + [str(tmp_path / "gone.parquet")])
    assert store.files(PART) == []


def test_the_store_is_under_the_data_dir_unless_the_setting_says_where(tmp_path: Path) -> None:
    assert store_for(Settings(site=MINI, data_dir=tmp_path)).root == str(tmp_path / "history")
    assert store_for(Settings(site=MINI, data_dir=tmp_path, history_dir=tmp_path / "h")).root == str(tmp_path / "h")


def test_the_same_layout_on_an_object_store(s3: S3Server) -> None:
    url = s3.bucket() + "/pohang"
    store = store_for(Settings(site=MINI, history_url=url + "/", history_s3_endpoint=s3.endpoint))
    assert store.url == url and not store.is_local
    other = Partition(layout.SAMPLES, "2026-03-02", "weather")
    store.write(PART, "part-00-a.parquet", _table(3))
    store.write(PART, "part-01-b.parquet", _table(4))
    store.write(other, "day-c.parquet", _table(5))
    assert store.partitions(layout.SAMPLES) == [PART, other]
    assert [f.path for f in store.files(PART)] == [f"{url[5:]}/samples/date=2026-03-01/domain=environment/"
                                                    f"part-0{n}-{c}.parquet" for n, c in ((0, "a"), (1, "b"))]
    assert store.read(store.files_for(layout.SAMPLES, ["2026-03-01", "2026-03-02"])).num_rows == 12
    # Any reader of the bucket sees the Hive layout, with no help from this project.
    found = pads.dataset(f"{url[5:]}/samples", filesystem=store.fs, partitioning="hive", format="parquet")
    assert found.to_table(filter=pads.field("domain") == "weather").num_rows == 5
    store.delete([f.path for f in store.files(PART)])
    assert store.files(PART) == []


def test_the_object_store_setting_is_checked() -> None:
    for wrong in ("http://bucket/x", "s3://", "s3://B_ad"):
        with pytest.raises(ValidationError, match="history_url"):
            Settings(site=MINI, history_url=wrong)
    with pytest.raises(ValidationError, match="history_s3_endpoint"):
        Settings(site=MINI, history_s3_endpoint="127.0.0.1:9000")


def test_the_object_store_endpoint_can_come_from_the_aws_environment(s3: S3Server,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3.endpoint)
    store = store_for(Settings(site=MINI, history_url=s3.bucket()))
    store.write(PART, "part-00-a.parquet", _table(3))
    assert [f.name for f in store.files(PART)] == ["part-00-a.parquet"]


def test_a_range_of_years_lists_only_the_dates_that_hold_data(history_store: HistoryStore) -> None:
    # A query from long ago names thousands of dates; on an object store each listing is a request, so the
    # store lists the dataset's dates once and only then the few that exist.
    history_store.write(PART, "part-00-a.parquet", _table(3))
    later = Partition(layout.SAMPLES, "2026-11-30", "weather")
    history_store.write(later, "part-05-b.parquet", _table(4))
    listed: list[str] = []
    real_list = history_store._list

    def counting(base: str) -> list:
        listed.append(base)
        return real_list(base)

    history_store._list = counting  # type: ignore[method-assign]
    dates = layout.dates_between(0, 1_800_000_000_000)  # 1970 to 2027: over 20,000 dates
    paths = history_store.files_for(layout.SAMPLES, dates)
    assert [p.rsplit("/", 1)[1] for p in paths] == ["part-00-a.parquet", "part-05-b.parquet"]
    assert len(dates) > 20_000 and len(listed) == 5  # the dataset, two dates, two domains
    assert history_store.files_for(layout.SAMPLES, dates, ["weather"])[0].endswith("part-05-b.parquet")


def _compacted_once_listed(store: HistoryStore, part: Partition, listings: list[list[str]]) -> Callable[[], list[str]]:
    """Two flush files of hour 0 of `part`, and their listing, after which, the first time, a historian compacts the
    hour: the paths it answered are gone. Each listing's file names go to `listings`."""
    day = layout.day_start(part.date)
    for name, lo, hi in ((b"a", 0, 6), (b"b", 6, 10)):
        rows = _table(hi - lo).set_column(2, "ts", pa.array(range(day + lo, day + hi), pa.int64())
                                          .cast(pa.timestamp("ms", tz="UTC")))
        store.write(part, layout.flush_name(0, [name]), rows.cast(layout.SCHEMA))

    def listing() -> list[str]:
        files = store.files(part)
        if not listings:
            compact.merge(store, part, files, layout.hour_name(0, [f.name for f in files]))
        listings.append([f.name for f in files])
        return [f.path for f in files]

    return listing


@pytest.mark.parametrize("reader", ["pyarrow", "duckdb"])
def test_a_read_lists_again_when_a_compaction_replaced_a_file_it_had_listed(history_store: HistoryStore,
                                                                            reader: str) -> None:
    """pyarrow's reads (import, backfill) and DuckDB's (queries) alike: the listed flush files are gone, their rows
    are in the compacted file, which the second listing finds."""
    store = history_store
    listings: list[list[str]] = []
    listing = _compacted_once_listed(store, PART, listings)
    if reader == "pyarrow":
        assert store.read_listed(listing, store.read).num_rows == 10
    else:
        query = HistoryQuery(store)
        # The query's own listing of the dates' files, with the compaction after its first answer.
        store.files_for = lambda *_args, **_kwargs: listing()  # type: ignore[method-assign]
        try:
            day = layout.day_start(PART.date)
            assert len(query.samples("air.pm10", day, day + layout.DAY_MS)) == 10
        finally:
            query.close()
    assert len(listings) == 2
    assert all(name.startswith(layout.FLUSH_PREFIX) for name in listings[0]) and len(listings[0]) == 2
    assert [name[:len(layout.HOUR_PREFIX)] for name in listings[1]] == [layout.HOUR_PREFIX]
