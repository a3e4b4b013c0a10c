"""The data page /data in real Chromium over a real server, Redis and history store: a query chosen in the form shows
the history API's figures as a chart and a table, the URL holds the query and opens it again, the export's links carry
it, the typhoon Hinnamnor preset reads its exercise re-enactment and says so, a restricted indicator is offered only
to its readers, a phone gets everything within its width, bad addresses get a message, and English with ?lang=en."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import pytest
from playwright.sync_api import Browser, Page

from situationroom import keys, tokens
from situationroom.history.store import store_for
from situationroom.redisconn import sync_client
from situationroom.samples import Sample
from tests.browser import needs_chromium, signed_in_page
from tests.compare_support import replay_clock
from tests.history_support import write_batch
from tests.redis_support import empty_url
from tests.servers_support import Served, serve
from tests.site_support import REPO, settings_for

pytestmark = needs_chromium

SHOTS = REPO / "docs" / "screenshots"
PM10 = "air.pm10"
DONG = "4711131000"
"""A 행정동 with an AirKorea station (airkorea-3gongdan) among the places air.pm10 is measured for."""
STATIONS = ("airkorea-3gongdan", "airkorea-daedo")
SECRET, DEPT = "admin.complaints_open", "dept-roads"
PRESSURE = "weather.pressure"
DAY0 = int(time.time() // 86_400 - 3) * 86_400
"""Midnight UTC three days ago: within the last 7 days, in the history store only."""
HINNAMNOR = (1662368400, 1662476400)
"""2022-09-05T18:00+09:00 and 2022-09-07T00:00+09:00, the named event of seeds/events.yaml."""
SHOWN = "body[data-shown]"


HOURS = 48
"""Two days of hourly values, from DAY0."""
SIM_START = 1662390000
"""2022-09-06T00:00+09:00: where the replay of the simulated-clock test starts, at 60 times real speed."""


def samples() -> list[Sample]:
    out = []
    for h in range(HOURS):
        t = float(DAY0 + h * 3600)
        for k, ent in enumerate(STATIONS):
            # A day's rise and fall, a little higher each day, the second station dustier.
            out.append(Sample(PM10, ent, t, round(35 + 18 * math.sin(2 * math.pi * (h - 6) / 24) + h * 0.3
                                                  + k * 9, 2), "a"))
        out.append(Sample(SECRET, DEPT, t, float(100 + h % 7), "a"))
    # The typhoon's re-enactment: exercise data at the event's real dates, the pressure falling as it passes.
    for n, t in enumerate(range(HINNAMNOR[0], HINNAMNOR[1], 3600)):
        out.append(Sample(PRESSURE, "kma-asos-138", float(t), round(1005.0 - 45 * math.sin(math.pi * n / 29) ** 4, 1),
                          "sim", exercise=True))
    return out


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, embedded_redis: object) -> Iterator[Served]:
    url = embedded_redis.url  # type: ignore[attr-defined]
    empty_url(url)  # earlier modules' collectors (a replay's clock among them) would read as this site's
    settings = settings_for(url, history_dir=tmp_path_factory.mktemp("history"))
    with serve(settings) as served:
        write_batch(store_for(settings), served.catalog, samples(), "1")
        yield served


def token_of(site: Served, staff: str) -> str:
    r = sync_client(site.settings.redis_url or "")
    try:
        return tokens.create(r, "staff", staff, staff=staff)
    finally:
        r.close()


def open_data(browser: Browser, url: str, *, token: str | None = None, size: tuple[int, int] = (1920, 1080),
              locale: str = "ko-KR") -> Page:
    return signed_in_page(browser, url, "body[data-ready=true]", token=token, size=size, locale=locale)


def table(page: Page) -> list[tuple[str, str, str]]:
    """The table's rows as (time, series, exact value)."""
    return [tuple(r) for r in page.eval_on_selector_all(
        "#table-box tbody tr", "rows => rows.map(r => [r.cells[0].innerText, r.cells[1].innerText, "
                               "r.cells[2].dataset.v])")]


def kst(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(t + 9 * 3600))


def ask(page: Page, domain: str, indicators: list[str], area: str = "", preset: str = "7d") -> None:
    page.select_option("#f-domain", domain)
    for ind in indicators:
        page.check(f"#f-indicators input[value='{ind}']")
    page.select_option("#f-area", area)
    page.select_option("#f-preset", preset)
    page.evaluate("document.body.removeAttribute('data-shown')")
    page.get_by_role("button", name="보기" if "lang=en" not in page.url else "Show").click()
    page.wait_for_selector(f"{SHOWN}, #problem:not([hidden])")


