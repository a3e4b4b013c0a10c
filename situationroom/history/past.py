"""Writing samples of the past straight into the history store (import, backfill): once each, under names that
come from the rows, so writing the same samples again changes nothing.

The history role writes what reaches the sample streams; this writes what never did (a year of data.go.kr
downloads, a simulated past). For each partition (UTC date, domain) it keeps only the rows the store does not
already hold (same key and value, layout.KEY), and writes them in files named from their content: one file of the
whole day for a past date (`day-<digest of the rows>`, as compaction would leave it: a year is 365 files per
domain, not 8,760), one per event hour for today's (`part-HH-<digest>`, as the hourly rollups read them). A
second write of the same samples finds them all there and writes nothing; a write cut short and done again writes
the same files, byte for byte, for what is still missing. The history role then compacts and rolls up those files
like its own (docs/history.md, "Import")."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from situationroom.history import layout, query
from situationroom.history.compact import COMPRESSION_LEVEL
from situationroom.history.layout import Partition
from situationroom.history.store import HistoryStore

_NEW = ("SELECT n.* FROM new n ANTI JOIN old o ON n.indicator = o.indicator AND n.entity = o.entity "
        "AND n.ts = o.ts AND n.source = o.source AND n.value = o.value")


@dataclass
class PastWritten:
    """What `write_past` did: rows given (after dropping rows repeated in the input), rows the store already
    held, rows written, and the files written (paths)."""

    rows: int = 0
    present: int = 0
    written: int = 0
    files: list[str] = field(default_factory=list)


def write_past(store: HistoryStore, table: pa.Table, exercise: bool, domains: Mapping[str, str], *,
               now: float | None = None) -> PastWritten:
    """Write `table` (samples in layout.SCHEMA, or its columns with plain strings and epoch-ms `ts`) into the
    dataset of real samples, or of exercise samples (`exercise`). `domains` is indicator -> its catalog domain
    (`{i.id: i.domain for i in catalog.indicators.values()}`); every indicator of the table must be in it.

    Rows repeated in `table` count once (the dedup rule of every query); rows the store already holds, with the
    same value, are not written again. `now` (epoch s, default the clock) says which UTC date is today. Returns the
    counts and the files written."""
    rows = layout.conform(query.deduplicated(layout.conform(table, layout.PLAIN_SCHEMA)), layout.PLAIN_SCHEMA)
    out = PastWritten(rows=rows.num_rows)
    if rows.num_rows == 0:
        return out
    missing = sorted(set(rows["indicator"].to_pylist()) - set(domains))
    if missing:
        raise KeyError(f"no domain given for indicator(s) {', '.join(missing)}")
    ms = rows["ts"].cast(pa.int64()).to_pylist()
    days = {t // layout.DAY_MS for t in ms}
    date_of_day = {d: layout.date_of(d * layout.DAY_MS) for d in days}
    keyed = (rows.append_column("_date", pa.array([date_of_day[t // layout.DAY_MS] for t in ms], pa.string()))
             .append_column("_domain", pa.array([domains[i] for i in rows["indicator"].to_pylist()], pa.string())))
    dataset = layout.dataset_of(exercise)
    today = layout.date_of(int((time.time() if now is None else now) * 1000))
    for date, dom in sorted(set(zip(keyed["_date"].to_pylist(), keyed["_domain"].to_pylist(), strict=True))):
        partition = Partition(dataset, date, dom)
        mine = (keyed.filter(pc.and_(pc.equal(keyed["_date"], date), pc.equal(keyed["_domain"], dom)))
                .select(layout.PLAIN_SCHEMA.names))
        new = _not_held(store, partition, mine)
        out.present += mine.num_rows - new.num_rows
        if new.num_rows == 0:
            continue
        if date < today:
            out.files.append(_write(store, partition, layout.day_name(_fingerprints(new)), new))
            out.written += new.num_rows
            continue
        hours = pa.array([layout.hour_of(t) for t in new["ts"].cast(pa.int64()).to_pylist()], pa.int8())
        for hour in sorted(set(hours.to_pylist())):
            rows_of_hour = new.filter(pc.equal(hours, hour))
            out.files.append(_write(store, partition, layout.flush_name(hour, _fingerprints(rows_of_hour)),
                                    rows_of_hour))
            out.written += rows_of_hour.num_rows
    return out


def _write(store: HistoryStore, partition: Partition, name: str, rows: pa.Table) -> str:
    # A past day is written once and read for years, like a compacted one; today's hours are compacted later.
    level = COMPRESSION_LEVEL if name.startswith(layout.DAY_PREFIX) else None
    return store.write(partition, name, rows.sort_by(layout.SORT), compression_level=level)


def _not_held(store: HistoryStore, partition: Partition, rows: pa.Table) -> pa.Table:
    """The rows of `rows` the partition does not already hold with the same value."""
    held = store.read_listed(lambda: [f.path for f in store.files(partition)], store.read)
    if held.num_rows == 0:
        return rows
    con = duckdb.connect()
    try:
        con.register("new", rows)
        con.register("old", layout.conform(held, layout.PLAIN_SCHEMA))
        out = con.sql(_NEW).to_arrow_table()
    finally:
        con.close()
    # DuckDB answers its own time unit and zone: back to the layout's milliseconds, UTC.
    return layout.conform(out, layout.PLAIN_SCHEMA)


def _fingerprints(rows: pa.Table) -> list[bytes]:
    """One string per row, of every column: the file's name comes from them (layout.digest, as a flush's from its
    stream entries), so the same rows give the same name whatever their order."""
    return [f"{i}\x1f{e}\x1f{t}\x1f{s}\x1f{v!r}".encode()
            for i, e, t, s, v in zip(rows["indicator"].to_pylist(), rows["entity"].to_pylist(),
                                     rows["ts"].cast(pa.int64()).to_pylist(), rows["source"].to_pylist(),
                                     rows["value"].to_pylist(), strict=True)]
