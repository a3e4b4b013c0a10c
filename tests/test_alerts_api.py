"""The alerts API over real HTTP: listing and filtering, one alert with history and deliveries, acknowledging
(staff only) stopping repeats and escalation, silences (one-off and recurring) holding notifications back."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import orjson
import pytest

from situationroom import keys
from tests.alerts_support import open_city, summary
from tests.http_support import bearer
from tests.servers_support import serve

pytestmark = pytest.mark.cluster  # also run on the suite's Redis Cluster


async def test_alerts_are_listed_worst_first_and_filtered(redis_url: str, tmp_path: Path) -> None:
    city = await open_city(redis_url, tmp_path)
    await city.send("river.level", "hyeongsan", 3.2)
    await city.send("river.level", "chaeun", 2.2)
    await city.send("air.pm10", "daesong", 120)
    with serve(city.settings) as srv:
        async with httpx.AsyncClient(base_url=srv.url) as http:
            listed = (await http.get("/api/v1/alerts")).json()
            assert [(a["entity"], a["severity"]) for a in listed["alerts"]] == [
                ("hyeongsan", "경계"), ("chaeun", "주의"), ("daesong", "관심")]
            assert listed["alerts"][0]["severity_en"] == "critical"
            got = (await http.get("/api/v1/alerts", params={"severity": "warning"})).json()
            assert [a["entity"] for a in got["alerts"]] == ["hyeongsan", "chaeun"]
            got = (await http.get("/api/v1/alerts", params={"department": "environment"})).json()
            assert [a["entity"] for a in got["alerts"]] == ["daesong"]
            # A gu covers the stations in its eup/myeon/dong: 연일읍 (형산교) and 대송면 are in Nam-gu.
            got = (await http.get("/api/v1/alerts", params={"district": "47111"})).json()
            assert sorted(a["entity"] for a in got["alerts"]) == ["daesong", "hyeongsan"]
            got = (await http.get("/api/v1/alerts", params={"domain": "disaster", "state": "firing"})).json()
            assert got["count"] == 2
            bad = await http.get("/api/v1/alerts", params={"severity": "loud"})
            assert bad.status_code == 422 and bad.json()["error"]["field"] == "severity"
    await city.close()


async def test_one_alert_comes_with_its_history_and_deliveries(redis_url: str, tmp_path: Path) -> None:
    city = await open_city(redis_url, tmp_path)
    await city.send("river.level", "hyeongsan", 2.5, 1.0)
    alert = await city.alert("river.stage", "hyeongsan")
    # What the notify role logs for each delivery (docs/alerts.md, "Delivery").
    await city.client.lpush(keys.alert_deliveries(alert.fingerprint), orjson.dumps(
        {"at": 1, "key": "k/ds-kim/email", "notification": "k", "kind": "firing", "tier": 0,
         "recipient": "ds-kim", "channel": "email", "status": "sent", "attempt": 1, "error": None}))
    with serve(city.settings) as srv:
        async with httpx.AsyncClient(base_url=srv.url) as http:
            body = (await http.get(f"/api/v1/alerts/{alert.fingerprint}")).json()
            assert body["alert"]["state"] == "resolved"
            assert [h["event"] for h in reversed(body["history"])] == [
                "pending", "firing", "notified:firing", "resolved", "notified:resolved"]
            assert body["deliveries"][0]["recipient"] == "ds-kim"
            assert (await http.get("/api/v1/alerts/nope")).status_code == 404
    await city.close()


async def test_acknowledging_needs_staff_and_stops_repeats_and_escalation(redis_url: str, tmp_path: Path) -> None:
    city = await open_city(redis_url, tmp_path)
    await city.send("river.level", "hyeongsan", 3.2)
    await city.send("river.level", "chaeun", 3.3)
    assert summary(await city.notifications()) == [("firing", "경계", ["hyeongsan"]), ("firing", "경계", ["chaeun"])]
    hyeongsan = await city.alert("river.stage", "hyeongsan")
    with serve(city.settings) as srv:
        async with httpx.AsyncClient(base_url=srv.url) as http:
            path = f"/api/v1/alerts/{hyeongsan.fingerprint}/ack"
            assert (await http.post(path)).status_code == 401
            viewer = await http.post(path, headers=bearer(redis_url, "viewer", "wall"))
            assert viewer.status_code == 403
            ok = await http.post(path, json={"comment": "현장 확인 중"},
                                 headers=bearer(redis_url, "staff", "kim", staff="ds-kim"))
            assert ok.status_code == 200
            assert ok.json()["alert"]["acked"]["by"] == "ds-kim"
    # The wall hears of it at once.
    assert any(a["acked"] and a["entity"] == "hyeongsan" for a in await city.published_alerts())
    # 15 minutes on: only the unacknowledged one goes to tier 1 (the department head), then tier 2.
    await city.later(15 * 60 + 1)
    notes = await city.notifications()
    assert [(n["kind"], n["tier"], [a["entity"] for a in n["alerts"]]) for n in notes] == [
        ("escalation", 1, ["chaeun"])]
    await city.later(15 * 60)
    assert [(n["kind"], n["tier"]) for n in await city.notifications()] == [("escalation", 2)]
    # An hour after firing: the repeat goes out for chaeun only.
    await city.later(30 * 60)
    notes = await city.notifications()
    assert ("repeat", 0, ["chaeun"]) in [(n["kind"], n["tier"], [a["entity"] for a in n["alerts"]]) for n in notes]
    assert all("hyeongsan" not in [a["entity"] for a in n["alerts"]] for n in notes)
    await city.close()


async def test_a_silence_holds_notifications_back_until_it_expires(redis_url: str, tmp_path: Path) -> None:
    city = await open_city(redis_url, tmp_path)
    staff = bearer(redis_url, "staff", "kim", staff="ds-kim")
    with serve(city.settings) as srv:
        async with httpx.AsyncClient(base_url=srv.url) as http:
            # Staff silence their own department's alerts: the matchers pin it.
            made = await http.post("/api/v1/silences", headers=staff, json={
                "matchers": {"hazard": "flood", "department": "disaster-safety"}, "duration": "2h",
                "reason": "게이지 점검"})
            assert made.status_code == 201, made.text
            silence = made.json()["silence"]
            assert silence["state"] == "active" and silence["by"] == "ds-kim"
            await city.send("river.level", "hyeongsan", 2.4)
            await city.send("air.pm10", "daesong", 120)
            assert summary(await city.notifications()) == [("firing", "관심", ["daesong"])]
            silenced = await city.alert("river.stage", "hyeongsan")
            assert silenced.silenced == [silence["id"]]
            # The wall and the staff page still show it, saying who silenced it and until when.
            assert silenced.muted is not None and silenced.muted["by"] == "ds-kim"
            assert silenced.muted["by_name"] == {"ko": "김재현", "en": "Kim Jae-hyun"}
            assert silenced.muted["until"] == int(silence["ends"] * 1000)
            # Expired: the firing alert is told at the next tick.
            gone = await http.delete(f"/api/v1/silences/{silence['id']}", headers=staff)
            assert gone.json()["silence"]["state"] == "expired"
            await city.later(0)
            assert summary(await city.notifications()) == [("firing", "주의", ["hyeongsan"])]
            listed = (await http.get("/api/v1/silences", params={"state": "expired"})).json()
            assert [s["id"] for s in listed["silences"]] == [silence["id"]]
            bad = await http.post("/api/v1/silences", headers=staff, json={"matchers": {"rule": "dust"},
                                                                           "reason": "x"})
            assert bad.status_code == 422 and "duration" in bad.json()["error"]["message"]
            assert (await http.post("/api/v1/silences", json={})).status_code == 401
    await city.close()


async def test_a_recurring_silence_covers_its_maintenance_window_only(redis_url: str, tmp_path: Path) -> None:
    city = await open_city(redis_url, tmp_path)
    tz = ZoneInfo("Asia/Seoul")
    # A window that opened ten minutes ago and lasts an hour, every day at that time.
    opened = datetime.now(tz).replace(second=0, microsecond=0) - timedelta(minutes=10)
    # Maintenance windows are an operator's to set, with an end (docs/access.md).
    operator = bearer(redis_url, "operator", "it-team")
    with serve(city.settings) as srv:
        async with httpx.AsyncClient(base_url=srv.url) as http:
            made = await http.post("/api/v1/silences", headers=operator, json={
                "matchers": {"rule": "dust"}, "cron": f"{opened.minute} {opened.hour} * * *", "duration": "1h",
                "starts": time.time() - 3600, "until": time.time() + 30 * 86400, "reason": "측정소 정기 점검"})
            assert made.status_code == 201, made.text
            assert made.json()["silence"]["state"] == "active"
    await city.send("air.pm10", "daesong", 120)
    assert await city.notifications() == []
    # Past the window's hour the alert is told; the next day's window is pending.
    await city.later(51 * 60)
    assert summary(await city.notifications()) == [("firing", "관심", ["daesong"])]
    await city.close()


async def test_rules_are_listed_with_the_state_of_their_alerts(redis_url: str, tmp_path: Path) -> None:
    city = await open_city(redis_url, tmp_path)
    await city.send("river.level", "hyeongsan", 3.5)
    with serve(city.settings) as srv:
        async with httpx.AsyncClient(base_url=srv.url) as http:
            body = (await http.get("/api/v1/rules")).json()
    assert body["evaluated"] and body["errors"] == []
    first = body["rules"][0]
    assert (first["id"], first["state"], first["severity"], first["alerts"]) == (
        "river.stage", "firing", "경계", {"pending": 0, "firing": 1})
    by_id = {r["id"]: r for r in body["rules"]}
    assert by_id["dust"]["state"] == "ok" and by_id["catalog.weather.visibility"]["builtin"]
    assert not by_id["catalog.river.level"]["enabled"]
    await city.close()
