"""Hot reload of the site's collectors folder: the watcher that re-syncs the runner, and the plugins re-imported.

What each change of a collector file does is `sync()`'s business (runtime/reconcile.py): added → started,
changed → restarted with the new definition, removed → stopped and its health forgotten, invalid → the
last good version keeps running with `config_error` in its health. A plugin (`*.py`) is imported again
when its content changes; one that fails keeps its last good kinds registered.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from situationroom import filewatch
from situationroom.collectors import registry
from situationroom.collectors.plugin_loader import load_plugin, plugin_files
from situationroom.errors import ConfigError, Problem

log = logging.getLogger(__name__)


def _relevant(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return (name.endswith(".yaml") or name.endswith(".py")) and not name.startswith((".", "_"))


async def watch(folder: Path, sync: Callable[[], Awaitable[None]], stop: asyncio.Event | None = None) -> None:
    """Call `sync` whenever a collector file or plugin in `folder` changes, until `stop` is set."""
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    async for changes in filewatch.changes(folder, stop=stop):
        if not any(_relevant(p) for _, p in changes):
            continue
        try:
            await sync()
        except Exception:  # the watcher must outlive a surprise in one reload
            log.exception("reloading the collectors folder failed")


def _digest(path: Path) -> str:
    try:
        return hashlib.blake2b(path.read_bytes(), digest_size=8).hexdigest()
    except OSError:
        return ""


class PluginReloader:
    """The site's plugin files as last imported: which changed since, and the problems of those that failed."""

    def __init__(self) -> None:
        self._digests: dict[Path, str] = {}
        self.problems: dict[Path, list[Problem]] = {}
        """Plugin files whose last version failed to import (their last good kinds stay registered)."""

    def load(self, folder: Path) -> None:
        """Import the plugins added or changed since the last call; unregister the kinds of removed ones."""
        current = {p: _digest(p) for p in plugin_files(folder)}
        for path, digest in current.items():
            if self._digests.get(path) == digest:
                continue
            self._digests[path] = digest
            try:
                names = load_plugin(path)
            except ConfigError as exc:
                self.problems[path] = exc.problems
                for p in exc.problems:
                    log.error("collector plugin: %s", p)
                continue
            if self.problems.pop(path, None) is not None:
                log.info("collector plugin %s is valid again", path.name)
            log.info("collector plugin %s: %s", path.name, ", ".join(names))
        for path in set(self._digests) - set(current):
            del self._digests[path]
            self.problems.pop(path, None)
            registry.forget_origin(str(path))
            log.info("collector plugin %s removed", path.name)

    def all_problems(self) -> list[Problem]:
        return [p for ps in self.problems.values() for p in ps]

    def broken(self, kind: str) -> list[Problem] | None:
        """The problems of the plugin file that defines `kind`, when its last version failed to import."""
        origin = registry.origin(kind)
        return self.problems.get(Path(origin)) if origin else None

    def forget_all(self) -> None:
        """Unregister every kind the site's plugins defined (another runner may load another site)."""
        for path in self._digests:
            registry.forget_origin(str(path))
        self._digests.clear()
