"""The data catalogue `GET /api/v1/catalog` over a real server: every indicator with DCAT-like fields, first data
from the history store, last data from the live state, a restricted one listed without its dates to others, and the
route in the OpenAPI document."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import pytest

from situationroom import keys
from situationroom.history.store import store_for
from situationroom.redisconn import sync_client
from situationroom.samples import Sample
from situationroom.web import catalog_api
from tests.history_support import write_batch
from tests.http_support import bearer
from tests.servers_support import Served, serve
from tests.site_support import settings_for

pytestmark = pytest.mark.cluster

DAY = 86_400.0
T0 = 1_780_000_000.0 - 1_780_000_000.0 % DAY


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture
def site(redis_url: str, tmp_path: Path) -> Iterator[Served]:
    settings = settings_for(redis_url, history_dir=tmp_path / "history")
    with serve(settings) as served:
        store = store_for(settings)
        # Real PM10 from the second day, exercise PM2.5 only; the oldest sample of PM10 sits in the second file.
        write_batch(store, served.catalog, [Sample("air.pm10", "airkorea-3gongdan", T0 + DAY + 600, 30.0, "a")], "1")
        write_batch(store, served.catalog, [Sample("air.pm10", "airkorea-3gongdan", T0 + DAY + 60, 31.0, "a"),
                                            Sample("air.pm10", "airkorea-3gongdan", T0 + 2 * DAY, 32.0, "a")], "2")
        write_batch(store, served.catalog, [Sample("air.pm25", "airkorea-3gongdan", T0 + 5, 9.0, "s", exercise=True)],
                    "3")
        yield served


def live_state(url: str, indicator: str, entity: str, t: float, *, exercise: bool = False) -> None:
    client = sync_client(url)
    try:
        state = {"i": indicator, "e": entity, "v": 1.0, "t": int(t * 1000), "st": "normal", "ps": "normal",
                 "since": int(t * 1000), "n": 3600, "w": {}, "r": None, **({"x": 1} if exercise else {})}
        client.hset(keys.live(indicator, exercise), entity, orjson.dumps(state))
    finally:
        client.close()


def datasets(http: httpx.Client, **kw: object) -> dict[str, dict]:
    answer = http.get("/api/v1/catalog", **kw)  # type: ignore[arg-type]
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["@type"] == "dcat:Catalog" and body["@context"]["dcat"] == "http://www.w3.org/ns/dcat#"
    return {d["dct:identifier"]: d for d in body["dcat:dataset"]}


def test_every_indicator_with_its_terms_and_first_and_last_data(site: Served, redis_url: str) -> None:
    now = time.time()
    live_state(redis_url, "air.pm10", "airkorea-3gongdan", now - 30)
    live_state(redis_url, "air.pm25", "airkorea-3gongdan", now - 10, exercise=True)
    with httpx.Client(base_url=site.url, timeout=20) as http:
        found = datasets(http)
    assert set(found) == set(site.catalog.indicators)
    pm10 = found["air.pm10"]
    assert pm10["dct:title"] == {"ko": "미세먼지 (PM10)", "en": "Fine dust (PM10)"}
    assert pm10["dct:license"]["id"] == "kogl-1" and pm10["dct:license"]["ko"] == "공공누리 제1유형 (출처표시)"
    assert pm10["dct:license"]["url"].startswith("https://www.kogl.or.kr/")
    assert pm10["dct:accessRights"] == "public" and pm10["dcat:temporalResolution"] == "PT1H"
    assert pm10["unit"] == {"ko": "µg/m³", "en": "µg/m³"} and pm10["dct:source"].startswith("AirKorea")
    assert pm10["dcat:theme"]["id"] == "environment"
    assert pm10["dct:temporal"] == {"dcat:startDate": iso(T0 + DAY + 60), "start_exercise": False,
                                    "dcat:endDate": iso(int((now - 30) * 1000) / 1000), "end_exercise": False}
    assert pm10["dcat:distribution"][1]["dcat:accessURL"].endswith("/api/v1/indicators/air.pm10/history")
    # Only exercise data so far: shown, and said to be exercise data.
    pm25 = found["air.pm25"]["dct:temporal"]
    assert pm25["dcat:startDate"] == iso(T0 + 5) and pm25["start_exercise"] is True and pm25["end_exercise"] is True
    # Nothing yet: no dates, not an error.
    assert found["traffic.speed"]["dct:temporal"] == {"dcat:startDate": None, "start_exercise": False,
                                                      "dcat:endDate": None, "end_exercise": False}
    assert found["traffic.speed"]["dct:accessRights"] == "officials"
    assert found["traffic.speed"]["dct:license"]["id"] == "internal"
    assert found["population.floating"]["dct:license"]["id"] == "third-party"


def test_a_restricted_indicator_is_listed_to_everyone_and_dated_only_for_its_readers(site: Served,
                                                                                      redis_url: str) -> None:
    live_state(redis_url, "admin.complaints_open", "dept-roads", time.time())
    with httpx.Client(base_url=site.url, timeout=20) as http:
        other = datasets(http, headers=bearer(redis_url, "staff", staff="env-lee"))["admin.complaints_open"]
        reader = datasets(http, headers=bearer(redis_url, "staff", staff="ca-seo"))["admin.complaints_open"]
    for entry in (other, reader):
        assert entry["dct:accessRights"] == "departments" and entry["dct:license"]["id"] == "internal"
        assert [d["id"] for d in entry["restricted_to"]] == ["civil-affairs", "situation-room"]
        assert entry["restricted_to"][0]["ko"] == "민원봉사과" and "개인정보" in entry["restriction_reason"]["ko"]
    assert other["withheld"] is True and other["dct:temporal"] is None and other["dcat:distribution"] == []
    assert reader["withheld"] is False and reader["dct:temporal"]["dcat:endDate"] is not None


def test_the_catalogue_is_in_the_openapi_document_with_its_fields(site: Served) -> None:
    with httpx.Client(base_url=site.url, timeout=20) as http:
        doc = http.get("/openapi.json").json()
    op = doc["paths"]["/api/v1/catalog"]["get"]
    assert "catalogue" in op["summary"] and {"200", "401", "403", "429"} <= set(op["responses"])
    fields = doc["components"]["schemas"]["DatasetOut"]["properties"]
    assert {"dct:title", "dct:license", "dct:accessRights", "dcat:temporalResolution", "dct:temporal",
            "withheld"} <= set(fields)
    assert "ISO 8601" in fields["dcat:temporalResolution"]["description"]


def test_reads_need_a_token_when_the_server_says_so(redis_url: str) -> None:
    with serve(settings_for(redis_url, public_read=False)) as served, \
            httpx.Client(base_url=served.url, timeout=20) as http:
        assert http.get("/api/v1/catalog").status_code == 401
        assert http.get("/api/v1/catalog", headers=bearer(redis_url, "viewer")).status_code == 200


def test_first_data_arriving_after_the_first_look_is_found_soon(redis_url: str, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalog_api, "FIRST_RETRY", 0.2)
    settings = settings_for(redis_url, history_dir=tmp_path / "history")
    with serve(settings) as served, httpx.Client(base_url=served.url, timeout=20) as http:
        live_state(redis_url, "air.pm10", "airkorea-3gongdan", time.time())
        assert datasets(http)["air.pm10"]["dct:temporal"]["dcat:startDate"] is None
        write_batch(store_for(settings), served.catalog, [Sample("air.pm10", "airkorea-3gongdan", T0, 1.0, "a")],
                    "1")
        time.sleep(0.3)
        assert datasets(http)["air.pm10"]["dct:temporal"]["dcat:startDate"] == iso(T0)


def test_an_older_day_written_later_moves_the_first_data_back(redis_url: str, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A backfill or an import writes days older than what the catalogue saw: it is noticed from the listing."""
    monkeypatch.setattr(catalog_api, "FIRST_RETRY", 0.2)
    settings = settings_for(redis_url, history_dir=tmp_path / "history")
    with serve(settings) as served, httpx.Client(base_url=served.url, timeout=20) as http:
        store = store_for(settings)
        write_batch(store, served.catalog, [Sample("air.pm10", "airkorea-3gongdan", T0 + 3 * DAY, 1.0, "a")], "1")
        assert datasets(http)["air.pm10"]["dct:temporal"]["dcat:startDate"] == iso(T0 + 3 * DAY)
        write_batch(store, served.catalog, [Sample("air.pm10", "airkorea-3gongdan", T0, 1.0, "a")], "2")
        time.sleep(0.3)
        assert datasets(http)["air.pm10"]["dct:temporal"]["dcat:startDate"] == iso(T0)