def test_a_query_shows_the_history_apis_figures_keeps_them_in_the_url_and_downloads_them(
        browser: Browser, site: Served) -> None:
    page = open_data(browser, f"{site.url}/data")
    assert page.title() == "포항시 — 자료 보기" and page.locator("html").get_attribute("lang") == "ko"
    assert page.locator("header h1").count() == 1 and page.locator("main form#query").count() == 1
    assert page.get_by_label("분야").count() == 1 and page.get_by_label("지역").count() == 1
    ask(page, "environment", [PM10], f"district:{DONG}")
    q = parse_qs(urlsplit(page.url).query)
    assert q["indicator"] == [PM10] and q["district"] == [DONG] and q["preset"] == ["7d"]
    assert q["resolution"] == ["1h"] and q["mode"] == ["real"] and q["lang"] == ["ko"]
    assert q["from"][0].endswith("+09:00") and q["to"][0].endswith("+09:00")

    # The same figures as the history API answers for the same query.
    api = httpx.get(f"{site.url}/api/v1/indicators/{PM10}/history", params={
        "district": DONG, "from": q["from"][0], "to": q["to"][0], "resolution": "1h", "mode": "real"}).json()
    expected = sorted((kst(p["t"]), s["entity"], p["mean"]) for s in api["series"] for p in s["points"])
    assert len(expected) == HOURS, "the hourly values of the district's one station with data"
    rows = table(page)
    assert [(t, float(v)) for t, _, v in rows] == [(t, v) for t, _, v in expected]
    assert {r[1] for r in rows} == {"미세먼지 (PM10) · 3공단"}
    assert page.locator("#table-box tbody tr >> nth=0 >> td >> nth=3").inner_text() == "µg/m³"
    chart = page.locator("figure.chart svg")
    words = chart.text_content() or ""
    assert chart.count() == 1 and "µg/m³" in words and "시각 (KST)" in words
    assert page.locator("figure.chart svg path[aria-roledescription], figure.chart svg .mark-line path").count() >= 1
    assert page.locator("#exercise").is_hidden(), "real data carries no exercise band"

    # The export's links carry the same query; the CSV is one for Excel (with a BOM).
    csv_href = page.locator("#downloads a[data-format=csv]").get_attribute("href") or ""
    link = parse_qs(urlsplit(csv_href).query)
    assert urlsplit(csv_href).path == "/api/v1/export" and link["format"] == ["csv"]
    assert {k: link[k] for k in ("indicator", "district", "from", "to", "resolution", "mode", "lang")} == \
        {k: q[k] for k in ("indicator", "district", "from", "to", "resolution", "mode", "lang")}
    for fmt in ("xlsx", "parquet"):
        assert f"format={fmt}" in (page.locator(f"#downloads a[data-format={fmt}]").get_attribute("href") or "")
    assert "/api/v1/export/manifest?" in (page.locator("#downloads a.manifest").get_attribute("href") or "")
    with page.expect_download() as got:
        page.locator("#downloads a[data-format=csv]").click()
    body = Path(got.value.path()).read_bytes()
    assert body.startswith(b"\xef\xbb\xbf") and body.count(b"\n") == HOURS + 1, "a header and the values shown"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "data-1920-ko.png"))
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 1920
    assert page.errors == []  # type: ignore[attr-defined]
    assert {urlsplit(u).hostname for u in page.urls} <= {"127.0.0.1"}  # type: ignore[attr-defined]
    shared = page.url
    page.context.close()

    # The link sent in a message opens the same query, drawn at once.
    again = open_data(browser, shared)
    again.wait_for_selector(SHOWN)
    assert again.input_value("#f-domain") == "environment" and again.input_value("#f-area") == f"district:{DONG}"
    assert again.is_checked(f"#f-indicators input[value='{PM10}']") and again.input_value("#f-preset") == "7d"
    assert table(again) == rows
    again.set_viewport_size({"width": 3840, "height": 2160})
    again.wait_for_timeout(500)
    again.screenshot(path=str(SHOTS / "data-3840-ko.png"))
    again.context.close()


