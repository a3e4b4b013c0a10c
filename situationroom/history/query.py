"""Reading the history: DuckDB in-process over the Parquet datasets, each sample once, as plain Python data.

Files are found through the store (pyarrow.fs) and handed to DuckDB as a pyarrow dataset, so the same query runs
over local files and, later, over an object store that DuckDB itself cannot reach here."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds

from situationroom.history import layout, rollup_query
from situationroom.history.store import HistoryStore

Resolution = Literal["1m", "1h", "1d"]

# The one dedup rule, at read and at compaction: one row per key; should a source ever have sent two values for one
# key, the greater is kept, so every reader and every compaction keep the same one.
_DEDUP = ("SELECT indicator, entity, ts, source, max(value) AS value FROM {rows} {where} "
          "GROUP BY indicator, entity, ts, source")


@dataclass(frozen=True, slots=True)
class Point:
    """One stored sample."""

    entity: str
    ts: int
    """Event time, epoch ms."""
    value: float
    source: str


@dataclass(frozen=True, slots=True)
class Bucket:
    """The samples of one time bucket (of one entity, or of every entity asked for when `entity` is None)."""

    entity: str | None
    start: int
    """Bucket start, epoch ms."""
    count: int
    sum: float
    min: float
    max: float
    mean: float
    last: float
    """The value of the bucket's newest sample."""


def quiet(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A connection (or cursor) that draws no progress bar on stdout, where a role writes its log."""
    con.execute("SET enable_progress_bar = false")
    return con


def connect() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for one computation."""
    return quiet(duckdb.connect())


def deduplicated(table: pa.Table) -> pa.Table:
    """`table`'s rows once per key (layout.KEY), sorted (layout.SORT), in the dataset's schema."""
    con = connect()
    try:
        con.register("rows", table)
        out = con.sql(_DEDUP.format(rows="rows", where="") + " ORDER BY indicator, entity, ts").to_arrow_table()
    finally:
        con.close()
    return layout.conform(out, layout.SCHEMA)


class HistoryQuery:
    """Queries over one store. Thread-safe: each query has its own DuckDB cursor."""

    def __init__(self, store: HistoryStore) -> None:
        self.store = store
        self._con = connect()
        self._lock = threading.Lock()

    def close(self) -> None:
        self._con.close()

    def samples(self, indicator: str, start_ms: int, end_ms: int, entities: Sequence[str] | None = None, *,
                exercise: bool = False, domain: str | None = None) -> list[Point]:
        """Every sample of `indicator` (of `entities`, all when None) with event time in [start_ms, end_ms), once
        each, by entity then time."""
        sql = ("SELECT entity::VARCHAR, epoch_ms(ts), value, source FROM ({rows}) "
               "ORDER BY entity, ts, source")
        return [Point(*row) for row in self._run(sql, indicator, start_ms, end_ms, entities, exercise, domain)]

    def aggregate(self, indicator: str, start_ms: int, end_ms: int, entities: Sequence[str] | None = None, *,
                  resolution: Resolution = "1h", by_entity: bool = True, exercise: bool = False,
                  domain: str | None = None) -> list[Bucket]:
        """Count, sum, min, max, mean and last of each `resolution` bucket in [start_ms, end_ms): per entity, or
        over every entity asked for together (`by_entity=False`). Buckets without samples are absent."""
        return self.aggregate_spans(indicator, [(start_ms, end_ms)], entities, resolution=resolution,
                                    by_entity=by_entity, exercise=exercise, domain=domain)

    def aggregate_spans(self, indicator: str, spans: Sequence[tuple[int, int]], entities: Sequence[str] | None = None,
                        *, resolution: Resolution = "1h", by_entity: bool = True, exercise: bool = False,
                        domain: str | None = None) -> list[Bucket]:
        """`aggregate` of the samples with event time in any of `spans` ([start_ms, end_ms) each), in one query: the
        same hour of many days reads those hours alone."""
        if entities is not None and not entities:
            return []

        def plan() -> rollup_query.Plan:
            return rollup_query.plan(self.store, spans, resolution, exercise=exercise, domain=domain)

        def run(found: rollup_query.Plan) -> list[Bucket]:
            if found.empty:
                return []
            text, params = rollup_query.sql(found, indicator, entities, resolution, by_entity, _DEDUP)
            tables = {layout.ROLLUPS[r]: (paths, layout.ROLLUP_SCHEMA) for r, (paths, _) in found.rollups.items()}
            if found.raw_paths:
                tables["history"] = (found.raw_paths, layout.SCHEMA)
            return [Bucket(*row) for row in self._execute(text, params, tables)]

        return self.store.read_listed(plan, run)

    def _run(self, sql: str, indicator: str, start_ms: int, end_ms: int, entities: Sequence[str] | None,
             exercise: bool, domain: str | None) -> list[tuple]:
        dataset = layout.dataset_of(exercise)
        where = "WHERE indicator = ? AND ts >= ? AND ts < ?"
        params: list[object] = [indicator, _instant(start_ms), _instant(end_ms)]
        if entities is not None:
            if not entities:
                return []
            where += f" AND entity IN ({', '.join('?' * len(entities))})"
            params += list(entities)
        text = sql.format(rows=_DEDUP.format(rows="history", where=where))

        def run(paths: list[str]) -> list[tuple]:
            return self._execute(text, params, {"history": (paths, layout.SCHEMA)}) if paths else []

        return self.store.read_listed(
            lambda: self.store.files_for(dataset, layout.dates_between(start_ms, end_ms),
                                         None if domain is None else [domain]), run)

    def _execute(self, text: str, params: list[object], tables: dict[str, tuple[list[str], pa.Schema]]) -> list[tuple]:
        """Run `text` with each table name bound to its files: read by DuckDB's own Parquet reader on a local disk
        (it skips the row groups a filter rules out by their statistics), as a pyarrow dataset (in its schema)
        anywhere else."""
        with self._lock:
            cursor = quiet(self._con.cursor())
        views: list[str] = []
        try:
            for name, (paths, schema) in tables.items():
                if not self.store.is_local:
                    cursor.register(name, ds.dataset(paths, schema=schema, format="parquet", filesystem=self.store.fs))
                    continue
                # Views are seen by every cursor of the database: each query's have names of their own.
                view = f"{name}_{uuid.uuid4().hex}"
                cursor.read_parquet(paths, hive_partitioning=False).create_view(view)
                views.append(view)
                text = re.sub(rf"\b{name}\b", view, text)
            return cursor.execute(text, params).fetchall()
        finally:
            for view in views:
                cursor.execute(f"DROP VIEW IF EXISTS {view}")
            cursor.close()


def _instant(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)
