"""The wall during the peak of typhoon Hinnamnor (6 September 2022, 04:40 KST on, replayed at 20×) in real
headless Chromium, at 1920×1080 and 3840×2160, in Korean and English.

What the mayor's office found watching it, each checked where it was found: one status scale everywhere
(관심 · 주의 · 경계 · 심각, 정상, 기준 없음, 지연), no green 정상 for a value nothing judges (the day's rain during a
호우경보), alert rows with the value now and the peak, a district map that still tells districts apart when
everything is bad, sparklines with their range, and no element of the wall overflowing its box."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from situationroom import status
from situationroom.embedded import EmbeddedRedis
from tests.browser import OVERFLOWING, needs_chromium
from tests.redis_support import empty_url
from tests.servers_support import wait_for
from tests.wall_support import WallSite

pytestmark = needs_chromium
PEAK = "2022-09-06 04:40"
"""Rain at its worst (77 mm in the hour 04-05), the 냉천 evacuation text at 04:43, 119 calls surging."""
NUMBER = re.compile(r"-?[\d,]+(?:\.\d+)?")


@pytest.fixture(scope="module")
def peak(tmp_path_factory: pytest.TempPathFactory, embedded_redis: EmbeddedRedis) -> Iterator[WallSite]:
    empty_url(embedded_redis.url)
    with WallSite(tmp_path_factory.mktemp("typhoon-site"), embedded_redis.url, speed=20, start=PEAK) as served:
        yield served


def open_wall(browser: Browser, site: WallSite, lang: str, size: tuple[int, int] = (1920, 1080)) -> Page:
    """The wall, held on its first page, once the typhoon shows on it: values, alerts and a disaster text."""
    page = browser.new_context(viewport={"width": size[0], "height": size[1]}).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors  # type: ignore[attr-defined]
    page.goto(f"{site.url}/?lang={lang}&rotate=0")
    wait_for(lambda: page.evaluate("!!(window.__wall && window.__wall.connected && window.__wall.live.size > 300)"),
             60, "the live city")
    wait_for(lambda: page.locator("#p0-6 li[data-rule]").count() > 0 and
             page.evaluate("window.__wall.messages.length") > 0, 60, "firing alerts and a disaster text")
    page.wait_for_selector(".kind-map .inset svg")
    return page


def show(page: Page, n: int) -> None:
    page.evaluate(f"window.__wall.showPage({n})")
    page.wait_for_timeout(2500)   # charts drawn, a render tick or two


@pytest.mark.parametrize("size", [(1920, 1080), (3840, 2160)], ids=["1080p", "4k"])
@pytest.mark.parametrize("lang", ["ko", "en"])
def test_no_element_of_the_wall_overflows_its_box_at_the_typhoon_peak(browser: Browser, peak: WallSite, lang: str,
                                                                       size: tuple[int, int]) -> None:
    page = open_wall(browser, peak, lang, size)
    for n in range(page.locator("main.page").count()):
        show(page, n)
        assert page.evaluate(OVERFLOWING) == [], f"page {n + 1} at {size[0]}x{size[1]} in {lang}"
    # The kiosk still fits the screen exactly, and the long texts are all there: the evacuation order in
    # full in the strip, which scrolls it past.
    assert page.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]") == \
        list(size)
    strip = page.locator("main.page:not([hidden]) .ticker-strip .ticker")
    texts = strip.locator("li:not([aria-hidden]) .text").all_inner_texts()
    tag = "[훈련] " if lang == "ko" else "[EXERCISE] "   # the replay's texts are exercise texts
    shown = {m["id"]: (tag if m.get("x") else "") + m["text_" + lang] for m in page.evaluate("window.__wall.messages")}
    assert texts and set(texts) <= set(shown.values()), texts
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_the_wall_speaks_one_scale_and_calls_nothing_normal_that_has_no_threshold(browser: Browser,
                                                                                  peak: WallSite) -> None:
    page = open_wall(browser, peak, "ko")
    words = {s.ko for s in status.SCALE}
    by_id = {s.id: s.ko for s in status.SCALE}
    for n in (0, 1):
        show(page, n)
        chips = page.locator("main.page:not([hidden]) .panel:not(.kind-ticker) .chip").all_inner_texts()
        assert chips and {c.strip() for c in chips} <= words, chips
        # Every tile says what the live state says, in the scale's word: a series at 경계 (the catalog's
        # `critical`) is 경계, not 심각.
        for tile in page.locator("main.page:not([hidden]) .kind-kpi").all():
            ind, ent = tile.evaluate("el => [el.dataset.indicator, el.dataset.entity]")
            st = page.evaluate(f"(window.__wall.live.get({ind!r} + '\\u0000' + {ent!r}) || {{}}).st")
            if st and st != "stale":
                assert tile.locator(".status .chip").inner_text().strip() == by_id[st], (ind, ent, st)
    # 일 강수량 during a 호우경보: well over 200 mm, and nothing official says when a day's total is bad.
    daily = page.locator("#p1-3")
    wait_for(lambda: float(daily.locator(".value").inner_text().replace(",", "")) > 150, 30, "the day's rain")
    assert daily.get_attribute("data-status") == "none"
    assert daily.locator(".status .chip").inner_text().strip() == "기준 없음"
    # The heavy-rain 경보 is 경계 (주의보 주의, 경보 경계), the typhoon 주의보 주의.
    assert page.locator("#p1-2 .value").inner_text() == "경보"
    assert page.locator("#p1-2 .status .chip").inner_text().strip() == "경계"
    assert page.locator("#p1-1 .status .chip").inner_text().strip() == "주의"
    show(page, 0)
    tiles = page.locator(".domain .chip").all_inner_texts()
    assert {t.strip() for t in tiles} <= words and "기준 없음" in {t.strip() for t in tiles}  # economy: no thresholds
    legend = page.locator("main.page:not([hidden]) .kind-map .legend .chip").all_inner_texts()
    assert [w.strip() for w in legend] == ["정상", "관심", "주의", "경계", "심각", "기준 없음", "지연"]
    page.context.close()


def test_an_alert_row_shows_the_value_now_and_the_peak(browser: Browser, peak: WallSite) -> None:
    page = open_wall(browser, peak, "ko")
    row = page.locator("#p0-6 li[data-indicator]:not([data-indicator=''])").first

    def now_matches_the_live_value() -> bool:
        got = page.evaluate("""row => {
            const s = window.__wall.live.get(row.dataset.indicator + '\\u0000' + row.dataset.entity);
            return [s ? s.v : null, row.querySelector('.val').innerText, row.querySelector('.since').innerText];
        }""", row.element_handle())
        live_value, val, since = got
        if live_value is None or not val.startswith("현재"):
            return False
        now = float(NUMBER.search(val).group().replace(",", ""))
        decimals = len(val.split()[1].split(".")[1]) if "." in val.split()[1] else 0
        if abs(now - round(live_value, decimals)) > 10 ** -decimals / 2 + 1e-9:
            return False
        peak_text = re.search(r"최고 ([\d,.]+)", since)
        # The peak, when shown, is at least the value now (these indicators are bad when high).
        return peak_text is None or float(peak_text.group(1).replace(",", "")) >= now
    wait_for(now_matches_the_live_value, 20, "the row's value now to be the series' live value")
    page.context.close()


SQUEEZED = """list => {
    // Per row: lines the exercise tag takes, and whether the name and the value overlap or leave the row.
    return [...list.querySelectorAll('li[data-rule]')].map((li) => {
        const box = (el) => el.getBoundingClientRect();
        const tag = li.querySelector('.xtag');
        const what = box(li.querySelector('.what')), val = box(li.querySelector('.val')), row = box(li);
        const overlap = what.right > val.left + 0.5 && what.bottom > val.top + 0.5 && val.bottom > what.top + 0.5;
        const outside = [what, val].some((b) => b.left < row.left - 0.5 || b.right > row.right + 0.5);
        return [tag ? tag.getClientRects().length : 1, overlap, outside];
    });
}"""


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_an_alert_rows_tag_name_and_value_are_never_squeezed(browser: Browser, peak: WallSite, lang: str) -> None:
    """However narrow the alert panel, [훈련] / [EXERCISE] stays one word and the value goes under the name
    rather than squeezing it into a column a word wide."""
    page = open_wall(browser, peak, lang)
    alerts = page.locator("#p0-6 ul.alerts")
    for width in (700, 420, 360):
        alerts.evaluate(f"el => {{ el.style.width = '{width}px'; }}")
        rows = alerts.evaluate(SQUEEZED)
        assert rows and all(r == [1, False, False] for r in rows), (width, rows)
    page.context.close()


def test_the_map_counts_what_is_wrong_in_each_district_and_enlarges_the_centre(browser: Browser,
                                                                               peak: WallSite) -> None:
    page = open_wall(browser, peak, "en")
    labels = page.evaluate("""() => {
        const layer = [...document.querySelectorAll('.kind-map .chart g.mark-text')].pop();
        return [...layer.querySelectorAll('text')].filter((t) => t.textContent && t.style.visibility !== 'hidden')
            .map((t) => t.textContent);
    }""")
    marks = {s.mark for s in status.LEVELS}
    # "Ocheon ■6": the district, the mark of its worst level and how many series are at a level.
    assert labels and all(re.fullmatch(r".+ [●▲◆■]\d+", t) for t in labels), labels
    assert any(t.split()[-1][0] in marks for t in labels)
    counts = {int(t.split()[-1][1:]) for t in labels}
    assert len(counts) > 1, f"every district the same: {labels}"
    inset = page.locator(".kind-map .inset")
    assert "City centre" in inset.inner_text()
    assert inset.locator("g.mark-text text").count() > 0
    page.context.close()


def test_sparklines_show_their_range(browser: Browser, peak: WallSite) -> None:
    page = open_wall(browser, peak, "en")
    for tile in page.locator("main.page:not([hidden]) .kind-kpi").all():
        wait_for(lambda tile=tile: tile.locator(".sparkbox .hi").inner_text() != "", 20, "a sparkline's range")
        hi, lo = tile.locator(".sparkbox .hi").inner_text(), tile.locator(".sparkbox .lo").inner_text()
        unit = tile.locator(".unit").inner_text()
        assert hi.endswith(unit) and lo.endswith(unit), (hi, lo, unit)
        assert float(NUMBER.search(hi).group().replace(",", "")) >= float(NUMBER.search(lo).group().replace(",", ""))
        # The span the line covers, said in the time the wall shows: a replay at 20x that has run for minutes
        # covers hours of simulated time, never the window's whole sixty (three real hours) it has not filled.
        label, covered_ms = tile.evaluate("""(el) => {
            const p = sparks.get(key(el.dataset.indicator, el.dataset.entity)).points;
            return [el.querySelector(".sparkbox .span").textContent, p[p.length - 1].t - p[0].t]; }""")
        said = re.fullmatch(r"last (\d+) (h|min)", label)
        assert said, label
        said_min = int(said.group(1)) * (60 if said.group(2) == "h" else 1)
        simulated_min = covered_ms * 20 / 60_000
        assert covered_ms < 3 * 3_600_000 and abs(said_min - simulated_min) <= 30 + 0.05 * simulated_min, (
            label, simulated_min)
    page.context.close()


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_a_replay_is_marked_as_an_exercise_and_shows_its_simulated_time(browser: Browser, peak: WallSite,
                                                                         lang: str) -> None:
    """The replayed typhoon is exercise data: a band no one can miss, every alert and disaster text tagged, and
    the clock, "data as of", chart axes and ticker in simulated time (6 September 2022), with the speed."""
    page = open_wall(browser, peak, lang)
    tag = "[훈련]" if lang == "ko" else "[EXERCISE]"
    band = page.get_by_test_id("exercise-band")
    assert band.is_visible()
    text = band.inner_text()
    assert ("훈련 상황 · 실제 상황이 아닙니다" in text and "EXERCISE" in text) if lang == "ko" else \
        ("EXERCISE · not a real situation" in text and "훈련" in text)
    assert ("모의 시각 ×20" if lang == "ko" else "simulated time ×20") in text
    assert ("태풍 힌남노" if lang == "ko" else "Typhoon Hinnamnor") in text
    # The clock and "data as of" speak the simulated time.
    assert page.locator("header.top .clock .date").inner_text() == ("2022년 9월 6일 화" if lang == "ko"
                                                                     else "Tue, 6 September 2022")
    assert page.locator("header.top .simchip").is_visible()
    clock = page.locator("header.top .clock .time").inner_text()
    assert clock[:3] in ("04:", "05:", "06:", "07:"), clock
    as_of = page.locator("header.top .fresh .txt b").inner_text()
    assert as_of[:2] in ("04", "05", "06", "07"), as_of
    # Each alert row and each disaster text of the replay says it is an exercise.
    rows = page.locator("#p0-6 li[data-rule]")
    assert rows.count() and all(r.startswith(tag) for r in rows.locator(".what").all_inner_texts())
    assert all("exercise" in (c or "") for c in rows.evaluate_all("els => els.map((e) => e.className)"))
    ticker = page.locator(".ticker li:not([aria-hidden]) .text")
    wait_for(lambda: ticker.count() > 0, 20, "the disaster texts in the ticker")
    texts = ticker.all_inner_texts()
    assert all(t.startswith(tag) for t in texts), texts
    whens = page.locator(".ticker li:not([aria-hidden]) .when").all_inner_texts()
    assert all(w[:2] in ("04", "05", "06", "07") for w in whens), whens
    # The river chart's time axis is the simulated morning of 6 September 2022, not today.
    # (A chart in step draws each point at the time the wall shows for it.)
    wait_for(lambda: all(c["inStep"] for c in page.evaluate("window.__wall.charts()") if c["visible"]), 10,
             "the page's charts drawn")
    newest_drawn = page.evaluate("window.__wall.simTime(Date.now())")
    assert newest_drawn is not None and 1662390000000 < newest_drawn < 1662422400000  # 6 Sep 2022 00:00-09:00 KST
    assert page.evaluate(OVERFLOWING) == []
    page.context.close()
