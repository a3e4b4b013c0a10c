"""The `airkorea` kind against a local server answering in AirKorea's real format (seeds/payloads/airkorea)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis.asyncio as aioredis

from situationroom import keys
from situationroom.catalog import Catalog
from situationroom.collectors import health
from situationroom.collectors.base import CollectError, CollectResult
from situationroom.collectors.definition import load_collector
from situationroom.collectors.kinds.airkorea import AirKorea, parse_data_time
from situationroom.collectors.runtime import CollectorRunner
from tests.publicdata_support import PAYLOADS, Request, Server, context, public_api
from tests.site_support import REPO, settings_for

pytestmark = pytest.mark.cluster  # also run on the suite's Redis Cluster

KEY = "Ab3+dEf/ghIJ9kLmn0pQ=="
"""A key with the characters data.go.kr keys have (+, /, =), so encoding mistakes show."""
ENCODED_KEY = "Ab3%2BdEf%2FghIJ9kLmn0pQ%3D%3D"
OP = "/B552584/ArpltnInforInqireSvc/getMsrstnAcctoRltmMesureDnsty"
SIDO = "/B552584/ArpltnInforInqireSvc/getCtprvnRltmMesureDnsty"
KST = ZoneInfo("Asia/Seoul")


def kind(catalog: Catalog, server: Server, **params: Any) -> AirKorea:
    p = {"service_key": KEY, "base_url": server.url + "/B552584/ArpltnInforInqireSvc", "stations": ["장량동"],
         **params}
    return AirKorea(AirKorea.Params(**p), context(catalog, "airkorea-test"))


def kst(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=KST).timestamp()


async def collect(k: AirKorea) -> CollectResult:
    try:
        return await k.collect(time.time())
    finally:
        await k.close()


def test_24_00_is_midnight_of_the_next_day() -> None:
    assert parse_data_time("2026-03-14 24:00") == datetime(2026, 3, 15, 0, 0)
    assert parse_data_time("2026-12-31 24:00") == datetime(2027, 1, 1, 0, 0)
    assert parse_data_time("2026-03-14 23:00") == datetime(2026, 3, 14, 23, 0)
    with pytest.raises(ValueError):
        parse_data_time("2026-03-14 25:00")


async def test_newest_hour_of_a_station_with_the_query_airkorea_expects(site_catalog: Catalog) -> None:
    with public_api() as server:
        server.file(OP, "airkorea", "normal.json")
        result = await collect(kind(site_catalog, server))
    [req] = server.requests
    assert req.query["serviceKey"] == KEY
    assert req.query["returnType"] == "json"
    assert req.query["stationName"] == "장량동"
    assert req.query["dataTerm"] == "DAILY"
    assert req.query["ver"] == "1.3"
    assert req.query["numOfRows"] == "6" and req.query["pageNo"] == "1"
    got = {s.indicator: s for s in result.samples}
    assert {k: v.value for k, v in got.items()} == {
        "air.pm10": 112, "air.pm25": 81, "air.o3": 0.021, "air.no2": 0.018, "air.so2": 0.004, "air.co": 0.5,
        "air.cai": 161}
    assert {s.entity for s in result.samples} == {"airkorea-jangnyang"}
    assert {s.ts for s in result.samples} == {kst("2026-03-15 00:00")}  # "2026-03-14 24:00"
    assert result.rejected == []


async def test_encoded_key_is_not_encoded_twice(site_catalog: Catalog) -> None:
    with public_api() as server:
        server.file(OP, "airkorea", "normal.json")
        await collect(kind(site_catalog, server, service_key=ENCODED_KEY))
    assert server.requests[0].query["serviceKey"] == KEY
    assert "%252B" not in server.requests[0].raw_query


async def test_dash_values_are_missing_at_source_with_their_flag_and_fall_back(site_catalog: Catalog) -> None:
    with public_api() as server:
        server.file(OP, "airkorea", "missing.json")
        k = kind(site_catalog, server)
        first = await k.collect(time.time())
        again = await k.collect(time.time())
        await k.close()
    missing = {(r.field, r.value["dataTime"]): r for r in first.rejected}
    assert set(missing) == {("pm10Value", "2026-03-15 01:00"), ("pm25Value", "2026-03-15 01:00"),
                            ("so2Value", "2026-03-15 01:00"), ("khaiValue", "2026-03-15 01:00")}
    assert all(r.reason == "missing at source" for r in first.rejected)
    assert missing[("pm10Value", "2026-03-15 01:00")].value["flag"] == "통신장애"
    assert missing[("so2Value", "2026-03-15 01:00")].value["flag"] == "장비점검"
    assert missing[("pm10Value", "2026-03-15 01:00")].value["station"] == "장량동"
    got = {s.indicator: (s.value, s.ts) for s in first.samples}
    # never a 0 for "-": the newest earlier hour that has the value, at its own time
    assert got["air.pm10"] == (104, kst("2026-03-14 23:00"))
    assert got["air.pm25"] == (79, kst("2026-03-15 00:00"))
    assert got["air.cai"] == (161, kst("2026-03-15 00:00"))
    assert got["air.co"] == (0.4, kst("2026-03-15 01:00"))
    assert "air.so2" not in got  # "-" in every hour
    assert again.rejected == []  # the same missing values are not dead-lettered twice
    assert sorted(map(repr, again.samples)) == sorted(map(repr, first.samples))


async def test_no_fallback_older_than_the_late_limit(site_catalog: Catalog) -> None:
    rows = json.loads((PAYLOADS / "airkorea" / "missing.json").read_text())
    now = kst("2026-11-25 12:20")
    for item, hour in zip(rows["response"]["body"]["items"], ("12:00", "11:00", "10:00"), strict=True):
        item["dataTime"] = f"2026-11-25 {hour}"
    with public_api() as server:
        server.routes[OP] = (200, "application/json", json.dumps(rows).encode())
        ctx = context(site_catalog, "airkorea-test")
        ctx.settings = settings_for("redis://127.0.0.1:6379/7", late_limit=7200)
        k = AirKorea(AirKorea.Params(service_key=KEY, base_url=server.url + "/B552584/ArpltnInforInqireSvc",
                                     stations=["장량동"]), ctx)
        result = await k.collect(now)
        await k.close()
    got = {s.indicator for s in result.samples}
    assert "air.pm25" in got  # 11:00 is within the late-arrival limit
    assert "air.pm10" not in got  # its newest value is of 10:00: the pipeline would only reject it


async def test_no_data_is_an_empty_successful_run(site_catalog: Catalog) -> None:
    with public_api() as server:
        server.file(OP, "airkorea", "nodata.json")
        result = await collect(kind(site_catalog, server))
    assert result.samples == [] and result.rejected == []


@pytest.mark.parametrize(("name", "status", "expected"), [
    ("error-envelope.json", 200, "AirKorea answered resultCode 22 LIMITED_NUMBER_OF_SERVICE_REQUESTS_EXCEEDS_ERROR"),
    ("gateway-error.xml", 200, "AirKorea answered returnReasonCode 30 SERVICE_KEY_IS_NOT_REGISTERED_ERROR"),
    ("gateway-error-403.json", 403, "AirKorea answered returnReasonCode 30 SERVICE_KEY_IS_NOT_REGISTERED_ERROR"),
    ("text-error.txt", 200, "AirKorea answered text, not JSON: Unexpected errors"),
])
async def test_error_answers_are_collect_errors_naming_code_and_name(site_catalog: Catalog, name: str, status: int,
                                                                     expected: str) -> None:
    with public_api() as server:
        server.file(OP, "airkorea", name, status)
        with pytest.raises(CollectError) as err:
            await collect(kind(site_catalog, server))
    assert str(err.value).startswith(expected)
    assert KEY not in str(err.value) and ENCODED_KEY not in str(err.value)


async def test_xml_data_or_no_data_when_json_was_asked(site_catalog: Catalog) -> None:
    xml = ("<response><header><resultCode>{}</resultCode><resultMsg>{}</resultMsg></header>"
           "<body><items></items></body></response>")
    with public_api() as server:
        server.routes[OP] = (200, "text/xml", xml.format("03", "NODATA_ERROR").encode())
        assert (await collect(kind(site_catalog, server))).samples == []
        server.routes[OP] = (200, "text/xml", xml.format("00", "NORMAL_CODE").encode())
        with pytest.raises(CollectError, match="AirKorea answered XML data, not JSON"):
            await collect(kind(site_catalog, server))
        server.routes[OP] = (200, "text/xml", xml.format("31", "DEADLINE_HAS_EXPIRED_ERROR").encode())
        with pytest.raises(CollectError, match="AirKorea answered resultCode 31 DEADLINE_HAS_EXPIRED_ERROR"):
            await collect(kind(site_catalog, server))


async def test_the_key_is_not_in_any_log_record(site_catalog: Catalog, caplog: pytest.LogCaptureFixture) -> None:
    """httpx logs each request's URL, query string and all, at INFO."""
    caplog.set_level(logging.DEBUG)
    with public_api() as server:
        server.file(OP, "airkorea", "normal.json")
        await collect(kind(site_catalog, server, service_key=ENCODED_KEY))
        server.file(OP, "airkorea", "gateway-error.xml")
        with pytest.raises(CollectError):
            await collect(kind(site_catalog, server, service_key=ENCODED_KEY))
    assert any("HTTP Request: GET" in r.getMessage() for r in caplog.records)  # the URL was logged ...
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "serviceKey=***" in text  # ... masked
    assert KEY not in text and ENCODED_KEY not in text and "Ab3" not in text


