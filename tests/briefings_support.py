"""What the briefing tests share: the Pohang site with three weeks (and last year's week) of local-currency spending
in its history store, live river, weather and (exercise) air readings, and an incident whose timeline holds an alert
fired and acknowledged 7.5 minutes later."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from situationroom.briefings.definition import site_briefings
from situationroom.briefings.make import period
from situationroom.catalog import Catalog, load_catalog
from situationroom.history.store import store_for
from situationroom.incidents import store as incident_store
from situationroom.redisconn import async_client
from situationroom.samples import Sample
from situationroom.settings import Settings
from situationroom.streams import StreamWriter
from tests.api_support import aggregate
from tests.history_support import write_batch
from tests.site_support import settings_for

HOUR = 3600
WEEK = 7 * 86_400
FIRED_INTO_PERIOD_S = 300
"""The alert fires five minutes into the latest-starting period of the site's briefings, so every briefing made at
`at` holds it whatever the hour the tests run (a fixed offset before `at` fell before 08:30 from 09:00 to 11:00)."""
ACK_AFTER_S = 450
"""7.5 minutes: the briefing says 7.5분 후."""


@dataclass
class BriefingCity:
    settings: Settings
    catalog: Catalog
    at: int
    """The end of the briefing's period (epoch seconds, a whole hour in the past)."""


def spending(entity: str, ts: int) -> float:
    """A gu's or sector's spending per hour: differs by entity, hour and week (it grows), so a wrong range shows."""
    return round(1.0 + (sum(map(ord, entity)) % 7) * 0.37 + (ts // HOUR % 24) * 0.05 + ts / WEEK % 1000 * 0.02, 2)


def river(ts: int, at: int) -> float:
    """The Hyeongsan River at Hyeongsan Bridge rising through the period towards its live 4.2 m."""
    return round(4.2 - (at - ts) / 86_400 * 2.5, 2)


async def briefing_city(url: str, tmp_path: Path) -> BriefingCity:
    settings = settings_for(url, data_dir=tmp_path / "data", history_dir=tmp_path / "history")
    catalog = load_catalog(settings.seeds)
    at = int(time.time()) // HOUR * HOUR - HOUR
    store = store_for(settings)
    rows = []
    for ind, kind in (("economy.gift_card_spending", "gu"), ("economy.gift_card_by_sector", "sector")):
        entities = [e for e in catalog.entities_of(ind) if catalog.entities[e].kind == kind]
        for start in (at - 2 * WEEK, at - 52 * WEEK - WEEK):
            span = 2 * WEEK if start > at - 3 * WEEK else WEEK
            rows += [Sample(ind, e, t + 1800, spending(e, t), "test")
                     for e in entities for t in range(start, start + span + HOUR, HOUR)]
    rows += [Sample("river.level", "hrfco-2101690", t, river(t, at), "test") for t in range(at - 86_400, at, 600)]
    write_batch(store, catalog, rows, "1700000000000")
    client = async_client(url)
    try:
        writer = StreamWriter(client, partitions=settings.partitions, retention=settings.stream_retention,
                              deadletter_maxlen=settings.deadletter_maxlen)
        now = time.time()
        await writer.write([
            Sample("river.level", "hrfco-2101690", now - 60, 4.2, "test"),
            Sample("river.level", "hrfco-2101687", now - 60, 1.1, "test"),
            Sample("weather.temperature", "kma-asos-138", now - 60, 3.4, "test"),
            Sample("rain.hourly", "kma-asos-138", now - 60, 12.5, "test"),
            Sample("air.pm10", "4711125300", now - 60, 180.0, "drill", exercise=True),
        ])
        await aggregate(url, settings, catalog)
        tz = ZoneInfo(catalog.city.timezone)
        starts = [period(b, at * 1000, tz)[0] for b in site_briefings(settings, catalog).values()]
        fired = max(starts) + FIRED_INTO_PERIOD_S * 1000
        assert fired + ACK_AFTER_S * 1000 < at * 1000, "the acknowledgement must fall inside every period"
        alert = {"kind": "alert", "fingerprint": "fp-river", "indicator": "river.level", "entity": "hrfco-2101690",
                 "level": 3, "severity": "경계", "exercise": False}
        incident = incident_store.Incident("20261207-typhoon-1", "typhoon", catalog.city.id, 2, False,
                                           fired - 60_000, "ops", "태풍 북상")
        await incident_store.open_incident(client, incident, [
            {**alert, "event": "fired", "at": fired},
            {**alert, "event": "acknowledged", "at": fired + ACK_AFTER_S * 1000, "by": "ds-park"},
        ], {})
    finally:
        await client.aclose()
    return BriefingCity(settings, catalog, at)
