"""Declarations, changes of level and ends reach the subscribed staff through the real notify role: e-mail to a real
SMTP server (aiosmtpd) and the in-app inboxes, the situation room's inbox always, exercises marked [훈련], each
delivery on the incident's delivery log and each action in the audit log."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
import redis.asyncio as aioredis

from situationroom import audit, keys
from situationroom.catalog import Catalog
from situationroom.incidents import actions
from situationroom.incidents.hazards import site_hazards
from situationroom.notify.channels.base import ChannelContext
from situationroom.notify.channels.config import load_channels
from situationroom.notify.deliver import Notifier
from situationroom.notify.log import read_deliveries
from situationroom.notify.subscriptions import Store, Subscription
from situationroom.redisconn import async_client
from tests.notify_support import smtp_server
from tests.site_support import settings_for

pytestmark = pytest.mark.cluster

TYPHOON = actions.DeclareIn(hazard="typhoon", area="pohang", level=2, reason="태풍경보 발효")


def _channels(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "channels.yaml"
    # `exercise: true`: this test's mailbox takes drills too (a site decides that per channel).
    path.write_text(f"""channels:
  - {{id: inapp, kind: inapp}}
  - {{id: email, kind: email, host: 127.0.0.1, port: {port}, security: none, chart: none, timeout: 2, exercise: true,
     sender: "포항시 재난상황실 <situation-room@pohang.example>"}}
""", encoding="utf-8")
    return path


async def _inbox(client: aioredis.Redis, owner: str) -> list[dict[str, object]]:
    return [orjson.loads(f[b"n"]) for _, f in await client.xrange(keys.inbox(owner))]


async def _until(what: str, check: object) -> None:
    for _ in range(500):
        if await check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"no {what} within 10 s")


async def test_a_declaration_is_notified_to_matching_subscribers_and_audited(redis_url: str, tmp_path: Path,
                                                                           site_catalog: Catalog) -> None:
    client = async_client(redis_url)
    settings = settings_for(redis_url, block_ms=50)
    site = actions.Site(client, site_catalog, site_hazards(settings.seeds, settings.dashboards_dir, site_catalog),
                        settings)
    with smtp_server() as box:
        channels = load_channels(_channels(tmp_path, box.port), ChannelContext(client, site_catalog, settings), env={})
        await client.set(keys.subscriptions_seeded(), "1")
        for s in (Subscription(id="kim", owner="ds-kim", channels=["email", "inapp"], domains=["safety"]),
                  Subscription(id="nam", owner="ds-kim", channels=["inapp"], indicators=["river.level"],
                               districts=["47111"]),
                  Subscription(id="choi", owner="env-choi", channels=["email", "inapp"], domains=["economy"])):
            await Store(client).put(s)
        stop = asyncio.Event()
        role = asyncio.create_task(Notifier(client, site_catalog, settings, channels=channels).run(stop))
        try:
            actor = audit.Actor.system("test")
            incident = await actions.declare(site, actor, "duty-officer", TYPHOON)
            (mail,) = await asyncio.to_thread(box.wait_for, 1)
            subject = str(mail["Subject"])
            assert "상황 선포" in subject and "태풍 비상 2단계" in subject and "포항" in subject, subject
            assert "[훈련]" not in subject
            body = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
            assert "태풍경보 발효" in body and "duty-officer" in body
            assert box.envelopes[0][1] == ["ds-kim@pohang.example"]
            fingerprint = f"incident:{incident.id}"

            async def logged() -> bool:
                return len(await read_deliveries(client, fingerprint)) >= 3
            await _until("three deliveries", logged)
            log = await read_deliveries(client, fingerprint)
            # ds-kim once per channel although two subscriptions match; the room's inbox; not the economy's choi.
            assert sorted((e["recipient"], e["channel"], e["status"]) for e in log) == [
                ("ds-kim", "email", "sent"), ("ds-kim", "inapp", "sent"), ("situation-room", "inapp", "sent")]
            (item,) = await _inbox(client, "situation-room")
            assert item["kind"] == "incident" and item["alerts"][0]["name_ko"] == "태풍 비상 2단계"  # type: ignore[index]
            assert await _inbox(client, "env-choi") == []

            await actions.set_level(site, actor, "duty-officer", incident.id,
                                    actions.LevelIn(level=3, reason="형산강 범람 우려"))
            raised = (await asyncio.to_thread(box.wait_for, 2))[1]
            assert "단계 상향" in str(raised["Subject"]) and "비상 3단계" in str(raised["Subject"])
            await actions.end(site, actor, "duty-officer", incident.id, actions.EndIn(reason="태풍 소멸"))
            ended = (await asyncio.to_thread(box.wait_for, 3))[2]
            assert "상황 종료" in str(ended["Subject"])

            drill = await actions.declare(site, actor, "duty-officer",
                                          actions.DeclareIn(hazard="typhoon", area="pohang", level=1, reason="훈련",
                                                            exercise=True))
            exercise = (await asyncio.to_thread(box.wait_for, 4))[3]
            assert str(exercise["Subject"]).startswith("[훈련]"), exercise["Subject"]
            assert drill.exercise
            done = {(e["action"], e["target"]) for e in await audit.read(client, limit=20)}
            assert {("incident.declare", incident.id), ("incident.level", incident.id), ("incident.end", incident.id),
                    ("incident.declare", drill.id)} <= done
        finally:
            stop.set()
            await asyncio.wait({role}, timeout=15)
            await client.aclose()
