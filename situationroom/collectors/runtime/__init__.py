"""Runs a site's collectors: schedules (timeouts, no overlap, jitter, retries), live kinds, operator commands, health.

`CollectorRunner` is put together from its parts, one module each: reconcile.py (the folder's files),
schedule.py (jobs, run now, stopping), supervise.py (live kinds), commands.py (the operators' control
records), runs.py (one run), over core.py (their shared state and health writes). dryrun.py and checking.py
run and build collectors without a runner (`collectors run --dry-run`, `collectors check`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from situationroom.collectors import drills
from situationroom.collectors.runtime import reload
from situationroom.collectors.runtime.checking import check_collectors
from situationroom.collectors.runtime.commands import Commands
from situationroom.collectors.runtime.dryrun import DryRun, dry_run
from situationroom.collectors.runtime.reconcile import Reconcile
from situationroom.collectors.runtime.runs import Runs
from situationroom.collectors.runtime.schedule import Schedule
from situationroom.collectors.runtime.supervise import Supervise

__all__ = ["CollectorRunner", "DryRun", "check_collectors", "dry_run"]

log = logging.getLogger(__name__)


class CollectorRunner(Reconcile, Schedule, Supervise, Commands, Runs):
    """Runs every enabled collector of a site. One runner per `collect` role process."""

    async def run(self, stop: asyncio.Event) -> None:
        watcher = drill_task = None
        try:  # stop() closes whatever the first sync built, even if it did not finish
            await self.sync()
            self.start()
            log.info("collecting: %s", ", ".join(self.collectors) or "no collectors")
            if self.watch:
                watcher = asyncio.get_running_loop().create_task(
                    reload.watch(self.settings.collectors_dir, self.sync, stop), name="collectors-watch")
            drill_task = asyncio.get_running_loop().create_task(drills.follow(self, stop), name="collectors-drills")
            await stop.wait()
        finally:
            if drill_task is not None:
                # It ends on `stop` by itself, stopping the drill's collector; cancelled only if that hangs.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(drill_task), 5)
                drill_task.cancel()
                await asyncio.gather(drill_task, return_exceptions=True)
            if watcher is not None:
                watcher.cancel()
                await asyncio.gather(watcher, return_exceptions=True)
            await self.stop()
