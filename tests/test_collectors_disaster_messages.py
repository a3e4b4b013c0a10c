"""The `disaster_messages` kind against a local server answering like safetydata.go.kr DSSP-IF-00247."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis.asyncio as aioredis

from situationroom import keys
from situationroom.catalog import Catalog
from situationroom.collectors.base import CollectError, CollectResult
from situationroom.collectors.definition import load_collector
from situationroom.collectors.kinds.disaster_messages import DisasterMessages, parse_created
from situationroom.collectors.runtime import CollectorRunner
from situationroom.errors import ConfigError
from situationroom.messages import message_id
from tests.publicdata_support import PAYLOADS, Request, Server, context, public_api
from tests.site_support import REPO, settings_for

pytestmark = pytest.mark.cluster  # also run on the suite's Redis Cluster

KEY = "SAFETY-7c1e+key/0042=="
OP = "/V2/api/DSSP-IF-00247"
KST = ZoneInfo("Asia/Seoul")
NOW = datetime(2022, 9, 6, 5, 0, tzinfo=KST).timestamp()


def at(text: str) -> float:
    return datetime.strptime(text, "%Y/%m/%d %H:%M:%S").replace(tzinfo=KST).timestamp()


def kind(catalog: Catalog, server: Server, **params: Any) -> DisasterMessages:
    p = {"service_key": KEY, "base_url": server.url + OP, **params}
    return DisasterMessages(DisasterMessages.Params(**p), context(catalog, "dm-test"))


async def collect(k: DisasterMessages, now: float = NOW) -> CollectResult:
    try:
        return await k.collect(now)
    finally:
        await k.close()


def test_created_time_formats() -> None:
    assert parse_created("2022/09/06 04:43:00") == datetime(2022, 9, 6, 4, 43)
    assert parse_created("2022-09-06 04:43:00") == datetime(2022, 9, 6, 4, 43)
    with pytest.raises(ValueError):
        parse_created("어제")


async def test_pohang_and_gyeongbuk_messages_with_severity_each_once(site_catalog: Catalog) -> None:
    with public_api() as server:
        server.file(OP, "disaster-messages", "normal.json")
        result = await collect(kind(site_catalog, server))
    [req] = server.requests
    assert req.query == {"serviceKey": KEY, "returnType": "json", "pageNo": "1", "numOfRows": "100",
                         "crtDt": "20220906"}
    by_sn = {m.id: m for m in result.messages}
    assert set(by_sn) == {message_id("disaster_messages", sn) for sn in (165432, 165431, 165430)}  # not 서울
    flood = by_sn[message_id("disaster_messages", 165432)]
    assert flood.severity == "warning" and flood.kind == "disaster_text" and flood.source == "dm-test"
    assert flood.text_ko.startswith("[포항시청] 냉천 범람 위기")
    assert flood.text_en.startswith("Disaster text message (heavy rain, emergency alert): [포항시청]")
    assert flood.entities == ("47111",)  # 포항시남구
    assert flood.ts == at("2022/09/06 04:43:00")
    assert flood.expires == flood.ts + 6 * 3600
    typhoon = by_sn[message_id("disaster_messages", 165431)]
    assert typhoon.severity == "critical" and typhoon.entities == ()  # 경상북도 전체: the whole city
    both = by_sn[message_id("disaster_messages", 165430)]
    assert both.entities == ("47111", "47113")  # "포항시 남구,포항시 북구" with spaces
    assert len(result.messages) == 3  # SN 165432 twice in the page, once on the ticker
    assert result.rejected == []
    # and how many were issued in the past hour (04:00-05:00), for the city's indicator
    assert [(s.indicator, s.entity, s.ts, s.value) for s in result.samples] == [
        ("safety.disaster_messages", "pohang", NOW, 3)]


async def test_count_of_the_past_hour(site_catalog: Catalog) -> None:
    with public_api() as server:
        server.file(OP, "disaster-messages", "normal.json")
        k = kind(site_catalog, server)
        later = await k.collect(at("2022/09/06 05:35:00"))  # 04:21 and 04:30 are over an hour ago
        none = await collect(kind(site_catalog, server, count_indicator=None))
    await k.close()
    assert [s.value for s in later.samples] == [1]
    assert none.samples == [] and len(none.messages) == 3


async def test_only_pohang_when_asked(site_catalog: Catalog) -> None:
    with public_api() as server:
        server.file(OP, "disaster-messages", "normal.json")
        result = await collect(kind(site_catalog, server, areas=["포항"]))
    assert {m.id for m in result.messages} == {message_id("disaster_messages", sn) for sn in (165432, 165430)}


async def test_pages_until_the_total_and_yesterday_just_after_midnight(site_catalog: Catalog) -> None:
    def pick(req: Request) -> str:
        if req.query["crtDt"] == "20220906":
            return "nodata.json"
        return f"page-{req.query['pageNo']}.json"

    with public_api() as server:
        server.files(OP, "disaster-messages", pick)
        result = await collect(kind(site_catalog, server, page_size=2, areas=["포항"]),
                               datetime(2022, 9, 6, 0, 20, tzinfo=KST).timestamp())
    assert [(r.query["crtDt"], r.query["pageNo"]) for r in server.requests] == [
        ("20220906", "1"), ("20220905", "1"), ("20220905", "2")]
    assert [m.id for m in result.messages] == [message_id("disaster_messages", sn) for sn in (170001, 170002)]
    assert [m.entities for m in result.messages] == [(), ("47113",)]  # 경상북도 포항시: the whole city


async def test_no_data_is_an_empty_run(site_catalog: Catalog) -> None:
    with public_api() as server:
        server.file(OP, "disaster-messages", "nodata.json")
        result = await collect(kind(site_catalog, server))
    assert result.messages == [] and result.rejected == []


@pytest.mark.parametrize(("name", "status", "expected"), [
    ("error-envelope.json", 200,
     "safetydata.go.kr answered resultCode 30 SERVICE_KEY_IS_NOT_REGISTERED_ERROR: 등록되지 않은 서비스키입니다."),
    ("gateway-error.xml", 200, "safetydata.go.kr answered returnReasonCode 30 SERVICE_KEY_IS_NOT_REGISTERED_ERROR"),
    ("body-not-list.json", 200, "safetydata.go.kr answered a body that is not a list (str)"),
])
async def test_errors(site_catalog: Catalog, name: str, status: int, expected: str) -> None:
    with public_api() as server:
        server.file(OP, "disaster-messages", name, status)
        with pytest.raises(CollectError) as err:
            await collect(kind(site_catalog, server))
    assert str(err.value).startswith(expected)
    assert KEY not in str(err.value)


async def test_malformed_messages_are_rejections(site_catalog: Catalog) -> None:
    with public_api() as server:
        server.file(OP, "disaster-messages", "malformed.json")
        result = await collect(kind(site_catalog, server))
    assert sorted((r.field, r.reason) for r in result.rejected) == [
        ("CRT_DT", "not a time like 2022/09/06 04:43:00"), ("SN", "no serial number"), ("body", "not an object")]
    [m] = result.messages
    assert m.severity == "info" and m.text_en.startswith("Disaster text message (other): ")


def test_unknown_gu_entity_or_count_indicator_is_a_config_error(site_catalog: Catalog) -> None:
    with public_api() as server:
        with pytest.raises(ConfigError) as err:
            kind(site_catalog, server, gu={"포항시남구": "nam-gu"})
        assert err.value.problems[0].field == "params.gu.포항시남구"
        with pytest.raises(ConfigError) as err:
            kind(site_catalog, server, count_indicator="air.pm10")
        assert err.value.problems[0].field == "params.count_indicator"


def test_example_and_gyeongbuk_files_load(site_catalog: Catalog) -> None:
    example = load_collector(REPO / "collectors" / "examples" / "disaster_messages.yaml", {"DATA_GO_KR_KEY": KEY})
    assert example.params is not None
    k = DisasterMessages(example.params, context(site_catalog))
    assert k.areas == ["포항"]
    gyeongbuk = load_collector(REPO / "collectors" / "disaster-messages-gyeongbuk.yaml", {})
    assert gyeongbuk.definition.enabled is False and gyeongbuk.missing_env == ("DATA_GO_KR_KEY",)
    gyeongbuk = load_collector(REPO / "collectors" / "disaster-messages-gyeongbuk.yaml", {"DATA_GO_KR_KEY": KEY})
    assert gyeongbuk.params is not None
    assert DisasterMessages(gyeongbuk.params, context(site_catalog)).areas == ["포항", "경상북도"]


async def test_on_the_ticker_once_through_the_runner(aclient: aioredis.Redis, redis_url: str, site_catalog: Catalog,
                                                     tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The collect role publishes each message once to the update stream, however often it is collected."""
    page = json.loads((PAYLOADS / "disaster-messages" / "normal.json").read_text())
    now = datetime.now(KST)
    for row in page["body"]:
        row["CRT_DT"] = now.strftime("%Y/%m/%d %H:%M:%S")
    site = tmp_path / "site"
    (site / "collectors").mkdir(parents=True)
    monkeypatch.setenv("DATA_GO_KR_KEY", KEY)
    with public_api() as server:
        server.routes[OP] = (200, "application/json", json.dumps(page, ensure_ascii=False).encode())
        text = (REPO / "collectors" / "disaster-messages-gyeongbuk.yaml").read_text()
        text = text.replace("enabled: false", "enabled: true") + f"  base_url: {server.url}{OP}\n"
        (site / "collectors" / "dm.yaml").write_text(text)
        runner = CollectorRunner(aclient, site_catalog, settings_for(redis_url, site=site), watch=False)
        await runner.load()
        try:
            for _ in range(2):
                outcome = await runner.run_once("dm")
                assert outcome.ok, outcome.error
        finally:
            await runner.stop()
    entries = await aclient.xrange(keys.updates())
    published = [json.loads(v) for _, f in entries for k, v in f.items() if k == b"m"]
    assert sorted(m["severity"] for m in published) == ["critical", "warning", "warning"]
    assert {m["source"] for m in published} == {"dm"}
