"""The operators' commands reaching the collect role: pause, resume and run now, polled from their control record."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.exceptions import RedisError

from situationroom.collectors import control
from situationroom.collectors.runtime.core import RunnerCore

log = logging.getLogger(__name__)

CONTROL_POLL = 0.5
"""Seconds between two reads of the operators' control records (pause, run now)."""


class Commands(RunnerCore):
    """The runner's part that follows the operators' control records (collectors/control.py)."""

    async def _poll_controls(self) -> None:
        """Pause/resume and run-now from the control hashes (set by the API or by hand with HSET)."""
        while not self._stopping:
            # Redis down: the runs say so (once); the controls wait for it.
            with contextlib.suppress(RedisError, OSError):
                await self._write_unwritten()
                await self.poll_controls()
            await asyncio.sleep(CONTROL_POLL)

    async def poll_controls(self) -> None:
        """Act on what operators asked since the last poll: a pause or resume, a run now (taken once)."""
        for cid, (paused, run_now) in (await control.take_requests(self.client, self.collectors)).items():
            running = self.collectors.get(cid)
            if running is None:
                continue
            if paused != running.paused:
                running.paused = paused
                log.info("collector %s %s by an operator", cid, "paused" if paused else "resumed")
                await self._record(cid, {"next_run": self._next_run(cid)})
            if run_now and not paused and not running.loaded.live:
                self.run_now(cid)

