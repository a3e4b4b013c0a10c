"""What every part of the collector runner shares: its state, the running collectors, health writes, stopping one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from redis.exceptions import RedisError

from situationroom.catalog import Catalog
from situationroom.collectors import health
from situationroom.collectors.base import CollectorKind, CollectResult
from situationroom.collectors.definition import LoadedCollector
from situationroom.collectors.runtime.reload import PluginReloader
from situationroom.envref import Redactor
from situationroom.errors import Problem, site_relative
from situationroom.outage import Outage
from situationroom.samples import Sample
from situationroom.settings import Settings
from situationroom.streams import StreamWriter

log = logging.getLogger(__name__)

BACKLOG_LIMIT = 100_000
"""Samples a collector produced while Redis was unreachable are kept (up to this many) and written with
its next run, so a short Redis outage loses no data."""


@dataclass
class RunOutcome:
    ok: bool
    written: int = 0
    rejected: int = 0
    error: str | None = None
    attempts: int = 0


@dataclass
class Running:
    """A collector the runner runs: its definition, its kind's instance and what the runner tracks of it."""

    loaded: LoadedCollector
    instance: CollectorKind[Any]
    failing: bool = False
    backlog: list[Sample] = field(default_factory=list)
    paused: bool = False
    state: str = "scheduled"
    """The state to show when not paused: scheduled/ok/failing, or live/connected/disconnected."""
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    live_task: asyncio.Task[None] | None = None
    live_stop: asyncio.Event | None = None
    config_error: str | None = None

    @property
    def redact(self) -> Callable[[str], str]:
        return getattr(self.loaded, "redact", None) or Redactor()


class RunnerCore(ABC):
    """The runner's state and the steps its parts (reconcile, schedule, supervise, commands, runs) share."""

    def __init__(self, client: aioredis.Redis, catalog: Catalog, settings: Settings, *, watch: bool = True) -> None:
        self.client = client
        self.catalog = catalog
        self.settings = settings
        self.watch = watch
        self.writer = StreamWriter.for_settings(client, settings)
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.collectors: dict[str, Running] = {}
        self.problems: list[Problem] = []
        self.plugins = PluginReloader()
        self.outage = Outage(log, "collectors reach Redis again")
        self._inflight: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self._started = False
        self._files: set[str] = set()
        """Collector ids that have a file (valid or not), so a removed file is noticed."""
        self._added: set[str] = set()
        """Collectors added by the product, not by a file (a running drill's scenario)."""
        self._errors: dict[str, str] = {}
        self._unwritten: dict[str, dict[str, Any]] = {}
        """Health fields a sync could not write (Redis down, or refusing the key): they go with the
        collector's next health write, or with the control poller's once Redis takes them again."""
        self._unforgotten: set[str] = set()
        """Collectors whose file is gone but whose health Redis could not forget yet (the poller retries)."""
        self._poller: asyncio.Task[None] | None = None
        self._sync_lock = asyncio.Lock()

    # Declared here, implemented by one part of the runner and called by another; `CollectorRunner` cannot be
    # made without every part.
    @abstractmethod
    def _activate(self, cid: str) -> None:
        """Schedule or start a collector that is ready (schedule.py)."""

    @abstractmethod
    def run_now(self, cid: str) -> None:
        """Run a scheduled collector at once, as its next run (schedule.py)."""

    @abstractmethod
    async def run_once(self, cid: str) -> RunOutcome:
        """One run of a collector: collect, check, write, record health (runs.py)."""

    @abstractmethod
    async def _live(self, cid: str, running: Running) -> None:
        """Keep a live collector connected (supervise.py)."""

    @abstractmethod
    def _set_state(self, cid: str, state: str, error: str | None = None) -> None:
        """Record a collector's state in its health (runs.py)."""

    @abstractmethod
    async def _deliver(self, running: Running, result: CollectResult, started: float, *,
                       attempts: int) -> RunOutcome:
        """Write what a run produced and record its outcome (runs.py)."""

    @abstractmethod
    async def _poll_controls(self) -> None:
        """Take the operators' pause, resume and run-now requests (commands.py)."""

    # -- shared steps ---------------------------------------------------------------------------

    def _file_of(self, path: Path) -> str:
        return site_relative(path, self.settings.site)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        return task

    def _next_run(self, cid: str) -> float | None:
        job = self.scheduler.get_job(cid) if self.scheduler.running else None
        return job.next_run_time.timestamp() if job and job.next_run_time else None

    async def _stop_one(self, cid: str, grace: float = 2.0) -> None:
        running = self.collectors.pop(cid, None)
        if running is None:
            return
        if self.scheduler.running and self.scheduler.get_job(cid) is not None:
            self.scheduler.remove_job(cid)
        if running.live_stop is not None:
            running.live_stop.set()
        tasks = [t for t in (*running.tasks, running.live_task) if t is not None and not t.done()]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for t in pending:
                t.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        try:
            await running.instance.close()
        except Exception as exc:  # closing one must not stop the others
            log.warning("closing collector %s: %s", cid, running.redact(str(exc)))

    # -- health writes --------------------------------------------------------------------------

    async def _record(self, cid: str, fields: dict[str, Any], incr: dict[str, int] | None = None) -> None:
        unwritten = self._unwritten.pop(cid, None)
        if unwritten:  # what a sync could not write goes along; the newer fields win
            fields = {**unwritten, **fields}
        running = self.collectors.get(cid)
        if running is not None:
            # A running collector's state is its own, written with every health write: an operator's pause
            # wins over whatever a run in flight reports when it ends.
            fields = {**fields, "state": "paused" if running.paused else running.state}
            redact = running.redact
            fields = {k: redact(v) if isinstance(v, str) else v for k, v in fields.items()}
        try:
            await health.record(self.client, cid, fields, incr)
        except BaseException:
            if unwritten:  # kept for the next write (a sync may have added newer fields meanwhile)
                self._unwritten[cid] = {**unwritten, **self._unwritten.get(cid, {})}
            raise

    async def _record_quietly(self, cid: str, fields: dict[str, Any]) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self._record(cid, fields)

    async def _record_best_effort(self, cid: str, fields: dict[str, Any]) -> None:
        """A health write of sync(), best effort: what Redis does not take now is kept and written with
        the collector's next health write (or by the control poller), and never stops the sync."""
        self._unwritten[cid] = {**self._unwritten.get(cid, {}), **fields}
        try:
            await self._record(cid, {})
        except (RedisError, OSError) as exc:
            log.warning("collector %s: health not written (%s); written when Redis takes it", cid, exc)

    async def _write_unwritten(self) -> None:
        """Write what syncs could not (called by the control poller; raises while Redis still refuses)."""
        for cid in sorted(self._unforgotten):
            await health.forget(self.client, cid)
            self._unforgotten.discard(cid)
        for cid in list(self._unwritten):
            await self._record(cid, {})
