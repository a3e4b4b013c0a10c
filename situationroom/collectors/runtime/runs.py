"""One run of a scheduled collector: collect with timeout and retries, check, write, record its health."""

from __future__ import annotations

import asyncio
import logging
import time

from redis.exceptions import RedisError
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from situationroom.collectors import control
from situationroom.collectors.base import CollectError, CollectResult
from situationroom.collectors.runtime.build import clock_fields, describe_error, hook
from situationroom.collectors.runtime.core import BACKLOG_LIMIT, RunnerCore, Running, RunOutcome
from situationroom.collectors.runtime.results import check_result, collect
from situationroom.samples import Rejection, Sample

log = logging.getLogger(__name__)


def _retryable(exc: BaseException) -> bool:
    """Whether another attempt of the run may get another answer (see CollectError.permanent).

    Only an Exception is: a cancel (the runner stopping, the collector removed) ends the run.
    """
    return isinstance(exc, Exception) and not (isinstance(exc, CollectError) and exc.permanent)


class Runs(RunnerCore):
    """The runner's part that runs a collector once and delivers what it produced (live kinds' emits too)."""

    async def run_once(self, cid: str) -> RunOutcome:
        """One scheduled run: collect with timeout and retries, validate, write, record health."""
        try:
            outcome = await self._run_once(cid)
        except (RedisError, OSError) as exc:
            # The produced samples wait in the backlog.
            self.outage.failed("collectors cannot reach Redis: %s; keeping samples until it is back", exc)
            return RunOutcome(ok=False, error=f"Redis unreachable: {exc}")
        self.outage.reached()
        return outcome

    async def _run_once(self, cid: str) -> RunOutcome:
        running = self.collectors[cid]
        definition = running.loaded.definition
        try:
            paused = await control.is_paused(self.client, cid)
        except (RedisError, OSError):
            paused = False  # collect anyway: the samples wait in the backlog until Redis is back
        if paused:
            running.paused = True
            await self._record(cid, {"next_run": self._next_run(cid)})
            return RunOutcome(ok=True)
        started = time.time()
        attempts = 0
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(definition.retries + 1),
                wait=wait_exponential(multiplier=definition.backoff, max=max(definition.backoff, 60)),
                # A refused key or a spent quota answers the same to every retry (and retries spend the quota).
                retry=retry_if_exception(_retryable),
                reraise=True,
            ):
                with attempt:
                    attempts += 1
                    async with asyncio.timeout(definition.timeout):
                        await hook(running.instance.starting)
                        result = await collect(running.instance, time.time())
        except Exception as exc:  # any failure of a plugin is a health error, never a crash
            error = running.redact(describe_error(exc, definition.timeout))
            if running.backlog:  # what an earlier run produced still goes out
                running.backlog = await self._write(running.backlog)
            running.state = "failing"
            await self._record(cid, {
                "last_run": started, "last_error": error, "last_error_at": time.time(),
                "duration_ms": int((time.time() - started) * 1000), "next_run": self._next_run(cid),
                "samples_last_run": 0, "attempts_last_run": attempts,
            }, incr={"runs": 1, "failures": 1, "consecutive_failures": 1})
            if not running.failing:
                log.error("collector %s failing after %d attempt(s): %s", cid, attempts, error)
                running.failing = True
            return RunOutcome(ok=False, error=error, attempts=attempts)
        return await self._deliver(running, result, started, attempts=attempts)

    async def _deliver(self, running: Running, result: CollectResult, started: float, *,
                       attempts: int) -> RunOutcome:
        """Validate what a run (or a live kind's emit) produced, write it, and record the health."""
        cid = running.loaded.id
        checked = check_result(result, self.catalog, self.settings, source=cid, redact=running.redact,
                               exercise=running.loaded.exercise)
        batch = running.backlog + checked.samples
        running.backlog = batch  # kept until written, in case Redis fails in between
        if checked.rejected:
            await self.writer.reject(checked.rejected, source=cid)
        running.backlog = await self._write(batch)
        await self.writer.publish_messages(checked.messages, updates_maxlen=self.settings.updates_maxlen)
        await self._delivered(running)
        written = len(checked.samples)
        if not running.loaded.live:
            running.state = "ok"
        await self._record(cid, {
            "last_run": started, "last_success": time.time(),
            "duration_ms": int((time.time() - started) * 1000), "samples_last_run": written,
            "rejected_last_run": len(checked.rejected), "next_run": self._next_run(cid),
            "consecutive_failures": 0, "attempts_last_run": attempts, **clock_fields(running.instance),
        }, incr={"runs": 1, "samples_total": written, "rejected_total": len(checked.rejected)})
        if running.failing:
            log.info("collector %s recovered", cid)
            running.failing = False
        return RunOutcome(ok=True, written=written, rejected=len(checked.rejected), attempts=attempts)

    async def _delivered(self, running: Running) -> None:
        """Tell the kind its result is written (CollectorKind.delivered). Its failure is logged, not the
        run's: the samples are written, the worst is that the kind produces them again next run."""
        timeout = running.loaded.definition.timeout
        try:
            async with asyncio.timeout(timeout):
                await hook(running.instance.delivered)
        except Exception as exc:
            log.error("collector %s: keeping what its run delivered failed: %s", running.loaded.id,
                      running.redact(describe_error(exc, timeout)))

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
        checked = check_result(CollectResult(produced), self.catalog, self.settings, source=source)
        return checked.samples, checked.rejected

