"""The incidents follower on a real Redis with the real alert role and API: disaster texts and CAP items about the
hazard and area, silences made for its indicators, alerts muted by them; nothing of other hazards, places or of the
other kind (real, exercise); and what it read before a restart is recorded once."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from situationroom import keys
from situationroom.incidents import store
from situationroom.incidents.follower import Follower
from situationroom.messages import Message
from situationroom.updates import MessagePublisher
from tests.history_support import drain
from tests.http_support import bearer
from tests.incidents_support import IncidentCity, open_incident_city
from tests.servers_support import serve

pytestmark = pytest.mark.cluster  # also run on the suite's Redis Cluster


def _message(mid: str, text: str, entities: tuple[str, ...] = (), *, kind: str = "disaster_text",
             exercise: bool = False) -> Message:
    return Message(mid, time.time(), "safekorea", kind, "critical", text, text, entities, exercise=exercise)


async def _declare(town: IncidentCity, http: httpx.AsyncClient, redis_url: str, area: str = "47111") -> str:
    done = await http.post("/api/v1/incidents", headers=bearer(redis_url, "operator", "duty-officer"),
                           json={"hazard": "flood", "area": area, "level": 2, "reason": "호우경보"})
    assert done.status_code == 201, done.text
    return done.json()["id"]


async def _kinds(town: IncidentCity, iid: str) -> list[tuple[str, str | None]]:
    return [(e["kind"], e.get("event")) for e in await store.read_timeline(town.city.client, iid)]


async def test_messages_about_the_hazard_and_area_join_the_timeline(redis_url: str, tmp_path: Path) -> None:
    town = await open_incident_city(redis_url, tmp_path)
    publisher = MessagePublisher(town.city.client)
    with serve(town.city.settings) as srv:
        async with httpx.AsyncClient(base_url=srv.url) as http:
            iid = await _declare(town, http, redis_url)
    await publisher.publish([
        _message("m1", "[포항시] 호우경보 발효, 남구 저지대 주민 대피", ("47111",)),
        _message("m2", "[포항시] 미세먼지 주의보 발령"),  # not about floods
        _message("m3", "[포항시] 호우경보, 흥해읍 대피", ("4711325000",)),  # Buk-gu
        _message("m4", "[훈련] 호우경보", exercise=True),  # a drill's, not the real incident's
        _message("m5", "호우경보 (CAP)", kind="cap"),  # city-wide: Nam-gu too
    ], maxlen=1000)
    await town.follow()
    entries = await store.read_timeline(town.city.client, iid)
    assert [(e["kind"], e.get("event"), e.get("message")) for e in entries] == [
        ("declared", None, None), ("message", "disaster_text", "m1"), ("message", "cap", "m5")]
    assert entries[1]["text_ko"].startswith("[포항시] 호우경보")
    await town.city.close()


async def test_silences_for_its_indicators_and_the_alerts_they_mute(redis_url: str, tmp_path: Path) -> None:
    town = await open_incident_city(redis_url, tmp_path)
    city = town.city
    op = bearer(redis_url, "operator", "duty-officer")
    with serve(city.settings) as srv:
        async with httpx.AsyncClient(base_url=srv.url) as http:
            iid = await _declare(town, http, redis_url)
            await city.send("river.level", "hyeongsan", 3.2)
            made = await http.post("/api/v1/silences", headers=op, json={
                "matchers": {"indicator": "river.level", "gu": "47111"}, "duration": "1h", "reason": "현장 통제 중"})
            assert made.status_code == 201, made.text
            other = await http.post("/api/v1/silences", headers=op, json={
                "matchers": {"indicator": "air.pm10"}, "duration": "1h", "reason": "측정소 점검"})
            assert other.status_code == 201
            await city.later(1)  # the alert role takes the silence in: the alert is muted
            await town.follow()
    entries = await store.read_timeline(city.client, iid)
    assert [(e["kind"], e.get("event")) for e in entries] == [
        ("declared", None), ("alert", "fired"), ("silence", "created"), ("alert", "silenced")]
    silence, muted = entries[2], entries[3]
    assert (silence["by"], silence["text"], silence["silence"]) == ("duty-officer", "현장 통제 중",
                                                                     made.json()["silence"]["id"])
    assert muted["silence"] == silence["silence"] and muted["entity"] == "hyeongsan"
    await city.close()


async def test_what_was_read_before_a_restart_is_recorded_once(redis_url: str, tmp_path: Path) -> None:
    town = await open_incident_city(redis_url, tmp_path)
    with serve(town.city.settings) as srv:
        async with httpx.AsyncClient(base_url=srv.url) as http:
            iid = await _declare(town, http, redis_url, area="pohang")
    await town.follow()
    await town.city.send("river.level", "chaeun", 3.4)
    # A follower reads the entries and dies before it records them: they stay pending under its name.
    await town.follower.group.read(pending=False, count=100, block=None)
    restarted = Follower(town.city.client, town.city.catalog, town.hazards)
    await restarted.start()
    await drain(restarted.step)
    await drain(restarted.step)
    assert await _kinds(town, iid) == [("declared", None), ("alert", "fired")]
    await town.city.close()


async def test_a_batch_recorded_but_not_acknowledged_is_not_recorded_again(redis_url: str, tmp_path: Path) -> None:
    """The timeline is one slot and the streams the follower reads are others: it records a batch, then
    acknowledges it. Cut off between the two, the batch is read again after a restart and recorded once."""
    town = await open_incident_city(redis_url, tmp_path)
    at = int(time.time() * 1000)
    incident = store.Incident("20261207-flood-1", "flood", "pohang", 2, False, at, "duty-officer", "호우경보")
    await store.open_incident(town.city.client, incident, [{"at": at, "kind": "declared"}], {})
    await MessagePublisher(town.city.client).publish(
        [_message("m1", "[포항시] 호우경보 발효, 남구 저지대 주민 대피", ("47111",))], maxlen=1000)
    await town.city.send("river.level", "chaeun", 3.4)
    # Recorded, and the follower dies before it acknowledges: the entries stay pending under its name.
    assert await town.follower.record() is not None
    assert await _kinds(town, incident.id) == [("declared", None), ("message", "disaster_text"), ("alert", "fired")]
    assert (await town.city.client.xpending(keys.updates(), keys.INCIDENT_GROUP))["pending"] > 0
    restarted = Follower(town.city.client, town.city.catalog, town.hazards)
    await restarted.start()
    await drain(restarted.step)
    assert await _kinds(town, incident.id) == [("declared", None), ("message", "disaster_text"), ("alert", "fired")]
    assert (await town.city.client.xpending(keys.updates(), keys.INCIDENT_GROUP))["pending"] == 0
    # What comes after is recorded as before.
    await MessagePublisher(town.city.client).publish(
        [_message("m2", "[포항시] 호우경보 해제", ("47111",))], maxlen=1000)
    await drain(restarted.step)
    assert [k for k, _ in await _kinds(town, incident.id)].count("message") == 2
    await town.city.close()


async def test_alerts_firing_at_the_declaration_start_it_and_escalations_follow(redis_url: str,
                                                                                tmp_path: Path) -> None:
    town = await open_incident_city(redis_url, tmp_path)
    city = town.city
    await city.send("river.level", "hyeongsan", 3.3)  # fires before anyone declares
    await town.follow()
    with serve(city.settings) as srv:
        async with httpx.AsyncClient(base_url=srv.url) as http:
            iid = await _declare(town, http, redis_url)
    await city.send("river.level", "hyeongsan", 3.4)  # the same alert again: nothing new to tell
    await city.later(16 * 60)  # 경계 unacknowledged past escalate_after (15 min): tier 1
    await town.follow()
    entries = await store.read_timeline(city.client, iid)
    assert [(e["kind"], e.get("event")) for e in entries] == [
        ("declared", None), ("alert", "fired"), ("alert", "escalated")]
    fired = entries[1]
    assert fired["at"] < entries[0]["at"] and fired["entity"] == "hyeongsan"  # it fired before the declaration
    assert entries[2]["tier"] == 1
    await city.close()
