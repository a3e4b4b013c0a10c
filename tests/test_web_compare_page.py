"""The wall's comparisons in real headless Chromium against a real server, Redis and history store: a chart draws
its comparison as dashed lines with a legend entry of its own, holding the shifted history, and a KPI tile says its
difference to the same time last week with sign and unit, and nothing at all where last week has no data."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from situationroom.embedded import EmbeddedRedis
from situationroom.events import load_events
from situationroom.samples import Sample
from tests.browser import needs_chromium, signed_in_page
from tests.compare_support import WEEK, CompareSite, compare_site, deliver, replay_clock
from tests.redis_support import empty_url
from tests.servers_support import Served, serve

pytestmark = needs_chromium
NOW_VALUE = 2.47
"""The live level of 형산교 the tests deliver."""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, embedded_redis: EmbeddedRedis) -> Iterator[tuple[CompareSite,
                                                                                                      Served]]:
    empty_url(embedded_redis.url)
    now = time.time()
    built = compare_site(tmp_path_factory.mktemp("compare") / "site", embedded_redis.url, now)
    deliver(built, [Sample("river.level", "hrfco-2101690", now, NOW_VALUE, "hrfco-hyeongsan"),
                    Sample("river.level", "hrfco-2403617", now, 1.0, "hrfco-hyeongsan")])
    with serve(built.settings, lifespan="on") as served:
        yield built, served


def _open(browser: Browser, served: Served, lang: str, size: tuple[int, int] = (1920, 1080)) -> Page:
    page = signed_in_page(browser, f"{served.url}/dashboards/cmp?lang={lang}&rotate=0", "#p0-0 .value", token=None,
                          size=size)
    page.wait_for_function("window.__wall && window.__wall.connected && window.__wall.live.size >= 2")
    return page


def test_a_chart_draws_last_week_dashed_with_its_own_legend_entry(browser: Browser,
                                                                  site: tuple[CompareSite, Served]) -> None:
    built, served = site
    page = _open(browser, served, "ko")
    page.wait_for_function("window.WallCompare.drawn('p0-2').length === 24", timeout=30000)
    drawn = page.evaluate("window.WallCompare.drawn('p0-2')")
    offset = 9 * 3600 * 1000   # the axis is the city's clock (KST) on a UTC scale
    by_line: dict[str, dict[int, float]] = {}
    for tup in drawn:
        by_line.setdefault(tup["s"], {})[round((tup["t"] - offset) / 1000 - WEEK)] = tup["v"]
    expected = {e: {t: v for t, v in built.last_week[e].items() if built.now - WEEK - 3600 <= t <= built.now - WEEK}
                for e in ("hrfco-2101690", "hrfco-2403617")}
    assert by_line == {built.catalog.entities[e].name_ko: expected[e] for e in expected}
    svg = page.evaluate("window.__wall.chartSVG('p0-2')")
    assert 'stroke-dasharray="10,5"' in svg.replace(", ", ",")        # the comparison's lines, dashed
    assert ">지난주</text>" in svg                                     # and its legend entry
    legend_dash = svg.count('stroke-dasharray="10,5"')
    assert legend_dash >= 3                                           # two lines and the legend's symbol
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_an_event_is_labelled_as_what_it_is_in_english(browser: Browser, site: tuple[CompareSite, Served]) -> None:
    _, served = site
    page = _open(browser, served, "en")
    page.wait_for_function("window.WallCompare.drawn('p0-3').length > 60", timeout=30000)
    svg = page.evaluate("window.__wall.chartSVG('p0-3')")
    assert ">Typhoon Hinnamnor (2022) · simulated, exercise</text>" in svg
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_a_kpi_says_its_difference_to_last_week_with_sign_and_unit_or_nothing(
        browser: Browser, site: tuple[CompareSite, Served], tmp_path: Path) -> None:
    built, served = site
    at = max(t for t in built.last_week["hrfco-2101690"] if t <= built.now - WEEK)
    diff = NOW_VALUE - built.last_week["hrfco-2101690"][at]
    # The simulated levels are random: a difference that shows as 0.00 is said as ±, not with a sign it hides.
    sign = "±" if f"{abs(diff):.2f}" == "0.00" else "+" if diff > 0 else "−"
    for lang, words in (("ko", "지난주 같은 시각 대비"), ("en", "vs same time last week")):
        page = _open(browser, served, lang)
        versus = page.locator("#p0-0 [data-testid=versus]")
        versus.wait_for(state="visible", timeout=30000)
        assert versus.inner_text() == f"{sign}{abs(diff):.2f} m ({words})"
        # Yesterday holds no sample of the other gauge: no difference at all, not a zero.
        page.wait_for_timeout(1500)
        assert page.locator("#p0-1 [data-testid=versus]").evaluate("(el) => el.hidden && el.textContent === ''")
        page.screenshot(path=str(tmp_path / f"compare-{lang}.png"))
        assert page.errors == []  # type: ignore[attr-defined]
        page.context.close()


def test_on_a_replays_simulated_axis_the_event_is_drawn_at_its_own_dates(browser: Browser,
                                                                         site: tuple[CompareSite, Served]) -> None:
    # Last in this module: from here on the page shows exercise data on a simulated clock.
    built, served = site
    event = load_events(built.root / "seeds").get("hinnamnor-2022")
    assert event is not None
    simulated = event.start_s + 11 * 3600   # 2022-09-06 05:00 KST
    now = time.time()
    replay_clock(built.settings.redis_url or "", simulated, now)
    deliver(built, [Sample("river.level", "hrfco-2101690", now, 2.2, "sim-safety", exercise=True)])
    page = _open(browser, served, "ko")
    page.wait_for_function("window.__wall.exercise.shown && window.WallCompare.drawn('p0-3').length > 0",
                           timeout=30000)
    page.wait_for_timeout(1500)   # a first draw on the real axis, if any, is replaced
    offset = 9 * 3600 * 1000
    drawn = {round((tup["t"] - offset) / 1000): tup["v"] for tup in page.evaluate("window.WallCompare.drawn('p0-3')")}
    # Shift 0: each point at its own 2022 time, the record's value there, over the chart's 6 simulated hours.
    assert min(drawn) >= simulated - 6 * 3600 - 60 and max(drawn) <= simulated + 120
    newest = max(drawn)
    for t, v in drawn.items():
        # 1-minute buckets drawn at their middle; the running one at the axis' end.
        stored = t - 30 if t != newest else max(s for s in built.event if s <= t)
        assert built.event[stored] == v
    assert len(drawn) >= 70
    assert page.evaluate("window.__wall.simTime(Date.now())") == pytest.approx(simulated * 1000, abs=120_000)
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()
