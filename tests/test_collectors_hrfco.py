"""The `hrfco` kind against a local server answering like api.hrfco.go.kr (seeds/payloads/hrfco)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from situationroom.catalog import Catalog
from situationroom.collectors.base import CollectError, CollectResult
from situationroom.collectors.definition import load_collector
from situationroom.collectors.kinds.hrfco import Hrfco
from situationroom.errors import ConfigError
from tests.publicdata_support import Request, Server, context, public_api
from tests.site_support import REPO

KEY = "6F2A19C4-77B0-4E5D-9A1E-HRFCO+KEY/01"
"""The key is a path segment: characters a URL path must escape show encoding mistakes."""
PATH_KEY = "/" + KEY + "/"
KST = ZoneInfo("Asia/Seoul")


def at(text: str) -> float:
    return datetime.strptime(text, "%Y%m%d%H%M").replace(tzinfo=KST).timestamp()


def level_path(code: str) -> str:
    return f"/{KEY}/waterlevel/list/10M/{code}.json"


def kind(catalog: Catalog, server: Server, **params: Any) -> Hrfco:
    p = {"service_key": KEY, "base_url": server.url, "stations": ["2101690"], **params}
    return Hrfco(Hrfco.Params(**p), context(catalog, "hrfco-test"))


async def collect(k: Hrfco) -> CollectResult:
    try:
        return await k.collect(at("202209060615"))
    finally:
        await k.close()


async def test_newest_level_and_flow_of_a_gauge(site_catalog: Catalog) -> None:
    with public_api() as server:
        server.file(level_path("2101690"), "hrfco", "normal.json")
        result = await collect(kind(site_catalog, server))
    [req] = server.requests
    assert req.path == level_path("2101690")
    assert "%2F" in req.raw_path and "%2B" in req.raw_path  # the key is one path segment
    # content is not ordered: the largest ymdhm wins; its fw is a blank " " (missing)
    assert [(s.indicator, s.entity, s.ts, s.value) for s in result.samples] == [
        ("river.level", "hrfco-2101690", at("202209060610"), 2.71)]
    [r] = result.rejected
    assert (r.field, r.reason, r.value) == ("fw", "missing at source",
                                            {"wlobscd": "2101690", "ymdhm": "202209060610", "value": " "})


async def test_several_rows(site_catalog: Catalog) -> None:
    with public_api() as server:
        server.file(level_path("2101690"), "hrfco", "normal.json")
        result = await collect(kind(site_catalog, server, latest=3))
    levels = sorted((s.ts, s.value) for s in result.samples if s.indicator == "river.level")
    assert levels == [(at("202209060550"), 2.21), (at("202209060600"), 2.46), (at("202209060610"), 2.71)]
    flows = sorted((s.ts, s.value) for s in result.samples if s.indicator == "river.discharge")
    assert flows == [(at("202209060550"), 1298.4), (at("202209060600"), 1532.1)]


async def test_blank_level_is_missing_at_source_once(site_catalog: Catalog) -> None:
    with public_api() as server:
        server.file(level_path("2101690"), "hrfco", "missing.json")
        k = kind(site_catalog, server, latest=2)
        first = await k.collect(at("202209060625"))
        again = await k.collect(at("202209060626"))
        await k.close()
    assert sorted((r.field, r.value["ymdhm"], r.value["value"]) for r in first.rejected) == [
        ("fw", "202209060620", ""), ("wl", "202209060620", " ")]
    assert {r.reason for r in first.rejected} == {"missing at source"}
    assert {(s.indicator, s.value) for s in first.samples} == {("river.level", 2.71), ("river.discharge", 1764.3)}
    assert again.rejected == [] and len(again.samples) == 2


async def test_flow_only_where_the_catalog_measures_it(site_catalog: Catalog) -> None:
    with public_api() as server:
        server.routes[level_path("2101687")] = (200, "application/json", b'{"content":[{"wlobscd":"2101687",'
                                                b'"ymdhm":"202209060610","wl":"1.32","fw":"210.00"}]}')
        result = await collect(kind(site_catalog, server, stations=["2101687"]))
    assert [(s.indicator, s.entity, s.value) for s in result.samples] == [("river.level", "hrfco-2101687", 1.32)]
    assert result.rejected == []


async def test_empty_content_is_an_empty_run(site_catalog: Catalog) -> None:
    with public_api() as server:
        server.file(level_path("2101690"), "hrfco", "empty.json")
        result = await collect(kind(site_catalog, server))
    assert result.samples == [] and result.rejected == []


async def test_malformed_rows_are_rejections(site_catalog: Catalog) -> None:
    with public_api() as server:
        server.file(level_path("2101690"), "hrfco", "malformed.json")
        result = await collect(kind(site_catalog, server, latest=5))
    assert sorted((r.field, r.reason) for r in result.rejected) == [
        ("content", "not an object"), ("wl", "not a number"), ("wlobscd", "a gauge that was not asked for"),
        ("ymdhm", "not a time like 202209060610")]
    assert [(s.indicator, s.value) for s in result.samples] == [("river.discharge", 1890.2)]


@pytest.mark.parametrize(("name", "status", "expected"), [
    ("error.html", 401, "HRFCO answered HTTP 401 Unauthorized: <!DOCTYPE html>"),
    ("not-content.json", 200, "HRFCO answered JSON without a `content` list (keys result)"),
    ("error.html", 200, "HRFCO answered text, not JSON: <!DOCTYPE html>"),
])
async def test_errors(site_catalog: Catalog, name: str, status: int, expected: str) -> None:
    with public_api() as server:
        server.file(level_path("2101690"), "hrfco", name, status)
        with pytest.raises(CollectError) as err:
            await collect(kind(site_catalog, server))
    assert str(err.value).startswith(expected)


async def test_a_wrong_key_answered_by_a_page_quoting_the_url_stays_masked(site_catalog: Catalog) -> None:
    """Unknown paths (a wrong key) answer 404 with a page quoting the path, key and all."""
    def quote_path(req: Request) -> tuple[int, str, bytes]:
        return 404, "text/html", f"<html><body>No route for {req.raw_path} ({req.path})</body></html>".encode()

    with public_api() as server:
        server.routes[level_path("2101690")] = quote_path
        with pytest.raises(CollectError) as err:
            await collect(kind(site_catalog, server))
    text = str(err.value)
    assert text.startswith("HRFCO answered HTTP 404")
    assert "***" in text
    assert KEY not in text and "6F2A19C4" not in text and "HRFCO%2BKEY" not in text


async def test_data_go_kr_style_error_envelope_is_recognised(site_catalog: Catalog) -> None:
    with public_api() as server:
        server.file(level_path("2101690"), "airkorea", "gateway-error.xml")
        with pytest.raises(CollectError, match="HRFCO answered returnReasonCode 30"):
            await collect(kind(site_catalog, server))


async def test_stage_the_level_reached_by_the_gauges_own_levels(site_catalog: Catalog) -> None:
    rows = {"202209060600": "2.46", "202209060610": "2.71", "202209060620": "3.12"}

    runs: list[str] = []

    def level(req: Request) -> tuple[int, str, bytes]:
        ymdhm = sorted(rows)[len(runs)]
        runs.append(ymdhm)
        body = f'{{"content":[{{"wlobscd":"2101690","ymdhm":"{ymdhm}","wl":"{rows[ymdhm]}","fw":"1500.0"}}]}}'
        return 200, "application/json", body.encode()

    with public_api() as server:
        server.file(f"/{KEY}/waterlevel/info.json", "hrfco", "info.json")
        server.routes[level_path("2101690")] = level
        server.routes[level_path("2101687")] = (200, "application/json", b'{"content":[{"wlobscd":"2101687",'
                                                b'"ymdhm":"202209060610","wl":"1.32","fw":""}]}')
        k = kind(site_catalog, server, stations=["2101690", "2101687"], stage_indicator="river.flood_forecast",
                 flow_indicator=None)
        stages = []
        for _ in range(3):
            result = await k.collect(at("202209060625"))
            stages += [s.value for s in result.samples if s.indicator == "river.flood_forecast"]
            assert not any(s.entity == "hrfco-2101687" and s.indicator == "river.flood_forecast"
                           for s in result.samples)  # the catalog has no stage for 남천교
        await k.close()
    assert stages == [0.0, 1.0, 2.0]  # 2.46 < wrnwl 2.50 <= 2.71 < almwl 3.00 <= 3.12
    assert [r.path for r in server.requests].count(f"/{KEY}/waterlevel/info.json") == 1  # read once a day


async def test_levels_still_go_out_when_the_stage_levels_cannot_be_read(site_catalog: Catalog) -> None:
    with public_api() as server:
        server.file(level_path("2101690"), "hrfco", "normal.json")
        result = await collect(kind(site_catalog, server, stage_indicator="river.flood_forecast"))
    assert [s.indicator for s in result.samples] == ["river.level"]


def test_unknown_indicator_or_entity_is_a_config_error(site_catalog: Catalog) -> None:
    with public_api() as server:
        with pytest.raises(ConfigError) as err:
            kind(site_catalog, server, stage_indicator="river.stage")
        assert err.value.problems[0].field == "params.stage_indicator"
        with pytest.raises(ConfigError) as err:
            kind(site_catalog, server, stations={"2101690": "hrfco-9999999"})
        assert err.value.problems[0].field == "params.stations.2101690"


async def test_gauge_without_an_entity_is_rejected(site_catalog: Catalog) -> None:
    with public_api() as server:
        result = await collect(kind(site_catalog, server, stations=["2402610"]))  # 용연: no entity
    assert server.requests == []
    assert [(r.field, r.reason) for r in result.rejected] == [("wlobscd", "station not in the site's entities")]


def test_example_and_pohang_files_load(site_catalog: Catalog) -> None:
    example = load_collector(REPO / "collectors" / "examples" / "hrfco.yaml", {"HRFCO_KEY": KEY})
    assert example.params is not None
    k = Hrfco(example.params, context(site_catalog))
    assert k.stations == {"2101690": "hrfco-2101690"} and k.key == KEY
    pohang = load_collector(REPO / "collectors" / "hrfco-hyeongsan.yaml", {})
    assert pohang.definition.enabled is False and pohang.missing_env == ("HRFCO_KEY",)
    pohang = load_collector(REPO / "collectors" / "hrfco-hyeongsan.yaml", {"HRFCO_KEY": KEY})
    assert pohang.params is not None
    stations = Hrfco(pohang.params, context(site_catalog)).stations
    assert stations["2101690"] == "hrfco-2101690" and None not in stations.values() and len(stations) == 7
