"""Scheduled collectors on APScheduler: one job each (no overlap, jitter, skips counted), run now, stopping."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from redis.exceptions import RedisError

from situationroom.collectors import health
from situationroom.collectors.runtime.core import RunnerCore

log = logging.getLogger(__name__)


def _quiet_apscheduler() -> None:
    # APScheduler logs every run at INFO and every skipped run at WARNING; collectors log on a
    # change of state only (failing / recovered) and count skips in their health instead.
    for name in ("apscheduler.executors.default", "apscheduler.scheduler"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.ERROR)


def _now_dt() -> datetime:
    return datetime.now(UTC)


class Schedule(RunnerCore):
    """The runner's part that starts and stops collectors: a job per scheduled one, a task per live one."""

    def start(self) -> None:
        """Start every loaded collector: scheduled ones run once right away, then on their trigger."""
        _quiet_apscheduler()
        self.scheduler.add_listener(self._on_skipped, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED)
        self.scheduler.start()
        self._started = True
        for cid in self.collectors:
            self._activate(cid)
        self._poller = asyncio.get_running_loop().create_task(self._poll_controls(), name="collector-controls")

    def _activate(self, cid: str) -> None:
        running = self.collectors[cid]
        if running.loaded.live:
            running.live_stop = asyncio.Event()
            running.live_task = asyncio.get_running_loop().create_task(self._live(cid, running),
                                                                       name=f"collector-{cid}")
            return
        sched = running.loaded.definition.schedule
        assert sched is not None
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
            replace_existing=True,
        )

    def _on_skipped(self, event: JobEvent) -> None:
        # Called in the loop's thread by the scheduler; the health write runs as its own task.
        if event.job_id in self.collectors and not self._stopping:
            self._spawn(self._record_skip(event.job_id))

    async def _record_skip(self, cid: str) -> None:
        with contextlib.suppress(RedisError, OSError):
            await health.record(self.client, cid, {"next_run": self._next_run(cid)}, incr={"skipped": 1})

    async def _job(self, cid: str) -> None:
        """The scheduled job: one run, cancelled quietly when the runner stops."""
        task = asyncio.current_task()
        assert task is not None
        self._inflight.add(task)
        running = self.collectors.get(cid)
        if running is not None:
            running.tasks.add(task)
        try:
            await self.run_once(cid)
        except asyncio.CancelledError:
            if not self._stopping and (running is None or cid in self.collectors):
                raise
        finally:
            self._inflight.discard(task)
            if running is not None:
                running.tasks.discard(task)

    async def stop(self, grace: float = 2.0) -> None:
        """Stop scheduling, give running collectors `grace` seconds to finish, cancel the rest.

        Everything is awaited here, before the event loop ends, so no run is cut off by the loop
        closing (which would log a CancelledError from inside APScheduler).
        """
        self._stopping = True
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
        for running in self.collectors.values():
            if running.live_stop is not None:
                running.live_stop.set()
        live = [r.live_task for r in self.collectors.values() if r.live_task is not None]
        if self.scheduler.running:
            self.scheduler.pause()
        waiting = [*self._inflight, *live]
        if waiting:
            await asyncio.wait(waiting, timeout=grace)
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)  # cancels the runs still going
        pending = [t for t in (*self._inflight, *live) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        for running in self.collectors.values():
            try:
                await running.instance.close()
            except Exception as exc:  # closing one must not stop the others
                log.warning("closing collector %s: %s", running.loaded.id, running.redact(str(exc)))
        self.plugins.forget_all()  # the site's kinds leave with it (another runner may load another site)

    def run_now(self, cid: str) -> None:
        """Run a scheduled collector now (its schedule then counts from now); a run in progress wins."""
        job = self.scheduler.get_job(cid) if self.scheduler.running else None
        if job is not None:
            job.modify(next_run_time=_now_dt())
        elif cid in self.collectors:
            self._spawn(self.run_once(cid))

