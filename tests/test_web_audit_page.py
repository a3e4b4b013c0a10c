"""The audit page /audit in real Chromium: an admin signs in on the page, reads who changed what, filters, and
downloads the CSV; anyone else is told the log is for admins. Korean first, English with ?lang=en."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser

from situationroom import audit, tokens
from situationroom.redisconn import sync_client
from tests.browser import needs_chromium, signed_in_page
from tests.servers_support import Served, serve
from tests.site_support import settings_for

pytestmark = needs_chromium


@pytest.fixture
def site(embedded_url: str) -> Iterator[Served]:
    r = sync_client(embedded_url)
    for action, actor, target in [("collector.pause", audit.Actor("it-team", "operator", "10.0.0.7"), "parking"),
                                  ("silence.create", audit.Actor("kim", "staff", "10.0.0.8", "ds-kim"), "a1b2c3")]:
        audit.record_sync(r, action, actor=actor, target=target, detail={"reason": "점검"}, maxlen=1000)
    r.close()
    with serve(settings_for(embedded_url)) as served:
        yield served


def test_an_admin_signs_in_and_reads_filters_and_downloads_the_log(browser: Browser, site: Served,
                                                                   embedded_url: str) -> None:
    r = sync_client(embedded_url)
    admin, staff = tokens.create(r, "admin", "chief"), tokens.create(r, "staff", "kim", staff="ds-kim")
    r.close()
    page = signed_in_page(browser, f"{site.url}/audit", "form#login", token=None, locale="ko-KR")
    page.fill("form#login input[name=token]", admin)
    page.get_by_role("button", name="로그인").click()
    page.wait_for_selector("table.audit tbody tr")
    rows = page.locator("table.audit tbody tr")
    # Newest first: the sign-in just made, the silence, the pause.
    assert rows.count() == 3
    assert "로그인" in rows.nth(0).inner_text() and "chief" in rows.nth(0).inner_text()
    assert "무음 설정" in rows.nth(1).inner_text() and "10.0.0.8" in rows.nth(1).inner_text()
    assert "수집기 일시정지" in rows.nth(2).inner_text() and "parking" in rows.nth(2).inner_text()
    page.select_option("form#filters select[name=action]", "collector.pause")
    page.get_by_role("button", name="찾기").click()
    page.wait_for_function("document.querySelectorAll('table.audit tbody tr').length === 1")
    with page.expect_download() as got:
        page.get_by_role("link", name="CSV 내려받기").click()
    text = got.value.path().read_text(encoding="utf-8-sig")
    assert text.splitlines()[0].startswith("time,id,actor") and "collector.pause" in text and "silence" not in text
    assert page.errors == []  # type: ignore[attr-defined]
    assert {urlsplit(u).hostname for u in page.urls} <= {"127.0.0.1"}  # type: ignore[attr-defined]
    page.context.close()

    other = signed_in_page(browser, f"{site.url}/audit?lang=en", ".notice", token=staff)
    assert "Only admins" in other.inner_text(".notice") and other.locator("table.audit").count() == 0
    other.context.close()