def test_the_hinnamnor_preset_reads_its_exercise_re_enactment_and_says_so(browser: Browser, site: Served) -> None:
    page = open_data(browser, f"{site.url}/data")
    label = page.locator("#f-preset option[value='event:hinnamnor-2022']").inner_text()
    assert label == "태풍 힌남노(2022) · 훈련 재현", "named, and marked as a re-enactment in exercise data"
    ask(page, "weather", [PRESSURE], preset="event:hinnamnor-2022")
    q = parse_qs(urlsplit(page.url).query)
    assert q["mode"] == ["exercise"] and q["preset"] == ["event:hinnamnor-2022"]
    assert q["from"] == ["2022-09-05T18:00:00+09:00"] and q["to"] == ["2022-09-07T00:00:00+09:00"]
    band = page.locator("#exercise")
    assert band.is_visible() and "훈련" in band.inner_text() and "재현" in band.inner_text()
    words = page.locator("figure.chart svg").text_content() or ""
    assert "훈련 자료" in words, "the chart itself says whose data it is"
    rows = table(page)
    assert rows[0][0] == "2022-09-05 18:00" and float(rows[0][2]) == 1005.0 and len(rows) == 30
    page.context.close()


def test_a_restricted_indicator_is_offered_to_its_readers_only(browser: Browser, site: Served) -> None:
    box = f"#f-indicators input[value='{SECRET}']"
    other = open_data(browser, f"{site.url}/data", token=token_of(site, "ds-kim"))
    other.select_option("#f-domain", "administration")
    assert other.is_disabled(box)
    label = other.locator(f"label.ind:has(input[value='{SECRET}'])").inner_text()
    assert "열람 권한 없음" in label and "민원" in label and "민원봉사과" in label
    other.context.close()
    # A link naming it, opened by someone who may not read it, says so instead of showing figures.
    link = f"{site.url}/data?indicator={SECRET}&preset=7d"
    other = open_data(browser, link, token=token_of(site, "ds-kim"))
    assert "열람 권한이 없습니다" in other.inner_text("#problem") and other.locator("#table-box tbody tr").count() == 0
    other.context.close()

    reader = open_data(browser, link, token=token_of(site, "ca-seo"))
    reader.wait_for_selector(SHOWN)
    assert reader.is_enabled(box) and reader.is_checked(box)
    assert len(table(reader)) == HOURS and reader.locator("#problem").is_hidden()
    reader.context.close()


def test_a_phone_gets_the_form_chart_and_table_within_its_width(browser: Browser, site: Served) -> None:
    page = open_data(browser, f"{site.url}/data?indicator={PM10}&gu=47111&preset=7d", size=(375, 812))
    page.wait_for_selector(SHOWN)
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 375
    form = page.locator("form#query").bounding_box()
    chart = page.locator("figure.chart").bounding_box()
    assert form and chart and chart["y"] >= form["y"] + form["height"], "the form stacks above the result"
    assert chart["x"] >= 0 and chart["x"] + chart["width"] <= 375
    box = page.locator("#table-box")
    assert box.is_visible() and page.locator("#table-box tbody tr").count() == 2 * HOURS
    # The table scrolls sideways inside its own box, not the page.
    assert page.evaluate("(() => { const b = document.getElementById('table-box'); "
                         "return b.getBoundingClientRect().right <= 375 })()")
    page.screenshot(path=str(SHOTS / "data-375-ko.png"), full_page=True)
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_bad_addresses_and_refused_queries_get_a_message_on_the_page(browser: Browser, site: Served) -> None:
    page = open_data(browser, f"{site.url}/data?indicator=no.such&indicator={PM10}&from=yesterday&resolution=2h")
    page.wait_for_selector(SHOWN)
    problem = page.inner_text("#problem")
    assert "'no.such'" in problem and "'yesterday'" in problem and "resolution" in problem and "'2h'" in problem
    assert page.is_checked(f"#f-indicators input[value='{PM10}']"), "what could be used is shown"
    page.context.close()

    # Raw samples over 30 days: the history API's refusal, in its own words.
    refused = open_data(browser, f"{site.url}/data?indicator={PM10}&gu=47111&preset=30d&resolution=raw")
    refused.wait_for_selector("#problem:not([hidden])")
    text = refused.inner_text("#problem")
    assert "거절" in text and "raw samples are given for at most 7 days" in text
    assert refused.errors == []  # type: ignore[attr-defined]
    refused.context.close()


