"""The wall in real headless Chromium follows a declaration: the wall at `/` switches to the hazard's dashboards and
names the level and since when in its header, a fixed board keeps its board but shows the level too, an exercise
declaration is marked, and ending the level brings the wall back to its rotation (docs/incidents.md)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser

from tests.browser import OVERFLOWING, needs_chromium, signed_in_page
from tests.http_support import bearer
from tests.servers_support import Served, serve
from tests.site_support import REPO, settings_for

pytestmark = [needs_chromium, pytest.mark.cluster]
SHOTS = REPO / "docs" / "screenshots"
TYPHOON = {"hazard": "typhoon", "area": "pohang", "level": 2, "reason": "태풍경보 발효"}
SWITCH_S = 15_000
"""ms a wall may take to follow: the web process looks at the open incidents every 2 s."""


@pytest.fixture
def site(redis_url: str) -> Iterator[Served]:
    with serve(settings_for(redis_url), lifespan="on") as served:
        yield served


def _declare(site: Served, redis_url: str, body: dict[str, object]) -> str:
    answer = httpx.post(f"{site.url}/api/v1/incidents", json=body, headers=bearer(redis_url, "operator", "duty"))
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _end(site: Served, redis_url: str, iid: str) -> None:
    answer = httpx.post(f"{site.url}/api/v1/incidents/{iid}/end", json={"reason": "태풍 소멸"},
                        headers=bearer(redis_url, "operator", "duty"))
    assert answer.status_code == 200, answer.text


def test_a_declaration_switches_the_wall_and_its_end_brings_the_rotation_back(browser: Browser, site: Served,
                                                                              redis_url: str) -> None:
    wall = signed_in_page(browser, f"{site.url}/?rotate=0", "header.top h1", token=None)
    wall.wait_for_function("window.__wall && window.__wall.connected")
    assert wall.evaluate("window.__wall.board") == "overview"
    assert wall.locator("[data-testid=incident]").is_hidden()
    fixed = signed_in_page(browser, f"{site.url}/dashboards/economy?rotate=0", "header.top h1", token=None)

    iid = _declare(site, redis_url, TYPHOON)
    wall.wait_for_function("window.__wall.board === 'typhoon'", timeout=SWITCH_S)
    wall.wait_for_selector("[data-testid=incident]:not([hidden])")
    assert wall.evaluate("window.__wall.plan") == ["typhoon", "safety", "weather"], "no rotation to the economy"
    assert wall.inner_text("header.top h1").startswith("태풍 상황판")
    chip = wall.locator("[data-testid=incident]")
    text = chip.inner_text()
    assert "태풍 비상 2단계" in text and "부터" in text and "월" in text, text
    assert chip.get_attribute("data-st") == "critical", "비상 2단계 of 3 is coloured 경계"
    assert chip.evaluate("e => getComputedStyle(e).backgroundColor") != "rgba(0, 0, 0, 0)"
    assert "훈련" not in text and not wall.evaluate("window.__wall.exercise.shown")
    wall.wait_for_selector("main.page:not([hidden]) .panel")
    # A note pinned ten minutes back to the river level shows on that indicator's chart as a labelled rule.
    note = httpx.post(f"{site.url}/api/v1/incidents/{iid}/notes", headers=bearer(redis_url, "operator", "duty"),
                      json={"text": "형산교 통제", "at": time.time() - 600, "indicator": "river.level"})
    assert note.status_code == 201, note.text
    wall.wait_for_function("""window.__wall.charts().some(c => (window.__wall.notes(c.id) || []).length === 1)""",
                           timeout=SWITCH_S)
    drawn = wall.evaluate("""window.__wall.charts().flatMap(c => (window.__wall.notes(c.id) || [])
                             .map(n => [document.getElementById(c.id).dataset.kind, n.label]))""")
    assert drawn == [["timeseries", "형산교 통제"]], drawn
    assert wall.evaluate(OVERFLOWING) == [], "nothing in the header or the panels is cut"
    wall.wait_for_timeout(1500)
    SHOTS.mkdir(parents=True, exist_ok=True)
    wall.screenshot(path=str(SHOTS / "wall-declared-1920-ko.png"))

    # A fixed board keeps its board and still names the level.
    fixed.wait_for_selector("[data-testid=incident]:not([hidden])", timeout=SWITCH_S)
    assert "태풍 비상 2단계" in fixed.inner_text("[data-testid=incident]")
    assert fixed.evaluate("window.__wall.board") == "economy"

    big = signed_in_page(browser, f"{site.url}/?rotate=0", "[data-testid=incident]:not([hidden])", token=None,
                         size=(3840, 2160))
    big.wait_for_function("window.__wall.board === 'typhoon'", timeout=SWITCH_S)
    big.wait_for_selector("main.page:not([hidden]) .panel")
    big.wait_for_timeout(2500)
    assert big.evaluate(OVERFLOWING) == []
    big.screenshot(path=str(SHOTS / "wall-declared-3840-ko.png"))
    big.context.close()

    _end(site, redis_url, iid)
    wall.wait_for_function("window.__wall.board === 'overview'", timeout=SWITCH_S)
    wall.wait_for_selector("[data-testid=incident][hidden]", state="attached")
    fixed.wait_for_selector("[data-testid=incident][hidden]", state="attached", timeout=SWITCH_S)
    assert wall.errors == [] and fixed.errors == []  # type: ignore[attr-defined]
    wall.context.close()
    fixed.context.close()


def test_an_exercise_declaration_is_marked_and_the_higher_level_leads(browser: Browser, site: Served,
                                                                      redis_url: str) -> None:
    drill = _declare(site, redis_url, {**TYPHOON, "level": 1, "exercise": True})
    dust = _declare(site, redis_url, {"hazard": "fine-dust", "area": "pohang", "level": "심각",
                                      "reason": "초미세먼지 경보"})
    wall = signed_in_page(browser, f"{site.url}/?lang=en&rotate=0", "[data-testid=incident]:not([hidden])",
                          token=None)
    wall.wait_for_function("window.__wall.incidents.length === 2", timeout=SWITCH_S)
    chip = wall.locator("[data-testid=incident]")
    # 심각 (severe) of the crisis scale outranks 비상 1단계 (warning): dust leads, its boards first, typhoon's after.
    assert chip.get_attribute("data-st") == "severe"
    assert "Fine dust" in chip.inner_text() and "since" in chip.inner_text() and "+1" in chip.inner_text()
    assert wall.evaluate("window.__wall.plan") == ["environment", "typhoon", "safety", "weather"]
    wall.wait_for_function("window.__wall.board === 'environment'", timeout=SWITCH_S)
    _end(site, redis_url, dust)
    wall.wait_for_function("window.__wall.board === 'typhoon'", timeout=SWITCH_S)
    text = wall.locator("[data-testid=incident]").inner_text()
    assert "EXERCISE" in text and "Typhoon · Emergency level 1" in text, text
    wall.wait_for_function("window.__wall.exercise.shown")
    assert "EXERCISE" in wall.inner_text("[data-testid=exercise-band]")
    wall.wait_for_selector("main.page:not([hidden]) .panel")
    assert wall.evaluate(OVERFLOWING) == [], "the English level, its EXERCISE mark and the title all fit"
    _end(site, redis_url, drill)
    wall.wait_for_function("window.__wall.board === 'overview'", timeout=SWITCH_S)
    assert wall.errors == []  # type: ignore[attr-defined]
    wall.context.close()
