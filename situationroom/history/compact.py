"""Compaction: a closed hour's (then a closed day's) files of a partition merged into one, deduplicated and sorted.

The merged file is written (atomically) before its inputs are deleted, so a reader sees the inputs, both, or the
merged file, never neither; seeing both doubles rows only until the reader's own dedup (query.py) removes them. A
compaction cut short is redone from what is left: the merged file's name comes from its inputs, so redoing it
writes the same file again."""

from __future__ import annotations

import logging
import time

from situationroom.history import layout
from situationroom.history.layout import Partition
from situationroom.history.query import deduplicated
from situationroom.history.store import DataFile, HistoryStore

log = logging.getLogger(__name__)

COMPRESSION_LEVEL = 9
"""Closed data is written once and read for years: worth zstd's slower levels (flush files use the default)."""


def merge(store: HistoryStore, partition: Partition, inputs: list[DataFile], name: str) -> int:
    """Replace `inputs` by one file `name` holding their rows once each, sorted; returns the rows it holds."""
    table = deduplicated(store.read(f.path for f in inputs))
    store.write(partition, name, table, compression_level=COMPRESSION_LEVEL)
    store.delete(f.path for f in inputs if f.name != name)
    return table.num_rows


def compact_hours(store: HistoryStore, partition: Partition, quiet: float, now: float | None = None) -> int:
    """Merge each hour of the partition that has several files, the newest older than `quiet` seconds (nothing
    has arrived for it since: the hour is closed); returns how many files were merged away."""
    now = time.time() if now is None else now
    by_hour = store.files_by_hour(partition)
    merged = 0
    for hour, files in sorted(by_hour.items()):
        if len(files) < 2 or max(f.mtime for f in files) > now - quiet:
            continue
        merge(store, partition, files, layout.hour_name(hour, (f.name for f in files)))
        merged += len(files) - 1
    return merged


def compact_day(store: HistoryStore, partition: Partition, quiet: float, now: float | None = None) -> int:
    """Merge a past day's files into one once none has been written for `quiet` seconds; returns how many files
    were merged away."""
    now = time.time() if now is None else now
    if partition.date >= layout.date_of(int(now * 1000)):
        return 0
    files = store.files(partition)
    if len(files) < 2 or max(f.mtime for f in files) > now - quiet:
        return 0
    merge(store, partition, files, layout.day_name(f.name for f in files))
    return len(files) - 1


def compact_closed(store: HistoryStore, quiet: float, now: float | None = None) -> int:
    """Compact every closed hour and day of every dataset; returns how many files were merged away."""
    merged = 0
    for dataset in layout.DATASETS:
        for partition in store.partitions(dataset):
            merged += compact_day(store, partition, quiet, now) or compact_hours(store, partition, quiet, now)
    if merged:
        log.debug("history: compaction merged away %d files", merged)
    return merged
