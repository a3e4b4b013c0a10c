"""The history role's buffer: sample stream entries held as rows per file to write, with the entries to acknowledge."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

import pyarrow as pa

from situationroom.catalog import Catalog
from situationroom.history import layout
from situationroom.history.layout import Partition
from situationroom.streams import decode


@dataclass
class _Rows:
    """The rows of one future file (one partition, one event hour), column by column."""

    indicator: list[str] = field(default_factory=list)
    entity: list[str] = field(default_factory=list)
    ts: list[int] = field(default_factory=list)
    value: list[float] = field(default_factory=list)
    source: list[str] = field(default_factory=list)
    entries: list[bytes] = field(default_factory=list)
    """`stream/entry id` of every row: the file's name comes from them."""

    def table(self) -> pa.Table:
        plain = pa.table({
            "indicator": pa.array(self.indicator, pa.string()),
            "entity": pa.array(self.entity, pa.string()),
            "ts": pa.array(self.ts, pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
            "value": pa.array(self.value, pa.float64()),
            "source": pa.array(self.source, pa.string()),
        }).sort_by(layout.SORT)  # sorted while the strings are plain: arrow sorts no dictionary column
        return plain.cast(layout.SCHEMA)


@dataclass(frozen=True, slots=True)
class FileToWrite:
    partition: Partition
    name: str
    table: pa.Table


class Buffer:
    """Entries read and not yet written. Every entry read goes in, stored or not (malformed, unknown to the
    catalog: the aggregators dead-letter those), so that each is acknowledged once the files are written."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._files: dict[tuple[Partition, int], _Rows] = defaultdict(_Rows)
        self._hours: dict[tuple[str, bool, int], _Rows] = {}
        self.entries: dict[bytes, list[bytes]] = defaultdict(list)
        """Stream -> entry ids to acknowledge once the files are written."""
        self._held: set[tuple[bytes, bytes]] = set()
        self.rows = 0
        self.skipped = 0
        self.since: float | None = None
        """When (monotonic) the oldest entry held was read."""

    def __len__(self) -> int:
        return len(self._held)

    def holds(self, stream: bytes, entry_id: bytes) -> bool:
        return (stream, entry_id) in self._held

    def add(self, stream: bytes, entry_id: bytes, fields: dict[bytes, bytes]) -> bool:
        """Hold one entry; returns whether it became a row."""
        if (stream, entry_id) in self._held:
            return False
        if self.since is None:
            self.since = time.monotonic()
        self._held.add((stream, entry_id))
        self.entries[stream].append(entry_id)
        try:
            sample = decode(fields)
            ms = int(fields[b"t"])
        except (KeyError, ValueError, UnicodeDecodeError):
            self.skipped += 1
            return False
        if self.catalog.check_sample(sample.indicator, sample.entity, sample.value) is not None:
            self.skipped += 1
            return False
        # The file's rows by indicator and event hour: the partition's date and domain worked out once an hour.
        hour = (sample.indicator, sample.exercise, ms // layout.HOUR_MS)
        rows = self._hours.get(hour)
        if rows is None:
            domain = self.catalog.indicators[sample.indicator].domain
            rows = self._hours[hour] = self._files[
                (Partition(layout.dataset_of(sample.exercise), layout.date_of(ms), domain), layout.hour_of(ms))]
        rows.indicator.append(sample.indicator)
        rows.entity.append(sample.entity)
        rows.ts.append(ms)
        rows.value.append(sample.value)
        rows.source.append(sample.source)
        rows.entries.append(stream + b"/" + entry_id)
        self.rows += 1
        return True

    def age(self) -> float:
        """Seconds since the oldest entry held was read (0 when empty)."""
        return 0.0 if self.since is None else time.monotonic() - self.since

    def files(self) -> list[FileToWrite]:
        """The files the rows held make: one per partition and event hour."""
        return [FileToWrite(partition, layout.flush_name(hour, rows.entries), rows.table())
                for (partition, hour), rows in self._files.items()]

    def clear(self) -> None:
        self._files.clear()
        self._hours.clear()
        self.entries = defaultdict(list)
        self._held.clear()
        self.rows = self.skipped = 0
        self.since = None