async def test_http_error_echoing_the_url_never_shows_the_key(site_catalog: Catalog) -> None:
    def echo(req: Request) -> tuple[int, str, bytes]:
        return 502, "text/html", f"<html><body>Bad gateway for {req.raw_path}?{req.raw_query}</body></html>".encode()

    with public_api() as server:
        server.routes[OP] = echo
        with pytest.raises(CollectError) as err:
            await collect(kind(site_catalog, server))
    text = str(err.value)
    assert text.startswith("AirKorea answered HTTP 502")
    assert "serviceKey=***" in text
    assert KEY not in text and ENCODED_KEY not in text and "Ab3" not in text


async def test_timeout_and_refused_connections(site_catalog: Catalog) -> None:
    def slow(req: Request) -> tuple[int, str, bytes]:
        time.sleep(1.0)
        return 200, "application/json", b"{}"

    with public_api() as server:
        server.routes[OP] = slow
        with pytest.raises(CollectError, match=r"AirKorea did not answer within 0.3s"):
            await collect(kind(site_catalog, server, timeout=0.3))
        url = server.url
    k = AirKorea(AirKorea.Params(service_key=KEY, base_url=url + "/x", stations=["장량동"]),
                 context(site_catalog))
    with pytest.raises(CollectError, match="AirKorea could not be reached") as err:
        await collect(k)
    assert KEY not in str(err.value)


