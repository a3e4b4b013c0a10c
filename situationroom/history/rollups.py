"""Rollups of the samples at 1 minute, 1 hour and 1 day (count, sum, min, max, last), written as periods close.

A closed hour of a partition gets its 1-minute and 1-hour rollups (`rollup-HH.parquet`); a closed day gets the
1-minute, 1-hour and 1-day rollups of the whole day (`rollup-day.parquet`), which replace the hour files. A rollup
is computed from the deduplicated samples of its period and named by the period alone, so computing it again
replaces it: a late sample in a closed period makes the period's files newer than its rollup, and the next pass
computes that rollup again. Periods are UTC, like the date partitions (docs/history.md says why). Exercise samples
get rollups of their own (`layout.EXERCISE_ROLLUPS`), so the demo's and a drill's long charts read them too."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import pyarrow as pa

from situationroom.history import layout, query
from situationroom.history.layout import Partition
from situationroom.history.store import DataFile, HistoryStore

log = logging.getLogger(__name__)

HOURLY = ("1m", "1h")
"""The resolutions a closed hour is rolled up to; a closed day adds 1d."""

_ROLLUP = ("SELECT indicator::VARCHAR AS indicator, entity::VARCHAR AS entity, "
           "(epoch_ms(ts) // {step}) * {step} AS start, count(*) AS count, "
           "sum(value) AS sum, min(value) AS min, max(value) AS max, "
           # The newest sample's value; two sources at one instant: the greater, so every computation agrees.
           "max_by(value, (epoch_ms(ts), value)) AS last, max(epoch_ms(ts)) AS last_ts "
           "FROM samples GROUP BY ALL ORDER BY indicator, entity, start")


def roll_up(samples: pa.Table, resolution: str) -> pa.Table:
    """The rollups of deduplicated samples at one resolution, in the rollup schema, sorted by series and start."""
    step = layout.ROLLUP_STEP_MS[resolution]
    con = query.connect()
    try:
        con.register("samples", samples)
        out = con.sql(_ROLLUP.format(step=step)).to_arrow_table()
    finally:
        con.close()
    return layout.conform(out, layout.ROLLUP_SCHEMA)


_DEDUP = ("SELECT indicator::VARCHAR AS indicator, entity::VARCHAR AS entity, epoch_ms(start) AS start, "
          "max(count) AS count, max_by(sum, count) AS sum, max_by(min, count) AS min, max_by(max, count) AS max, "
          "max_by(last, count) AS last, max_by(epoch_ms(last_ts), count) AS last_ts "
          "FROM rollups GROUP BY ALL ORDER BY indicator, entity, start")


def deduplicated(rollups: pa.Table) -> pa.Table:
    """Rollup rows once per series and period: a reader meeting one period in two files (a day's rollups replacing
    its hours) keeps the row with the greater count, the one computed from more samples."""
    con = query.connect()
    try:
        con.register("rollups", rollups)
        out = con.sql(_DEDUP).to_arrow_table()
    finally:
        con.close()
    return layout.conform(out, layout.ROLLUP_SCHEMA)


def rollup_partition(partition: Partition, resolution: str) -> Partition:
    """The partition of the rollups at `resolution` of a partition of samples (real or exercise)."""
    return Partition(layout.rollups_of(partition.dataset)[resolution], partition.date, partition.domain)


def _newest(files: list[DataFile]) -> float:
    return max(f.mtime for f in files)


def _done(store: HistoryStore, partition: Partition) -> dict[str, DataFile]:
    """The rollup files of a partition of samples that say which periods are done: the 1-hour ones, written last."""
    return {f.name: f for f in store.files(rollup_partition(partition, "1h"))}


def _fresh(store: HistoryStore, partition: Partition, name: str, inputs: list[DataFile],
           done: dict[str, DataFile] | None = None) -> bool:
    """Whether the rollup file `name` was written after every one of its inputs (`done`: `_done`'s listing, when the
    caller has it)."""
    found = (_done(store, partition) if done is None else done).get(name)
    return found is not None and found.mtime > _newest(inputs)


@dataclass(frozen=True, slots=True)
class Current:
    """A closed period of a partition of samples whose rollups are current: [start, end) in epoch ms, the rollup
    file's name in each rollup dataset, and the resolutions that file holds."""

    start: int
    end: int
    name: str
    resolutions: tuple[str, ...]


