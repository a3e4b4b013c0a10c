"""The briefings API over a real server: a briefing made for a period with written history, live readings and an
incident renders to a PDF whose text (pypdf) holds each section with the API's own numbers for that period; the run is
for operators (a viewer gets 403) and audited; bad input is a 4xx naming what."""

from __future__ import annotations

import asyncio
import io
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser
from pypdf import PdfReader

from situationroom import status
from situationroom.briefings.layout import number
from tests.api_support import make_token
from tests.briefings_support import ACK_AFTER_S, WEEK, briefing_city
from tests.browser import needs_chromium, signed_in_page
from tests.servers_support import serve
from tests.site_support import REPO

pytestmark = [pytest.mark.timeout(600), pytest.mark.cluster]
SHOTS = REPO / "docs" / "screenshots"


def _text(pdf: bytes) -> str:
    """The PDF's text, whitespace made single spaces (table cells come out separated by spaces or line breaks)."""
    pages = PdfReader(io.BytesIO(pdf)).pages
    return re.sub(r"\s+", " ", " ".join(p.extract_text() for p in pages))


def _spent(http: httpx.Client, ind: str, entity: str, start: int, end: int) -> str:
    """A week's spending as the history API gives it: the sum of the hourly buckets' sums, formatted as briefings
    write figures."""
    body = http.get(f"/api/v1/indicators/{ind}/history",
                    params={"entity": entity, "from": start, "to": end, "resolution": "1h"}).json()
    return number(round(sum(p["sum"] for p in body["points"]), 2), 2)


@pytest.fixture
def city(redis_url: str, tmp_path: Path) -> Any:
    # In a thread of its own: the browser tests' Playwright holds this thread's event loop.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, briefing_city(redis_url, tmp_path)).result()


def test_a_briefing_pdf_holds_each_section_with_the_apis_numbers(city: Any, redis_url: str) -> None:
    admin = make_token(redis_url, "admin")
    with serve(city.settings) as served, httpx.Client(base_url=served.url, timeout=300,
                                                        headers={"Authorization": f"Bearer {admin}"}) as http:
        made = http.post("/api/v1/briefings/morning/run", params={"at": str(city.at)})
        assert made.status_code == 201, made.text
        rec = made.json()
        pdf = http.get(rec["links"]["pdf"])
        assert pdf.headers["content-type"] == "application/pdf"
        text = _text(pdf.content)
        full = http.get(rec["links"]["self"]).json()

        # Every section's heading, in Korean (the definition's language), and the exercise mark on every page.
        for heading in ("분야별 종합 상황", "경보·사고 경과", "주요 지표", "상황이 나쁜 지역", "기상·하천 전망",
                        "포항사랑상품권 결제액"):
            assert heading in text
        pages = [re.sub(r"\s+", " ", p.extract_text()) for p in PdfReader(io.BytesIO(pdf.content)).pages]
        assert len(pages) >= 2 and all("[훈련]" in p for p in pages)

        # Status by domain: each domain's worst status over its indicators, as /api/v1/indicators gives them.
        listed = http.get("/api/v1/indicators").json()["indicators"]
        for domain in ("safety", "environment"):
            shown = [i["status"] for i in listed if i["domain"] == domain and not i["withheld"]
                     and i["restricted_to"] is None]
            word = status.of(status.worst(shown)).ko
            name = next(d["name_ko"] for d in full["sections"][0]["domains"] if d["id"] == domain)
            assert re.search(rf"{re.escape(name)} {word}", text), (name, word)

        # Timeline: who acknowledged and how fast.
        assert "ds-park (7.5분 후)" in text
        assert ACK_AFTER_S / 60 == 7.5
        assert "확인까지 걸린 시간(중앙값) 7.5분" in text

        # Key figures and outlook: the latest value where worst, as /api/v1/indicators/{id}.
        river = http.get("/api/v1/indicators/river.level").json()
        top = max((e for e in river["entities"] if e["value"] is not None), key=lambda e: e["value"])
        assert f"{number(top['value'], river['decimals'])} m" in text
        temp = http.get("/api/v1/indicators/weather.temperature").json()
        value = next(e["value"] for e in temp["entities"] if e["id"] == "kma-asos-138")
        assert f"{number(value, temp['decimals'])} °C" in text

        # Economy: this week, last week and the same week last year for each gu and sector, from the history API.
        at = city.at
        for ind, entity in (("economy.gift_card_spending", "47111"), ("economy.gift_card_by_sector",
                                                                     "sector-market")):
            this = _spent(http, ind, entity, at - WEEK, at)
            last = _spent(http, ind, entity, at - 2 * WEEK, at - WEEK)
            year = _spent(http, ind, entity, at - 53 * WEEK, at - 52 * WEEK)
            name = city.catalog.entities[entity].name_ko
            assert re.search(rf"{re.escape(name)} {re.escape(this)} {re.escape(last)} [+-]\d+\.\d% "
                             rf"{re.escape(year)}", text), (name, this, last, year)

        # The same content as an HTML page, marked too.
        page = http.get(rec["links"]["page"])
        assert page.status_code == 200 and "[훈련]" in page.text and "포항사랑상품권" in page.text
        listed_b = http.get("/api/v1/briefings").json()
        assert [b["id"] for b in listed_b["briefings"]] == [rec["id"]]
        assert {d["name"] for d in listed_b["definitions"]} == {"morning", "shift"}


