"""Importing past samples from a file (`situationroom history import`): its rows read by their shape, each
sample checked like a pushed one, the good ones written into the history store once each (history/past.py).

A sample is refused, with the file's line, the column and the value, when push ingest would refuse it (an
indicator or entity the catalog does not know, a value that is not a number, a bad or future time), and also when
it is newer than the late-arrival limit (Redis answers that stretch of time: push it) or older than the site
keeps its domain's samples (retention would drop it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa

from situationroom import samples as samples_mod
from situationroom.catalog import Catalog
from situationroom.history import layout
from situationroom.history.importfile import ROW_CELLS, FileProblem, Opened, open_rows
from situationroom.history.layout import Partition
from situationroom.history.past import PastWritten, write_past
from situationroom.history.retention import KEEP_ALL, Retention
from situationroom.history.shapes import Empty, Item, Long, Problem, Shape
from situationroom.history.store import HistoryStore

INGEST = "POST /api/v1/ingest"
KEEP_REFUSALS = 1000
"""Refusals kept to show; past that they are counted only (a national file read for one city's stations)."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """A refused sample or row: where (file:line), which column, why, and the value found."""

    where: str
    column: str
    reason: str
    value: Any

    def __str__(self) -> str:
        return f"{self.where}: {self.column}: {self.reason} (value {self.value!r})"


@dataclass
class Checked:
    """A file read and checked: its shape, encoding and source, counts, the refusals (the first KEEP_REFUSALS)
    and the good samples, not yet written."""

    path: Path
    shape: str
    encoding: str | None
    rows: int = 0
    refused: int = 0
    refused_rows: int = 0
    empty: int = 0
    refusals: list[Refusal] = field(default_factory=list)
    columns: dict[str, list[Any]] = field(default_factory=lambda: {n: [] for n in layout.SCHEMA.names})
    expired: dict[tuple[str, int], bool] = field(default_factory=dict)
    """(domain, UTC day number) -> whether retention would drop that day."""

    @property
    def samples(self) -> int:
        return len(self.columns["ts"])

    def table(self) -> pa.Table:
        return pa.table({"indicator": pa.array(self.columns["indicator"], pa.string()),
                         "entity": pa.array(self.columns["entity"], pa.string()),
                         "ts": pa.array(self.columns["ts"], pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
                         "value": pa.array(self.columns["value"], pa.float64()),
                         "source": pa.array(self.columns["source"], pa.string())})

    def refuse(self, where: str, column: str, reason: str, value: Any) -> None:
        self.refused += 1
        if len(self.refusals) < KEEP_REFUSALS:
            self.refusals.append(Refusal(where, column, reason, value))


@dataclass(frozen=True, slots=True)
class Rules:
    """What a sample is checked against besides the catalog."""

    now: float
    late_limit: float
    """Seconds: samples newer than `now - late_limit` are for push ingest (Redis answers them)."""
    retention: Retention = KEEP_ALL
    exercise: bool = False


def choose_shape(opened: Opened, shapes: Sequence[Shape], name: str | None) -> Shape:
    """The shape named (`--format`), or the first whose columns the header has; FileProblem otherwise."""
    where = f"{opened.path.name}:1" if opened.kind == "csv" else opened.path.name
    header = ", ".join(opened.columns) or "none"
    if name is not None:
        shape = next((s for s in shapes if s.name == name), None)
        if shape is None:
            raise FileProblem(f"unknown format {name!r}; known: {', '.join(s.name for s in shapes)}")
        if not shape.matches(opened.columns):
            raise FileProblem(f"{where}: not a {name} file: it needs the columns {shape.needs}; it has {header}")
        return shape
    found = next((s for s in shapes if s.matches(opened.columns)), None)
    if found is None:
        needs = "; ".join(f"{s.name}: {s.needs}" for s in shapes)
        raise FileProblem(f"{where}: format not recognised from the columns ({header}). Formats and their columns "
                          f"— {needs}. Give --format when a file names its columns otherwise.")
    return found


def check_file(path: Path, catalog: Catalog, rules: Rules, shapes: Sequence[Shape] = (Long(),), *,
               shape_name: str | None = None, encoding: str | None = None, source: str | None = None) -> Checked:
    """Read and check every row of a file; FileProblem when the file as a whole cannot be read."""
    opened = open_rows(path, encoding)
    shape = choose_shape(opened, shapes, shape_name)
    read = shape.reader(opened.columns, ZoneInfo(catalog.city.timezone), source)
    out = Checked(path, shape.name, opened.encoding)
    for line, row in opened.rows:
        out.rows += 1
        where = f"{path.name}:{line}"
        before = out.refused
        if ROW_CELLS in row:
            cells, header = row.pop(ROW_CELLS)
            out.refuse(where, "row", f"{cells} cells where the header has {header} columns", cells)
        else:
            for got in read(row):
                if isinstance(got, Empty):
                    out.empty += 1
                elif isinstance(got, Problem):
                    out.refuse(where, got.column, got.reason, got.value)
                else:
                    _check(got, row, catalog, rules, where, out)
        out.refused_rows += out.refused > before
    if out.rows == 0:
        raise FileProblem(f"{path}: the file has a header and no rows")
    return out


def _check(item: Item, row: dict[str, Any], catalog: Catalog, rules: Rules, where: str, out: Checked) -> None:
    def refuse(name: str, reason: str, value: Any) -> None:
        # The column and the value as the file has them, not as they were read.
        column = item.columns.get(name, name)
        out.refuse(where, column, reason, row.get(column, item.fields.get(name, value)))

    got = samples_mod.from_mapping(item.fields, exercise=rules.exercise)
    if isinstance(got, samples_mod.Rejection):
        refuse(got.field, got.reason, got.value)
        return
    problem = samples_mod.check(got, catalog, now=rules.now)
    if problem is not None:
        refuse(problem.field, problem.reason, problem.value)
        return
    if got.ts >= rules.now - rules.late_limit:
        refuse("ts", f"newer than the late-arrival limit ({rules.late_limit:g} s before now): Redis answers this "
                     f"stretch of time, so push it ({INGEST})", got.ts)
        return
    ms = round(got.ts * 1000)
    domain = catalog.indicators[got.indicator].domain
    day = (domain, ms // layout.DAY_MS)
    expired = out.expired.get(day)
    if expired is None:  # once per domain and day: a year of hourly rows meets each day thousands of times
        partition = Partition(layout.dataset_of(rules.exercise), layout.date_of(ms), domain)
        expired = out.expired[day] = rules.retention.expired(partition, rules.now)
    if expired:
        kept = rules.retention.kept_for(layout.dataset_of(rules.exercise), domain) or 0.0
        refuse("ts", f"older than the site keeps {domain} samples ({kept / 86400:g} days, seeds/history.yaml): "
                     "retention would drop it", got.ts)
        return
    for name, value in (("indicator", got.indicator), ("entity", got.entity), ("ts", ms), ("value", got.value),
                        ("source", got.source)):
        out.columns[name].append(value)


def write_checked(store: HistoryStore, checked: Checked, catalog: Catalog, exercise: bool) -> PastWritten:
    """Write a checked file's good samples (history/past.py): once each, and nothing a second time."""
    domains = {i.id: i.domain for i in catalog.indicators.values()}
    return write_past(store, checked.table(), exercise, domains)
