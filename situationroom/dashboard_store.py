"""Every dashboard of a site, loaded at start and reloaded when a file changes, keeping the last good version."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from situationroom.catalog import Catalog
from situationroom.dashboards import NAME_PATTERN, Dashboard, load_dashboard
from situationroom.errors import ConfigError
from situationroom.events import NONE, Events

log = logging.getLogger(__name__)


@dataclass
class Entry:
    """One dashboard file as the wall sees it: its last good version, and what is wrong with it now."""

    name: str
    path: Path
    dashboard: Dashboard | None = None
    """The last version that loaded; stays up while the file is broken."""
    error: ConfigError | None = None
    """Why the file as it is now cannot be used, or None."""
    version: str = ""
    """Hash of the file as last read (good or bad): changes whenever a page should fetch again."""
    loaded_at: float = field(default_factory=time.time)

    def error_info(self) -> dict[str, Any] | None:
        if self.error is None:
            return None
        return {"message": str(self.error),
                "problems": [{"file": p.file, "line": p.line, "field": p.field, "message": p.message,
                              "value": p.value if p.has_value else None, "text": str(p)}
                             for p in self.error.problems]}


class DashboardStore:
    """Every dashboard of a site, loaded at start and reloaded when a file changes."""

    def __init__(self, folder: Path, catalog: Catalog, events: Events = NONE) -> None:
        self.folder = folder
        self.catalog = catalog
        self.events = events
        self.entries: dict[str, Entry] = {}

    def load_all(self) -> None:
        names = set()
        for path in sorted(self.folder.glob("*.yaml")) if self.folder.is_dir() else []:
            if NAME_PATTERN.match(path.stem):
                names.add(path.stem)
                self.reload(path.stem)
            else:
                log.warning("dashboard file %s ignored: a name is lower-case letters, digits, - and _", path)
        for name in set(self.entries) - names:
            self.reload(name)

    def get(self, name: str) -> Entry | None:
        return self.entries.get(name)

    def reload(self, name: str) -> Entry | None:
        """Read one file again; on error keep the last good version and record (and log) what is wrong."""
        path = self.folder / f"{name}.yaml"
        entry = self.entries.get(name)
        if not path.exists():
            if entry is None:
                return None
            if entry.dashboard is None:
                del self.entries[name]
                return entry
            entry.error = ConfigError.single("the file was removed; the last version stays up until a restart",
                                             file=path)
            entry.version = _digest(b"removed:" + entry.version.encode())
            log.error("dashboard %s: %s", name, entry.error)
            return entry
        try:
            content = path.read_bytes()
        except OSError as exc:
            content = repr(exc).encode()
        if entry is None:
            entry = self.entries[name] = Entry(name, path)
        version = _digest(content)
        if version == entry.version:
            return entry  # an editor touched the file without changing it
        entry.version = version
        entry.loaded_at = time.time()
        try:
            entry.dashboard = load_dashboard(path, self.catalog, self.events)
            if entry.error is not None:
                log.info("dashboard %s is valid again", name)
            entry.error = None
        except ConfigError as exc:
            entry.error = exc
            kept = "keeping the last good version" if entry.dashboard is not None else "nothing to show yet"
            log.error("dashboard %s is invalid (%s):\n%s", name, kept, exc)
        return entry

    async def watch(self, on_change: Callable[[Entry], Awaitable[None] | None],
                    stop: asyncio.Event | None = None) -> None:
        """Reload files as they change until `stop` is set (or the task is cancelled), calling `on_change`."""
        from watchfiles import Change

        from situationroom import filewatch

        self.folder.mkdir(parents=True, exist_ok=True)
        async for changes in filewatch.changes(self.folder, stop=stop):
            names = sorted({Path(p).stem for kind, p in changes
                            if p.endswith(".yaml") and NAME_PATTERN.match(Path(p).stem)
                            and kind in (Change.added, Change.modified, Change.deleted)})
            for name in names:
                before = self.entries.get(name)
                version = before.version if before else None
                entry = self.reload(name)
                if entry is None or entry.version == version:
                    continue
                try:
                    result = on_change(entry)
                    if inspect.isawaitable(result):
                        await result
                except Exception:  # a failed notification must not stop the watcher
                    log.exception("telling the pages about dashboard %s failed", name)


def _digest(content: bytes) -> str:
    return hashlib.blake2b(content, digest_size=8).hexdigest()
