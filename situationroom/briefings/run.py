"""Running a briefing by name: on demand (CLI, API) or when its schedule says, made once across processes."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from situationroom import keys
from situationroom.briefings import archive, deliver
from situationroom.briefings.definition import Briefing, site_briefings
from situationroom.briefings.make import make
from situationroom.briefings.sections import Reads
from situationroom.catalog import Catalog
from situationroom.errors import Refused
from situationroom.history.query import HistoryQuery
from situationroom.history.seam import SeriesPast
from situationroom.history.store import store_for
from situationroom.notify.channels.base import Channel, ChannelContext
from situationroom.notify.channels.config import load_channels
from situationroom.notify.people import People, has_people, load_people
from situationroom.settings import Settings

log = logging.getLogger(__name__)

CLAIM_MS = 7 * 86_400_000
"""How long a scheduled occurrence stays claimed: far past any restart, so it is never made twice."""


@dataclass
class Site:
    """What running briefings needs: the reads, the definitions, the people and the channels."""

    reads: Reads
    briefings: dict[str, Briefing]
    people: People | None
    channels: dict[str, Channel] = field(default_factory=dict)

    @classmethod
    def load(cls, client: aioredis.Redis, catalog: Catalog, settings: Settings, *,
             past: SeriesPast | None = None) -> Site:
        """The site's briefings, people and channels (ConfigError when a file is wrong)."""
        briefings = site_briefings(settings, catalog)
        people = load_people(settings.seeds) if has_people(settings.seeds) else None
        ctx = ChannelContext(client, catalog, settings)
        channels = load_channels(settings.channels_file, ctx) if settings.channels_file.is_file() else {}
        past = past or SeriesPast(client, HistoryQuery(store_for(settings)), settings, catalog.city.timezone)
        return cls(Reads(client, catalog, settings, past), briefings, people, channels)

    def get(self, name: str) -> Briefing:
        found = self.briefings.get(name)
        if found is None:
            known = ", ".join(self.briefings) or "none (add briefings/*.yaml to the site)"
            raise Refused(404, f"no such briefing; the site's briefings: {known}", "name", name)
        return found

    async def run(self, name: str, at_ms: int, by: str) -> tuple[dict[str, Any], bytes]:
        """Make, archive and deliver briefing `name` for the period ending at `at_ms`; the record says each
        delivery."""
        briefing = self.get(name)
        record, pdf = await make(self.reads, briefing, at_ms, by)
        if self.people is not None:
            pdf_path = str(archive.path_of(self.reads.settings.briefings_archive, record["id"], "pdf"))
            for channel in self.channels.values():
                await channel.start()
            try:
                record["deliveries"] = await deliver.send(briefing, record, pdf_path, self.people, self.channels)
            finally:
                for channel in self.channels.values():
                    await channel.aclose()
            await archive.update(self.reads.client, record)
        return record, pdf

    async def claim(self, name: str, due_ms: int) -> bool:
        """Whether this process makes the occurrence of `name` due at `due_ms`: the first to claim it does, every
        other process (another briefing role, one restarted) skips it."""
        return bool(await self.reads.client.set(keys.briefing_claim(name, due_ms), "1", nx=True, px=CLAIM_MS))