async def test_malformed_rows_are_rejections_not_failures(site_catalog: Catalog) -> None:
    with public_api() as server:
        server.file(OP, "airkorea", "malformed.json")
        result = await collect(kind(site_catalog, server))
    reasons = sorted((r.field, r.reason) for r in result.rejected)
    bad_time = ("dataTime", "not a time like 2026-03-14 13:00")
    assert reasons == [bad_time, bad_time, ("pm25Value", "not a number")]
    got = {s.indicator: s.value for s in result.samples}
    assert got["air.pm10"] == 99 and "air.pm25" not in got


async def test_items_that_are_not_a_list_fail_the_run(site_catalog: Catalog) -> None:
    with public_api() as server:
        server.routes[OP] = (200, "application/json",
                             b'{"response":{"header":{"resultCode":"00"},"body":{"items":"none"}}}')
        with pytest.raises(CollectError, match="items that are not a list"):
            await collect(kind(site_catalog, server))
        server.routes[OP] = (200, "application/json", b'{"result":"ok"}')
        with pytest.raises(CollectError, match="without a result header"):
            await collect(kind(site_catalog, server))


async def test_province_list_keeps_pohang_and_rejects_unmapped_stations(site_catalog: Catalog) -> None:
    with public_api() as server:
        server.file(SIDO, "airkorea", "sido.json")
        result = await collect(kind(site_catalog, server, mode="sido", stations=["장량동", "대송면", "효자동"],
                                    page_size=100))
    [req] = server.requests
    assert req.query["sidoName"] == "경북" and req.query["numOfRows"] == "100" and req.query["serviceKey"] == KEY
    by = {(s.entity, s.indicator): s.value for s in result.samples}
    assert by[("airkorea-jangnyang", "air.pm10")] == 88
    assert by[("airkorea-daesong", "air.pm10")] == 131
    assert ("airkorea-daesong", "air.pm25") not in by
    assert {e for e, _ in by} == {"airkorea-jangnyang", "airkorea-daesong"}  # 성건동 (경주) is not asked for
    reasons = sorted((r.field, r.reason, r.value.get("station")) for r in result.rejected)
    assert reasons == [("pm25Value", "missing at source", "대송면"),
                       ("stationName", "station not in the site's entities", "효자동")]


