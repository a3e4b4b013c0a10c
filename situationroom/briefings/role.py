"""The briefing role: makes each briefing when its schedule says, once across every process that runs the role."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from zoneinfo import ZoneInfo

import redis.asyncio as aioredis

from situationroom.aio import wait_event
from situationroom.briefings.run import Site
from situationroom.catalog import Catalog
from situationroom.errors import ConfigError
from situationroom.settings import Settings

log = logging.getLogger(__name__)

CATCH_UP_MS = 15 * 60_000
"""An occurrence missed by less than this (the role was restarting) is still made; older ones are not."""
MAX_SLEEP_S = 60.0
"""Wake at least this often: the clock may jump (a suspended VM), and stopping must not wait for the next brief."""


class BriefingRole:
    def __init__(self, client: aioredis.Redis, catalog: Catalog, settings: Settings, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.catalog = catalog
        self.settings = settings
        self.tz = ZoneInfo(catalog.city.timezone)
        self.clock = clock

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    async def due(self, site: Site, now_ms: int) -> list[tuple[str, int]]:
        """(name, scheduled ms) of each briefing whose latest occurrence is due now and not made by anyone yet."""
        out = []
        for name, b in site.briefings.items():
            at = b.previous(now_ms, self.tz)
            if at is not None and now_ms - at <= CATCH_UP_MS and await site.claim(name, at):
                out.append((name, at))
        return out

    async def tick(self, site: Site) -> list[str]:
        """Make every due briefing; the ids made."""
        made = []
        for name, at in await self.due(site, self.now_ms()):
            try:
                record, _ = await site.run(name, at, "schedule")
            except Exception:
                # One broken briefing must not stop the others (the claim stays: it is not retried blindly).
                log.exception("briefing %s due at %s failed", name, at)
                continue
            made.append(record["id"])
            log.info("briefing %s made: %s", name, record["id"])
        return made

    def sleep_s(self, site: Site) -> float:
        nxt = [n for b in site.briefings.values() if (n := b.next_after(self.now_ms(), self.tz)) is not None]
        if not nxt:
            return MAX_SLEEP_S
        return max(0.05, min(MAX_SLEEP_S, (min(nxt) - self.now_ms()) / 1000))

    async def run(self, stop: asyncio.Event) -> None:
        try:
            site = Site.load(self.client, self.catalog, self.settings)
        except ConfigError as exc:  # the people files: an audience cannot be checked without them
            log.error("briefings: %s; no briefing is made on schedule until it is fixed and the role restarted", exc)
            await stop.wait()
            return
        log.info("briefing role: %s", ", ".join(site.briefings) or "no briefings in the site")
        # A changed file may move the next occurrence earlier: wake and sleep again by the new schedules.
        wake = asyncio.Event()

        async def relay_stop() -> None:
            await stop.wait()
            wake.set()

        helpers = [asyncio.create_task(site.store.watch(wake.set, stop), name="briefings-watcher"),
                   asyncio.create_task(relay_stop(), name="briefings-stop")]
        try:
            while not stop.is_set():
                await self.tick(site)
                wake.clear()
                await wait_event(wake, self.sleep_s(site))
        finally:
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
