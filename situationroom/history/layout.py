"""The history store's layout, its one owner: datasets, Hive partitions, file names, the Parquet schema."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa

SAMPLES = "samples"
"""The city's real samples."""
EXERCISE = "exercise"
"""Exercise samples (simulators, drills): a dataset of their own, so no query of the real history can meet them."""
DATASETS = (SAMPLES, EXERCISE)
"""The datasets of samples (compacted, deduplicated)."""
ROLLUPS = {"1m": "rollup_1m", "1h": "rollup_1h", "1d": "rollup_1d"}
"""Resolution -> the dataset of the real samples' rollups at it (count, sum, min, max, last per series and period)."""
EXERCISE_ROLLUPS = {"1m": "exercise_rollup_1m", "1h": "exercise_rollup_1h", "1d": "exercise_rollup_1d"}
"""Resolution -> the dataset of the exercise samples' rollups: apart from the real ones, as the samples are."""
ROLLUP_STEP_MS = {"1m": 60_000, "1h": 3_600_000, "1d": 86_400_000}
"""Periods start at multiples of their length since the epoch: UTC minutes, hours and days, as the date partitions."""

SCHEMA = pa.schema([
    pa.field("indicator", pa.dictionary(pa.int32(), pa.string()), nullable=False),
    pa.field("entity", pa.dictionary(pa.int32(), pa.string()), nullable=False),
    # A timestamp, not a bare int64: Trino, Spark and DuckDB read it as a point in time with no convention to know.
    # Milliseconds, UTC: the sample streams' own precision, so dedup compares exact integers.
    pa.field("ts", pa.timestamp("ms", tz="UTC"), nullable=False),
    pa.field("value", pa.float64(), nullable=False),
    pa.field("source", pa.string(), nullable=False),
])
ROLLUP_SCHEMA = pa.schema([
    pa.field("indicator", pa.dictionary(pa.int32(), pa.string()), nullable=False),
    pa.field("entity", pa.dictionary(pa.int32(), pa.string()), nullable=False),
    pa.field("start", pa.timestamp("ms", tz="UTC"), nullable=False),
    pa.field("count", pa.int64(), nullable=False),
    pa.field("sum", pa.float64(), nullable=False),
    pa.field("min", pa.float64(), nullable=False),
    pa.field("max", pa.float64(), nullable=False),
    pa.field("last", pa.float64(), nullable=False),
    pa.field("last_ts", pa.timestamp("ms", tz="UTC"), nullable=False),
])
"""A rollup file's rows: one per series and period (`start`); `last` is the value of the period's newest sample and
`last_ts` its event time (rollups of several series or periods merge their `last` by it)."""
PLAIN_SCHEMA = pa.schema([field.with_type(pa.string()) if pa.types.is_dictionary(field.type) else field
                          for field in SCHEMA])
"""The samples' columns with plain strings: what dedup and joins compare (values, not dictionary indices)."""
KEY = ("indicator", "entity", "ts", "source")
"""Two rows equal on these are one sample written twice (a batch written again after a crash)."""
SORT = [("indicator", "ascending"), ("entity", "ascending"), ("ts", "ascending")]
"""Row order inside a file: a series' values side by side compress to a fraction of arrival order's size."""

DAY_MS = 86_400_000
HOUR_MS = 3_600_000

FLUSH_PREFIX = "part-"
HOUR_PREFIX = "hour-"
DAY_PREFIX = "day-"
SUFFIX = ".parquet"
ROLLUP_PREFIX = "rollup-"
_NAME = re.compile(r"^(part|hour)-(\d\d)-[0-9a-f]+\.parquet$|^day-[0-9a-f]+\.parquet$|^rollup-(\d\d|day)\.parquet$")
_PARTITION = re.compile(r"^date=(\d{4}-\d\d-\d\d)/domain=([^/]+)$")


@dataclass(frozen=True, slots=True, order=True)
class Partition:
    """One Hive partition: a dataset's files of one UTC date and one domain."""

    dataset: str
    date: str
    """YYYY-MM-DD, UTC."""
    domain: str

    @property
    def path(self) -> str:
        """Relative to the history root."""
        return f"{self.dataset}/date={self.date}/domain={self.domain}"


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """`table`'s columns of `schema` (in its order) in its types, however DuckDB or a caller gave them: strings or
    dictionaries, timestamps of another unit or epoch ms as integers."""
    return pa.table({field.name: _conform(table[field.name], field.type) for field in schema}, schema=schema)


