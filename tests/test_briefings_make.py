"""Making a briefing: its period follows its schedule, and a simulator's clock behind exercise data is named as
simulated time (a disabled simulator's is not)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from situationroom.briefings.make import content, period
from situationroom.briefings.run import Site
from situationroom.collectors import health
from situationroom.redisconn import async_client
from tests.briefings_support import briefing_city

pytestmark = pytest.mark.cluster  # also run on the suite's Redis Cluster

SEOUL = ZoneInfo("Asia/Seoul")


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=SEOUL).timestamp() * 1000)


async def test_period_and_simulated_time(redis_url: str, tmp_path: Path) -> None:
    city = await briefing_city(redis_url, tmp_path)
    client = async_client(redis_url)
    try:
        site = Site.load(client, city.catalog, city.settings)
        assert period(site.get("shift"), _ms("2026-12-07T18:00"), SEOUL) == (_ms("2026-12-07T09:00"),
                                                                           _ms("2026-12-07T18:00"))
        assert period(site.get("morning"), _ms("2026-12-07T10:00"), SEOUL) == (_ms("2026-12-07T08:30"),
                                                                             _ms("2026-12-07T10:00"))
        clock = {"scenario": "typhoon-hinnamnor", "speed": 60, "start": 0, "anchor": 0}
        await health.record(client, "old-sim", {"exercise": True, "state": "disabled", "clock": clock})
        made = await content(site.reads, site.get("shift"), city.at * 1000, "test")
        assert made["clock"] is None
        await health.record(client, "sim", {"exercise": True, "state": "ok", "clock": clock})
        made = await content(site.reads, site.get("shift"), city.at * 1000, "test")
        assert made["clock"] == "typhoon-hinnamnor ×60" and made["exercise"] is True
    finally:
        await client.aclose()
