"""The comparison API over real HTTP, a real Redis and a real history store holding generated history: a chart's
dashed lines are the history of the shifted period, drawn shifted onto the chart's axis; a KPI's comparison value is
the sample of the same time last week, and nothing where there is none; an event reads its own dataset."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from situationroom.events import load_events
from tests.compare_support import WEEK, CompareSite, compare_site
from tests.http_support import assert_error, bearer
from tests.servers_support import serve

pytestmark = pytest.mark.cluster


@pytest.fixture
def site(tmp_path: Path, redis_url: str) -> CompareSite:
    return compare_site(tmp_path / "site", redis_url, time.time())


@pytest.fixture
def http(site: CompareSite) -> Iterator[httpx.Client]:
    with serve(site.settings) as served, httpx.Client(base_url=served.url, timeout=20) as client:
        yield client


def test_the_dashed_lines_are_last_weeks_samples_shifted_a_week_on(site: CompareSite, http: httpx.Client) -> None:
    body = http.get("/api/v1/dashboards/cmp/compare/p0-2", params={"to": site.now, "mode": "real"}).json()
    assert body["compare"] == "last_week" and body["shift"] == WEEK and body["resolution"] == "raw"
    assert body["label"] == {"ko": "지난주", "en": "last week"} and body["exercise"] is False
    assert [s["entity"] for s in body["series"]] == ["hrfco-2101690", "hrfco-2403617"]
    for series in body["series"]:
        stored = site.last_week[series["entity"]]
        expected = {t: v for t, v in stored.items() if site.now - WEEK - 3600 <= t <= site.now - WEEK}
        assert len(expected) == 12
        got = {round(p["stored_t"]): p["value"] for p in series["points"]}
        assert got == expected
        assert all(p["t"] == p["stored_t"] + WEEK for p in series["points"])
        assert all(site.now - 3600 <= p["t"] <= site.now for p in series["points"])
    # The same values as the history API answers for the shifted period.
    history = http.get("/api/v1/indicators/river.level/history", params={
        "entity": "hrfco-2101690", "from": site.now - WEEK - 3600, "to": site.now - WEEK, "resolution": "raw",
        "mode": "real"}).json()
    assert [(p["t"], p["value"]) for p in history["points"]] == \
        [(p["stored_t"], p["value"]) for p in body["series"][0]["points"]]


def test_an_event_is_read_from_its_own_dataset_at_the_charts_left_edge(site: CompareSite,
                                                                        http: httpx.Client) -> None:
    event = load_events(site.root / "seeds").get("hinnamnor-2022")
    assert event is not None
    body = http.get("/api/v1/dashboards/cmp/compare/p0-3", params={"to": site.now, "mode": "real"}).json()
    assert body["exercise"] is True and body["resolution"] == "1m"   # an exercise event, whatever the line's mode
    assert body["label"]["ko"] == "태풍 힌남노(2022) · 모의 재현·훈련"
    assert body["shift"] == pytest.approx(site.now - 6 * 3600 - event.start_s)
    points = body["series"][0]["points"]
    expected = {t: v for t, v in site.event.items() if t <= event.start_s + 6 * 3600}   # the end is inclusive
    assert {round(p["stored_t"]): p["value"] for p in points} == expected   # one sample a bucket: its mean
    assert points[0]["t"] == pytest.approx(site.now - 6 * 3600 + 30)          # a bucket drawn at its middle
    # On a replay's simulated axis inside the event, the record is drawn at its own dates.
    peak = event.start_s + 13 * 3600
    body = http.get("/api/v1/dashboards/cmp/compare/p0-3", params={"to": peak}).json()
    assert body["shift"] == 0 and body["end"] == peak
    assert max(p["value"] for p in body["series"][0]["points"]) == max(
        v for t, v in site.event.items() if t <= peak)


def test_a_kpi_compares_with_the_sample_of_the_same_time_last_week_and_nothing_when_there_is_none(
        site: CompareSite, http: httpx.Client) -> None:
    body = http.get("/api/v1/dashboards/cmp/compare/p0-0", params={"to": site.now}).json()
    at = max(t for t in site.last_week["hrfco-2101690"] if t <= site.now - WEEK)
    assert body["value"] == site.last_week["hrfco-2101690"][at] and body["value_t"] == at
    assert body["at"] == pytest.approx(site.now - WEEK)
    body = http.get("/api/v1/dashboards/cmp/compare/p0-1", params={"to": site.now}).json()   # yesterday: no data
    assert body["value"] is None and body["compare"] == "yesterday"


def test_bad_requests_name_field_and_value(site: CompareSite, http: httpx.Client) -> None:
    assert_error(http.get("/api/v1/dashboards/cmp/compare/p0-9"), 404, "panel_id", "p0-9")
    assert_error(http.get("/api/v1/dashboards/nowhere/compare/p0-0"), 404, "name", "nowhere")
    err = assert_error(http.get("/api/v1/dashboards/cmp/compare/p0-4"), 422, "panel_id", "p0-4")
    assert "compares with nothing" in err["message"]
    assert_error(http.get("/api/v1/dashboards/cmp/compare/p0-2", params={"to": "soon"}), 422, "to", "soon")
    assert_error(http.get("/api/v1/dashboards/cmp/compare/p0-2", params={"mode": "both"}), 422, "mode", "both")


def test_the_past_of_a_restricted_indicator_is_refused_to_whoever_may_not_read_it(tmp_path: Path,
                                                                                   redis_url: str) -> None:
    site = compare_site(tmp_path / "site", redis_url, time.time())
    (site.root / "dashboards" / "secret.yaml").write_text("""\
title_ko: 민원
title_en: Complaints
grid: {columns: 2, rows: 1}
pages:
  - title_ko: 민원
    title_en: Complaints
    panels:
      - {kind: timeseries, at: [1, 1, 2, 1], indicator: admin.complaints_open, window: 1h, compare: last_week}
""", encoding="utf-8")
    with serve(site.settings) as served:
        url = f"{served.url}/api/v1/dashboards/secret/compare/p0-0"
        viewer = httpx.get(url, headers=bearer(redis_url, "viewer"), timeout=20)
        assert_error(viewer, 403, "indicator", "admin.complaints_open")
        assert httpx.get(url, headers=bearer(redis_url, "operator"), timeout=20).status_code == 200
