"""Running a briefing by name: on demand (CLI, API) or when its schedule says, made once across processes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from situationroom import keys
from situationroom.briefings import deliver
from situationroom.briefings.definition import Briefing
from situationroom.briefings.make import make
from situationroom.briefings.sections import Reads
from situationroom.briefings.store import BriefingStore
from situationroom.catalog import Catalog
from situationroom.errors import Refused
from situationroom.history.query import HistoryQuery
from situationroom.history.seam import SeriesPast
from situationroom.history.store import store_for
from situationroom.settings import Settings

log = logging.getLogger(__name__)

CLAIM_MS = 7 * 86_400_000
"""How long a scheduled occurrence stays claimed: far past any restart, so it is never made twice."""


@dataclass
class Site:
    """What running briefings needs: the reads and the definitions (reloaded when their files change)."""

    reads: Reads
    store: BriefingStore

    @classmethod
    def load(cls, client: aioredis.Redis, catalog: Catalog, settings: Settings, *,
             past: SeriesPast | None = None) -> Site:
        """The site's briefings; a broken file is logged and left out (its last good version once it had one)."""
        store = BriefingStore(settings, catalog)
        store.load_all()
        past = past or SeriesPast(client, HistoryQuery(store_for(settings)), settings, catalog.city.timezone)
        return cls(Reads(client, catalog, settings, past), store)

    @property
    def briefings(self) -> dict[str, Briefing]:
        return self.store.briefings

    def get(self, name: str) -> Briefing:
        found = self.briefings.get(name)
        if found is None:
            known = ", ".join(self.briefings) or "none (add briefings/*.yaml to the site)"
            raise Refused(404, f"no such briefing; the site's briefings: {known}", "name", name)
        return found

    async def run(self, name: str, at_ms: int, by: str) -> tuple[dict[str, Any], bytes]:
        """Make and archive briefing `name` for the period ending at `at_ms`, and hand it to the notify role, which
        delivers it to the audience (its outcomes are read back from the delivery log)."""
        briefing = self.get(name)
        record, pdf = await make(self.reads, briefing, at_ms, by)
        await deliver.queue(self.reads.client, briefing, record)
        return record, pdf

    async def claim(self, name: str, due_ms: int) -> bool:
        """Whether this process makes the occurrence of `name` due at `due_ms`: the first to claim it does, every
        other process (another briefing role, one restarted) skips it."""
        return bool(await self.reads.client.set(keys.briefing_claim(name, due_ms), "1", nx=True, px=CLAIM_MS))
