"""Reading a file to import: CSV (UTF-8 with or without BOM, or CP949 as data.go.kr serves it) or Parquet, as
its header and its rows numbered as an operator finds them (CSV: the file's line; Parquet: the row, from 1)."""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

ENCODINGS = ("utf-8", "cp949")
"""Tried in this order when none is given: UTF-8 is strict enough that CP949 text almost never decodes as it."""
CHUNK = 1 << 20
PARQUET_MAGIC = b"PAR1"


class FileProblem(Exception):
    """The file as a whole cannot be imported (missing, unreadable, empty, no format recognised); the message
    names the file."""


@dataclass
class Opened:
    """A file's columns (as its header spells them) and its rows as (number, column -> value)."""

    path: Path
    kind: str
    """`csv` or `parquet`."""
    encoding: str | None
    columns: list[str]
    rows: Iterator[tuple[int, dict[str, Any]]]


def open_rows(path: Path, encoding: str | None = None) -> Opened:
    """The file's header and rows; FileProblem for a file that cannot be read as CSV or Parquet."""
    try:
        if not path.exists():
            raise FileProblem(f"{path}: no such file")
        if not path.is_file():
            raise FileProblem(f"{path}: not a file")
        with path.open("rb") as f:
            head = f.read(4)
    except PermissionError:
        raise FileProblem(f"{path}: cannot be read (permission denied)") from None
    except OSError as exc:
        raise FileProblem(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not head:
        raise FileProblem(f"{path}: the file is empty")
    if head == PARQUET_MAGIC:
        return _parquet(path)
    return _csv(path, encoding or detect_encoding(path))


def detect_encoding(path: Path) -> str:
    """`utf-8-sig` when the whole file decodes as UTF-8 (a BOM, if any, dropped), else `cp949` when it decodes as
    that; FileProblem naming the first byte neither reads."""
    offsets: dict[str, int] = {}
    for name in ENCODINGS:
        decoder = codecs.getincrementaldecoder(name)(errors="strict")
        done = 0
        try:
            with path.open("rb") as f:
                while chunk := f.read(CHUNK):
                    decoder.decode(chunk)
                    done += len(chunk)
                decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            offsets[name] = done + exc.start
            continue
        return "utf-8-sig" if name == "utf-8" else name
    where = ", ".join(f"{name} fails at byte {at:,}" for name, at in offsets.items())
    raise FileProblem(f"{path}: neither UTF-8 nor CP949 ({where}); give the file's encoding with --encoding")


def _csv(path: Path, encoding: str) -> Opened:
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise FileProblem(f"unknown encoding {encoding!r} (e.g. utf-8, cp949, euc-kr)") from None
    with path.open(encoding=encoding, errors="strict", newline="") as f:
        try:
            sample = f.read(64 * 1024)
        except UnicodeDecodeError as exc:
            raise FileProblem(f"{path}: not {encoding} text ({exc.reason} at byte {exc.start:,}); give the file's "
                              "encoding with --encoding") from None
    lines = [line for line in sample.splitlines() if line.strip()]
    if not lines:
        raise FileProblem(f"{path}: the file holds no header (only blank lines)")
    header_line = lines[0]
    delimiter = "\t" if header_line.count("\t") > header_line.count(",") else ","
    reader = csv.reader(_lines(path, encoding), delimiter=delimiter)
    header: list[str] = []
    for cells in reader:
        if any(c.strip() for c in cells):
            header = [c.strip().lstrip("\ufeff") for c in cells]
            break
    label = "utf-8" if encoding == "utf-8-sig" else encoding
    return Opened(path, "csv", label, header, _csv_rows(path, reader, header))


def _lines(path: Path, encoding: str) -> Iterator[str]:
    with path.open(encoding=encoding, errors="strict", newline="") as f:
        try:
            yield from f
        except UnicodeDecodeError as exc:
            raise FileProblem(f"{path}: not {encoding} text further on ({exc.reason}); give the file's encoding "
                              "with --encoding") from None


def _csv_rows(path: Path, reader: Any, header: list[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            row = dict(zip(header, cells, strict=False))
            if len(cells) > len(header):
                row[ROW_CELLS] = (len(cells), len(header))
            yield reader.line_num, row
    except csv.Error as exc:
        raise FileProblem(f"{path}:{reader.line_num}: not CSV ({exc})") from None


ROW_CELLS = "\x00cells"
"""Marks a row with more cells than the header has columns: (cells, columns)."""


def _parquet(path: Path) -> Opened:
    try:
        f = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise FileProblem(f"{path}: not a readable Parquet file ({exc})") from None
    return Opened(path, "parquet", None, list(f.schema_arrow.names), _parquet_rows(path, f))


def _parquet_rows(path: Path, f: pq.ParquetFile) -> Iterator[tuple[int, dict[str, Any]]]:
    n = 0
    try:
        for batch in f.iter_batches():
            for row in batch.to_pylist():
                n += 1
                yield n, row
    except (pa.ArrowException, OSError) as exc:
        raise FileProblem(f"{path}: row {n + 1}: not readable ({exc})") from None

