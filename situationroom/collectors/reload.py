"""Hot reload of the site's collectors folder: a file added, changed or removed takes effect without a restart.

What each change does is `CollectorRunner.sync()`'s business (see runtime.py): added → started,
changed → restarted with the new definition, removed → stopped and its health forgotten, invalid →
the last good version keeps running with `config_error` in its health.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from situationroom.collectors.runtime import CollectorRunner

log = logging.getLogger(__name__)


def _relevant(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return (name.endswith(".yaml") or name.endswith(".py")) and not name.startswith((".", "_"))


async def watch(runner: CollectorRunner, stop: asyncio.Event | None = None) -> None:
    """Re-sync the runner whenever a collector file or plugin changes, until `stop` is set."""
    from situationroom import filewatch

    folder = runner.settings.collectors_dir
    folder.mkdir(parents=True, exist_ok=True)
    async for changes in filewatch.changes(folder, stop=stop):
        if not any(_relevant(p) for _, p in changes):
            continue
        try:
            await runner.sync()
        except Exception:  # the watcher must outlive a surprise in one reload
            log.exception("reloading the collectors folder failed")
