"""Delivering a briefing through the notify role: each staff member of the audience gets an e-mail with the PDF
attached on a real SMTP server (aiosmtpd) and an in-app item linking to its page; an exercise briefing says [훈련]
first; an e-mail the server turns away is sent again, one whose PDF is gone is a dead letter; each delivery's outcome
is read back from the delivery log."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from pypdf import PdfReader

from situationroom import briefing_archive as archive
from situationroom import keys
from situationroom.briefings import deliver
from situationroom.briefings.run import Site
from situationroom.notify import deadletter, inbox
from situationroom.notify.deliver import Notifier
from situationroom.notify.log import read_deliveries
from situationroom.notify.people import load_people
from situationroom.redisconn import async_client
from tests.api_support import make_token
from tests.briefings_support import BriefingCity, briefing_city
from tests.notify_support import Mailbox, smtp_server
from tests.servers_support import serve

pytestmark = [pytest.mark.timeout(600), pytest.mark.cluster]
FAST = {"notify_backoff": 0.05, "notify_backoff_max": 0.2, "block_ms": 50}
"""The notify role's timings for a test: retries within a fraction of a second."""


@contextlib.asynccontextmanager
async def notify_role(client: aioredis.Redis, city: BriefingCity, box: Mailbox,
                      monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """The notify role with the site's own channels, its e-mail going to `box`."""
    for name, value in (("SMTP_HOST", box.host), ("SMTP_PORT", str(box.port)), ("SMTP_SECURITY", "none")):
        monkeypatch.setenv(name, value)
    stop = asyncio.Event()
    task = asyncio.create_task(Notifier(client, city.catalog, city.settings.model_copy(update=FAST)).run(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait({task}, timeout=15)
        assert task.done(), "the notify role did not stop"


async def delivered(client: aioredis.Redis, record: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """The briefing's deliveries once `count` of them are final (sent, dead or skipped), as /briefings reads them."""
    for _ in range(1000):
        (found,) = await deliver.with_deliveries(client, [record])
        done = [d for d in found["deliveries"] if d["status"] in ("sent", "dead", "skipped")]
        if len(done) >= count:
            return found["deliveries"]
        await asyncio.sleep(0.02)
    raise AssertionError(f"expected {count} final deliveries, got {found['deliveries']}")


def audience(city: BriefingCity, *departments: str) -> list[str]:
    return [s.id for s in load_people(city.settings.seeds).staff.values() if s.department in departments]


async def test_the_notify_role_sends_the_pdf_by_email_and_a_link_in_app(redis_url: str, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    city = await briefing_city(redis_url, tmp_path)
    people = audience(city, "disaster-safety", "economy")
    client = async_client(redis_url)
    try:
        with smtp_server() as box:
            async with notify_role(client, city, box, monkeypatch):
                record, pdf = await Site.load(client, city.catalog, city.settings).run("morning", city.at * 1000,
                                                                                       "test")
                outcomes = await delivered(client, record, 2 * len(people))
                mails = await asyncio.to_thread(box.wait_for, len(people))
            (entry,) = await client.xrange(keys.notifications())
            items = await inbox.read(client, ["ds-park"], 10)
    finally:
        await client.aclose()
    sent = {(d["recipient"], d["channel"]) for d in outcomes if d["status"] == "sent"}
    assert sent == {(p, c) for p in people for c in ("email", "inapp")}
    # The queue names the briefing; the PDF stays in the archive, where the e-mail channel reads it.
    assert len(entry[1][b"n"]) < 2000 and b"%PDF" not in entry[1][b"n"]
    to_park = next(m for m in mails if "ds-park@pohang.example" in m["To"])
    assert to_park["Subject"] == "[훈련] 아침 상황 보고"  # exercise data in it: the tag comes first
    assert f"/briefings/{record['id']}" in to_park.get_body(("plain",)).get_content()
    attached = [p for p in to_park.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert len(attached) == 1 and attached[0].get_filename() == f"{record['id']}.pdf"
    assert attached[0].get_content() == pdf
    pages = PdfReader(io.BytesIO(attached[0].get_content())).pages
    assert "포항사랑상품권 결제액" in " ".join(p.extract_text() for p in pages)
    item = next(i for i in items if i["kind"] == "briefing")
    assert item["briefing"]["link"] == f"/briefings/{record['id']}"
    assert item["briefing"]["title_ko"] == "[훈련] 아침 상황 보고"


async def test_an_email_the_server_turns_away_arrives_on_the_retry(redis_url: str, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    city = await briefing_city(redis_url, tmp_path)
    people = audience(city, "situation-room")
    client = async_client(redis_url)
    try:
        with smtp_server() as box:
            box.refuse = 1  # 451: the first e-mail is asked to come back later
            async with notify_role(client, city, box, monkeypatch):
                record, _ = await Site.load(client, city.catalog, city.settings).run("shift", city.at * 1000, "test")
                outcomes = await delivered(client, record, 2 * len(people))
                mails = await asyncio.to_thread(box.wait_for, len(people))
            log = await read_deliveries(client, f"briefing:{record['id']}")
        # The API (and so /briefings) says the same of each delivery, read from the same log.
        with serve(city.settings) as served:
            async with httpx.AsyncClient(base_url=served.url, timeout=60, headers={
                    "Authorization": f"Bearer {make_token(redis_url, 'viewer')}"}) as http:
                listed = (await http.get("/api/v1/briefings")).json()["briefings"]
                one = (await http.get(f"/api/v1/briefings/{record['id']}")).json()
    finally:
        await client.aclose()
    assert len(people) >= 2 and sorted(m["To"].addresses[0].username for m in mails) == sorted(people)
    emails = [d for d in outcomes if d["channel"] == "email"]
    assert all(d["status"] == "sent" for d in emails)
    assert sorted(d["attempt"] for d in emails) == [1] * (len(people) - 1) + [2]
    retried = [e for e in log if e["status"] == "retrying"]
    assert len(retried) == 1 and "451" in retried[0]["error"]
    assert all(m.get_content_type() == "multipart/mixed" for m in mails)  # each with its PDF
    assert listed[0]["id"] == record["id"] and listed[0]["deliveries"] == one["deliveries"] == outcomes


async def test_a_pdf_gone_from_the_archive_is_a_dead_letter_saying_where(redis_url: str, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    city = await briefing_city(redis_url, tmp_path)
    people = audience(city, "situation-room")
    client = async_client(redis_url)
    try:
        record, _ = await Site.load(client, city.catalog, city.settings).run("shift", city.at * 1000, "test")
        # Pruned (or a notify role that does not see the archive): no retry would find it.
        pdf = archive.path_of(city.settings.briefings_archive, record["id"], "pdf")
        pdf.unlink()
        with smtp_server() as box:
            async with notify_role(client, city, box, monkeypatch):
                outcomes = await delivered(client, record, 2 * len(people))
        dead = await deadletter.newest(client, 10)
    finally:
        await client.aclose()
    assert box.messages == []
    assert {(d["channel"], d["status"]) for d in outcomes} == {("email", "dead"), ("inapp", "sent")}
    emails = [d for d in outcomes if d["channel"] == "email"]
    assert all(d["attempt"] == 1 and str(pdf) in d["error"] for d in emails)
    assert sorted(d["recipient"] for d in dead) == sorted(people)
    assert all("not in the archive" in d["reason"] and "permanent" in d["reason"] for d in dead)
