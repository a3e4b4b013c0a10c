"""What the history holds and how far behind its writers are: per dataset and domain, files, bytes, rows and dates;
the historians' lag per sample stream and the time of their last write (the one owner of `sr:history:flushed`); the
oldest sample of each indicator (the data catalogue's "first data")."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import pyarrow.parquet as pq
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from situationroom import keys
from situationroom.history import layout
from situationroom.history.layout import Partition
from situationroom.history.store import HistoryStore


@dataclass(frozen=True, slots=True)
class DatasetStatus:
    """The files of one dataset and domain."""

    dataset: str
    domain: str
    files: int
    bytes: int
    rows: int | None
    """From the files' Parquet footers; None when not asked for (rows written twice before compaction count twice)."""
    oldest: str
    """The oldest date (UTC, YYYY-MM-DD) with a file."""
    newest: str


@dataclass(frozen=True, slots=True)
class StreamLag:
    """The historians' group on one sample stream."""

    stream: str
    lag: int | None
    """Entries not yet read by any historian; None when Redis cannot tell (6.2, or the stream was trimmed past the
    group's position)."""
    pending: int
    """Entries read but not yet acknowledged (not yet in a file)."""


@dataclass(frozen=True, slots=True)
class GroupStatus:
    streams: list[StreamLag]
    """The sample streams the historians' group exists on (none before a history role first started)."""
    last_flush: float | None
    """Epoch seconds of the last write of any historian; None when none ever wrote."""

    @property
    def lag(self) -> int | None:
        """Entries not yet read over every stream; None when any stream cannot tell."""
        lags = [s.lag for s in self.streams]
        return None if not lags or any(n is None for n in lags) else sum(n for n in lags if n is not None)

    @property
    def pending(self) -> int:
        return sum(s.pending for s in self.streams)

    def seconds_since_flush(self, now: float | None = None) -> float | None:
        if self.last_flush is None:
            return None
        return max(0.0, (time.time() if now is None else now) - self.last_flush)


def datasets(store: HistoryStore, *, rows: bool = True) -> list[DatasetStatus]:
    """Every dataset and domain of the store. `rows` reads each file's footer (one small read per file); without it
    only the listing is read."""
    totals: dict[tuple[str, str], dict[str, Any]] = {}
    for dataset in (*layout.DATASETS, *layout.ROLLUPS.values(), *layout.EXERCISE_ROLLUPS.values()):
        for partition in store.partitions(dataset):
            files = store.files(partition)
            if not files:
                continue
            entry = totals.setdefault((dataset, partition.domain), {
                "files": 0, "bytes": 0, "rows": 0 if rows else None, "dates": []})
            entry["files"] += len(files)
            entry["bytes"] += sum(f.size for f in files)
            entry["dates"].append(partition.date)
            if rows:
                entry["rows"] += sum(pq.read_metadata(f.path, filesystem=store.fs).num_rows for f in files)
    return [DatasetStatus(dataset, domain, t["files"], t["bytes"], t["rows"], min(t["dates"]), max(t["dates"]))
            for (dataset, domain), t in sorted(totals.items())]


def first_samples(store: HistoryStore, wanted: Mapping[str, Iterable[str]], dataset: str = layout.SAMPLES
                  ) -> dict[str, float]:
    """The event time (epoch seconds) of the oldest sample of each indicator of `wanted` (domain -> indicators) in
    `dataset`. Cheap: per domain it reads only the indicator and time columns of its oldest dates, and stops at the
    first date that leaves none of the domain's indicators unfound (usually the first one)."""
    out: dict[str, float] = {}
    by_domain: dict[str, list[Partition]] = {}
    for partition in store.partitions(dataset):
        by_domain.setdefault(partition.domain, []).append(partition)
    for domain, indicators in wanted.items():
        missing = set(indicators)
        for partition in sorted(by_domain.get(domain, [])):
            if not missing:
                break
            for f in store.files(partition):
                table = pq.read_table(f.path, columns=["indicator", "ts"], filesystem=store.fs)
                if table.num_rows == 0:
                    continue
                grouped = table.group_by("indicator").aggregate([("ts", "min")])
                for ind, ts in zip(grouped.column("indicator").to_pylist(), grouped.column("ts_min").to_pylist(),
                                   strict=True):
                    if ind in missing:
                        out[ind] = min(ts.timestamp(), out.get(ind, math.inf))
            # A date's files are in no time order: its indicators count as found once all of them are read (a date
            # holds only samples of that date, so a later date cannot hold an older one).
            missing -= out.keys()
    return out


async def record_flush(client: aioredis.Redis, now: float | None = None) -> None:
    """Note that a historian has just written its buffer."""
    await client.set(keys.history_flushed(), repr(time.time() if now is None else now))


async def group(client: aioredis.Redis, partitions: int) -> GroupStatus:
    """The historians' group on every sample stream, and their last write."""
    streams = keys.all_samples(partitions)
    pipe = client.pipeline(transaction=False)
    for stream in streams:
        pipe.xinfo_groups(stream)
    pipe.get(keys.history_flushed())
    *replies, flushed = await pipe.execute(raise_on_error=False)
    out = []
    for stream, groups in zip(streams, replies, strict=True):
        found = None if isinstance(groups, ResponseError) else next(
            (g for g in groups if _text(g.get("name")) == keys.HISTORY_GROUP), None)
        if found is not None:
            out.append(StreamLag(stream, found.get("lag"), found.get("pending", 0)))
    last = float(flushed) if isinstance(flushed, bytes | str) else None
    return GroupStatus(out, last)


def as_json(store: HistoryStore, found: list[DatasetStatus], historians: GroupStatus | None,
            now: float | None = None) -> dict[str, Any]:
    """What `situationroom history status --json` prints."""
    return {
        "store": store.url,
        "datasets": [asdict(d) for d in found],
        "historians": None if historians is None else {
            "lag": historians.lag, "pending": historians.pending,
            "last_flush": historians.last_flush, "seconds_since_flush": historians.seconds_since_flush(now),
            "streams": [asdict(s) for s in historians.streams]},
    }


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
