"""Live collectors (subscriptions): kept running, restarted with backoff when they crash, their state shown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

from redis.exceptions import RedisError

from situationroom.aio import wait_event
from situationroom.collectors.base import LIVE_STATES, CollectResult
from situationroom.collectors.runtime.build import describe_error
from situationroom.collectors.runtime.core import RunnerCore, Running
from situationroom.collectors.runtime.results import as_result
from situationroom.samples import Sample

log = logging.getLogger(__name__)

LIVE_BACKOFF_MAX = 60.0


class Supervise(RunnerCore):
    """The runner's part that keeps live kinds running."""

    def _set_state(self, cid: str, state: str, error: str | None = None) -> None:
        if state not in LIVE_STATES:
            raise ValueError(f"state must be one of {', '.join(LIVE_STATES)}")
        running = self.collectors.get(cid)
        if running is None:
            return
        running.state = state
        fields: dict[str, Any] = {}
        if error:
            fields.update(last_error=error, last_error_at=time.time())
        with contextlib.suppress(RuntimeError):  # no loop: called while stopping
            self._spawn(self._record_quietly(cid, fields))

    async def _live(self, cid: str, running: Running) -> None:
        """Keep a live kind running: restart it with backoff when it crashes, until stopped."""
        stop = running.live_stop
        assert stop is not None
        definition = running.loaded.definition
        backoff = definition.backoff

        async def emit(result: CollectResult | Sequence[Sample]) -> None:
            if running.paused or stop.is_set():
                return  # paused: what arrives is not written
            started = time.time()
            try:
                await self._deliver(running, as_result(result), started, attempts=1)
            except (RedisError, OSError) as exc:
                self.outage.failed("collectors cannot reach Redis: %s; keeping samples until it is back", exc)
                return
            self.outage.reached()
            nonlocal backoff
            backoff = definition.backoff  # it works: the next crash starts from the first delay

        while not stop.is_set():
            began = time.monotonic()
            running.state = "live"  # until the kind says more (connected); its first emit records it
            try:
                await running.instance.run(emit, stop)
                if stop.is_set():
                    return
                error = "run() returned while the collector was not stopped"
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a crash of the kind restarts it; the others go on
                error = running.redact(describe_error(exc, definition.timeout))
            if time.monotonic() - began > LIVE_BACKOFF_MAX:
                backoff = definition.backoff
            running.state = "disconnected"
            log.error("collector %s stopped (%s); restarting in %gs", cid, error, backoff)
            with contextlib.suppress(RedisError, OSError):
                await self._record(cid, {"last_error": error, "last_error_at": time.time()},
                                   incr={"failures": 1, "consecutive_failures": 1})
            await wait_event(stop, backoff)
            backoff = min(backoff * 2, LIVE_BACKOFF_MAX)

