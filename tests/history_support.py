"""What the history tests share: samples of the mini site as sample stream entries, written through a Buffer to a
store (without Redis), and every row of a dataset as the query returns it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import pyarrow.fs as pafs

from situationroom.catalog import Catalog
from situationroom.history.buffer import Buffer
from situationroom.history.layout import Partition
from situationroom.history.query import HistoryQuery
from situationroom.history.store import HistoryStore
from situationroom.sample_entries import encode_batch
from situationroom.samples import Sample

STREAM = b"sr:samples:{p0}"


async def drain(step: Callable[[], Awaitable[Any]]) -> int:
    """Call a role's step (a read, an aggregation) until it finds nothing more to do; returns how many did work."""
    steps = 0
    while await step():
        steps += 1
    return steps


def fields_of(*samples: Sample) -> dict[bytes, bytes]:
    """The fields of a stream entry carrying samples, as Redis hands them back."""
    return {k.encode(): v for k, v in encode_batch(samples).items()}


def write_batch(store: HistoryStore, catalog: Catalog, samples: Iterable[Sample], batch: str) -> int:
    """Write samples as the sink writes one flush (entries `<batch>-<n>` of up to 100 samples, as collectors write
    them); returns how many files it made."""
    buffer = Buffer(catalog)
    held = list(samples)
    for n in range(0, len(held), 100):
        buffer.add(STREAM, f"{batch}-{n}".encode(), fields_of(*held[n:n + 100]))
    files = buffer.files()
    for f in files:
        store.write(f.partition, f.name, f.table)
    return len(files)


def every_row(store: HistoryStore, indicator: str, start: float, end: float, *,
              exercise: bool = False) -> list[tuple[str, int, float, str]]:
    """Every stored sample of an indicator in [start, end) (epoch seconds) as (entity, ms, value, source)."""
    query = HistoryQuery(store)
    try:
        return [(p.entity, p.ts, p.value, p.source)
                for p in query.samples(indicator, int(start * 1000), int(end * 1000), exercise=exercise)]
    finally:
        query.close()


def names(store: HistoryStore, partition: Partition) -> list[str]:
    """The data files of a partition, by name."""
    return [f.name for f in store.files(partition)]


def stored_bytes(store: HistoryStore) -> int:
    """The size of every data file of the store."""
    infos = store.fs.get_file_info(pafs.FileSelector(store.root, allow_not_found=True, recursive=True))
    return sum(info.size or 0 for info in infos if info.type == pafs.FileType.File and info.path.endswith(".parquet"))
