"""Runs collectors on their schedules: timeouts, no overlap, jitter, retries with backoff, health."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import redis.asyncio as aioredis
from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from redis.exceptions import RedisError
from tenacity import AsyncRetrying, stop_after_attempt, wait_exponential

from situationroom import messages as messages_mod
from situationroom import samples as samples_mod
from situationroom.catalog import Catalog
from situationroom.collectors import health, registry
from situationroom.collectors.base import CollectorContext, CollectorKind, CollectResult
from situationroom.collectors.definition import LoadedCollector, load_collectors
from situationroom.errors import ConfigError, Problem
from situationroom.messages import Message
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


# Samples a collector produced while Redis was unreachable are kept (up to this many) and
# written with its next run, so a short Redis outage loses no data.
BACKLOG_LIMIT = 100_000


@dataclass
class _Running:
    loaded: LoadedCollector
    instance: CollectorKind
    failing: bool = False
    backlog: list[Sample] = field(default_factory=list)


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
        self._inflight: set[asyncio.Task[object]] = set()
        self._stopping = False
        self._redis_down = False

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
        """Schedule every loaded collector; each runs once right away, then on its trigger."""
        _quiet_apscheduler()
        for cid, running in self.collectors.items():
            sched = running.loaded.definition.schedule
            if sched.interval is not None:
                trigger = IntervalTrigger(seconds=sched.interval, jitter=sched.jitter or None)
            else:
                trigger = CronTrigger.from_crontab(sched.cron, timezone=self.catalog.city.timezone)
                if sched.jitter:
                    trigger.jitter = sched.jitter
            # max_instances=1: a run still going when the next is due makes that one skipped (and
            # counted in the health), never a second concurrent run of the same collector.
            self.scheduler.add_job(
                self._job, trigger, args=[cid], id=cid, name=cid, max_instances=1, coalesce=True,
                misfire_grace_time=max(1, int(sched.interval or 60)), next_run_time=_now_dt(),
            )
        self.scheduler.add_listener(self._on_skipped, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED)
        self.scheduler.start()

    def _on_skipped(self, event: JobEvent) -> None:
        # Called in the loop's thread by the scheduler; the health write runs as its own task.
        if event.job_id in self.collectors and not self._stopping:
            task = asyncio.get_running_loop().create_task(self._record_skip(event.job_id))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)

    async def _record_skip(self, cid: str) -> None:
        with contextlib.suppress(RedisError, OSError):
            await health.record(self.client, cid, {"next_run": self._next_run(cid)}, incr={"skipped": 1})

    async def _job(self, cid: str) -> None:
        """The scheduled job: one run, cancelled quietly when the runner stops."""
        task = asyncio.current_task()
        assert task is not None
        self._inflight.add(task)
        try:
            await self.run_once(cid)
        except asyncio.CancelledError:
            if not self._stopping:
                raise
        finally:
            self._inflight.discard(task)

    async def stop(self, grace: float = 2.0) -> None:
        """Stop scheduling, give running collectors `grace` seconds to finish, cancel the rest.

        Everything is awaited here, before the event loop ends, so no run is cut off by the loop
        closing (which would log a CancelledError from inside APScheduler).
        """
        self._stopping = True
        if self.scheduler.running:
            self.scheduler.pause()
            if self._inflight:
                await asyncio.wait(list(self._inflight), timeout=grace)
            self.scheduler.shutdown(wait=False)  # cancels the runs still going
        pending = [t for t in self._inflight if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        for running in self.collectors.values():
            try:
                await running.instance.close()
            except Exception as exc:  # closing one must not stop the others
                log.warning("closing collector %s: %s", running.loaded.id, exc)

    async def _collect(self, instance: CollectorKind, now: float) -> CollectResult:
        if inspect.iscoroutinefunction(instance.collect):
            result = await instance.collect(now)
        else:
            # A plugin written synchronously runs in a thread, so it cannot block the other collectors.
            result = await asyncio.to_thread(instance.collect, now)  # type: ignore[arg-type]
        if isinstance(result, CollectResult):
            return result
        return CollectResult(list(result))

    async def run_once(self, cid: str) -> RunOutcome:
        """One scheduled run: collect with timeout and retries, validate, write, record health."""
        try:
            outcome = await self._run_once(cid)
        except (RedisError, OSError) as exc:
            # Redis is down: the produced samples wait in the backlog; say so once, not every run.
            if not self._redis_down:
                log.error("collectors cannot reach Redis: %s; keeping samples until it is back", exc)
                self._redis_down = True
            return RunOutcome(ok=False, error=f"Redis unreachable: {exc}")
        if self._redis_down:
            log.info("collectors reach Redis again")
            self._redis_down = False
        return outcome

    async def _run_once(self, cid: str) -> RunOutcome:
        running = self.collectors[cid]
        definition = running.loaded.definition
        try:
            paused = await health.is_paused(self.client, cid)
        except (RedisError, OSError):
            paused = False  # collect anyway: the samples wait in the backlog until Redis is back
        if paused:
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
                        result = await self._collect(running.instance, time.time())
        except Exception as exc:  # any failure of a plugin is a health error, never a crash
            error = _describe_error(exc, definition.timeout)
            if running.backlog:  # what an earlier run produced still goes out
                running.backlog = await self._write(running.backlog)
            await health.record(self.client, cid, {
                "state": "failing", "last_run": started, "last_error": error, "last_error_at": time.time(),
                "duration_ms": int((time.time() - started) * 1000), "next_run": self._next_run(cid),
                "samples_last_run": 0, "attempts_last_run": attempts,
            }, incr={"runs": 1, "failures": 1, "consecutive_failures": 1})
            if not running.failing:
                log.error("collector %s failing after %d attempt(s): %s", cid, attempts, error)
                running.failing = True
            return RunOutcome(ok=False, error=error, attempts=attempts)

        good, bad = self.validate(list(result.samples), source=cid)
        bad_items = [(r, None) for r in result.rejected] + bad
        messages = []
        for m in result.messages:
            problem = messages_mod.check(m, self.catalog) if isinstance(m, Message) else \
                ("message", "collector returned something that is not a Message")
            if problem is None:
                messages.append(m)
            else:
                bad_items.append((Rejection(problem[0], problem[1], getattr(m, problem[0], repr(m)[:200])),
                                  m.as_dict() if isinstance(m, Message) else None))
        batch = running.backlog + good
        running.backlog = batch  # kept until written, in case Redis fails in between
        if bad_items:
            await self.writer.reject(bad_items, source=cid)
        running.backlog = await self._write(batch)
        await self.writer.publish_messages(messages, updates_maxlen=self.settings.updates_maxlen)
        written = len(good)
        await health.record(self.client, cid, {
            "state": "ok", "last_run": started, "last_success": time.time(),
            "duration_ms": int((time.time() - started) * 1000), "samples_last_run": written,
            "rejected_last_run": len(bad_items), "next_run": self._next_run(cid), "consecutive_failures": 0,
            "attempts_last_run": attempts,
        }, incr={"runs": 1, "samples_total": written, "rejected_total": len(bad_items)})
        if running.failing:
            log.info("collector %s recovered", cid)
            running.failing = False
        return RunOutcome(ok=True, written=written, rejected=len(bad_items), attempts=attempts)

    async def _write(self, batch: list[Sample]) -> list[Sample]:
        """Write a batch; returns what is left to write (nothing, unless Redis failed)."""
        try:
            await self.writer.write(batch)
        except (RedisError, OSError):
            if len(batch) > BACKLOG_LIMIT:
                log.error("dropping %d oldest unwritten samples (Redis unreachable)", len(batch) - BACKLOG_LIMIT)
                del batch[: len(batch) - BACKLOG_LIMIT]
            raise
        return []

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


def _quiet_apscheduler() -> None:
    # APScheduler logs every run at INFO and every skipped run at WARNING; collectors log on a
    # change of state only (failing / recovered) and count skips in their health instead.
    for name in ("apscheduler.executors.default", "apscheduler.scheduler"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.ERROR)


def _now_dt() -> datetime:
    return datetime.now(UTC)