async def test_province_list_comes_in_one_request_and_a_station_not_in_it_is_rejected(
        site_catalog: Catalog) -> None:
    with public_api() as server:
        server.file(SIDO, "airkorea", "sido.json")
        k = kind(site_catalog, server, mode="sido", stations=["장량동", "오천읍"])
        result = await k.collect(time.time())
        again = await k.collect(time.time())
        server.file(SIDO, "airkorea", "nodata.json")
        empty = await collect(k)
    first = server.requests[0]
    assert first.query["numOfRows"] == "1000" and first.query["pageNo"] == "1"
    assert len(server.requests) == 3  # one per run: the whole province in one page
    assert {s.entity for s in result.samples} == {"airkorea-jangnyang"}
    # 오천읍 is one of the site's stations, but 경북's list does not have it: a misspelt name or the wrong sido_name.
    assert [(r.field, r.reason, r.value) for r in result.rejected] == [
        ("stationName", "station not in the 경북 list (check stations and sido_name)",
         {"station": "오천읍", "sidoName": "경북"})]
    assert again.rejected == [] and {s.entity for s in again.samples} == {"airkorea-jangnyang"}  # said once
    assert empty.samples == [] and empty.rejected == []  # no data at all is not "absent from the list"


async def test_province_list_stops_at_the_page_cap_with_a_warning(site_catalog: Catalog,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    recorded = json.loads((PAYLOADS / "airkorea" / "sido.json").read_text(encoding="utf-8"))

    def paged(req: Request) -> tuple[int, str, bytes]:
        # The recorded province list one row a page, with a total longer than 20 pages.
        page = int(req.query["pageNo"])
        doc = json.loads(json.dumps(recorded))
        body = doc["response"]["body"]
        body.update({"totalCount": 100, "pageNo": page, "numOfRows": 1,
                     "items": [recorded["response"]["body"]["items"][(page - 1) % 4]]})
        return 200, "application/json", json.dumps(doc).encode()

    with public_api() as server:
        server.routes[SIDO] = paged
        with caplog.at_level(logging.WARNING):
            result = await collect(kind(site_catalog, server, mode="sido", stations=["장량동", "오천읍"],
                                        page_size=1))
    assert [int(r.query["pageNo"]) for r in server.requests] == list(range(1, 21))
    assert {s.entity for s in result.samples} == {"airkorea-jangnyang"}
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.getMessage() == ("the 경북 list has 100 rows; only the first 20 (20 pages of 1) were read, so "
                                    "stations further on are not collected: raise params.page_size (up to 1000)")
    # 오천읍 may be on a page not read: it is not called absent from the list.
    assert result.rejected == []


async def test_default_stations_are_the_sites_airkorea_entities(site_catalog: Catalog) -> None:
    with public_api() as server:
        server.file(OP, "airkorea", "nodata.json")
        k = kind(site_catalog, server, stations=None)
        await collect(k)
    asked = {r.query["stationName"] for r in server.requests}
    assert asked == {e.source_id for e in site_catalog.entities_of_kind("airkorea")}
    assert len(asked) == 10


async def test_one_station_failing_does_not_lose_the_others(site_catalog: Catalog) -> None:
    def by_station(req: Request) -> tuple[int, str, bytes]:
        if req.query["stationName"] == "대송면":
            return 500, "text/plain", b"Internal Server Error"
        return 200, "application/json", (PAYLOADS / "airkorea" / "normal.json").read_bytes()

    with public_api() as server:
        server.routes[OP] = by_station
        result = await collect(kind(site_catalog, server, stations=["대송면", "장량동"]))
    assert {s.entity for s in result.samples} == {"airkorea-jangnyang"} and len(result.samples) == 7
    [r] = result.rejected
    assert (r.field, r.value) == ("stationName", "대송면")
    assert r.reason == "AirKorea answered HTTP 500 Internal Server Error: Internal Server Error"


async def test_every_station_failing_fails_the_run(site_catalog: Catalog) -> None:
    with public_api() as server:
        server.routes[OP] = (500, "text/plain", b"Internal Server Error")
        with pytest.raises(CollectError, match="AirKorea answered HTTP 500"):
            await collect(kind(site_catalog, server, stations=["대송면", "장량동"]))
    assert len(server.requests) == 2


@pytest.mark.parametrize("name", ["gateway-error.xml", "error-envelope.json"])
async def test_a_refused_key_or_quota_stops_at_the_first_station(site_catalog: Catalog, name: str) -> None:
    with public_api() as server:
        server.file(OP, "airkorea", name)
        with pytest.raises(CollectError):
            await collect(kind(site_catalog, server, stations=None))
    assert len(server.requests) == 1  # not nine more requests against a spent quota


async def test_a_station_without_an_entity_is_rejected_without_a_request(site_catalog: Catalog) -> None:
    with public_api() as server:
        server.file(OP, "airkorea", "normal.json")
        result = await collect(kind(site_catalog, server, stations=["포항역"]))
    assert server.requests == []
    assert [(r.field, r.reason) for r in result.rejected] == [("stationName", "station not in the site's entities")]


def test_example_and_pohang_files_load(site_catalog: Catalog) -> None:
    example = load_collector(REPO / "collectors" / "examples" / "airkorea.yaml", {"DATA_GO_KR_KEY": KEY})
    assert example.definition.kind == "airkorea" and example.params is not None
    k = AirKorea(example.params, context(site_catalog))
    assert set(k.stations) == {"장량동", "대송면"} and k.key == KEY
    assert KEY not in repr(example.params)
    pohang = load_collector(REPO / "collectors" / "airkorea-pohang.yaml", {})
    assert pohang.definition.enabled is False and pohang.missing_env == ("DATA_GO_KR_KEY",)
    pohang = load_collector(REPO / "collectors" / "airkorea-pohang.yaml", {"DATA_GO_KR_KEY": KEY})
    assert pohang.params is not None
    assert len(AirKorea(pohang.params, context(site_catalog)).stations) == 10


async def test_through_the_runner_health_and_dead_letters(aclient: aioredis.Redis, redis_url: str,
                                                          site_catalog: Catalog, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The collect role: samples written, "-" values in the dead letters, an error in the health without the key."""
    now = datetime.now(KST)
    hour = now.replace(minute=0, second=0, microsecond=0)
    rows = json.loads((PAYLOADS / "airkorea" / "normal.json").read_text())
    items = rows["response"]["body"]["items"]
    items[0]["dataTime"] = hour.strftime("%Y-%m-%d %H:%M")
    items[0]["pm25Value"], items[0]["pm25Flag"] = "-", "자료이상"
    items[1]["dataTime"] = datetime.fromtimestamp(hour.timestamp() - 3600, KST).strftime("%Y-%m-%d %H:%M")
    site = tmp_path / "site"
    (site / "collectors").mkdir(parents=True)
    monkeypatch.setenv("DATA_GO_KR_KEY", KEY)
    with public_api() as server:
        server.routes[OP] = (200, "application/json", json.dumps(rows, ensure_ascii=False).encode())
        text = (REPO / "collectors" / "examples" / "airkorea.yaml").read_text()
        text = text.replace("https://apis.data.go.kr", server.url)
        (site / "collectors" / "air.yaml").write_text(text)
        runner = CollectorRunner(aclient, site_catalog, settings_for(redis_url, site=site), watch=False)
        await runner.load()
        try:
            outcome = await runner.run_once("air")
            assert outcome.ok, outcome.error
            assert outcome.written == 2 * 6  # two stations, 7 indicators less pm2.5
            dead = await aclient.xrange(keys.deadletter())
            reasons = [(f[b"field"].decode(), f[b"reason"].decode(), json.loads(f[b"value"])) for _, f in dead]
            assert [(f, r) for f, r, _ in reasons] == [("pm25Value", "missing at source")] * 2
            assert {v["flag"] for _, _, v in reasons} == {"자료이상"}
            server.file(OP, "airkorea", "gateway-error.xml")
            outcome = await runner.run_once("air")
            assert not outcome.ok
            state = (await health.read_all(aclient))["air"]
            error = str(state.get("last_error"))
            assert "returnReasonCode 30 SERVICE_KEY_IS_NOT_REGISTERED_ERROR" in error
            assert KEY not in json.dumps(state, default=str) and ENCODED_KEY not in json.dumps(state, default=str)
        finally:
            await runner.stop()
            await asyncio.sleep(0)
