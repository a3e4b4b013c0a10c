"""The citizens' API /api/v1/public/...: open without a token even where reads need one, nothing of an indicator that
is not public (checked against the whole catalog), status by 행정동, answers computed once per period with a strong
ETag, 304 to If-None-Match, Cache-Control, and bad parameters answered 422 naming field and value."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from situationroom import keys
from situationroom.redisconn import sync_client
from situationroom.web.public_cache import GZIP_MIN
from tests.public_support import PERIOD, non_public, public_site, state, station_in_a_dong
from tests.servers_support import Served

pytestmark = pytest.mark.cluster

ROUTES = ("/api/v1/public/status", "/api/v1/public/history", "/api/v1/public/messages")


@pytest.fixture
def site(redis_url: str, tmp_path: Path) -> Iterator[Served]:
    with public_site(redis_url, tmp_path) as served:
        yield served


@pytest.fixture
def http(site: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.url, timeout=30) as client:
        yield client


def _ids(answer: Any) -> set[str]:
    """Every value of an `indicator` or indicator `id` field anywhere in an answer."""
    found: set[str] = set()

    def walk(x: Any, parent: str = "") -> None:
        if isinstance(x, dict):
            for k, v in x.items():
                if isinstance(v, str) and (k == "indicator" or (k == "id" and parent == "indicators")):
                    found.add(v)
                walk(v, k)
        elif isinstance(x, list):
            for v in x:
                walk(v, parent)

    walk(answer)
    return found


def test_open_without_a_token_where_every_other_read_needs_one(http: httpx.Client) -> None:
    assert http.get("/api/v1/indicators").status_code == 401
    for route in ROUTES:
        r = http.get(route)
        assert r.status_code == 200, (route, r.text)


def test_only_public_indicators_ever_appear(http: httpx.Client, site: Served) -> None:
    catalog = site.catalog
    public = {i.id for i in catalog.indicators.values() if i.public}
    status = http.get("/api/v1/public/status").json()
    assert {i["id"] for i in status["indicators"]} == public, "every public indicator, and only those"
    for route in ROUTES:
        r = http.get(route)
        assert _ids(r.json()) <= public, route
        for secret in non_public(catalog):
            assert secret not in r.text, f"{route} names {secret!r}, which is not public"


def test_each_district_has_its_worst_public_reading(http: httpx.Client, site: Served) -> None:
    station, dong = station_in_a_dong(site.catalog, "air.pm10")
    status = http.get("/api/v1/public/status").json()
    districts = {d["code"]: d for d in status["districts"]}
    assert set(districts) == {e.id for e in site.catalog.entities_of_kind("dong")}
    found = districts[dong]
    assert found["status"] == "warning" and found["readings"][0]["indicator"] == "air.pm10"
    assert found["readings"][0]["entity"] == station and found["readings"][0]["value"] == 120.0
    pm10 = next(i for i in status["indicators"] if i["id"] == "air.pm10")
    assert pm10["status"] == "warning" and pm10["now"]["value"] == 120.0 and pm10["unit"] == "µg/m³"
    others = [d for code, d in districts.items() if code != dong and d["readings"]]
    assert others and all(d["status"] != "warning" for d in others)
    assert status["exercise"] is False


def test_disaster_texts_of_the_last_hours_only_no_cap_alerts(http: httpx.Client) -> None:
    answer = http.get("/api/v1/public/messages", params={"hours": 24}).json()
    assert answer["published"] is True
    assert [m["id"] for m in answer["messages"]] == ["m-new"]
    m = answer["messages"][0]
    assert m["step_ko"] == "긴급재난" and m["areas_ko"] == ["남구"] and m["exercise"] is False
    longer = http.get("/api/v1/public/messages", params={"hours": 48}).json()
    assert [m["id"] for m in longer["messages"]] == ["m-new", "m-old"]


def test_history_is_hourly_the_worst_place_and_filters_by_public_indicator(http: httpx.Client) -> None:
    answer = http.get("/api/v1/public/history", params={"indicator": "air.pm10", "hours": 6}).json()
    assert answer["hours"] == 6 and answer["clock"] is None
    assert [s["indicator"] for s in answer["series"]] == ["air.pm10"]
    series = answer["series"][0]
    assert series["aggregate"] == "max" and series["unit"] == "µg/m³" and series["resolution"] == "1h"


def test_etag_304_and_cache_control(http: httpx.Client) -> None:
    for route in (*ROUTES, "/public"):
        first = http.get(route)
        etag = first.headers["etag"]
        assert etag.startswith('"') and etag.endswith('"') and len(etag) > 20, "a strong ETag"
        assert first.headers["cache-control"] == f"public, max-age={round(PERIOD)}, " \
                                                f"stale-while-revalidate={round(PERIOD * 4)}"
        again = http.get(route, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
        assert http.get(route, headers={"If-None-Match": f'"other", W/{etag}'}).status_code == 304
        assert http.get(route, headers={"If-None-Match": '"other"'}).status_code == 200


def test_answers_are_gzipped_for_those_who_take_it_with_a_validator_of_their_own(http: httpx.Client) -> None:
    zipped_routes = []
    for route in (*ROUTES, "/public"):
        plain = http.get(route, headers={"Accept-Encoding": "identity"})
        zipped = http.get(route, headers={"Accept-Encoding": "gzip"})
        assert zipped.headers["vary"] == plain.headers["vary"] == "Accept-Encoding"
        if len(plain.content) < GZIP_MIN:
            assert "content-encoding" not in zipped.headers and zipped.headers["etag"] == plain.headers["etag"]
            continue
        assert "content-encoding" not in plain.headers and zipped.headers["content-encoding"] == "gzip"
        assert zipped.content == plain.content, "the same answer once unzipped"
        assert int(zipped.headers["content-length"]) < len(plain.content) / 2
        assert zipped.headers["etag"] != plain.headers["etag"], "a strong ETag names exact bytes"
        refused = http.get(route, headers={"Accept-Encoding": "gzip;q=0"})
        assert "content-encoding" not in refused.headers
        again = http.get(route, headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["etag"]})
        assert again.status_code == 304
        zipped_routes.append(route)
    assert {"/public", "/api/v1/public/status"} <= set(zipped_routes), "the map's geometry: the big answers"


def test_computed_once_per_period_even_for_a_burst(http: httpx.Client, site: Served, redis_url: str) -> None:
    answers = site.app.state.public_answers["status"]
    before = http.get("/api/v1/public/status")
    misses = answers.body.cache_info().misses
    station, _ = station_in_a_dong(site.catalog, "air.pm10")
    r = sync_client(redis_url)
    r.hset(keys.live("air.pm10"), station, state("air.pm10", station, 200.0, "critical"))
    r.close()
    time.sleep(PERIOD + 0.3)
    # A crowd arriving together once the period is over: one computation for all of them.
    with ThreadPoolExecutor(16) as pool:
        got = list(pool.map(lambda _: httpx.get(f"{site.url}/api/v1/public/status", timeout=30), range(16)))
    assert answers.body.cache_info().misses == misses + 1
    assert {g.headers["etag"] for g in got} == {got[0].headers["etag"]} != {before.headers["etag"]}
    pm10 = next(i for i in orjson.loads(got[0].content)["indicators"] if i["id"] == "air.pm10")
    assert pm10["status"] == "critical" and pm10["now"]["value"] == 200.0


@pytest.mark.parametrize(("route", "params", "field", "value"), [
    ("/api/v1/public/history", {"hours": "0"}, "hours", "0"),
    ("/api/v1/public/history", {"hours": "49"}, "hours", "49"),
    ("/api/v1/public/messages", {"hours": "a day"}, "hours", "a day"),
    ("/api/v1/public/history", {"indicator": "nope.nope"}, "indicator", "nope.nope"),
    ("/api/v1/public/history", {"indicator": "admin.complaints_open"}, "indicator", "admin.complaints_open"),
])
def test_bad_parameters_are_named(http: httpx.Client, route: str, params: dict[str, str], field: str,
                                  value: str) -> None:
    r = http.get(route, params=params)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["field"] == field and error["value"] == value


def test_an_unknown_and_a_restricted_id_get_the_same_answer(http: httpx.Client) -> None:
    unknown = http.get("/api/v1/public/history", params={"indicator": "x.y"}).json()["error"]["message"]
    secret = http.get("/api/v1/public/history", params={"indicator": "admin.complaints_open"}).json()
    assert secret["error"]["message"] == unknown


def test_exercise_data_is_marked(redis_url: str, tmp_path: Path) -> None:
    with public_site(redis_url, tmp_path, exercise=True) as served:
        status = httpx.get(f"{served.url}/api/v1/public/status", timeout=30).json()
        messages = httpx.get(f"{served.url}/api/v1/public/messages", timeout=30).json()
    assert status["exercise"] is True
    assert all(i["now"]["exercise"] for i in status["indicators"] if i["now"])
    assert messages["messages"] and all(m["exercise"] for m in messages["messages"])


def test_documented_in_openapi(http: httpx.Client) -> None:
    spec = http.get("/openapi.json").json()
    for route in ROUTES:
        op = spec["paths"][route]["get"]
        assert op["tags"] == ["public"] and op["summary"]
        assert "$ref" in op["responses"]["200"]["content"]["application/json"]["schema"]
        assert "422" in op["responses"]


def test_a_city_wide_advisory_holds_in_every_district(http: httpx.Client, site: Served, redis_url: str) -> None:
    city = site.catalog.city.id
    assert city in site.catalog.entities_of("advisory.heavy_rain")
    r = sync_client(redis_url)
    r.hset(keys.live("advisory.heavy_rain"), city, state("advisory.heavy_rain", city, 1.0, "warning"))
    r.close()
    time.sleep(PERIOD + 0.3)
    districts = http.get("/api/v1/public/status").json()["districts"]
    assert {d["status"] for d in districts} == {"warning"}
    assert all(any(x["indicator"] == "advisory.heavy_rain" and x["entity"] == city for x in d["readings"])
               for d in districts)
