"""Export files of history rows (CSV, XLSX, Parquet), written piece by piece so any range streams in flat memory."""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from situationroom.catalog import Indicator
from situationroom.licences import LICENCES

FORMATS = ("csv", "xlsx", "parquet")
MEDIA = {"csv": "text/csv; charset=utf-8",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "parquet": "application/vnd.apache.parquet"}
XLSX_MAX_ROWS = 1_048_575
"""A worksheet holds 1,048,576 rows, the header included."""
CHUNK = 1 << 16
"""Bytes per piece sent of a file that is finished before it is sent (XLSX)."""

Row = tuple[int, str, str, float | None, float | None, float | None, int | None]
"""One exported row: event time (epoch ms), indicator, entity, value, min, max, count (min, max, count of a bucket;
None for a raw sample)."""

_HEADERS = {
    "ko": ("시각 ({tz})", "지표", "지점", "값 ({unit})", "최솟값 ({unit})", "최댓값 ({unit})", "표본 수", "단위"),
    "en": ("time ({tz})", "indicator", "entity", "value ({unit})", "min ({unit})", "max ({unit})", "samples", "unit"),
}
_MIXED = {"ko": "단위 열", "en": "see unit"}
_MANIFEST_HEADERS = {
    "ko": ("지표", "이름", "단위", "출처", "이용 조건", "이용 조건 주소", "열람 범위", "지점", "시작", "끝", "해상도",
           "집계", "자료"),
    "en": ("indicator", "name", "unit", "source", "licence", "licence URL", "access", "entities", "from", "to",
           "resolution", "aggregate", "data"),
}
_MODE = {"ko": {"real": "실제", "exercise": "훈련"}, "en": {"real": "real", "exercise": "exercise"}}


@dataclass(frozen=True)
class Part:
    """One indicator of an export and the entities asked of it."""

    indicator: Indicator
    entities: tuple[str, ...]


@dataclass(frozen=True)
class Layout:
    """What an export holds and how it is labelled: its parts, range, resolution, language and time zone."""

    parts: Sequence[Part]
    start: float
    end: float
    resolution: str
    aggregate: str | None
    mode: str
    lang: str
    timezone: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def unit(self, ind: Indicator) -> str:
        return ind.unit if self.lang == "ko" else ind.unit_en

    def headers(self) -> list[str]:
        units = {self.unit(p.indicator) for p in self.parts}
        unit = units.pop() if len(units) == 1 else _MIXED[self.lang]
        tz = datetime.fromtimestamp(self.start, self.zone).tzname() or self.timezone
        return [h.format(tz=tz, unit=unit) for h in _HEADERS[self.lang]]

    def local(self, ms: int) -> datetime:
        return datetime.fromtimestamp(ms / 1000, self.zone)

    def manifest(self) -> list[list[str]]:
        """The manifest as a table: a header, then per indicator its name, unit, source, licence and the range."""
        rows = [list(_MANIFEST_HEADERS[self.lang])]
        for p in self.parts:
            ind = p.indicator
            lic = LICENCES[ind.licence]
            rows.append([ind.id, ind.name_ko if self.lang == "ko" else ind.name_en, self.unit(ind), ind.source,
                         lic.name_ko if self.lang == "ko" else lic.name_en, lic.url or "", ind.audience,
                         " ".join(p.entities), self.local(int(self.start * 1000)).isoformat(),
                         self.local(int(self.end * 1000)).isoformat(), self.resolution, self.aggregate or "",
                         _MODE[self.lang][self.mode]])
        return rows

    def manifest_json(self) -> bytes:
        table = self.manifest()
        return orjson.dumps([dict(zip(table[0], r, strict=True)) for r in table[1:]])


class Writer(Protocol):
    """A file format: bytes to send first, for each batch of rows, and at the end."""

    def begin(self) -> Iterator[bytes]: ...
    def feed(self, rows: Sequence[Row]) -> Iterator[bytes]: ...
    def end(self) -> Iterator[bytes]: ...


