"""The cap kind against a real local HTTP server serving recorded CAP 1.2 feeds, and the project's own feed."""

from __future__ import annotations

import logging
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

import pytest
import xmlschema
from generic_payloads_support import PAYLOADS, payload_server

from situationroom import messages
from situationroom.alerts import cap as own_cap
from situationroom.alerts.state import Alert
from situationroom.catalog import Catalog
from situationroom.collectors.base import CollectError, CollectorContext
from situationroom.collectors.definition import load_collector
from situationroom.collectors.kinds.cap import Cap
from situationroom.configfile import validate
from situationroom.errors import ConfigError

pytestmark = pytest.mark.cluster  # also run on the suite's Redis Cluster

REPO = Path(__file__).resolve().parent.parent
SCHEMA = xmlschema.XMLSchema(REPO / "tests" / "data" / "cap" / "CAP-v1.2.xsd")
CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"
KST = ZoneInfo("Asia/Seoul")
NOW = datetime(2022, 9, 6, 6, 0, tzinfo=KST).timestamp()


def kst(hour: int, minute: int) -> float:
    return datetime(2022, 9, 6, hour, minute, tzinfo=KST).timestamp()


def kind(params: dict[str, Any], catalog: Catalog) -> Cap:
    return Cap(validate(Cap.Params, params, prefix=("params",)),
               CollectorContext("cap-test", catalog, REPO, logging.getLogger("test.cap")))


def test_the_recorded_alerts_are_valid_cap_but_the_unknown_severity() -> None:
    feed = ET.parse(PAYLOADS / "cap-feed.atom").getroot()
    alerts = [*feed.iter(f"{CAP}alert"), ET.parse(PAYLOADS / "cap-linked.xml").getroot()]
    assert len(alerts) == 8
    invalid = []
    for alert in alerts:
        if not SCHEMA.is_valid(ET.tostring(alert)):
            invalid.append(alert.findtext(f"{CAP}identifier"))
    assert invalid == ["KR.POHANG.2022-09-06.0520"]  # severity "Catastrophic"


async def test_the_example_turns_the_feed_into_ticker_messages(site_catalog: Catalog) -> None:
    loaded = load_collector(REPO / "collectors" / "examples" / "cap.yaml", env={"CAP_FEED_TOKEN": "t0k"})
    assert loaded.definition.kind == "cap" and isinstance(loaded.params, Cap.Params)
    with payload_server() as server:
        collector = Cap(loaded.params.model_copy(update={"url": f"{server.url}/files/cap-feed.atom"}),
                        CollectorContext(loaded.id, site_catalog, REPO, logging.getLogger("cap"),
                                         redact=loaded.redact))
        result = await collector.collect(NOW)
        again = await collector.collect(NOW)
        await collector.close()
    # The linked document is fetched once; the feed every run; the token goes along.
    assert [r.path for r in server.requests] == ["/files/cap-feed.atom", "/files/cap-linked.xml",
                                                 "/files/cap-feed.atom"]
    assert all(r.headers["Authorization"] == "Bearer t0k" for r in server.requests)
    assert again.messages == result.messages
    got = {m.text_ko: m for m in result.messages}
    assert sorted(got) == ["[해제] 냉천 범람 위기 해제", "경북 포항시 북구 북쪽 9km 지역 규모 2.1 지진 발생",
                           "냉천 범람 위기 — 인근 주민 대피 — 제철동복지회관 등 안전한 곳으로 즉시 대피하십시오.",
                           "송도동 일대 정전", "포항 해안 강풍 경보 — 시설물 결박 — 간판·현수막 등 날림 주의"]
    flood = got["냉천 범람 위기 — 인근 주민 대피 — 제철동복지회관 등 안전한 곳으로 즉시 대피하십시오."]
    assert (flood.severity, flood.kind, flood.source, flood.ts, flood.expires) == (
        "critical", "cap", "cap", kst(4, 43), kst(12, 0))
    assert flood.text_en == ("Naengcheon about to overflow — residents nearby evacuate — "
                             "Go to a safe place such as Jecheol-dong Welfare Center now.")
    assert flood.entities == ("4711125600",)
    wind = got["포항 해안 강풍 경보 — 시설물 결박 — 간판·현수막 등 날림 주의"]
    assert (wind.severity, wind.entities) == ("warning", ("4711125000",))
    assert wind.text_en == "Strong wind warning on Pohang's coast — secure loose objects"
    quake = got["경북 포항시 북구 북쪽 9km 지역 규모 2.1 지진 발생"]
    assert (quake.severity, quake.entities, quake.expires) == ("info", (), None)  # the whole city
    assert quake.text_en == quake.text_ko  # only a Korean info block
    cancel = got["[해제] 냉천 범람 위기 해제"]
    assert (cancel.severity, cancel.text_en) == ("info", "[Cancelled] Naengcheon flood danger over")
    outage = got["송도동 일대 정전"]
    assert (outage.severity, outage.entities) == ("warning", ("4711155000",))  # CAP "Unknown" → unknown_severity
    assert [(r.field, r.value) for r in result.rejected] == [("severity", "Catastrophic")]
    assert "KR.POHANG.2022-09-06.0520 not shown" in result.rejected[0].reason
    assert all(messages.check(m, site_catalog) is None for m in result.messages)
    assert len({m.id for m in result.messages}) == 5


