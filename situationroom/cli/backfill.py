"""Filling the history store with the simulated city's past: `situationroom history backfill` and `up`'s start.

Each simulator collector of the site that runs in real time gets the hours of the last N days the exercise dataset
holds none of its samples for, generated from its own simulation (collectors/kinds/simulator/backfill.py) in a pool
of worker processes, one collector per task, and written newest day first, so a chart asking for the whole span
sees it once its oldest day is there. Hours already present are skipped and written rows are never written again
(history/past.py), so running it twice adds nothing."""

from __future__ import annotations

import functools
import logging
import math
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow.compute as pc

from situationroom.errors import ConfigError
from situationroom.settings import Settings

if TYPE_CHECKING:
    from situationroom.catalog import Catalog
    from situationroom.collectors.kinds.simulator import Simulator
    from situationroom.history.store import HistoryStore

log = logging.getLogger(__name__)

HOUR = 3600
DAY = 86_400
MAX_DAYS = 3650
"""The longest past one backfill writes (ten years)."""
PART_DAYS = 8
"""Days of one collector one process generates at a time: small enough to share a month among the processes
evenly, large enough that the running sums' warm-up at a part's start costs little."""
READ_TRIES = 3


@dataclass(frozen=True, slots=True)
class Simulated:
    """A simulator collector of the site: its id and file, its series, the rows a day of its past holds, and why
    it has no past to fill (None: it has one)."""

    id: str
    path: Path
    series: int
    rows_per_day: int
    skipped: str | None = None


@dataclass(frozen=True, slots=True)
class Filled:
    """What one part of a backfill (a collector's days) did."""

    id: str
    days: int
    hours: int
    """Hours generated: those of its days the store held none of the collector's samples in."""
    written: int
    """Rows written (rows the store already held are not)."""
    files: int


@dataclass
class Backfill:
    """A whole backfill: the span, the collectors filled and skipped, the parts done, and how long it took."""

    days: int
    until: float
    simulators: list[Simulated] = field(default_factory=list)
    parts: int = 0
    filled: list[Filled] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def real_time(self) -> list[Simulated]:
        return [s for s in self.simulators if s.skipped is None]

    @property
    def skipped(self) -> list[Simulated]:
        return [s for s in self.simulators if s.skipped is not None]

    @property
    def series(self) -> int:
        return sum(s.series for s in self.real_time)

    @property
    def written(self) -> int:
        return sum(f.written for f in self.filled)

    @property
    def share_done(self) -> float:
        """How much of the work is done, 0..1 (each part weighed by the rows it generates)."""
        weight = {s.id: s.rows_per_day for s in self.real_time}
        total = sum(weight.values()) * self.days
        return min(1.0, sum(weight[f.id] * f.days for f in self.filled) / total) if total else 1.0

    @property
    def complete(self) -> bool:
        return len(self.filled) == self.parts


def simulators(settings: Settings) -> list[Simulated]:
    """The site's enabled simulator collectors, each built as the collect role builds it (so `--scenario`,
    `--speed` and `--seed` count), with the reason it is skipped when it replays a scenario. Collector files that
    do not load are the collect role's to report: they are left out here."""
    from situationroom.collectors.definition import load_collectors
    from situationroom.collectors.kinds.simulator.backfill import replay_reason, rows_per_day

    loaded, _ = load_collectors(settings.collectors_dir)
    out = []
    for item in loaded:
        if item.definition.kind != "simulator" or not item.definition.enabled or item.params is None:
            continue
        try:
            instance = _simulator(settings, item.path)
        except ConfigError:
            continue
        catalog = instance.context.catalog
        series = sum(len(catalog.entities_of(i)) for i in instance.indicators if i in instance.sim.series)
        out.append(Simulated(item.id, item.path, series, rows_per_day(instance), replay_reason(instance)))
    return out


