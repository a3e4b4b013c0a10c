"""history/store.py: files appear whole under their final name, partitions and files are listed, reading and
deleting, all through pyarrow.fs."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from situationroom.history import layout
from situationroom.history.layout import Partition
from situationroom.history.store import HistoryStore, store_for
from situationroom.settings import Settings
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
