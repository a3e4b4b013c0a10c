"""What a file to import is made of, row by row: the shape of its columns (the project's long format here; the
public sources' downloads in situationroom/downloads.py), the samples each row gives, and event times as files
write them."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from situationroom.samples import parse_ts


@dataclass(frozen=True, slots=True)
class Item:
    """One sample a row gives, before it is checked: the fields `samples.from_mapping` reads (indicator, entity,
    ts, value, source), and the column of the file each came from, to name it in an error."""

    fields: dict[str, Any]
    columns: dict[str, str]


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a row, or one of its cells, gives no sample: the column, the reason, the value found."""

    column: str
    reason: str
    value: Any


@dataclass(frozen=True, slots=True)
class Empty:
    """A cell left empty (or `-`): the source measured nothing then. Counted, not refused."""

    column: str


Read = Item | Problem | Empty
RowReader = Callable[[Mapping[str, Any]], Iterable[Read]]


class Shape(Protocol):
    """A kind of file: which columns tell it, and how its rows become samples."""

    name: str
    needs: str
    """The columns it needs, as an operator reads them (for the error when a file lacks them)."""

    def matches(self, columns: Sequence[str]) -> bool:
        """Whether a header is this shape's."""
        ...

    def reader(self, columns: Sequence[str], zone: ZoneInfo, source: str | None) -> RowReader:
        """The samples of each row of a file with these columns; naive times are in `zone`; `source` (the
        operator's --source) replaces the shape's own."""
        ...


def _norm(name: str) -> str:
    """A column name compared loosely: case, spaces, `_` and a trailing unit in brackets do not matter."""
    name = re.sub(r"[\(\[].*?[\)\]]\s*$", "", name.strip())
    return re.sub(r"[\s_\-.]", "", name).lower()


def find_column(columns: Sequence[str], aliases: Iterable[str]) -> str | None:
    """The first column of the file named as one of `aliases`, or None."""
    wanted = {_norm(a) for a in aliases}
    return next((c for c in columns if _norm(c) in wanted), None)


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() in ("", "-"))


_COMPACT = re.compile(r"^\d{8}(\d{2})(\d{2})?$")
_NAIVE = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y/%m/%d %H:%M:%S",
          "%Y/%m/%d %H:%M", "%Y.%m.%d %H:%M", "%Y-%m-%d")


def event_time(value: Any, zone: ZoneInfo) -> float:
    """Epoch seconds of a time as files write it: an instant (a Parquet timestamp with zone, ISO 8601 with an
    offset, epoch seconds or ms), or a local time in `zone` without offset (`2024-01-01 01:00`,
    `2024010101`, `202401010110`). Hour 24 is midnight of the next day, as data.go.kr writes the day's last hour.
    ValueError saying what was expected."""
    if isinstance(value, datetime):
        return (value if value.tzinfo is not None else value.replace(tzinfo=zone)).timestamp()
    if isinstance(value, str):
        text = value.strip()
        compact = _compact(text, zone)
        if compact is not None:
            return compact
        local = _naive(text)
        if local is not None:
            return local.replace(tzinfo=zone).timestamp()
        if text[:10].count("-") == 2 and (" 24:" in text or "T24:" in text):
            return _local(text[:10].replace("-", ""), 24, int(text[14:16] or 0), zone)
    try:
        return parse_ts(value)
    except ValueError:
        raise ValueError("not a time like 2024-01-01 01:00 (local), 2024010101, or ISO 8601 with an offset") from None


def _compact(text: str, zone: ZoneInfo) -> float | None:
    """`2024010101` or `202401010110` as a local time; None when the digits are no calendar date (then they are
    epoch seconds)."""
    found = _COMPACT.match(text)
    if found is None:
        return None
    try:
        return _local(text[:8], int(found.group(1)), int(found.group(2) or 0), zone)
    except ValueError:
        return None


def _naive(text: str) -> datetime | None:
    for pattern in _NAIVE:
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    return None


def _local(day: str, hour: int, minute: int, zone: ZoneInfo) -> float:
    if hour > 24 or minute > 59 or (hour == 24 and minute):
        raise ValueError(f"hour {hour:02d}:{minute:02d} does not exist")
    when = datetime.strptime(day, "%Y%m%d") + timedelta(hours=hour, minutes=minute)
    return when.replace(tzinfo=zone).timestamp()


class Long:
    """The project's own long format: one sample a row (indicator, entity, ts, value, optional source), with
    Korean headers too."""

    name = "long"
    INDICATOR = ("indicator", "지표", "지표id", "지표코드")
    ENTITY = ("entity", "대상", "대상id", "측정소", "지점", "entity_id")
    TS = ("ts", "time", "timestamp", "datetime", "시각", "일시", "측정일시", "관측일시")
    VALUE = ("value", "값", "측정값")
    SOURCE = ("source", "출처")
    needs = "indicator (지표), entity (대상, 측정소), ts (시각, 일시), value (값); source (출처) optional"
    DEFAULT_SOURCE = "import"
    """The source of rows that name none: not the file's name, so the same rows under another name are the same
    samples (the dedup key is indicator, entity, ts, source)."""

    def matches(self, columns: Sequence[str]) -> bool:
        return all(find_column(columns, a) for a in (self.INDICATOR, self.ENTITY, self.TS, self.VALUE))

    def reader(self, columns: Sequence[str], zone: ZoneInfo, source: str | None) -> RowReader:
        names = {f: find_column(columns, a) for f, a in (("indicator", self.INDICATOR), ("entity", self.ENTITY),
                                                         ("ts", self.TS), ("value", self.VALUE),
                                                         ("source", self.SOURCE))}
        cols = {f: c for f, c in names.items() if c is not None}

        def read(row: Mapping[str, Any]) -> Iterable[Read]:
            fields: dict[str, Any] = {}
            for f in ("indicator", "entity"):
                raw = row.get(cols[f])
                fields[f] = raw.strip() if isinstance(raw, str) else raw
            value = row.get(cols["value"])
            if is_blank(value):
                return [Empty(cols["value"])]
            fields["value"] = value
            try:
                fields["ts"] = event_time(row.get(cols["ts"]), zone)
            except ValueError as exc:
                return [Problem(cols["ts"], str(exc), row.get(cols["ts"]))]
            given = row.get(cols["source"]) if "source" in cols else None
            fields["source"] = source or (given.strip() if isinstance(given, str) and given.strip() else
                                          self.DEFAULT_SOURCE)
            return [Item(fields, cols)]

        return read