def backfill(settings: Settings, days: int, *, until: float | None = None, workers: int | None = None,
             on_progress: Callable[[Backfill], None] | None = None, stop: threading.Event | None = None) -> Backfill:
    """Write the last `days` days before `until` (default now) of every real-time simulator of the site into the
    exercise dataset. `on_progress` hears after each part; `stop` ends the work early (the pool's processes are
    ended; what they had written stays, and a later backfill fills the rest)."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_DAYS}, not {days}")
    began = time.monotonic()
    done = Backfill(days, time.time() if until is None else until, simulators(settings))
    jobs = _parts(settings, done)
    done.parts = len(jobs)
    if jobs:
        count = max(1, min(len(jobs), workers or os.cpu_count() or 1))
        # Processes, not threads: generating the values is pure Python, which would hold the GIL the roles of a
        # running `situationroom up` need. Spawned, not forked: the parent runs an event loop and threads.
        with multiprocessing.get_context("spawn").Pool(count, initializer=_worker_start) as pool:
            results = pool.imap_unordered(_fill_job, jobs)
            while not done.complete:
                if stop is not None and stop.is_set():
                    pool.terminate()
                    break
                try:
                    done.filled.append(results.next(timeout=0.5))
                except multiprocessing.TimeoutError:
                    continue
                if on_progress is not None:
                    on_progress(done)
    done.seconds = time.monotonic() - began
    return done


def _parts(settings: Settings, done: Backfill) -> list[tuple[Settings, str, Path, float, int, int]]:
    """The work in parts of one collector and at most PART_DAYS UTC dates (a date is one file per domain), so that
    the pool's processes share it evenly: the newest dates first, and among them the largest parts first."""
    first = (int(done.until) - done.days * DAY) // HOUR * HOUR
    top = math.ceil(done.until / HOUR) * HOUR
    jobs = []
    for s in done.real_time:
        end = top
        while end > first:
            begin = max(first, (end - 1) // DAY * DAY - (PART_DAYS - 1) * DAY)
            jobs.append((settings, s.id, s.path, done.until, begin, end))
            end = begin
    rank = {s.id: -s.rows_per_day for s in done.real_time}
    jobs.sort(key=lambda job: (-job[5], rank[job[1]]))
    return jobs


def _worker_start() -> None:
    # Ctrl-C reaches the whole process group: the parent ends the pool, the workers must not print tracebacks.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _fill_job(job: tuple[Settings, str, Path, float, int, int]) -> Filled:
    return fill(*job)


def fill(settings: Settings, collector_id: str, path: Path, until: float, first: int, end: int) -> Filled:
    """Backfill the simulator collector of the file at `path` over the hours [first, end) (epoch s, whole hours;
    instants before `until`): those the exercise dataset holds none of its samples in, written newest day first."""
    from situationroom.collectors.kinds.simulator.backfill import past_samples
    from situationroom.history.past import write_past
    from situationroom.history.store import store_for

    simulator = _simulator(settings, path)
    catalog = simulator.context.catalog
    store = store_for(settings)
    domains = {i.id: i.domain for i in catalog.indicators.values()}
    mine = sorted({domains[i] for i in simulator.indicators})
    # What the store holds from before `until` only: the samples of a run started then are not the past.
    present = held_hours(store, collector_id, mine, first, min(end, math.floor(until)))
    hours = [h for h in range(first, end, HOUR) if h not in present and h < until]
    table = past_samples(simulator, hours, until)
    days = pc.divide(table["ts"], DAY * 1000)
    written = files = 0
    for day in sorted(set(days.to_pylist()), reverse=True):
        # Newest day first: a chart asking for the whole span finds it complete once its oldest day is there.
        result = write_past(store, table.filter(pc.equal(days, day)), True, domains)
        written += result.written
        files += len(result.files)
    log.debug("backfill %s: %d hours, %d rows in %d files", collector_id, len(hours), written, files)
    return Filled(collector_id, round((end - first) / DAY), len(hours), written, files)


@functools.lru_cache(maxsize=32)
def _built(settings_json: str, path: Path) -> Simulator:
    from situationroom.collectors.definition import load_collector
    from situationroom.collectors.kinds.simulator import Simulator
    from situationroom.collectors.runtime.build import build_kind

    settings = Settings.model_validate_json(settings_json)
    simulator = build_kind(load_collector(path), _catalog(settings.seeds), settings)
    assert isinstance(simulator, Simulator)
    return simulator


@functools.lru_cache(maxsize=4)
def _catalog(seeds: Path) -> Catalog:
    from situationroom.catalog import load_catalog

    return load_catalog(seeds)


def _simulator(settings: Settings, path: Path) -> Simulator:
    """The simulator collector of a file, built once per process (a pool's process fills several parts of it)."""
    return _built(settings.model_dump_json(), path)


def held_hours(store: HistoryStore, source: str, domains: list[str], first: int, end: int) -> set[int]:
    """The UTC hours (starts, epoch s) in [first, end) the exercise dataset holds any sample of `source` in."""
    import duckdb
    import pyarrow.dataset as ds

    from situationroom.history import layout

    dates = layout.dates_between(first * 1000, end * 1000)
    since, until = (datetime.fromtimestamp(t, UTC) for t in (first, end))
    for attempt in range(READ_TRIES):
        paths = store.files_for(layout.EXERCISE, dates, domains)
        if not paths:
            return set()
        # Two columns of what may be weeks of a running site's samples: DuckDB reads them without holding them.
        con = duckdb.connect()
        try:
            con.register("past", ds.dataset(paths, schema=layout.SCHEMA, format="parquet", filesystem=store.fs))
            found = con.execute("SELECT DISTINCT epoch_ms(ts) // 3600000 FROM past WHERE source = ? AND ts >= ? "
                                "AND ts < ?", [source, since, until]).fetchall()
            return {hour * HOUR for (hour,) in found}
        except (duckdb.Error, OSError):
            # A compaction replaced files listed a moment ago; their rows are in the merged file now.
            if attempt == READ_TRIES - 1:
                raise
        finally:
            con.close()
    return set()


def progress_line(done: Backfill) -> str:
    """How far a backfill is, on one line."""
    return f"{done.share_done:.0%} of {done.days} days of simulated history ({done.series:,} series)…"


def summary_line(done: Backfill) -> str | None:
    """What a finished (or stopped) backfill did, on one line; None when the site has no simulator."""
    if not done.simulators:
        return None
    why: dict[str, list[str]] = {}
    for s in done.skipped:
        why.setdefault(s.skipped or "", []).append(s.id)
    skipped = "; ".join(f"{', '.join(ids)}: {reason}" for reason, ids in why.items())
    if not done.real_time:
        return f"none: every simulator replays a scenario, whose simulated time has no real past ({skipped})"
    if not done.complete:
        return f"stopped at {done.share_done:.0%}; the next start fills in the rest"
    what = (f"{done.written:,} samples of {done.series:,} series written in {done.seconds:.1f} s" if done.written
            else "already in the store")
    return f"{done.days} days of simulated history, {what}" + (f" (skipped {skipped})" if skipped else "")


class InBackground:
    """`situationroom up`'s backfill: it starts with the roles and runs beside them, and prints its progress on one
    line (updated in place on a terminal) once `up` has said where it serves."""

    PREFIX = "  History fill:  "

    def __init__(self, settings: Settings, days: int) -> None:
        self.settings = settings
        self.days = days
        self.stopping = threading.Event()
        self.shown = threading.Event()
        self.result: Backfill | None = None
        self._thread = threading.Thread(target=self._run, name="history-backfill", daemon=True)
        self._tty = sys.stdout.isatty()

    def start(self) -> InBackground:
        self._thread.start()
        return self

    def banner_printed(self) -> None:
        """`up` printed where it serves: the progress may follow."""
        self.shown.set()

    def stop(self, timeout: float = 10) -> None:
        self.stopping.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        from situationroom.cli.event_history import record_apart
        from situationroom.cli.event_history import summary_line as event_line
        from situationroom.events import load_events

        lines: list[str] = []
        try:
            self.result = backfill(self.settings, self.days, stop=self.stopping, on_progress=self._progress)
            lines += [line] if (line := summary_line(self.result)) is not None else []
            if not self.stopping.is_set():
                # The named events the dashboards compare with: their recorded scenarios, as exercise history.
                names = {e.id: e.name_en for e in load_events(self.settings.seeds)}
                lines += [event_line(done, names) for done in record_apart(self.settings, self.stopping)]
        except Exception as exc:  # the demo's past is an extra: the roles go on without it, and say why
            log.warning("history backfill failed: %s", exc)
        while lines and not self.stopping.is_set():
            if self.shown.wait(0.5):
                for line in lines:
                    self._print(line, end="\n")
                return

    def _progress(self, done: Backfill) -> None:
        if self._tty and self.shown.is_set() and not done.complete:
            self._print(progress_line(done), end="")

    def _print(self, text: str, end: str) -> None:
        # On a terminal the line is written over in place; elsewhere (a log file) only the outcome is.
        prefix = "\r\x1b[2K" if self._tty else ""
        sys.stdout.write(f"{prefix}{self.PREFIX}{text}{end}")
        sys.stdout.flush()
