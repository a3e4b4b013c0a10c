"""The incident pages in real headless Chromium at 1920x1080 and 375x812: the list with the open incident first, an
incident's timeline in order with each kind named, a note added on the page showing in it, an empty note refused
with a clear message, the level controls for operators only, Korean first and English with ?lang=en."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser

from tests.browser import needs_chromium, signed_in_page
from tests.http_support import bearer
from tests.servers_support import Served, serve
from tests.site_support import REPO, settings_for

pytestmark = [needs_chromium, pytest.mark.cluster]
SHOTS = REPO / "docs" / "screenshots"


@pytest.fixture
def site(redis_url: str) -> Iterator[Served]:
    with serve(settings_for(redis_url)) as served:
        yield served


def _token(redis_url: str, role: str, who: str) -> str:
    return bearer(redis_url, role, staff=who if role == "staff" else None, name=who)["Authorization"].split()[1]


def _typhoon(site: Served, redis_url: str) -> str:
    """A typhoon declared, raised, with a note; and an older dust incident, ended."""
    operator = bearer(redis_url, "operator", "duty-officer")
    with httpx.Client(base_url=site.url, headers=operator) as http:
        dust = http.post("/api/v1/incidents", json={"hazard": "fine-dust", "area": "pohang", "level": "주의",
                                                    "reason": "초미세먼지 주의보"}).json()["id"]
        assert http.post(f"/api/v1/incidents/{dust}/end", json={"reason": "주의보 해제"}).status_code == 200
        iid = http.post("/api/v1/incidents", json={"hazard": "typhoon", "area": "pohang", "level": 1,
                                                   "reason": "태풍주의보 발효"}).json()["id"]
        assert http.post(f"/api/v1/incidents/{iid}/notes", json={
            "text": "형산강 하구 순찰 시작", "indicator": "river.level"}).status_code == 201
        assert http.post(f"/api/v1/incidents/{iid}/level",
                         json={"level": 2, "reason": "태풍경보로 격상"}).status_code == 200
    return str(iid)


def test_the_list_puts_the_open_incident_first(browser: Browser, site: Served, redis_url: str) -> None:
    iid = _typhoon(site, redis_url)
    page = signed_in_page(browser, f"{site.url}/incidents", "table.incidents",
                          token=_token(redis_url, "staff", "ds-kim"))
    rows = page.locator("table.incidents tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).get_attribute("data-incident") == iid
    first = rows.nth(0).inner_text()
    assert "진행 중" in first and "태풍" in first and "비상 2단계" in first, first
    assert "종료" in rows.nth(1).inner_text() and "미세먼지" in rows.nth(1).inner_text()
    page.context.close()


@pytest.mark.parametrize(("size", "lang"), [((1920, 1080), "ko"), ((1920, 1080), "en"), ((375, 812), "ko")])
def test_the_timeline_is_in_order_and_a_note_added_on_the_page_joins_it(browser: Browser, site: Served,
                                                                        redis_url: str, size: tuple[int, int],
                                                                        lang: str) -> None:
    iid = _typhoon(site, redis_url)
    page = signed_in_page(browser, f"{site.url}/incidents/{iid}?lang={lang}", "ol.timeline li.entry",
                          token=_token(redis_url, "operator", "duty-officer"), size=size)
    kinds = page.locator("ol.timeline li.entry").evaluate_all(
        "els => els.map(e => e.dataset.kind + ':' + e.dataset.event)")
    assert kinds == ["declared:", "note:", "level:raised"], kinds
    words = page.locator("ol.timeline li.entry .kind").all_inner_texts()
    assert words == (["선포", "메모", "단계 상향"] if lang == "ko" else ["declared", "note", "level raised"])
    assert page.locator("ol.timeline li.entry .kind svg.icon").count() == 3, "a symbol with each word"
    summary = page.inner_text("#summary")
    assert ("비상 2단계" if lang == "ko" else "Emergency level 2") in summary
    assert page.locator("#summary .level").get_attribute("data-st") == "critical"
    assert page.locator("a.csv").get_attribute("href") == f"/api/v1/incidents/{iid}/timeline?format=csv"

    # An empty note is refused on the page with a clear message, and nothing is sent.
    page.click("#note button[type=submit]")
    assert page.inner_text("#note .msg") == ("메모 내용을 입력하세요." if lang == "ko" else "Write the note first.")
    assert page.locator("ol.timeline li.entry").count() == 3
    # An empty reason for a change of level likewise.
    page.click("#level button[name=change]")
    assert page.inner_text("#level .msg") == ("사유를 입력하세요." if lang == "ko" else "Give the reason.")

    page.fill("#note textarea[name=text]", "냉천 범람, 주민 대피 시작")
    page.click("#note button[type=submit]")
    page.wait_for_function("document.querySelectorAll('ol.timeline li.entry').length === 4")
    last = page.locator("ol.timeline li.entry").nth(3)
    assert last.get_attribute("data-kind") == "note" and "냉천 범람, 주민 대피 시작" in last.inner_text()
    assert "duty-officer" in last.inner_text()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= size[0], f"the page is {width} px wide on a {size[0]} px screen"
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(300)
    name = f"incident-{size[0]}-{lang}.png"
    page.screenshot(path=str(SHOTS / name), full_page=size[0] < 1000)
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_staff_add_notes_get_no_level_controls_and_see_notes_made_elsewhere(browser: Browser, site: Served,
                                                                          redis_url: str) -> None:
    iid = _typhoon(site, redis_url)
    page = signed_in_page(browser, f"{site.url}/incidents/{iid}", "ol.timeline li.entry",
                          token=_token(redis_url, "staff", "ds-kim"))
    assert page.locator("#note").count() == 1 and page.locator("#level").count() == 0
    # A note added elsewhere (the command line, another desk) shows within a poll, without a reload.
    answer = httpx.post(f"{site.url}/api/v1/incidents/{iid}/notes", json={"text": "대피소 3곳 개방"},
                        headers=bearer(redis_url, "operator", "duty-officer"))
    assert answer.status_code == 201
    page.wait_for_function("document.querySelectorAll('ol.timeline li.entry').length === 4", timeout=12_000)
    assert "대피소 3곳 개방" in page.locator("ol.timeline li.entry").nth(3).inner_text()
    page.context.close()


def test_an_unknown_incident_or_language_is_refused_naming_it(site: Served) -> None:
    answer = httpx.get(f"{site.url}/incidents/20260101-typhoon-999")
    assert answer.status_code == 404
    assert answer.json()["error"]["value"] == "20260101-typhoon-999"
    wrong = httpx.get(f"{site.url}/incidents?lang=fr")
    assert wrong.status_code == 422 and "lang" in wrong.text and "fr" in wrong.text
