"""The briefing role: a briefing is made when its schedule says, once across two processes sharing Redis, never again
for the same occurrence, and not for one missed long ago; it sleeps until the next occurrence."""

from __future__ import annotations

import asyncio
import io
import re
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis.asyncio as aioredis
from pypdf import PdfReader

from situationroom.briefings import archive
from situationroom.briefings.role import BriefingRole
from situationroom.briefings.run import Site
from situationroom.samples import Sample
from situationroom.streams import StreamWriter
from tests.api_support import aggregate
from tests.briefings_support import briefing_city

pytestmark = pytest.mark.timeout(600)
SEOUL = ZoneInfo("Asia/Seoul")


def _at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=SEOUL).timestamp()


async def test_a_scheduled_briefing_is_made_once_across_two_roles(redis_url: str, tmp_path: Path) -> None:
    city = await briefing_city(redis_url, tmp_path)
    now = {"t": _at("2026-12-07T09:00:05")}
    clients = [aioredis.Redis.from_url(redis_url) for _ in range(2)]
    try:
        roles = [BriefingRole(c, city.catalog, city.settings, clock=lambda: now["t"]) for c in clients]
        sites = [Site.load(c, city.catalog, city.settings) for c in clients]
        # Both processes wake at the shift change together: one makes it, the other finds it claimed. The morning
        # briefing's 08:30 was missed by more than the catch-up window and is not made late.
        made = await asyncio.gather(*(r.tick(s) for r, s in zip(roles, sites, strict=True)))
        assert sorted(len(m) for m in made) == [0, 1]
        assert [m for ms in made for m in ms] == ["shift-20261207-0900"]
        assert await roles[0].tick(sites[0]) == [] and await roles[1].tick(sites[1]) == []
        listed = await archive.listing(clients[0])
        assert [b["id"] for b in listed] == ["shift-20261207-0900"] and listed[0]["by"] == "schedule"
        # Until 18:00 it sleeps at most a minute at a time; just before, exactly until it.
        assert roles[0].sleep_s(sites[0]) == 60.0
        now["t"] = _at("2026-12-07T17:59:58")
        assert roles[0].sleep_s(sites[0]) == pytest.approx(2.0)
        # The river falls back below its levels before the evening shift: that briefing says what changed since.
        writer = StreamWriter(clients[0], partitions=city.settings.partitions,
                              retention=city.settings.stream_retention, deadletter_maxlen=1000)
        await writer.write([Sample("river.level", "hrfco-2101690", time.time(), 0.5, "test")])
        await aggregate(redis_url, city.settings, city.catalog)
        now["t"] = _at("2026-12-07T18:00:01")
        assert await roles[1].tick(sites[1]) == ["shift-20261207-1800"]
        evening = await archive.read(clients[0], "shift-20261207-1800")
        changes = evening["sections"][0]["changes"]
        assert evening["sections"][0]["previous"] == "shift-20261207-0900"
        assert [(c["domain"], c["was"], c["now"]) for c in changes] == [("safety", "critical", "normal")]
        pdf = archive.path_of(city.settings.briefings_archive, evening["id"], "pdf").read_bytes()
        text = re.sub(r"\s+", " ", " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages))
        assert "이전 보고(shift-20261207-0900) 이후 변화: 재난·안전 경계 → 정상" in text
    finally:
        for c in clients:
            await c.aclose()
