"""The data catalogue's page /catalog in real Chromium at 1920x1080: every indicator grouped by domain in large type,
Korean first and English with ?lang=en, a restricted one marked and its dates shown only once its reader signs in on
the page, finding an indicator as one types, everything served by the product."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import orjson
import pytest
from playwright.sync_api import Browser

from situationroom import keys, tokens
from situationroom.history.store import store_for
from situationroom.redisconn import sync_client
from situationroom.samples import Sample
from tests.browser import needs_chromium, signed_in_page
from tests.history_support import write_batch
from tests.servers_support import Served, serve
from tests.site_support import settings_for

pytestmark = needs_chromium

SECRET = "admin.complaints_open"
SECRET_ROW = "tr#admin\\.complaints_open"


@pytest.fixture
def site(embedded_url: str, tmp_path: Path) -> Iterator[Served]:
    settings = settings_for(embedded_url, history_dir=tmp_path / "history")
    now = time.time()
    r = sync_client(embedded_url)
    for ind, ent in (("air.pm10", "airkorea-3gongdan"), (SECRET, "dept-roads")):
        state = {"i": ind, "e": ent, "v": 1.0, "t": int(now * 1000), "st": "normal", "ps": "normal",
                 "since": int(now * 1000), "n": 600, "w": {}, "r": None}
        r.hset(keys.live(ind), ent, orjson.dumps(state))
    r.close()
    with serve(settings) as served:
        write_batch(store_for(settings), served.catalog,
                    [Sample("air.pm10", "airkorea-3gongdan", now - 40 * 86400, 30.0, "a"),
                     Sample(SECRET, "dept-roads", now - 40 * 86400, 120.0, "a")], "1")
        yield served


def test_the_catalogue_in_korean_and_english_with_restricted_dates_for_readers_only(
        browser: Browser, site: Served, embedded_url: str, tmp_path: Path) -> None:
    n = len(site.catalog.indicators)
    page = signed_in_page(browser, f"{site.url}/catalog", "main table", token=None, locale="ko-KR")
    assert page.title() == "포항시 — 데이터 목록" and page.locator("html").get_attribute("lang") == "ko"
    assert page.locator("tbody tr").count() == n and page.locator("main h2").count() == len(site.catalog.domains)
    assert page.inner_text("main h2 >> nth=0") == "재난·안전"
    pm10 = page.locator("tr#air\\.pm10")
    text = pm10.inner_text()
    assert "미세먼지 (PM10)" in text and "공공누리 제1유형" in text and "시민 공개" in text and "1시간" in text
    assert pm10.locator("time").count() == 2, "first data from the history store, last from the live state"
    secret = page.locator(SECRET_ROW)
    assert "부서 한정" in secret.inner_text() and "민원봉사과" in secret.inner_text()
    assert "열람 권한 없음" in secret.inner_text() and secret.locator("time").count() == 0
    # Large, readable type from across a desk, and nothing wider than the screen.
    assert float(page.eval_on_selector("tbody td", "e => parseFloat(getComputedStyle(e).fontSize)")) >= 18
    assert page.evaluate("document.documentElement.scrollWidth") <= 1920
    page.screenshot(path=str(tmp_path / "catalog-ko.png"), full_page=False)

    # Find as one types.
    page.fill("#filter", "하천")
    page.wait_for_function("document.querySelectorAll('tbody tr:not([hidden])').length === 2")
    assert page.locator("section:not([hidden]) h2").all_inner_texts() == ["재난·안전"]
    page.fill("#filter", "")

    # The civil-affairs head signs in on the page and sees the dates of the caseload.
    r = sync_client(embedded_url)
    token = tokens.create(r, "staff", "seo", staff="ca-seo")
    r.close()
    page.get_by_role("button", name="로그인").click()
    page.fill("form#login input[name=token]", token)
    page.locator("form#login button[type=submit]").click()
    page.wait_for_selector("#who[data-signed-in=true]")
    secret = page.locator(SECRET_ROW)
    assert secret.locator("time").count() == 2 and "열람 권한 없음" not in secret.inner_text()
    assert page.errors == []  # type: ignore[attr-defined]
    assert {urlsplit(u).hostname for u in page.urls} <= {"127.0.0.1"}  # type: ignore[attr-defined]
    page.context.close()

    en = signed_in_page(browser, f"{site.url}/catalog?lang=en", "main table", token=None)
    assert en.title() == "Pohang — Data catalogue" and en.locator("html").get_attribute("lang") == "en"
    row = en.locator("tr#air\\.pm10").inner_text()
    assert "Fine dust (PM10)" in row and "KOGL Type 1 (attribution)" in row and "Citizens" in row and "1 h" in row
    assert "not yours to read" in en.locator(SECRET_ROW).inner_text()
    assert en.get_by_role("link", name="한국어").get_attribute("href") == "/catalog?lang=ko"
    en.screenshot(path=str(tmp_path / "catalog-en.png"))
    assert en.errors == []  # type: ignore[attr-defined]
    en.context.close()
    assert all((tmp_path / f"catalog-{lang}.png").stat().st_size > 10_000 for lang in ("ko", "en"))
