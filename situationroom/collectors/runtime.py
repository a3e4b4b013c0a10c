"""Runs collectors on their schedules: timeouts, no overlap, jitter, retries with backoff, health."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import redis.asyncio as aioredis
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from tenacity import AsyncRetrying, stop_after_attempt, wait_exponential

from situationroom import samples as samples_mod
from situationroom.catalog import Catalog
from situationroom.collectors import health, registry
from situationroom.collectors.base import CollectorContext, CollectorKind, CollectResult
from situationroom.collectors.definition import LoadedCollector, load_collectors
from situationroom.errors import ConfigError, Problem
from situationroom.samples import Rejection, Sample
from situationroom.settings import Settings
from situationroom.streams import StreamWriter

log = logging.getLogger(__name__)


@dataclass
class RunOutcome:
    ok: bool
    written: int = 0
    rejected: int = 0
    error: str | None = None
    attempts: int = 0


@dataclass
class _Running:
    loaded: LoadedCollector
    instance: CollectorKind
    failing: bool = False
    history: list[float] = field(default_factory=list)


class CollectorRunner:
    """Schedules every enabled collector of a site. One runner per `collect` role process."""

    def __init__(self, client: aioredis.Redis, catalog: Catalog, settings: Settings) -> None:
        self.client = client
        self.catalog = catalog
        self.settings = settings
        self.writer = StreamWriter(client, partitions=settings.partitions, retention=settings.stream_retention,
                                   deadletter_maxlen=settings.deadletter_maxlen,
                                   batch_size=settings.batch_size)
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.collectors: dict[str, _Running] = {}
        self.problems: list[Problem] = []

    def _instantiate(self, loaded: LoadedCollector) -> CollectorKind:
        kind = registry.get(loaded.definition.kind)
        assert kind is not None
        interval = loaded.definition.schedule.interval
        ctx = CollectorContext(loaded.id, self.catalog, self.settings.site,
                               logging.getLogger(f"situationroom.collector.{loaded.id}"), interval,
                               self.settings)
        return kind(loaded.params, ctx)

    async def load(self) -> None:
        """Load every collector file; invalid ones are reported in their health, the rest run."""
        loaded, self.problems = load_collectors(self.settings.collectors_dir)
        for problem in self.problems:
            log.error("collector config: %s", problem)
            cid = problem.file.rsplit("/", 1)[-1].rsplit(".", 1)[0] if problem.file else "unknown"
            await health.record(self.client, cid, {"state": "invalid", "last_error": str(problem),
                                                   "last_error_at": time.time()})
        for item in loaded:
            if not item.definition.enabled:
                await health.record(self.client, item.id, {"state": "disabled", "kind": item.definition.kind})
                continue
            try:
                instance = self._instantiate(item)
            except ConfigError as exc:
                for p in exc.problems:
                    p.file = p.file or str(item.path)
                    log.error("collector config: %s", p)
                self.problems.extend(exc.problems)
                await health.record(self.client, item.id, {"state": "invalid", "last_error": str(exc),
                                                           "last_error_at": time.time()})
                continue
            self.collectors[item.id] = _Running(item, instance)
            await health.record(self.client, item.id, {
                "state": "scheduled", "kind": item.definition.kind,
                "name_ko": item.definition.name_ko, "name_en": item.definition.name_en,
                "schedule": _describe_schedule(item),
            })

    def start(self) -> None:
        for cid, running in self.collectors.items():
            sched = running.loaded.definition.schedule
            if sched.interval is not None:
                trigger = IntervalTrigger(seconds=sched.interval, jitter=sched.jitter or None)
            else:
                trigger = CronTrigger.from_crontab(sched.cron, timezone=self.catalog.city.timezone)
                if sched.jitter:
                    trigger.jitter = sched.jitter
            self.scheduler.add_job(
                self.run_once, trigger, args=[cid], id=cid, name=cid, max_instances=1, coalesce=True,
                misfire_grace_time=max(1, int(sched.interval or 60)), next_run_time=_now_dt(),
            )
        self.scheduler.start()

    async def stop(self) -> None:
        # Stop the scheduler before the loop ends; a running job is cancelled with its task.
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        for running in self.collectors.values():
            try:
                await running.instance.close()
            except Exception as exc:  # closing one must not stop the others
                log.warning("closing collector %s: %s", running.loaded.id, exc)

    async def _collect(self, instance: CollectorKind, now: float) -> tuple[list[Sample], list[Rejection]]:
        if inspect.iscoroutinefunction(instance.collect):
            result = await instance.collect(now)
        else:
            # A plugin written synchronously runs in a thread, so it cannot block the other collectors.
            result = await asyncio.to_thread(instance.collect, now)  # type: ignore[arg-type]
        if isinstance(result, CollectResult):
            return list(result.samples), list(result.rejected)
        return list(result), []

    async def run_once(self, cid: str) -> RunOutcome:
        """One scheduled run: collect with timeout and retries, validate, write, record health."""
        running = self.collectors[cid]
        definition = running.loaded.definition
        if await health.is_paused(self.client, cid):
            await health.record(self.client, cid, {"state": "paused", "next_run": self._next_run(cid)})
            return RunOutcome(ok=True)
        started = time.time()
        attempts = 0
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(definition.retries + 1),
                wait=wait_exponential(multiplier=definition.backoff, max=max(definition.backoff, 60)),
                reraise=True,
            ):
                with attempt:
                    attempts += 1
                    async with asyncio.timeout(definition.timeout):
                        produced, rejected = await self._collect(running.instance, time.time())
        except Exception as exc:  # any failure of a plugin is a health error, never a crash
            error = _describe_error(exc, definition.timeout)
            await health.record(self.client, cid, {
                "state": "failing", "last_run": started, "last_error": error, "last_error_at": time.time(),
                "duration_ms": int((time.time() - started) * 1000), "next_run": self._next_run(cid),
                "samples_last_run": 0,
            }, incr={"runs": 1, "failures": 1, "consecutive_failures": 1})
            if not running.failing:
                log.error("collector %s failing after %d attempt(s): %s", cid, attempts, error)
                running.failing = True
            return RunOutcome(ok=False, error=error, attempts=attempts)

        good, bad = self.validate(produced, source=cid)
        bad_items = [(r, None) for r in rejected] + bad
        written = await self.writer.write(good)
        if bad_items:
            await self.writer.reject(bad_items, source=cid)
        await health.record(self.client, cid, {
            "state": "ok", "last_run": started, "last_success": time.time(),
            "duration_ms": int((time.time() - started) * 1000), "samples_last_run": written,
            "rejected_last_run": len(bad_items), "next_run": self._next_run(cid), "consecutive_failures": 0,
        }, incr={"runs": 1, "samples_total": written, "rejected_total": len(bad_items)})
        if running.failing:
            log.info("collector %s recovered", cid)
            running.failing = False
        return RunOutcome(ok=True, written=written, rejected=len(bad_items), attempts=attempts)

    def validate(self, produced: list[Sample], *, source: str
                 ) -> tuple[list[Sample], list[tuple[Rejection, object]]]:
        now = time.time()
        good: list[Sample] = []
        bad: list[tuple[Rejection, object]] = []
        for s in produced:
            if not isinstance(s, Sample):
                bad.append((Rejection("sample", "collector returned something that is not a Sample",
                                      repr(s)[:200]), None))
                continue
            problem = samples_mod.check(s, self.catalog, now=now, max_age=self.settings.late_limit)
            if problem is None:
                good.append(s)
            else:
                bad.append((problem, {"indicator": s.indicator, "entity": s.entity, "ts": s.ts, "value": s.value}))
        return good, bad

    def _next_run(self, cid: str) -> float | None:
        job = self.scheduler.get_job(cid) if self.scheduler.running else None
        return job.next_run_time.timestamp() if job and job.next_run_time else None

    async def run(self, stop: asyncio.Event) -> None:
        await self.load()
        self.start()
        log.info("collecting: %s", ", ".join(self.collectors) or "no collectors")
        try:
            await stop.wait()
        finally:
            await self.stop()


def _describe_schedule(item: LoadedCollector) -> str:
    s = item.definition.schedule
    return f"every {s.interval:g}s" if s.interval is not None else f"cron {s.cron}"


def _describe_error(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"timed out after {timeout:g}s"
    text = str(exc) or exc.__class__.__name__
    return f"{exc.__class__.__name__}: {text}"[:500]


def _now_dt() -> datetime:
    return datetime.now(UTC)