def current(store: HistoryStore, partition: Partition, files: list[DataFile] | None = None) -> list[Current]:
    """The periods of a partition of samples whose rollups are newer than every sample file of the period (the rule
    that decides what to roll up again), oldest first: the whole day, or its closed hours. Everything else (open
    hours, periods with a late sample not rolled up yet) must be read from the samples. `files`: the partition's
    files, when the caller listed them already."""
    files = store.files(partition) if files is None else files
    done = _done(store, partition) if files else {}
    if not done:
        return []
    day = layout.day_start(partition.date)
    if _fresh(store, partition, layout.ROLLUP_DAY_NAME, files, done):
        return [Current(day, day + layout.DAY_MS, layout.ROLLUP_DAY_NAME, (*HOURLY, "1d"))]
    if any(layout.hour_of_file(f.name) is None for f in files):
        return []  # a day file holds every hour of the day: only the day's rollups are computed from it
    return [Current(day + hour * layout.HOUR_MS, day + (hour + 1) * layout.HOUR_MS, layout.rollup_hour_name(hour),
                    HOURLY)
            for hour, inputs in sorted(store.files_by_hour(partition, files).items())
            if _fresh(store, partition, layout.rollup_hour_name(hour), inputs, done)]


def _write(store: HistoryStore, partition: Partition, name: str, inputs: list[DataFile],
           resolutions: tuple[str, ...]) -> None:
    write_rollups(store, partition, name, query.deduplicated(store.read(f.path for f in inputs)), resolutions)


def write_rollups(store: HistoryStore, partition: Partition, name: str, samples: pa.Table,
                  resolutions: tuple[str, ...] = (*HOURLY, "1d")) -> None:
    """Write the rollups `name` of a period of a partition from its deduplicated samples (all of the period's)."""
    # The 1-hour file last: its being newer than the inputs is what says the period's rollups are done.
    for resolution in sorted(resolutions, key=lambda r: r == "1h"):
        store.write(rollup_partition(partition, resolution), name, roll_up(samples, resolution),
                    schema=layout.ROLLUP_SCHEMA)


def roll_day(store: HistoryStore, partition: Partition, quiet: float, now: float | None = None) -> bool:
    """Write a closed past day's 1-minute, 1-hour and 1-day rollups (once nothing has been written to it for
    `quiet` seconds and its rollups are older than its files), then drop its hour rollups (until then a reader sees
    the same rows twice: rollups are deduplicated on series and start); whether it did."""
    now = time.time() if now is None else now
    if partition.date >= layout.date_of(int(now * 1000)):
        return False
    files = store.files(partition)
    if not files or _newest(files) > now - quiet or _fresh(store, partition, layout.ROLLUP_DAY_NAME, files):
        return False
    _write(store, partition, layout.ROLLUP_DAY_NAME, files, (*HOURLY, "1d"))
    for resolution in HOURLY:
        hours = [f.path for f in store.files(rollup_partition(partition, resolution))
                 if f.name != layout.ROLLUP_DAY_NAME]
        store.delete(hours)
    return True


def roll_hours(store: HistoryStore, partition: Partition, quiet: float, now: float | None = None) -> int:
    """Write the 1-minute and 1-hour rollups of each closed hour of the partition whose rollups are missing or
    older than its files; returns how many hours it rolled up."""
    now = time.time() if now is None else now
    by_hour = store.files_by_hour(partition)
    listed = _done(store, partition)
    done = 0
    for hour, files in sorted(by_hour.items()):
        name = layout.rollup_hour_name(hour)
        if _newest(files) > now - quiet or _fresh(store, partition, name, files, listed):
            continue
        _write(store, partition, name, files, HOURLY)
        done += 1
    return done


def roll_closed(store: HistoryStore, quiet: float, now: float | None = None) -> int:
    """Roll up every closed past day, and every closed hour of today, of the real and of the exercise samples;
    returns the periods rolled up. A past day is rolled up whole, never by hours: its hours may be spread over a day
    file and late flush files."""
    now = time.time() if now is None else now
    today = layout.date_of(int(now * 1000))
    done = 0
    for dataset in layout.DATASETS:
        for partition in store.partitions(dataset):
            if partition.date < today:
                done += roll_day(store, partition, quiet, now)
            else:
                done += roll_hours(store, partition, quiet, now)
    if done:
        log.debug("history: %d periods rolled up", done)
    return done