def test_english_with_lang_en(browser: Browser, site: Served) -> None:
    page = open_data(browser, f"{site.url}/data?lang=en&indicator={PM10}&district={DONG}&preset=7d", locale="en-GB")
    page.wait_for_selector(SHOWN)
    assert page.title() == "Pohang — Data" and page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_label("Domain").count() == 1 and page.get_by_role("button", name="Show").count() == 1
    assert page.locator("#f-preset option[value=today]").inner_text() == "Today"
    assert "Typhoon Hinnamnor" in page.locator("#f-preset option[value='event:hinnamnor-2022']").inner_text()
    assert page.locator("#f-indicators label.ind >> nth=0").inner_text().startswith("Fine dust")
    assert "Time (KST)" in (page.locator("figure.chart svg").text_content() or "")
    assert page.locator("#downloads a[data-format=csv]").inner_text() == "CSV (Excel)"
    assert "lang=en" in (page.locator("#downloads a[data-format=csv]").get_attribute("href") or "")
    page.screenshot(path=str(SHOTS / "data-1920-en.png"))
    # The same period a year before the one shown.
    before = parse_qs(urlsplit(page.url).query)
    page.select_option("#f-preset", "last-year")
    page.evaluate("document.body.removeAttribute('data-shown')")
    page.get_by_role("button", name="Show").click()
    page.wait_for_selector(SHOWN)
    after = parse_qs(urlsplit(page.url).query)
    assert after["preset"] == ["last-year"] and after["indicator"] == [PM10]
    for k in ("from", "to"):
        assert after[k][0] == str(int(before[k][0][:4]) - 1) + before[k][0][4:]
    assert page.inner_text("#charts") == "No data in this period." and page.locator("#table-box").is_hidden()
    lang = page.get_by_role("link", name="한국어").get_attribute("href") or ""
    assert "lang=ko" in lang and f"indicator={PM10}" in lang, "the other language keeps the query"
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_during_a_replay_today_is_the_simulated_day_and_says_so(browser: Browser, site: Served) -> None:
    # A replay of the typhoon at 60 times real speed began ten minutes ago at 2022-09-06 00:00 (simulated): each
    # real minute since is a simulated hour of its exercise data.
    anchor = (time.time() // 60 - 10) * 60
    write_batch(store_for(site.settings), site.catalog,
                [Sample(PRESSURE, "kma-asos-138", anchor + k * 60, 990.0 + k, "sim", exercise=True)
                 for k in range(9)], "2")

    replay_clock(site.settings.redis_url or "", SIM_START, anchor, speed=60.0, collector="sim-replay")
    try:
        page = open_data(browser, f"{site.url}/data")
        assert "모의 시각 2022-09-06" in page.inner_text("#simclock") and "×60" in page.inner_text("#simclock")
        assert page.locator("#f-preset option[value=today]").inner_text() == "오늘 (모의 시각)"
        ask(page, "weather", [PRESSURE], preset="today")
        q = parse_qs(urlsplit(page.url).query)
        assert q["mode"] == ["exercise"] and q["resolution"] == ["1m"]
        assert "2022-09-06 00:00" in page.inner_text("#summary") and page.locator("#exercise").is_visible()
        rows = table(page)
        assert [(t, float(v)) for t, _, v in rows] == [(f"2022-09-06 {k:02d}:00", 990.0 + k) for k in range(9)]
        assert page.errors == []  # type: ignore[attr-defined]
        page.context.close()
    finally:
        r = sync_client(site.settings.redis_url or "")
        r.delete(keys.collector_health("sim-replay"))
        r.srem(keys.collectors_index(), "sim-replay")
        r.close()


def test_the_form_starts_on_exercise_data_where_an_indicator_has_no_other(browser: Browser, site: Served) -> None:
    """A demo site, or a city before its first real collector, holds exercise data only: a 7-day query of such an
    indicator reads the exercise data; one that has real data reads the real data."""
    r = sync_client(site.settings.redis_url or "")
    now = int(time.time() * 1000)
    live = {"v": 1.0, "t": now, "st": "normal", "ps": "normal", "since": now, "n": 3600, "w": {}, "r": None}
    r.hset(keys.live(PRESSURE, exercise=True), "kma-asos-138",
           orjson.dumps({**live, "i": PRESSURE, "e": "kma-asos-138", "x": 1}))
    r.hset(keys.live(PM10), STATIONS[0], orjson.dumps({**live, "i": PM10, "e": STATIONS[0]}))
    try:
        page = open_data(browser, f"{site.url}/data?indicator={PRESSURE}&preset=7d")
        assert page.input_value("#f-mode") == "exercise"
        page.context.close()
        page = open_data(browser, f"{site.url}/data?indicator={PM10}&preset=7d")
        assert page.input_value("#f-mode") == "real"
        # Picking the exercise-only indicator alone on the form turns the choice to exercise data too.
        page.uncheck(f"#f-indicators input[value='{PM10}']")
        page.select_option("#f-domain", "weather")
        page.check(f"#f-indicators input[value='{PRESSURE}']")
        assert page.input_value("#f-mode") == "exercise"
        page.context.close()
    finally:
        r.delete(keys.live(PRESSURE, exercise=True), keys.live(PM10))
        r.close()
