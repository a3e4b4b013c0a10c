"""Bringing the running collectors in line with the site's collector files (start, restart, keep, stop, report).

Collector files are (re)read by `sync()`, at start and whenever the watcher (runtime/reload.py) sees the
folder change: a new file starts its collector, a changed one restarts it with the new definition, a
removed one stops it and forgets its health. A file that becomes invalid while its collector runs does
NOT stop it: the last good version keeps running and the health says `config_error` (with
file:line:field) until the file is fixed; a file invalid from the start is `invalid`. Secrets (`${NAME}`
values) are masked in every log line, health field and error. A sync whose health writes Redis refuses
still applies every file (the health follows once Redis takes it).
"""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path
from typing import Any

from redis.exceptions import RedisError

from situationroom.collectors import control, health, registry
from situationroom.collectors.base import CollectorKind
from situationroom.collectors.definition import LoadedCollector, hint_failed_plugins, load_collector
from situationroom.collectors.runtime.build import build_kind, describe_error, describe_schedule
from situationroom.collectors.runtime.core import RunnerCore, Running
from situationroom.errors import ConfigError, Problem

log = logging.getLogger(__name__)


class Reconcile(RunnerCore):
    """The runner's part that reads the folder: `sync()`, and collectors the product adds (a drill's)."""

    def _instantiate(self, loaded: LoadedCollector) -> CollectorKind[Any]:
        cid = loaded.id
        settings = self.settings
        if cid in self._added:
            # The command line's simulation overrides (--scenario, --speed, --seed) are for the site's own
            # simulators: a drill plays the scenario it was started with.
            settings = settings.model_copy(update={"scenario": None, "speed": None, "seed": None})
        return build_kind(loaded, self.catalog, settings,
                          set_state=lambda state, error=None: self._set_state(cid, state, error))

    async def load(self) -> None:
        """Load every collector file; invalid ones are reported in their health, the rest run."""
        await self.sync()

    async def sync(self) -> None:
        """Bring the running collectors in line with the folder's files (see the module docstring)."""
        async with self._sync_lock:
            await self._sync()

    async def _sync(self) -> None:
        folder = self.settings.collectors_dir
        registry.names()
        problems: list[Problem] = list(registry.entry_point_problems)
        self.plugins.load(folder)
        plugin_problems = self.plugins.all_problems()
        problems.extend(plugin_problems)
        paths = {p.stem: p for p in sorted(folder.glob("*.yaml"))} if folder.is_dir() else {}
        for cid, path in paths.items():
            self._unforgotten.discard(cid)
            try:
                await self._sync_file(cid, path, plugin_problems, problems)
            except Exception as exc:  # a surprise in one file must not leave the others (and _files) behind
                log.exception("collector %s: applying %s failed", cid, path)
                problems.append(Problem(f"applying the file failed: {describe_error(exc, 0)}", str(path)))
        for cid in sorted(self._files - set(paths)):
            if cid in self.collectors:
                await self._stop_one(cid)
            self._errors.pop(cid, None)
            self._unwritten.pop(cid, None)
            try:
                await health.forget(self.client, cid)
            except (RedisError, OSError):
                self._unforgotten.add(cid)
            log.info("collector %s removed (its file is gone)", cid)
        self._files = set(paths)
        self.problems = problems

    async def _sync_file(self, cid: str, path: Path, plugin_problems: list[Problem],
                         problems: list[Problem]) -> None:
        """Start, restart, keep, disable or report one collector file."""
        try:
            loaded: LoadedCollector | None = load_collector(path)
            error = None
        except ConfigError as exc:
            hint_failed_plugins(exc.problems, plugin_problems)
            loaded, error = None, exc
        if loaded is not None and loaded.definition.enabled:
            broken = self.plugins.broken(loaded.definition.kind)
            if broken and cid in self.collectors:  # its plugin's last good code keeps running
                await self._invalid(cid, path, ConfigError(list(broken)))
                return
            try:
                await self._apply(loaded)
                return
            except ConfigError as exc:  # the kind refused its params (e.g. an unknown scenario)
                error = exc
        if error is not None:
            problems.extend(error.problems)
            await self._invalid(cid, path, error)
            return
        assert loaded is not None
        if cid in self.collectors:
            await self._stop_one(cid)
            log.info("collector %s disabled", cid)
        self._errors.pop(cid, None)
        await self._record_best_effort(cid, {
            "state": "disabled", "kind": loaded.definition.kind, "file": self._file_of(path),
            "schedule": describe_schedule(loaded), "name_ko": loaded.definition.name_ko,
            "name_en": loaded.definition.name_en, "needs_env": ", ".join(loaded.missing_env),
            "config_error": "", "next_run": "",
        })

    async def _invalid(self, cid: str, path: Path, error: ConfigError) -> None:
        # The log names the file in full; health (the API, /ops) names it from the site, as operators know it.
        text = str(error)
        shown = error.relative_to(self.settings.site)
        running = self.collectors.get(cid)
        if self._errors.get(cid) != text:
            kept = "; the last good version keeps running" if running else ""
            log.error("collector %s: invalid file%s:\n%s", cid, kept, text)
            self._errors[cid] = text
        if running is not None:
            running.config_error = shown
            await self._record_best_effort(cid, {"config_error": shown, "config_error_at": time.time()})
        else:
            await self._record_best_effort(cid, {
                "state": "invalid", "last_error": shown, "last_error_at": time.time(), "file": self._file_of(path),
                "next_run": "",
            })

    async def _apply(self, loaded: LoadedCollector) -> None:
        """Start a collector, restart it when its definition (or its kind's code) changed, or leave it be."""
        cid = loaded.id
        running = self.collectors.get(cid)
        kind = registry.get(loaded.definition.kind)
        if running is not None and running.loaded.definition == loaded.definition \
                and running.loaded.params == loaded.params and type(running.instance) is kind:
            if running.config_error is not None:
                log.info("collector %s: its file is valid again", cid)
                running.config_error = None
                self._errors.pop(cid, None)
                await self._record_best_effort(cid, {"config_error": "", "config_error_at": ""})
            return
        instance = self._instantiate(loaded)  # before stopping the old one: a refusal keeps it running
        if running is not None:
            await self._stop_one(cid)
            log.info("collector %s changed: restarted with the new definition", cid)
        self._errors.pop(cid, None)
        new = Running(loaded, instance, state="live" if loaded.live else "scheduled")
        with contextlib.suppress(RedisError, OSError):
            new.paused = await control.is_paused(self.client, cid)
        self.collectors[cid] = new
        # Scheduled before its health is written: a collector in `collectors` without a job would
        # never run (the next sync sees the same definition and leaves it be).
        if self._started:
            self._activate(cid)
        await self._record_best_effort(cid, {
            "kind": loaded.definition.kind,
            "name_ko": loaded.definition.name_ko, "name_en": loaded.definition.name_en,
            "schedule": describe_schedule(loaded), "file": self._file_of(loaded.path), "config_error": "",
            "config_error_at": "", "needs_env": "", "exercise": loaded.exercise, "clock": None,
        })

    async def add_collector(self, loaded: LoadedCollector) -> None:
        """Run a collector that no file defines (a drill's scenario) until `remove_collector`; a sync of the
        folder leaves it be."""
        self._added.add(loaded.id)
        try:
            await self._apply(loaded)
        except BaseException:
            self._added.discard(loaded.id)
            raise

    async def remove_collector(self, cid: str) -> None:
        """Stop a collector added with `add_collector` and forget its health."""
        self._added.discard(cid)
        await self._stop_one(cid)
        with contextlib.suppress(RedisError, OSError):
            await health.forget(self.client, cid)
