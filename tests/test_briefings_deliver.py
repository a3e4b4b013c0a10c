"""Delivering a briefing: each staff member of the audience gets an e-mail with the PDF attached on a real SMTP
server (aiosmtpd) and an in-app item linking to its page; an exercise briefing says [훈련] first."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from pypdf import PdfReader

from situationroom.briefings.run import Site
from situationroom.notify import inbox
from tests.briefings_support import briefing_city
from tests.notify_support import smtp_server

pytestmark = pytest.mark.timeout(600)


async def test_the_audience_gets_the_pdf_by_email_and_a_link_in_app(redis_url: str, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    city = await briefing_city(redis_url, tmp_path)
    with smtp_server() as box:
        for name, value in (("SMTP_HOST", box.host), ("SMTP_PORT", str(box.port)), ("SMTP_SECURITY", "none")):
            monkeypatch.setenv(name, value)
        client = aioredis.Redis.from_url(redis_url)
        try:
            site = Site.load(client, city.catalog, city.settings)
            record, pdf = await site.run("morning", city.at * 1000, "test")
            items = await inbox.read(client, ["ds-park"], 10)
        finally:
            await client.aclose()
        people = [s.id for s in site.people.staff.values() if s.department in ("disaster-safety", "economy")]
        sent = {(d["recipient"], d["channel"]) for d in record["deliveries"] if d["status"] == "sent"}
        assert sent == {(p, c) for p in people for c in ("email", "inapp")}
        mails = box.wait_for(len(people))
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
    assert item["briefing"]["title_ko"] == "[훈련] 아침 상황 보고" and "pdf" not in item["briefing"]