async def test_drills_expiry_and_single_documents(site_catalog: Catalog) -> None:
    with payload_server() as server:
        drills = kind({"url": f"{server.url}/files/cap-feed.atom", "statuses": ["Actual", "Exercise"],
                       "unknown_severity": "critical"}, site_catalog)
        result = await drills.collect(NOW)
        await drills.close()
        texts = {m.text_ko: (m.severity, m.text_en) for m in result.messages}
        assert texts["[훈련] 민방위 대피 훈련 중입니다"] == ("warning", "[Exercise] 민방위 대피 훈련 중입니다")
        assert texts["송도동 일대 정전"][0] == "critical"
        assert "포항 호우경보 발효" not in texts  # expired at 03:00
        late = kind({"url": f"{server.url}/files/cap-feed.atom"}, site_catalog)
        assert "냉천 범람 위기 — 인근 주민 대피" not in {m.text_ko.split(" — 제철")[0] for m in
                                                  (await late.collect(kst(12, 1))).messages}
        await late.close()
        single = kind({"url": f"{server.url}/files/cap-linked.xml"}, site_catalog)
        one = await single.collect(NOW)
        await single.close()
    assert [m.ts for m in one.messages] == [kst(5, 0)]


async def test_an_rss_feed_links_its_alerts(tmp_path: Path, site_catalog: Catalog) -> None:
    (tmp_path / "a.xml").write_bytes((PAYLOADS / "cap-linked.xml").read_bytes())
    (tmp_path / "rss.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>경보</title>'
        "<item><title>강풍</title><link>a.xml</link></item><item><title>gone</title><link>missing.xml</link></item>"
        "</channel></rss>", encoding="utf-8")
    with payload_server(tmp_path) as server:
        collector = kind({"url": f"{server.url}/files/rss.xml"}, site_catalog)
        result = await collector.collect(NOW)
        await collector.close()
    # A broken link is logged and skipped; the other alerts still come.
    assert [m.entities for m in result.messages] == [("4711125000",)]


@pytest.mark.parametrize(("name", "expected"), [
    ("cap-malformed.xml", "answered something that is not XML"),
    ("cap-entities.xml", "refused XML (EntitiesForbidden"),
    ("airkorea-like.json", "answered something that is not XML"),
    ("nope.xml", "answered HTTP 404"),
    ("html", "neither a CAP alert nor an Atom or RSS feed (root element html)"),
])
async def test_a_broken_feed_is_a_collect_error(site_catalog: Catalog, name: str, expected: str) -> None:
    with payload_server() as server:
        server.extra["/files/html"] = (200, "text/html", b"<html><body>maintenance</body></html>")
        collector = kind({"url": f"{server.url}/files/{name}"}, site_catalog)
        with pytest.raises(CollectError) as err:
            await collector.collect(NOW)
        await collector.close()
    assert expected in str(err.value)


