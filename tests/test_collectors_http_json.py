"""The http_json kind against a real local HTTP server serving recorded payloads."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from generic_payloads_support import PAYLOADS, payload_server

from situationroom.catalog import Catalog
from situationroom.collectors.base import CollectError, CollectorContext
from situationroom.collectors.definition import load_collector
from situationroom.collectors.kinds.http_json import HttpJson
from situationroom.collectors.mapping import MISSING_AT_SOURCE
from situationroom.configfile import validate
from situationroom.envref import Redactor
from situationroom.errors import ConfigError
from tests.servers_support import free_port
from tests.stream_support import stream_samples

pytestmark = pytest.mark.cluster  # also run on the suite's Redis Cluster

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "collectors" / "examples"
KST = ZoneInfo("Asia/Seoul")
KEY = "Ab+c/dE9==SECRETkey"
AIR_MAP = [{"indicator": "air.pm10", "value": "pm10Value", "entity_from": "stationName", "ts_from": "dataTime",
            "ts_format": "%Y-%m-%d %H:%M"}]


def kind(params: dict[str, Any], catalog: Catalog, secrets: set[str] | None = None) -> HttpJson:
    p = validate(HttpJson.Params, params, prefix=("params",))
    ctx = CollectorContext("http-test", catalog, REPO, logging.getLogger("test.http_json"),
                           redact=Redactor(secrets or set()))
    return HttpJson(p, ctx)


def from_example(name: str, catalog: Catalog, env: dict[str, str], **updates: Any) -> HttpJson:
    loaded = load_collector(EXAMPLES / name, env=env)
    assert loaded.definition.kind == "http_json" and loaded.params is not None
    assert isinstance(loaded.params, HttpJson.Params)
    params = loaded.params.model_copy(update=updates)
    ctx = CollectorContext(loaded.id, catalog, REPO, logging.getLogger(loaded.id), redact=loaded.redact)
    return HttpJson(params, ctx)


async def test_the_airkorea_example_reads_every_page_and_maps_pohangs_stations(site_catalog: Catalog) -> None:
    with payload_server() as server:
        collector = from_example("http_json.yaml", site_catalog, {"DATA_GO_KR_KEY": KEY}, url=f"{server.url}/paged")
        try:
            result = await collector.collect(1e10)
        finally:
            await collector.close()
    assert [r.query["pageNo"] for r in server.requests] == [["1"], ["2"], ["3"]]
    assert all(r.query["serviceKey"] == [KEY] and r.query["numOfRows"] == ["100"] and r.query["sidoName"] == ["경북"]
               for r in server.requests)
    at8 = datetime(2026, 3, 15, 8, 0, tzinfo=KST).timestamp()
    got = {(s.indicator, s.entity): s.value for s in result.samples}
    assert got == {("air.pm10", "airkorea-jangnyang"): 41, ("air.pm25", "airkorea-jangnyang"): 22,
                   ("air.pm10", "airkorea-songdo"): 55, ("air.pm25", "airkorea-songdo"): 30,
                   ("air.pm25", "airkorea-daesong"): 35,
                   ("air.pm10", "airkorea-3gongdan"): 72, ("air.pm25", "airkorea-3gongdan"): 41}
    assert {s.ts for s in result.samples} == {at8} and {s.source for s in result.samples} == {"http_json"}
    why = sorted((r.field, r.value, r.reason.split(" (")[0]) for r in result.rejected)
    assert why == [("pm10Value", "-", MISSING_AT_SOURCE)]  # 경주시 is skipped (unmapped: skip)


async def test_next_links_are_followed_and_centimetres_become_metres(site_catalog: Catalog) -> None:
    with payload_server() as server:
        collector = from_example("http_json-sensorthings.yaml", site_catalog, {"IOT_TOKEN": "tok-123"},
                                 url=f"{server.url}/files/sensorthings-1.json")
        try:
            result = await collector.collect(1e10)
        finally:
            await collector.close()
    assert [r.path for r in server.requests] == ["/files/sensorthings-1.json", "/files/sensorthings-2.json"]
    assert server.requests[0].query["$top"] == ["100"]
    assert server.requests[1].query == {"$skip": ["3"], "$top": ["3"], "$expand": ["Datastream"]}
    assert all(r.headers["Authorization"] == "Bearer tok-123" for r in server.requests)
    t = datetime(2026, 3, 15, 8, 0, tzinfo=KST).timestamp()
    assert [(s.entity, s.ts, s.value) for s in result.samples] == [
        ("hrfco-2101690", t, pytest.approx(1.21)), ("hrfco-2101687", t, pytest.approx(0.54)),
        ("hrfco-2101690", t + 600, pytest.approx(1.24)), ("hrfco-2101690", t + 1200, pytest.approx(1.26))]
    assert [(r.field, r.value, r.index) for r in result.rejected] == [("result", None, 3)]


async def test_an_empty_answer_is_no_samples_and_no_error(site_catalog: Catalog) -> None:
    with payload_server() as server:
        collector = kind({"url": f"{server.url}/files/empty.json", "records": "response.body.items",
                          "ok": "response.header.resultCode == '00'", "map": AIR_MAP}, site_catalog)
        result = await collector.collect(1e10)
        await collector.close()
        # The same answer behind a UTF-8 byte order mark, as some portals send it.
        server.extra["/bom"] = (200, "application/json", b"\xef\xbb\xbf" + (PAYLOADS / "empty.json").read_bytes())
        collector = kind({"url": f"{server.url}/bom", "records": "response.body.items", "map": AIR_MAP}, site_catalog)
        bom = await collector.collect(1e10)
        await collector.close()
    assert result.samples == [] and result.rejected == []
    assert bom.samples == [] and bom.rejected == []


@pytest.mark.parametrize(("path", "status", "expected"), [
    ("/files/error-envelope.json", 200, "answered an error: 30 SERVICE_KEY_IS_NOT_REGISTERED_ERROR"),
    ("/gateway", 403, "answered HTTP 403 Forbidden: {\"OpenAPI_ServiceResponse\""),
    ("/status/500", 500, "answered HTTP 500 Internal Server Error: Error 500 /status/500?serviceKey=***"),
    ("/files/gateway-error.xml", 200, "answered something that is not JSON: SERVICE ERROR "
                                      "SERVICE_KEY_IS_NOT_REGISTERED_ERROR 30"),
    ("/files/malformed.json", 200, "answered something that is not JSON ("),
    ("/files/no-body.json", 200, "records (response.body.items) found nothing in the answer: "
                                 "{\"response\":{\"header\":{\"resultCode\":\"00\""),
    ("/files/nothing-here.json", 404, "answered HTTP 404 Not Found: not found"),
])
async def test_a_source_answering_garbage_is_a_collect_error_without_the_key(
        site_catalog: Catalog, path: str, status: int, expected: str) -> None:
    with payload_server() as server:
        server.extra["/gateway"] = (403, "application/json", (PAYLOADS / "gateway-403.json").read_bytes())
        params: dict[str, Any] = {"url": f"{server.url}{path}", "query": {"serviceKey": KEY, "returnType": "json"},
                                  "records": "response.body.items", "map": AIR_MAP}
        if "envelope" in path:
            params |= {"ok": "response.header.resultCode == '00'",
                       "error_text": "join(' ', [response.header.resultCode, response.header.resultMsg])"}
        collector = kind(params, site_catalog, {KEY})
        with pytest.raises(CollectError) as err:
            await collector.collect(1e10)
        await collector.close()
    text = str(err.value)
    assert expected in text
    assert text.startswith(f"{server.url}{path}")
    assert "SECRETkey" not in text and "SECRET" not in text
    if status == 500:  # the error page quoted the request, key and all (percent-encoded): masked
        assert "serviceKey=***" in text


async def test_a_source_that_does_not_answer_is_a_collect_error(site_catalog: Catalog) -> None:
    port = free_port()
    collector = kind({"url": f"http://127.0.0.1:{port}/x", "map": AIR_MAP}, site_catalog)
    with pytest.raises(CollectError, match=f"http://127.0.0.1:{port}/x: ConnectError"):
        await collector.collect(1e10)
    await collector.close()
    with payload_server() as server:
        collector = kind({"url": f"{server.url}/slow/2", "timeout": "0.3s", "map": AIR_MAP}, site_catalog)
        with pytest.raises(CollectError, match="did not answer in time"):
            await collector.collect(1e10)
        await collector.close()


async def test_post_with_a_body_and_page_numbers_stopped_by_a_short_page(site_catalog: Catalog) -> None:
    with payload_server() as server:
        collector = kind({"url": f"{server.url}/paged", "method": "POST", "body": {"sido": "경북"},
                          "headers": {"X-Api-Key": "k"}, "records": "response.body.items",
                          "pagination": {"page_param": "pageNo", "size": 2}, "map": AIR_MAP}, site_catalog)
        result = await collector.collect(1e10)
        await collector.close()
    # Pages of 2, 2 and 1 records: the short third page is the last.
    body = '{"sido":"경북"}'.encode()
    body = '{"sido":"경북"}'.encode()
    assert [(r.method, r.query["pageNo"], r.body) for r in server.requests] == [
        ("POST", ["1"], body), ("POST", ["2"], body), ("POST", ["3"], body)]
    assert len(result.samples) == 3


async def test_max_pages_stops_a_source_that_never_ends(site_catalog: Catalog) -> None:
    with payload_server() as server:
        collector = kind({"url": f"{server.url}/paged", "records": "response.body.items",
                          "pagination": {"page_param": "pageNo", "has_more": "`true`", "max_pages": 2},
                          "map": AIR_MAP}, site_catalog)
        await collector.collect(1e10)
        await collector.close()
    assert len(server.requests) == 2


def test_bad_params_are_refused_naming_the_field(tmp_path: Path, site_catalog: Catalog) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("kind: http_json\nschedule: {interval: 5m}\nparams:\n  url: ftp://x/y\n"
                    "  pagination: {page_param: p, next: n}\n  colour: red\n"
                    "  map:\n    - {indicator: air.pm10, value: v, entity: airkorea-songdo}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_collector(path)
    got = {(p.line, p.field) for p in err.value.problems}
    assert got == {(4, "params.url"), (5, "params.pagination"), (6, "params.colour")}
    params = validate(HttpJson.Params, {"url": "http://x/", "map": [
        {"indicator": "air.pm10", "value": "v", "entity": "airkorea-songdo"},
        {"indicator": "air.nope", "value": "v", "entity": "airkorea-songdo"}]})
    with pytest.raises(ConfigError) as err:
        HttpJson(params, CollectorContext("x", site_catalog, REPO, logging.getLogger("x")))
    assert [(p.field, p.value) for p in err.value.problems] == [("params.map[1].indicator", "air.nope")]


async def test_through_the_runtime_samples_and_dead_letters_reach_redis_and_the_key_stays_secret(
        aclient: Any, redis_url: str, site_catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from situationroom import keys
    from situationroom.collectors import health
    from situationroom.collectors.runtime import CollectorRunner
    from tests.site_support import settings_for

    monkeypatch.setenv("AIR_KEY", KEY)
    site = tmp_path / "site"
    (site / "collectors").mkdir(parents=True)
    (site / "seeds").symlink_to(REPO / "seeds")
    with payload_server() as server:
        (site / "collectors" / "air.yaml").write_text(
            f"kind: http_json\nschedule: {{interval: 1h}}\nretries: 0\nparams:\n  url: {server.url}/paged\n"
            "  query: {serviceKey: '${AIR_KEY}'}\n  records: response.body.items\n"
            "  pagination: {page_param: pageNo, total: response.body.totalCount}\n"
            "  map:\n    - {indicator: air.pm10, value: pm10Value, entity_from: stationName}\n", encoding="utf-8")
        (site / "collectors" / "broken.yaml").write_text(
            f"kind: http_json\nschedule: {{interval: 1h}}\nretries: 0\nparams:\n  url: {server.url}/status/502\n"
            "  query: {serviceKey: '${AIR_KEY}'}\n"
            "  map:\n    - {indicator: air.pm10, value: pm10Value, entity_from: stationName}\n", encoding="utf-8")
        runner = CollectorRunner(aclient, site_catalog, settings_for(redis_url, site=site), watch=False)
        await runner.load()
        ok = await runner.run_once("air")
        failed = await runner.run_once("broken")
        await runner.stop()
    assert ok.ok and ok.written == 3 and ok.rejected == 2 and not failed.ok
    assert sorted((s.indicator, s.entity, s.value) for s in await stream_samples(aclient)) == [
        ("air.pm10", "airkorea-3gongdan", 72.0), ("air.pm10", "airkorea-jangnyang", 41.0),
        ("air.pm10", "airkorea-songdo", 55.0)]
    dead = [{k.decode(): v.decode() for k, v in f.items()} for _, f in await aclient.xrange(keys.deadletter())]
    assert sorted((d["field"], d["source"]) for d in dead) == [("pm10Value", "air"), ("stationName", "air")]
    h = await health.read_all(aclient)
    assert h["air"]["samples_last_run"] == 3 and h["air"]["rejected_last_run"] == 2
    error = h["broken"]["last_error"]
    assert "answered HTTP 502" in error and "SECRET" not in error and KEY not in error
