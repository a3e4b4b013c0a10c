"""The `kma_nowcast` kind against a local server answering in KMA's real format (seeds/payloads/kma)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from situationroom.catalog import Catalog
from situationroom.collectors.base import CollectError, CollectResult
from situationroom.collectors.definition import load_collector
from situationroom.collectors.kinds.kma_nowcast import KmaNowcast, base_time, precipitation
from situationroom.errors import ConfigError
from tests.publicdata_support import PAYLOADS, Request, Server, context, public_api
from tests.site_support import REPO

KEY = "Kma7+Key/Value0123456=="
OP = "/1360000/VilageFcstInfoService_2.0/getUltraSrtNcst"
KST = ZoneInfo("Asia/Seoul")


def at(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=KST).timestamp()


def kind(catalog: Catalog, server: Server, **params: Any) -> KmaNowcast:
    p = {"service_key": KEY, "base_url": server.url + "/1360000/VilageFcstInfoService_2.0", "cells": ["102,94"],
         **params}
    return KmaNowcast(KmaNowcast.Params(**p), context(catalog, "kma-test"))


async def collect(k: KmaNowcast, now: float) -> CollectResult:
    try:
        return await k.collect(now)
    finally:
        await k.close()


@pytest.mark.parametrize(("now", "expected"), [
    ("2022-09-06 05:45", "2022-09-06 05:00"),
    ("2022-09-06 05:40", "2022-09-06 05:00"),
    ("2022-09-06 05:39", "2022-09-06 04:00"),
    ("2022-09-06 00:10", "2022-09-05 23:00"),   # the previous day's last hour
    ("2026-01-01 00:39", "2025-12-31 23:00"),   # and the previous year's
])
def test_base_time_is_the_newest_published_hour(now: str, expected: str) -> None:
    assert base_time(at(now), "Asia/Seoul", 40) == datetime.strptime(expected, "%Y-%m-%d %H:%M")


@pytest.mark.parametrize(("text", "value"), [
    ("77", 77.0), ("0", 0.0), ("12.5", 12.5), ("강수없음", 0.0), ("1mm 미만", 0.5), ("1.0mm 미만", 0.5),
    ("30.0~50.0mm", 40.0), ("1.0~29.0mm", 15.0), ("50.0mm 이상", 50.0), ("3.5mm", 3.5), ("비 조금", None),
])
def test_rn1_as_kma_writes_it(text: str, value: float | None) -> None:
    assert precipitation(text) == value


async def test_an_hour_of_a_cell_with_the_query_kma_expects(site_catalog: Catalog) -> None:
    with public_api() as server:
        server.file(OP, "kma", "normal.json")
        result = await collect(kind(site_catalog, server), at("2022-09-06 05:45"))
    [req] = server.requests
    assert req.query == {"serviceKey": KEY, "pageNo": "1", "numOfRows": "10", "dataType": "JSON",
                         "base_date": "20220906", "base_time": "0500", "nx": "102", "ny": "94"}
    got = {s.indicator: s.value for s in result.samples}
    assert got == {"weather.temperature": 22.9, "rain.hourly": 77.0, "weather.humidity": 98.0,
                   "weather.wind_speed": 6.3, "weather.wind_direction": 78.0}
    assert {s.entity for s in result.samples} == {"kma-grid-102-94"}
    assert {s.ts for s in result.samples} == {at("2022-09-06 05:00")}
    assert result.rejected == []


async def test_before_40_past_the_hour_the_previous_hour_is_asked_for(site_catalog: Catalog) -> None:
    with public_api() as server:
        server.file(OP, "kma", "normal.json")
        await collect(kind(site_catalog, server), at("2022-09-06 06:15"))
    assert [(r.query["base_date"], r.query["base_time"]) for r in server.requests] == [("20220906", "0500")]


@pytest.mark.parametrize("not_yet", ["nodata.json", "not-published.json"])
async def test_an_hour_not_published_yet_falls_back_to_the_one_before(site_catalog: Catalog, not_yet: str) -> None:
    with public_api() as server:
        server.files(OP, "kma", lambda req: not_yet if req.query["base_time"] == "0600" else "normal.json")
        result = await collect(kind(site_catalog, server), at("2022-09-06 06:41"))
    assert [r.query["base_time"] for r in server.requests] == ["0600", "0500"]
    assert len(result.samples) == 5 and {s.ts for s in result.samples} == {at("2022-09-06 05:00")}


async def test_01_for_the_previous_hour_too_is_an_error(site_catalog: Catalog) -> None:
    with public_api() as server:
        server.file(OP, "kma", "not-published.json")
        with pytest.raises(CollectError, match="KMA answered resultCode 01 APPLICATION_ERROR"):
            await collect(kind(site_catalog, server), at("2022-09-06 06:41"))
    assert [r.query["base_time"] for r in server.requests] == ["0600", "0500"]


async def test_nothing_for_either_hour_is_an_empty_run(site_catalog: Catalog) -> None:
    with public_api() as server:
        server.file(OP, "kma", "nodata.json")
        result = await collect(kind(site_catalog, server), at("2022-09-06 06:41"))
    assert result.samples == [] and result.rejected == [] and len(server.requests) == 2


async def test_missing_markers_are_rejections(site_catalog: Catalog) -> None:
    with public_api() as server:
        server.file(OP, "kma", "missing.json")
        k = kind(site_catalog, server)
        result = await k.collect(at("2022-09-06 06:45"))
        again = await k.collect(at("2022-09-06 06:50"))
        await k.close()
    assert {s.indicator: s.value for s in result.samples} == {"weather.temperature": 22.7}
    missing = {r.field: r.value["value"] for r in result.rejected}
    assert missing == {"REH": "-999", "RN1": "-998.9", "VEC": "+900", "WSD": ""}
    assert {r.reason for r in result.rejected} == {"missing at source"}
    assert all(r.value["cell"] == "102,94" and r.value["baseTime"] == "0600" for r in result.rejected)
    assert again.rejected == [] and len(again.samples) == 1


async def test_text_rainfall_classes(site_catalog: Catalog) -> None:
    with public_api() as server:
        server.file(OP, "kma", "rn1-text.json")
        result = await collect(kind(site_catalog, server), at("2022-09-06 04:50"))
    rain = [s for s in result.samples if s.indicator == "rain.hourly"]
    assert [s.value for s in rain] == [40.0]
    assert site_catalog.status_of("rain.hourly", "kma-grid-102-94", rain[0].value) == "warning"


async def test_malformed_items_are_rejections(site_catalog: Catalog) -> None:
    with public_api() as server:
        server.file(OP, "kma", "malformed.json")
        result = await collect(kind(site_catalog, server), at("2022-09-06 05:45"))
    assert {s.indicator: s.value for s in result.samples} == {"weather.wind_direction": 80.0}
    assert sorted((r.field, r.reason) for r in result.rejected) == [
        ("T1H", "not a number"), ("baseDate", "not a time like 20260906 0500"), ("item", "not an object"),
        ("nx,ny", "a grid cell that was not asked for")]


@pytest.mark.parametrize(("name", "status", "expected"), [
    ("error-envelope.json", 200, "KMA answered resultCode 10 INVALID_REQUEST_PARAMETER_ERROR"),
    ("gateway-error.xml", 200, "KMA answered returnReasonCode 22 LIMITED_NUMBER_OF_SERVICE_REQUESTS_EXCEEDS_ERROR"),
])
async def test_errors_name_code_and_name(site_catalog: Catalog, name: str, status: int, expected: str) -> None:
    with public_api() as server:
        server.file(OP, "kma", name, status)
        with pytest.raises(CollectError) as err:
            await collect(kind(site_catalog, server), at("2022-09-06 05:45"))
    assert str(err.value).startswith(expected)
    assert KEY not in str(err.value)


async def test_gateway_error_with_the_reason_name_instead_of_the_number(site_catalog: Catalog) -> None:
    body = (b"<OpenAPI_ServiceResponse><cmmMsgHeader><errMsg>SERVICE ERROR</errMsg>"
            b"<returnAuthMsg>SERVICE_KEY_IS_NOT_REGISTERED_ERROR</returnAuthMsg>"
            b"<returnReasonCode>SERVICE_KEY_IS_NOT_REGISTERED_ERROR</returnReasonCode></cmmMsgHeader>"
            b"</OpenAPI_ServiceResponse>")
    with public_api() as server:
        server.routes[OP] = (200, "text/xml", body)
        with pytest.raises(CollectError, match="returnReasonCode 30 SERVICE_KEY_IS_NOT_REGISTERED_ERROR"):
            await collect(kind(site_catalog, server), at("2022-09-06 05:45"))


async def test_a_hostile_xml_body_is_refused_not_expanded(site_catalog: Catalog) -> None:
    bomb = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
            b"<OpenAPI_ServiceResponse><cmmMsgHeader><returnReasonCode>&lol2;</returnReasonCode></cmmMsgHeader>"
            b"</OpenAPI_ServiceResponse>")
    with public_api() as server:
        server.routes[OP] = (200, "text/xml", bomb)
        with pytest.raises(CollectError) as err:
            await collect(kind(site_catalog, server), at("2022-09-06 05:45"))
    assert "lollol" not in str(err.value)


async def test_both_gu_cells_by_default(site_catalog: Catalog) -> None:
    def pick(req: Request) -> str:
        return "normal.json" if req.query["ny"] == "94" else "normal-102-95.json"

    with public_api() as server:
        server.files(OP, "kma", pick)
        result = await collect(kind(site_catalog, server, cells=None), at("2022-09-06 05:45"))
    assert sorted((r.query["nx"], r.query["ny"]) for r in server.requests) == [("102", "94"), ("102", "95")]
    rain = {s.entity: s.value for s in result.samples if s.indicator == "rain.hourly"}
    assert rain == {"kma-grid-102-94": 77.0, "kma-grid-102-95": 64.0}


async def test_cell_without_an_entity_is_rejected(site_catalog: Catalog) -> None:
    with public_api() as server:
        server.file(OP, "kma", "normal.json")
        result = await collect(kind(site_catalog, server, cells=["60,127"]), at("2022-09-06 05:45"))
    assert server.requests == []
    assert [(r.field, r.reason) for r in result.rejected] == [("nx,ny", "station not in the site's entities")]


def test_bad_cells_and_indicators_are_config_errors(site_catalog: Catalog) -> None:
    with public_api() as server:
        with pytest.raises(ConfigError) as err:
            kind(site_catalog, server, cells=["102-94"])
        assert err.value.problems[0].field == "params.cells"
        with pytest.raises(ConfigError) as err:
            kind(site_catalog, server, categories={"PTY": "weather.precipitation"})
        assert err.value.problems[0].field == "params.categories.PTY"


def test_example_and_pohang_files_load(site_catalog: Catalog) -> None:
    example = load_collector(REPO / "collectors" / "examples" / "kma_nowcast.yaml", {"DATA_GO_KR_KEY": KEY})
    assert example.params is not None
    k = KmaNowcast(example.params, context(site_catalog))
    assert k.cells == {"102,94": "kma-grid-102-94"}
    pohang = load_collector(REPO / "collectors" / "kma-nowcast-pohang.yaml", {})
    assert pohang.definition.enabled is False and pohang.missing_env == ("DATA_GO_KR_KEY",)
    pohang = load_collector(REPO / "collectors" / "kma-nowcast-pohang.yaml", {"DATA_GO_KR_KEY": KEY})
    assert pohang.params is not None
    assert KmaNowcast(pohang.params, context(site_catalog)).cells == {"102,94": "kma-grid-102-94",
                                                                      "102,95": "kma-grid-102-95"}


async def test_a_byte_order_mark_before_the_json_is_fine(site_catalog: Catalog) -> None:
    with public_api() as server:
        body = (PAYLOADS / "kma" / "normal.json").read_bytes()
        server.routes[OP] = (200, "application/json", "\ufeff".encode() + body)
        result = await collect(kind(site_catalog, server), at("2022-09-06 05:45"))
    assert len(result.samples) == 5
