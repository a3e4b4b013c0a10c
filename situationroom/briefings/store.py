"""The site's briefing definitions as the roles use them: loaded at start and again when a file in briefings/
changes; a broken file is logged once (file:line) and its last good version stays in use."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

from situationroom import filewatch
from situationroom.briefings.definition import NAME_PATTERN, Briefing, known_people, load_briefing
from situationroom.catalog import Catalog
from situationroom.errors import ConfigError
from situationroom.settings import Settings

log = logging.getLogger(__name__)


class BriefingStore:
    """Every briefing of the site's folder, each the last version of its file that loaded."""

    def __init__(self, settings: Settings, catalog: Catalog) -> None:
        self.folder = settings.briefings_dir
        self.catalog = catalog
        # The people files are read once: an audience is checked against the staff the roles started with.
        self.known = known_people(settings)
        self.briefings: dict[str, Briefing] = {}
        self.errors: dict[str, ConfigError] = {}
        """Files that do not load as they are now (their last good version, if any, stays in `briefings`)."""
        self.versions: dict[str, str] = {}
        """Digest of each file as last read, good or bad: an unchanged file is not read or logged again."""

    def load_all(self) -> bool:
        """Read every file of the folder (and forget those gone); whether any definition changed."""
        names = set()
        for path in sorted(self.folder.glob("*.yaml")) if self.folder.is_dir() else []:
            if NAME_PATTERN.match(path.stem):
                names.add(path.stem)
            elif path.stem not in self.versions:
                self.versions[path.stem] = ""
                log.error("briefing file %s ignored: a name is lower-case letters, digits, - and _", path)
        return any([self.reload(name) for name in sorted(names | set(self.briefings) | set(self.errors))])

    def reload(self, name: str) -> bool:
        """Read one file again; whether the definition in use changed."""
        path = self.folder / f"{name}.yaml"
        try:
            content = path.read_bytes()
        except FileNotFoundError:
            self.versions.pop(name, None)
            self.errors.pop(name, None)
            if self.briefings.pop(name, None) is None:
                return False
            log.info("briefing %s: its file was removed; it is no longer made", name)
            return True
        except OSError as exc:
            content = repr(exc).encode()
        version = hashlib.blake2b(content, digest_size=8).hexdigest()
        if self.versions.get(name) == version:
            return False  # touched, not changed (an editor saving twice)
        self.versions[name] = version
        try:
            found = load_briefing(path, self.catalog, self.known)
        except ConfigError as exc:
            self.errors[name] = exc
            kept = "keeping its last good version" if name in self.briefings else "not made until it is fixed"
            log.error("briefing %s is invalid (%s):\n%s", name, kept, exc)
            return False
        if self.errors.pop(name, None) is not None:
            log.info("briefing %s is valid again", name)
        elif name in self.briefings:
            log.info("briefing %s reloaded", name)
        self.briefings[name] = found
        return True

    async def watch(self, on_change: Callable[[], None], stop: asyncio.Event | None = None) -> None:
        """Reload files as they change until `stop` is set, calling `on_change` when a definition in use changed."""
        await asyncio.to_thread(self.folder.mkdir, parents=True, exist_ok=True)
        async for changes in filewatch.changes(self.folder, stop=stop):
            stems = {Path(p).stem for _, p in changes if p.endswith(".yaml")}
            names = sorted(n for n in stems if NAME_PATTERN.match(n))
            if any([self.reload(name) for name in names]):
                on_change()