async def test_the_projects_own_cap_feed_reads_back(site_catalog: Catalog) -> None:
    now_ms = int(time.time() * 1000)
    alert = Alert(fingerprint="f1", rule="river.stage", kind="threshold", entity="hrfco-2101690",
                  indicator="river.level", district="4711125300", domain="safety", level=3, state="firing",
                  episode=1, seq=1, fired=now_ms, fired_seq=1, since=now_ms, name_ko="형산강 홍수 단계",
                  name_en="Hyeongsan River flood stage", message_ko="형산교 수위 3.2 m — 경계",
                  message_en="Hyeongsan Bridge at 3.2 m — alert")
    body = own_cap.feed([alert], site_catalog, sender="situationroom@pohang.example", status="Actual",
                        base="http://127.0.0.1/", categories={})
    with payload_server() as server:
        server.extra["/api/v1/cap.xml"] = (200, "application/atom+xml", body)
        collector = kind({"url": f"{server.url}/api/v1/cap.xml"}, site_catalog)
        result = await collector.collect(time.time())
        await collector.close()
    assert result.rejected == []
    [m] = result.messages
    assert (m.severity, m.text_ko, m.text_en, m.entities) == (
        "critical", "형산교 수위 3.2 m — 경계", "Hyeongsan Bridge at 3.2 m — alert", ("4711125300",))
    assert abs(m.ts - now_ms / 1000) < 1


def test_areas_must_be_catalog_entities(site_catalog: Catalog) -> None:
    with pytest.raises(ConfigError) as err:
        kind({"url": "http://x/feed", "areas": {"오천": "ocheon"}}, site_catalog)
    assert [(p.field, p.value) for p in err.value.problems] == [("params.areas.오천", "ocheon")]
    with pytest.raises(ConfigError) as err:
        validate(Cap.Params, {"url": "file:///etc/passwd", "statuses": ["Real"]}, prefix=("params",))
    assert sorted(p.field for p in err.value.problems) == ["params.statuses[0]", "params.url"]


async def test_through_the_runtime_current_alerts_reach_the_ticker_once(
        aclient: Any, redis_url: str, site_catalog: Catalog, tmp_path: Path) -> None:
    import orjson

    from situationroom import keys
    from situationroom.collectors.runtime import CollectorRunner
    from tests.site_support import settings_for

    site = tmp_path / "site"
    (site / "collectors").mkdir(parents=True)
    (site / "seeds").symlink_to(REPO / "seeds")
    with payload_server() as server:
        (site / "collectors" / "alerts.yaml").write_text(
            f"kind: cap\nschedule: {{interval: 1h}}\nparams:\n  url: {server.url}/files/cap-feed.atom\n",
            encoding="utf-8")
        runner = CollectorRunner(aclient, site_catalog, settings_for(redis_url, site=site), watch=False)
        await runner.load()
        first = await runner.run_once("alerts")
        second = await runner.run_once("alerts")
        await runner.stop()
    assert first.ok and second.ok and first.rejected == 1
    # In 2026 only the 2022 alert without an expiry is still current; a second run publishes it no more.
    recent = [orjson.loads(m) for m in await aclient.lrange(keys.recent_messages(), 0, -1)]
    assert [(m["kind"], m["severity"], m["source"], m["text_ko"]) for m in recent] == [
        ("cap", "info", "alerts", "경북 포항시 북구 북쪽 9km 지역 규모 2.1 지진 발생")]
    assert await aclient.xlen(keys.updates()) >= 1