def _conform(column: pa.ChunkedArray, kind: pa.DataType) -> pa.ChunkedArray:
    if pa.types.is_dictionary(kind) and not pa.types.is_dictionary(column.type):
        return column.cast(kind.value_type).dictionary_encode()
    if pa.types.is_timestamp(kind) and not pa.types.is_timestamp(column.type):
        # Epoch ms as integers (DuckDB's epoch_ms, a caller's column): the number is the instant in milliseconds.
        return column.cast(pa.int64()).cast(kind)
    return column.cast(kind)


def dataset_of(exercise: bool) -> str:
    return EXERCISE if exercise else SAMPLES


def rollups_of(dataset: str) -> dict[str, str]:
    """Resolution -> the dataset of the rollups of a dataset of samples."""
    return EXERCISE_ROLLUPS if dataset == EXERCISE else ROLLUPS


def date_of(ms: int) -> str:
    """The UTC date (partition) of an event time in epoch ms."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d")


def day_start(date: str) -> int:
    """Epoch ms of a UTC date's (partition's) midnight."""
    return int(datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=UTC).timestamp() * 1000)


def hour_of(ms: int) -> int:
    """The UTC hour of day (0..23) of an event time in epoch ms."""
    return (ms % DAY_MS) // HOUR_MS


def dates_between(start_ms: int, end_ms: int) -> list[str]:
    """Every UTC date touched by [start_ms, end_ms)."""
    first = start_ms - start_ms % DAY_MS
    return [date_of(day) for day in range(first, max(end_ms, start_ms + 1), DAY_MS)]


def parse_partition(dataset: str, relative: str) -> Partition | None:
    """The partition of a folder path relative to the dataset's root, or None when it is not one."""
    found = _PARTITION.match(relative)
    return Partition(dataset, found.group(1), found.group(2)) if found else None


def digest(parts: Iterable[str | bytes]) -> str:
    """A short stable name for a set of things (stream entry ids, input files): the same set, the same name."""
    h = hashlib.blake2b(digest_size=8)
    for part in sorted(p.encode() if isinstance(p, str) else p for p in parts):
        h.update(part)
        h.update(b"\n")
    return h.hexdigest()


def flush_name(hour: int, entry_ids: Iterable[bytes]) -> str:
    """A file the sink writes: the rows of one event hour from a set of stream entries. The name comes from the
    entries, so writing the same entries again (after a crash before they were acknowledged) replaces the file."""
    return f"{FLUSH_PREFIX}{hour:02d}-{digest(entry_ids)}{SUFFIX}"


def hour_name(hour: int, inputs: Iterable[str]) -> str:
    """A compacted hour, named from the files it replaces: a compaction redone after a crash writes the same file."""
    return f"{HOUR_PREFIX}{hour:02d}-{digest(inputs)}{SUFFIX}"


def day_name(inputs: Iterable[str]) -> str:
    """A compacted day, named from the files it replaces."""
    return f"{DAY_PREFIX}{digest(inputs)}{SUFFIX}"


def rollup_hour_name(hour: int) -> str:
    """The rollups of one closed UTC hour of a partition: named by the period alone, so computing them again (a late
    sample) replaces the file."""
    return f"{ROLLUP_PREFIX}{hour:02d}{SUFFIX}"


ROLLUP_DAY_NAME = f"{ROLLUP_PREFIX}day{SUFFIX}"
"""The rollups of a whole closed day of a partition; they replace its hour files."""


def is_data_file(name: str) -> bool:
    """Whether a file name is one of the dataset's files (temporary files start with a dot and are not)."""
    return _NAME.match(name) is not None


def hour_of_file(name: str) -> int | None:
    """The event hour a flush or compacted-hour file holds; None for a day file."""
    found = _NAME.match(name)
    return int(found.group(2)) if found and found.group(2) else None


def temporary_name(name: str) -> str:
    """Where a file is written before it is renamed into place: DuckDB's and pyarrow's globs skip it (a leading
    dot, no .parquet suffix), so no reader ever opens a half-written file."""
    return f".{name}.tmp"
