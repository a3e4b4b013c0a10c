"""The history role's buffer: sample stream entries held until they are written as files, and the entries to
acknowledge once they are."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from situationroom.catalog import Catalog
from situationroom.history import layout
from situationroom.history.layout import Partition
from situationroom.sample_entries import MalformedEntry, as_batch, columns


@dataclass(frozen=True, slots=True)
class FileToWrite:
    partition: Partition
    name: str
    table: pa.Table


class CatalogArrays:
    """The catalog's facts a flush checks and places its rows by, as arrays: every check and every placing is one
    vectorized step over all rows, not a Python call per sample."""

    def __init__(self, catalog: Catalog) -> None:
        indicators = sorted(catalog.indicators)
        entities = sorted({e for i in indicators for e in catalog.entities_of(i)})
        # Sorted, so that ordering rows by these indexes orders them by the ids, as layout.SORT asks.
        self.indicators = pa.array(indicators, pa.string())
        self.entities = pa.array(entities, pa.string())
        self.width = len(entities)
        at = {e: n for n, e in enumerate(entities)}
        self.series = pa.array(sorted(n * self.width + at[e] for n, i in enumerate(indicators)
                                      for e in catalog.entities_of(i)), pa.int64())
        """indicator index × width + entity index of every series the catalog measures."""
        ranges = [catalog.indicators[i].range or (-np.inf, np.inf) for i in indicators]
        self.low = pa.array([lo for lo, _ in ranges], pa.float64())
        self.high = pa.array([hi for _, hi in ranges], pa.float64())
        self.domains = sorted({catalog.indicators[i].domain for i in indicators})
        self.domain = pa.array([self.domains.index(catalog.indicators[i].domain) for i in indicators], pa.int64())


class Buffer:
    """Entries read and not yet written. Every entry read goes in, stored or not (malformed, unknown to the
    catalog: the aggregators dead-letter those), so that each is acknowledged once the files are written."""

    def __init__(self, catalog: Catalog) -> None:
        self.arrays = CatalogArrays(catalog)
        self._batches: list[dict[bytes, bytes]] = []
        self._ids: list[bytes] = []
        """`stream/entry id` of each batch: the files' names come from them."""
        self.entries: dict[bytes, list[bytes]] = defaultdict(list)
        """Stream -> entry ids to acknowledge once the files are written."""
        self._held: set[tuple[bytes, bytes]] = set()
        self.rows = 0
        """Samples held (before the catalog's check, which a flush makes)."""
        self.skipped = 0
        """Entries that were not samples, and samples the catalog refused, since the buffer was last cleared."""
        self.since: float | None = None
        """When (monotonic) the oldest entry held was read."""

    def __len__(self) -> int:
        return len(self._held)

    def holds(self, stream: bytes, entry_id: bytes) -> bool:
        return (stream, entry_id) in self._held

    def add(self, stream: bytes, entry_id: bytes, fields: dict[bytes, bytes]) -> int:
        """Hold one entry; returns how many samples it carries (0 when it is held already, or is no sample)."""
        if (stream, entry_id) in self._held:
            return 0
        if self.since is None:
            self.since = time.monotonic()
        self._held.add((stream, entry_id))
        self.entries[stream].append(entry_id)
        try:
            batch = as_batch(fields)
        except MalformedEntry:
            self.skipped += 1
            return 0
        self._batches.append(batch)
        self._ids.append(stream + b"/" + entry_id)
        n = int(batch[b"c"])
        self.rows += n
        return n

    def age(self) -> float:
        """Seconds since the oldest entry held was read (0 when empty)."""
        return 0.0 if self.since is None else time.monotonic() - self.since

    def files(self) -> list[FileToWrite]:
        """The files the samples held make: one per partition and event hour, sorted by series and time. Samples
        the catalog refuses are left out and counted in `skipped`."""
        if not self._batches:
            return []
        rows = self._table()
        a = self.arrays
        # The partition and hour of each row as one number, to sort by and to cut the rows into files at.
        place = pc.add(pc.multiply(pc.add(pc.multiply(rows["exercise"].cast(pa.int64()), len(a.domains)),
                                          pc.take(a.domain, rows["ind"])), 1 << 32),
                       pc.divide(rows["ts"], layout.HOUR_MS))
        rows = rows.append_column("place", place)
        rows = rows.take(pc.sort_indices(rows, [("place", "ascending"), ("series", "ascending"),
                                                ("ts", "ascending")]))
        places = rows["place"].to_numpy()
        bounds = [0, *(np.flatnonzero(np.diff(places)) + 1).tolist(), len(places)]
        out = []
        for start, end in pairwise(bounds):
            if start == end:
                continue
            part = rows.slice(start, end - start)
            first = part.slice(0, 1).to_pylist()[0]
            ms = first["ts"]
            partition = Partition(layout.dataset_of(first["exercise"]), layout.date_of(ms),
                                  a.domains[a.domain[first["ind"]].as_py()])
            ids = [self._ids[k] for k in pc.unique(part["entry"]).to_pylist()]
            out.append(FileToWrite(partition, layout.flush_name(layout.hour_of(ms), ids), _file_table(part, a)))
        return out

    def _table(self) -> pa.Table:
        """Every sample held that the catalog accepts, with its indicator's index (`ind`) and its series' (`series`)."""
        try:
            rows = columns(self._batches)
        except MalformedEntry:
            rows = self._readable()
        a = self.arrays
        ind = pc.index_in(rows["indicator"], value_set=a.indicators)
        series = pc.add(pc.multiply(ind.cast(pa.int64()), a.width),
                        pc.index_in(rows["entity"], value_set=a.entities).cast(pa.int64()))
        value = rows["value"]
        # The aggregators' check (Catalog.check_sample): a known series, a finite value in the indicator's range.
        ok = pc.fill_null(pc.and_(pc.and_(pc.is_in(series, value_set=a.series), pc.is_finite(value)),
                                  pc.and_(pc.greater_equal(value, pc.take(a.low, ind)),
                                          pc.less_equal(value, pc.take(a.high, ind)))), False)
        # The ids are not needed past here (the indexes stand for them): fewer columns to sort and cut.
        kept = rows.select(["source", "ts", "value", "exercise", "entry"]).append_column("ind", ind) \
            .append_column("series", series).filter(ok)
        self.skipped += rows.num_rows - kept.num_rows
        return kept

    def _readable(self) -> pa.Table:
        """The rows of the batches whose texts are UTF-8 (one that is not spoils the whole table), the others
        skipped."""
        good: list[tuple[dict[bytes, bytes], bytes]] = []
        for batch, entry in zip(self._batches, self._ids, strict=True):
            try:
                columns([batch])
                good.append((batch, entry))
            except MalformedEntry:
                self.skipped += 1
        self._batches = [batch for batch, _ in good]
        self._ids = [entry for _, entry in good]
        return columns(self._batches)

    def clear(self) -> None:
        self._batches = []
        self._ids = []
        self.entries = defaultdict(list)
        self._held.clear()
        self.rows = self.skipped = 0
        self.since = None


def _file_table(part: pa.Table, a: CatalogArrays) -> pa.Table:
    """One file's rows in the layout's schema."""
    return pa.Table.from_arrays([
        pc.take(a.indicators, part["ind"]).dictionary_encode(),
        pc.take(a.entities, pc.subtract(part["series"], pc.multiply(part["ind"].cast(pa.int64()), a.width)))
        .dictionary_encode(),
        part["ts"].cast(pa.timestamp("ms", tz="UTC")),
        part["value"],
        part["source"],
    ], schema=layout.SCHEMA)