def test_running_is_for_operators_audited_and_bad_input_names_what(city: Any, redis_url: str) -> None:
    viewer, operator = make_token(redis_url, "viewer"), make_token(redis_url, "operator")
    with serve(city.settings) as served, httpx.Client(base_url=served.url, timeout=300) as http:
        refused = http.post("/api/v1/briefings/shift/run", headers={"Authorization": f"Bearer {viewer}"})
        assert refused.status_code == 403
        ops = {"Authorization": f"Bearer {operator}"}
        unknown = http.post("/api/v1/briefings/evening/run", headers=ops)
        assert unknown.status_code == 404 and unknown.json()["error"]["field"] == "name"
        assert unknown.json()["error"]["value"] == "evening"
        bad = http.post("/api/v1/briefings/shift/run", params={"at": "yesterday"}, headers=ops)
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "at"
        missing = http.get("/api/v1/briefings/shift-20200101-0900", headers=ops)
        assert missing.status_code == 404 and missing.json()["error"]["field"] == "briefing_id"
        made = http.post("/api/v1/briefings/shift/run", params={"at": "2026-12-07T09:00"}, headers=ops)
        assert made.status_code == 201, made.text
        assert made.json()["id"] == "shift-20261207-0900"
        audit = http.get("/api/v1/audit", params={"action": "briefing.run"},
                         headers={"Authorization": f"Bearer {make_token(redis_url, 'admin')}"}).json()
        entry = audit["entries"][0]
        assert (entry["target"], entry["actor"]) == ("shift-20261207-0900", "test-operator")


@needs_chromium
def test_an_operator_makes_one_on_the_page_and_reads_it(city: Any, redis_url: str, browser: Browser) -> None:
    operator = make_token(redis_url, "operator")
    with serve(city.settings) as served:
        page = signed_in_page(browser, f"{served.url}/briefings", "ul.defs button", token=operator,
                              size=(1280, 900), locale="ko-KR")
        assert "아침 상황 보고" in page.inner_text("ul.defs") and "30 8 * * *" in page.inner_text("ul.defs")
        page.locator("button[data-run=morning]").click()
        page.wait_for_selector("table.archive tbody tr", timeout=240_000)
        row = page.locator("table.archive tbody tr").first.inner_text()
        assert "훈련" in row and "아침 상황 보고" in row and "test-operator" in row
        assert "전달 대기 중" in row  # no notify role runs here: queued, nothing logged yet
        assert "작성했습니다: morning-" in page.inner_text("p.notice")
        page.screenshot(path=str(SHOTS / "briefings-page.png"))
        page.get_by_role("link", name="보기").first.click()
        page.wait_for_selector("main.briefing h1")
        assert page.inner_text("p.briefing-mark") == "[훈련] 훈련 자료가 포함된 보고입니다"
        assert page.locator("main.briefing h2").count() == 6 and page.locator("main.briefing figure img").count() >= 1
        page.screenshot(path=str(SHOTS / "briefing-html.png"))
        page.goto(f"{served.url}/briefings?lang=en")
        page.wait_for_selector("ul.defs button")
        assert page.locator("button[data-run=shift]").inner_text() == "Make now"
        assert page.errors == []  # type: ignore[attr-defined]
        assert {urlsplit(u).hostname for u in page.urls} <= {"127.0.0.1"}  # type: ignore[attr-defined]
        page.context.close()
