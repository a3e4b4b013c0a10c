"""The citizens' page /public in real Chromium without a token (reads otherwise need one): at 375x812 and 1920x1080,
Korean first and English with ?lang=en, landmarks, the map's text alternative naming every 행정동, captions saying
each chart's numbers, nothing of a non-public indicator, no horizontal overflow on a phone, axe-core's contrast and
landmark rules passed, and simulated data said to be simulated."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, Route

from tests.browser import needs_chromium, signed_in_page
from tests.public_support import non_public, public_site
from tests.servers_support import Served

pytestmark = needs_chromium
READY = "body[data-ready=true]"
AXE_RULES = ["color-contrast", "landmark-one-main", "landmark-unique", "landmark-no-duplicate-banner",
             "landmark-no-duplicate-contentinfo", "landmark-banner-is-top-level", "landmark-contentinfo-is-top-level",
             "landmark-main-is-top-level", "region", "image-alt", "role-img-alt", "svg-img-alt", "document-title",
             "html-has-lang", "page-has-heading-one", "heading-order", "list", "listitem", "th-has-data-cells"]
"""Contrast (WCAG 2.1 AA 1.4.3), landmarks (every text inside one), and text alternatives of images."""


@pytest.fixture
def site(embedded_url: str, tmp_path: Path) -> Iterator[Served]:
    with public_site(embedded_url, tmp_path, exercise=True) as served:
        yield served


def _open(browser: Browser, url: str, size: tuple[int, int], locale: str = "ko-KR") -> Page:
    return signed_in_page(browser, url, READY, token=None, size=size, locale=locale)


def _violations(page: Page) -> list[str]:
    result = Axe().run(page, options={"runOnly": {"type": "rule", "values": AXE_RULES},
                                      "resultTypes": ["violations"]})
    checked = {r["id"] for r in result.response["passes"]} | {r["id"] for r in result.response["violations"]}
    assert {"color-contrast", "landmark-one-main", "region"} <= checked, "axe checked the page's text and landmarks"
    return [f"{v['id']}: {n['target']} {n.get('failureSummary', '')}" for v in result.response["violations"]
            for n in v["nodes"]]


def test_the_public_page_on_a_phone_in_korean(browser: Browser, site: Served, tmp_path: Path) -> None:
    page = _open(browser, f"{site.url}/public", (375, 812))
    assert page.locator("html").get_attribute("lang") == "ko" and page.title() == "포항시 시민 안전 정보"
    # Landmarks a screen reader jumps between.
    for role in ("banner", "navigation", "main", "contentinfo"):
        assert page.get_by_role(role).count() == 1, role
    # Simulated data is said to be so, before anything else, in words.
    band = page.locator("#exercise")
    assert band.is_visible() and "모의 자료 — 실제 상황이 아닙니다" in band.inner_text()
    assert page.locator(".tag.sim").count() > 0
    # The map's text alternative: its label points to the table, which names every 행정동 with its status in words.
    assert "표" in (page.locator("#map-view[role=img]").get_attribute("aria-label") or "")
    rows = page.locator("#district-table tbody tr")
    dongs = {e.name_ko for e in site.catalog.entities_of_kind("dong")}
    assert rows.count() == len(dongs)
    assert {r.split("\t")[0] for r in rows.all_inner_texts()} == dongs
    warned = page.locator("#district-table tbody tr", has_text="주의")
    assert warned.count() == 1 and "미세먼지 (PM10) 120 µg/m³ (주의)" in warned.inner_text()
    # Each chart's numbers said in its caption.
    pm10 = page.locator("#card-air\\.pm10 figcaption").inner_text()
    assert pm10.startswith("지금 120 µg/m³, 24시간 최고 120, 24시간 최저 120")
    # The latest disaster text, marked as simulated.
    first = page.locator("#message-list li").first.inner_text()
    assert "포항시 호우경보 발효" in first and "모의" in first and "긴급재난" in first
    # Every indicator shown is public, each of them is shown, and nothing of one that is not public is anywhere.
    shown = set(page.eval_on_selector_all("[data-indicator]", "els => els.map(e => e.dataset.indicator)"))
    assert shown == {i.id for i in site.catalog.indicators.values() if i.public}
    text, html = page.locator("body").inner_text(), page.content()
    for secret in non_public(site.catalog):
        assert secret not in text and secret not in html, secret
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 375, "no sideways scrolling on a phone"
    assert _violations(page) == []
    assert page.errors == []  # type: ignore[attr-defined]
    assert all(u.startswith(site.url) or u.startswith("data:") for u in page.urls)  # type: ignore[attr-defined]
    page.screenshot(path=str(tmp_path / "public-375-ko.png"))
    page.context.close()


def test_the_public_page_on_a_desk_screen_in_english(browser: Browser, site: Served, tmp_path: Path) -> None:
    page = _open(browser, f"{site.url}/public?lang=en", (1920, 1080), "en-GB")
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Simulated data — not the real situation" in page.locator("#exercise").inner_text()
    assert page.locator("h2").all_inner_texts()[:2] == ["Now", "Status by neighbourhood (map)"]
    assert page.locator("#district-table tbody tr").count() == len(site.catalog.entities_of_kind("dong"))
    assert page.locator("#card-air\\.pm10 figcaption").inner_text().startswith("now 120 µg/m³, 24 h high 120")
    assert page.locator("footer").inner_text().count("KOGL Type 1") == 1
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 1920
    assert _violations(page) == []
    assert page.errors == []  # type: ignore[attr-defined]
    page.screenshot(path=str(tmp_path / "public-1920-en.png"))
    # The way back to Korean.
    page.get_by_role("link", name="한국어").click()
    page.wait_for_selector(READY)
    assert page.locator("html").get_attribute("lang") == "ko"
    page.context.close()


def test_the_page_is_served_from_memory_with_an_etag(site: Served) -> None:
    with httpx.Client(base_url=site.url, timeout=30) as http:
        first = http.get("/public")
        assert first.status_code == 200 and first.headers["content-type"].startswith("text/html")
        assert first.headers["cache-control"].startswith("public, max-age=")
        assert http.get("/public", headers={"If-None-Match": first.headers["etag"]}).status_code == 304
        english = http.get("/public", params={"lang": "en"})
        assert english.headers["etag"] != first.headers["etag"]
        bad = http.get("/public", params={"lang": "fr"})
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "lang"


def test_real_data_carries_no_simulation_mark(browser: Browser, embedded_url: str, tmp_path: Path) -> None:
    with public_site(embedded_url, tmp_path, exercise=False) as served:
        page = _open(browser, f"{served.url}/public", (375, 812))
        assert page.locator("#exercise").is_hidden() and page.locator(".tag.sim").count() == 0
        assert "모의" not in page.locator("main").inner_text()
        assert page.locator("#updated").inner_text().startswith("갱신 2")
        page.context.close()


def test_a_page_that_failed_to_load_tries_again_soon(browser: Browser, site: Served) -> None:
    # The first two answers of the status API are lost (a blip of the city network); the page says it could not
    # load, then tries again after 2 and 4 s instead of waiting out its half-minute refresh.
    context = browser.new_context(viewport={"width": 375, "height": 812}, locale="ko-KR")
    lost: list[str] = []

    def blip(route: Route) -> None:
        if len(lost) < 2:
            lost.append(route.request.url)
            route.fulfill(status=503, body="")
        else:
            route.continue_()

    context.route("**/api/v1/public/status", blip)
    page = context.new_page()
    page.goto(f"{site.url}/public")
    page.wait_for_function("document.getElementById('updated').textContent.length > 0")
    assert page.locator("body[data-ready=true]").count() == 0
    page.wait_for_selector(READY, timeout=15_000)
    assert len(lost) == 2
    assert page.locator("#district-table tbody tr").count() == len(site.catalog.entities_of_kind("dong"))
    context.close()