class CsvWriter:
    """UTF-8 with a byte-order mark (Excel then reads Hangul right), times ISO 8601 in the city's zone."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.units = {p.indicator.id: layout.unit(p.indicator) for p in layout.parts}

    def _text(self, rows: Iterable[Sequence[Any]]) -> bytes:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\r\n").writerows(rows)
        return buf.getvalue().encode()

    def begin(self) -> Iterator[bytes]:
        yield b"\xef\xbb\xbf" + self._text([self.layout.headers()])

    def feed(self, rows: Sequence[Row]) -> Iterator[bytes]:
        local = self.layout.local
        times: dict[int, str] = {}  # the series of a piece share their bucket times: each is formatted once
        # The csv module writes None as an empty cell and a float as its shortest exact form (repr).
        yield self._text([times.get(t) or times.setdefault(t, local(t).isoformat()), ind, ent, v, lo, hi, n,
                          self.units[ind]] for t, ind, ent, v, lo, hi, n in rows)

    def end(self) -> Iterator[bytes]:
        return iter(())


def manifest_csv(layout: Layout) -> bytes:
    """The manifest of an export as its own CSV file (a data file's one table cannot hold it)."""
    return b"\xef\xbb\xbf" + CsvWriter(layout)._text(layout.manifest())


class _Sink:
    """A file object that keeps what is written until it is taken."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True

    def take(self) -> Iterator[bytes]:
        parts, self.parts = self.parts, []
        yield from parts


class ParquetWriter:
    """One row group per batch; the manifest as JSON under the key `situationroom.manifest` of the file's
    metadata."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        names = layout.headers()
        self.schema = pa.schema([
            pa.field(names[0], pa.timestamp("ms", tz=layout.timezone), nullable=False),
            pa.field(names[1], pa.string(), nullable=False), pa.field(names[2], pa.string(), nullable=False),
            pa.field(names[3], pa.float64()), pa.field(names[4], pa.float64()), pa.field(names[5], pa.float64()),
            pa.field(names[6], pa.int64()), pa.field(names[7], pa.string()),
        ], metadata={b"situationroom.manifest": layout.manifest_json()})
        self.units = {p.indicator.id: layout.unit(p.indicator) for p in layout.parts}
        self.sink = _Sink()
        self.writer = pq.ParquetWriter(pa.PythonFile(self.sink, mode="w"), self.schema, compression="zstd")

    def begin(self) -> Iterator[bytes]:
        return self.sink.take()

    def feed(self, rows: Sequence[Row]) -> Iterator[bytes]:
        columns = list(zip(*rows, strict=True))
        columns.append(tuple(self.units[i] for i in columns[1]))
        self.writer.write_table(pa.Table.from_arrays(
            [pa.array(c, type=f.type) for c, f in zip(columns, self.schema, strict=True)], schema=self.schema))
        return self.sink.take()

    def end(self) -> Iterator[bytes]:
        self.writer.close()
        return self.sink.take()


class XlsxWriter:
    """A workbook with the data sheet (frozen header, number formats) and a manifest sheet. openpyxl's write-only
    mode keeps rows in a temporary file, not in memory; the workbook is sent once it is finished."""

    def __init__(self, layout: Layout) -> None:
        from openpyxl import Workbook  # only an XLSX export pays for importing it

        self.layout = layout
        self.book = Workbook(write_only=True)
        self.sheet = self.book.create_sheet("데이터" if layout.lang == "ko" else "data")
        self.sheet.freeze_panes = "A2"
        self.formats = {p.indicator.id: "0" if p.indicator.decimals == 0 else "0." + "0" * p.indicator.decimals
                        for p in layout.parts}
        self.units = {p.indicator.id: layout.unit(p.indicator) for p in layout.parts}
        widths = (22, 24, 18, 14, 14, 14, 10, 10)
        for n, w in enumerate(widths):
            self.sheet.column_dimensions[chr(ord("A") + n)].width = w

    def _cell(self, value: Any, number_format: str | None = None) -> Any:
        from openpyxl.cell import WriteOnlyCell

        cell = WriteOnlyCell(self.sheet, value=value)
        if number_format is not None:
            cell.number_format = number_format
        return cell

    def begin(self) -> Iterator[bytes]:
        self.sheet.append(self.layout.headers())
        return iter(())

    def feed(self, rows: Sequence[Row]) -> Iterator[bytes]:
        local = self.layout.local
        for t, ind, ent, v, lo, hi, n in rows:
            fmt = self.formats[ind]
            # Excel has no time zone: the city's wall-clock time, as the header says.
            self.sheet.append([self._cell(local(t).replace(tzinfo=None), "yyyy-mm-dd hh:mm:ss"), ind, ent,
                               self._cell(v, fmt), self._cell(lo, fmt), self._cell(hi, fmt), n, self.units[ind]])
        return iter(())

    def end(self) -> Iterator[bytes]:
        manifest = self.book.create_sheet("출처·이용 조건" if self.layout.lang == "ko" else "sources and licences")
        for row in self.layout.manifest():
            manifest.append(row)
        with tempfile.TemporaryFile() as f:
            self.book.save(f)
            f.seek(0)
            while piece := f.read(CHUNK):
                yield piece


def writer_for(fmt: str, layout: Layout) -> Writer:
    if fmt == "csv":
        return CsvWriter(layout)
    if fmt == "parquet":
        return ParquetWriter(layout)
    return XlsxWriter(layout)
