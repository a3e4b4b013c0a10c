"""Watching the site's folders for changed files (dashboards, collectors, rules), with one set of timings."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from pathlib import Path

from watchfiles import Change, awatch

DEBOUNCE_MS = 300
"""Changes within this long are handed over together (an editor writes a file in several steps)."""
STEP_MS = 250
"""How often the watcher's thread wakes to look for changes and for `stop`. At 50 ms each watcher cost
1.7 ms of CPU a second with nothing changing (20 wake-ups taking the GIL); `up` runs three, for weeks."""


def changes(*paths: Path, stop: asyncio.Event | None = None) -> AsyncGenerator[set[tuple[Change, str]], None]:
    """Batches of (change, path) in the given folders (not their subfolders) until `stop` is set."""
    # watchfiles logs every batch at INFO; each reloader logs what the change did instead.
    if logging.getLogger("watchfiles").level == logging.NOTSET:
        logging.getLogger("watchfiles").setLevel(logging.WARNING)
    return awatch(*paths, stop_event=stop, debounce=DEBOUNCE_MS, step=STEP_MS, recursive=False)
