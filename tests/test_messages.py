"""Text messages (disaster texts) reach the update stream once each, with severity, area and both languages."""

from __future__ import annotations

import orjson
import pytest

from situationroom import keys
from situationroom.catalog import Catalog
from situationroom.collectors.base import CollectorContext, CollectorKind, CollectResult
from situationroom.collectors.kinds.simulator import Simulator
from situationroom.collectors.runtime import CollectorRunner
from situationroom.messages import Message, message_id
from situationroom.redisconn import async_client
from situationroom.streams import StreamWriter
from tests.site_support import REPO, settings_for

pytestmark = pytest.mark.cluster  # also run on the suite's Redis Cluster


def _simulator(catalog: Catalog, scenario: str, speed: float) -> Simulator:
    import logging

    params = Simulator.Params(scenario=scenario, speed=speed, domains=["safety"])
    return Simulator(params, CollectorContext("sim-safety", catalog, REPO, logging.getLogger("test"), 10.0))


async def test_the_typhoon_scenario_sends_its_disaster_texts_as_time_passes(site_catalog: Catalog) -> None:
    sim = _simulator(site_catalog, "typhoon-hinnamnor", speed=3600)  # an hour of the storm per second
    start = 1_800_000_000.0
    assert (await sim.collect(start)).messages == []
    # 9-5 18:00 + 11 h = 9-6 05:00: the texts of 21:00, 01:30, 04:43 and 04:54 are due, in order.
    texts = (await sim.collect(start + 11)).messages
    assert [m.text_ko[:5] for m in texts] == ["[포항시]"[:5]] * 4
    assert any("냉천" in m.text_ko and "제철동" in m.text_ko for m in texts)
    evacuation = next(m for m in texts if "냉천" in m.text_ko)
    assert evacuation.severity == "critical" and evacuation.kind == "disaster_text"
    assert "Naengcheon" in evacuation.text_en or "냉천" in evacuation.text_en
    # Issued in real time as far before now as the text lies before the simulated now (04:43 → 17 min).
    assert abs((start + 11 - evacuation.ts) - 17 * 60 / 3600) < 0.01
    # The next run sends only what is new.
    later = (await sim.collect(start + 12)).messages
    assert later and not {m.id for m in later} & {m.id for m in texts}


async def test_each_message_is_published_once(redis_url: str) -> None:
    client = async_client(redis_url)
    writer = StreamWriter(client, partitions=8, retention=3600, deadletter_maxlen=1000)
    message = Message(id=message_id("test", 1), ts=1_800_000_000.0, source="test", kind="disaster_text",
                      severity="critical", text_ko="[포항시] 대피 바랍니다", text_en="[Pohang City] Evacuate",
                      entities=("4711125600",))
    assert await writer.publish_messages([message, message], updates_maxlen=10_000) == 1
    assert await writer.publish_messages([message], updates_maxlen=10_000) == 0
    entries = await client.xrange(keys.updates())
    assert len(entries) == 1
    published = orjson.loads(entries[0][1][b"m"])
    assert published == {"id": message.id, "t": 1_800_000_000_000, "source": "test", "kind": "disaster_text",
                         "severity": "critical", "entities": ["4711125600"], "text_ko": "[포항시] 대피 바랍니다",
                         "text_en": "[Pohang City] Evacuate"}
    assert [orjson.loads(m) for m in await client.lrange(keys.recent_messages(), 0, -1)] == [published]
    await client.aclose()


class _Texts(CollectorKind):
    name = "test-texts"

    async def collect(self, now: float) -> CollectResult:
        good = Message(id="good", ts=now, source="t", kind="disaster_text", severity="warning",
                       text_ko="[포항시] 강풍 주의", text_en="[Pohang City] Strong wind")
        nowhere = Message(id="nowhere", ts=now, source="t", kind="disaster_text", severity="warning",
                          text_ko="[포항시] 주의", text_en="[Pohang City] Careful", entities=("atlantis",))
        return CollectResult([], messages=[good, nowhere])


async def test_a_collector_message_for_an_unknown_area_goes_to_the_dead_letter_stream(
        redis_url: str, site_catalog: Catalog) -> None:
    from situationroom.collectors.definition import CollectorDefinition, LoadedCollector
    from situationroom.collectors.runtime.core import Running

    client = async_client(redis_url)
    runner = CollectorRunner(client, site_catalog, settings_for(redis_url))
    definition = CollectorDefinition.model_construct(kind="test-texts", schedule=None, timeout=5.0, retries=0,
                                                     backoff=1.0, params={}, enabled=True)
    loaded = LoadedCollector.model_construct(id="texts", path=REPO / "texts.yaml", definition=definition,
                                             params=_Texts.Params())
    runner.collectors["texts"] = Running(loaded, _Texts(_Texts.Params(), None))  # type: ignore[arg-type]
    outcome = await runner.run_once("texts")
    assert outcome.ok and outcome.rejected == 1
    assert [orjson.loads(f[b"m"])["id"] for _, f in await client.xrange(keys.updates())] == ["good"]
    (_, dead), = await client.xrange(keys.deadletter())
    assert dead[b"field"] == b"entities" and b"atlantis" in dead[b"reason"]
    await client.aclose()
