"""The briefing role: a briefing is made when its schedule says, once across two processes sharing Redis, never again
for the same occurrence, and not for one missed long ago; it sleeps until the next occurrence; a definition edited
while it runs is followed, a broken edit logged with file:line while the last good version stays."""

from __future__ import annotations

import asyncio
import io
import re
import shutil
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from situationroom import briefing_archive as archive
from situationroom.briefings import role as role_mod
from situationroom.briefings.role import BriefingRole
from situationroom.briefings.run import Site
from situationroom.redisconn import async_client
from situationroom.samples import Sample
from situationroom.streams import StreamWriter
from tests.api_support import aggregate
from tests.briefings_support import briefing_city
from tests.site_support import REPO

pytestmark = [pytest.mark.timeout(600), pytest.mark.cluster]
SEOUL = ZoneInfo("Asia/Seoul")


def _at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=SEOUL).timestamp()


async def test_a_scheduled_briefing_is_made_once_across_two_roles(redis_url: str, tmp_path: Path) -> None:
    city = await briefing_city(redis_url, tmp_path)
    now = {"t": _at("2026-12-07T09:00:05")}
    clients = [async_client(redis_url) for _ in range(2)]
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


async def test_a_briefing_file_edited_while_the_role_runs_is_picked_up_and_a_broken_edit_keeps_the_last_good(
        redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    city = await briefing_city(redis_url, tmp_path)
    site = tmp_path / "site"
    for part in ("seeds", "collectors", "dashboards", "rules"):
        (site / part).parent.mkdir(parents=True, exist_ok=True)
        (site / part).symlink_to(REPO / part)
    shutil.copytree(REPO / "briefings", site / "briefings")
    shift = site / "briefings" / "shift.yaml"
    settings = city.settings.model_copy(update={"site": site})
    monkeypatch.setattr(role_mod, "MAX_SLEEP_S", 0.2)  # look at the (test's) clock often
    now = {"t": _at("2026-12-07T10:00:05")}
    client = async_client(redis_url)
    stop = asyncio.Event()
    task = asyncio.create_task(BriefingRole(client, city.catalog, settings, clock=lambda: now["t"]).run(stop))

    async def made(briefing_id: str) -> dict[str, Any]:
        for _ in range(3000):
            if (found := await archive.read(client, briefing_id)) is not None:
                return found
            await asyncio.sleep(0.05)
        raise AssertionError(f"{briefing_id} was not made")

    try:
        await asyncio.sleep(1.0)  # started: nothing is due at 10:00 (the shift changes at 09:00 and 18:00)
        assert await archive.listing(client) == []
        # The shift now changes at 10:00, under a new title: the running role makes it, no restart.
        shift.write_text(shift.read_text(encoding="utf-8").replace('["0 9 * * *", "0 18 * * *"]', '["0 10 * * *"]')
                         .replace("교대 인수인계 보고", "10시 교대 보고"), encoding="utf-8")
        first = await made("shift-20261207-1000")
        assert first["title_ko"] == "10시 교대 보고"
        # A broken edit: logged once with file:line, and the last good version is still made the next day.
        good = shift.read_text(encoding="utf-8")
        shift.write_text(good.replace('["0 10 * * *"]', '["0 25 * * *"]').replace("10시", "25시"), encoding="utf-8")
        for _ in range(200):
            if "is not a cron expression" in caplog.text:
                break
            await asyncio.sleep(0.05)
        errors = [r.getMessage() for r in caplog.records if "is not a cron expression" in r.getMessage()]
        assert len(errors) == 1 and f"{shift}:4: schedule:" in errors[0], errors
        assert "keeping its last good version" in errors[0]
        now["t"] = _at("2026-12-08T10:00:03")
        second = await made("shift-20261208-1000")
        assert second["title_ko"] == "10시 교대 보고"
        assert len([r for r in caplog.records if "is not a cron expression" in r.getMessage()]) == 1
    finally:
        stop.set()
        await asyncio.wait({task}, timeout=15)
        await client.aclose()
    assert task.done() and task.exception() is None
