"""The incidents API over real HTTP with the real alert role: a declared flood gathers the alert that fires, its
acknowledgement, notes, level changes and its resolution in order, audited, readable after the alert is pruned and the
incident closed; who may do what; bad input; exercise declarations during a drill; restricted entries withheld."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from situationroom import drill as drill_mod
from situationroom import keys
from situationroom.redisconn import sync_client
from tests.http_support import assert_error, bearer
from tests.incidents_support import open_incident_city
from tests.servers_support import serve

pytestmark = pytest.mark.cluster  # also run on the suite's Redis Cluster

FLOOD = {"hazard": "flood", "area": "47111", "level": 1, "reason": "형산강 수위 상승, 호우경보"}


async def test_a_declared_flood_keeps_its_timeline_in_order_after_the_alert_is_pruned(redis_url: str,
                                                                                    tmp_path: Path) -> None:
    town = await open_incident_city(redis_url, tmp_path, alert_retention=60)
    city = town.city
    operator = bearer(redis_url, "operator", "duty-officer")
    staff = bearer(redis_url, "staff", staff="ds-kim")
    admin = bearer(redis_url, "admin", "chief")
    with serve(city.settings) as srv:
        async with httpx.AsyncClient(base_url=srv.url) as http:
            declared = await http.post("/api/v1/incidents", json=FLOOD, headers=operator)
            assert declared.status_code == 201, declared.text
            incident = declared.json()
            assert (incident["state"], incident["level"], incident["level_ko"]) == ("open", 1, "비상 1단계")
            assert (incident["area_ko"], incident["hazard_ko"], incident["exercise"]) == ("남구", "홍수", False)
            iid = incident["id"]
            # 형산교 (연일읍, Nam-gu) passes 3.0 m: the alert fires, and the timeline hears of it.
            await city.send("river.level", "hyeongsan", 3.2)
            # 채운교 (흥해읍) lies in Buk-gu: not this incident's area.
            await city.send("river.level", "chaeun", 3.4)
            await town.follow()
            alert = await city.alert("river.stage", "hyeongsan")
            ack = await http.post(f"/api/v1/alerts/{alert.fingerprint}/ack", json={"comment": "현장 확인"},
                                  headers=staff)
            assert ack.status_code == 200
            await town.follow()
            note = await http.post(f"/api/v1/incidents/{iid}/notes", headers=staff,
                                   json={"text": "형산교 통제 시작", "at": "2026-12-06T09:30",
                                         "indicator": "river.level"})
            assert note.status_code == 201, note.text
            assert note.json()["entry"]["pinned"] == 1796517000000  # 09:30 KST
            raised = await http.post(f"/api/v1/incidents/{iid}/level", headers=operator,
                                     json={"level": "비상 2단계", "reason": "하천 범람 우려"})
            assert raised.json()["level"] == 2
            await city.send("river.level", "hyeongsan", 1.0)
            await town.follow()
            ended = await http.post(f"/api/v1/incidents/{iid}/end", headers=admin, json={"reason": "수위 하강"})
            assert ended.json()["state"] == "closed" and ended.json()["closed_by"] == "chief"
            # A week later (the alert role's clock): the resolved alert and its own history are gone.
            await city.later(120)
            assert await city.alert("river.stage", "hyeongsan") is None
            assert not await city.client.exists(keys.alert_history(alert.fingerprint))
            await town.follow()

            body = (await http.get(f"/api/v1/incidents/{iid}/timeline")).json()
            got = [(e["kind"], e.get("event"), e.get("by")) for e in body["entries"]]
            assert got == [("declared", None, "duty-officer"), ("alert", "fired", None),
                           ("alert", "acknowledged", "ds-kim"), ("note", None, "ds-kim"),
                           ("level", "raised", "duty-officer"), ("alert", "resolved", None),
                           ("ended", None, "chief")]
            fired = body["entries"][1]
            assert (fired["entity"], fired["severity"], fired["fingerprint"]) == ("hyeongsan", "경계",
                                                                                  alert.fingerprint)
            assert body["incident"]["state"] == "closed" and body["withheld"] == 0

            csv = await http.get(f"/api/v1/incidents/{iid}/timeline", params={"format": "csv"})
            assert csv.headers["content-type"].startswith("text/csv")
            text = csv.content.decode("utf-8")
            assert text.startswith("\ufefftime,kind,event,by,level")
            rows = text.splitlines()
            assert len(rows) == 8 and "+09:00" in rows[1] and "비상 1단계" in rows[1] and "현장 확인" in text

            audit = (await http.get("/api/v1/audit", params={"action": "incident"}, headers=admin)).json()
            assert [(e["action"], e["actor"]) for e in reversed(audit["entries"])] == [
                ("incident.declare", "duty-officer"), ("incident.note", "ds-kim"), ("incident.level", "duty-officer"),
                ("incident.end", "chief")]
            assert all(e["target"] == iid for e in audit["entries"])

            listed = (await http.get("/api/v1/incidents", params={"state": "closed"})).json()
            assert [i["id"] for i in listed["incidents"]] == [iid]
            assert (await http.get("/api/v1/incidents", params={"state": "open"})).json()["count"] == 0
            # Closed stays closed: a new declaration opens a new incident.
            late = await http.post(f"/api/v1/incidents/{iid}/notes", headers=staff, json={"text": "추가"})
            assert_error(late, 409, "id", iid)
    await city.close()


async def test_a_level_raised_then_lowered_says_so_everywhere_a_user_looks(redis_url: str, tmp_path: Path) -> None:
    town = await open_incident_city(redis_url, tmp_path)
    city = town.city
    operator = bearer(redis_url, "operator", "duty-officer")
    admin = bearer(redis_url, "admin", "chief")
    with serve(city.settings) as srv:
        async with httpx.AsyncClient(base_url=srv.url) as http:
            iid = (await http.post("/api/v1/incidents", json=FLOOD, headers=operator)).json()["id"]
            raised = await http.post(f"/api/v1/incidents/{iid}/level", headers=operator,
                                     json={"level": 3, "reason": "제방 월류 우려"})
            assert (raised.json()["level"], raised.json()["status"]) == (3, "severe")
            await city.notifications()  # the declaration's and the raise's
            lowered = await http.post(f"/api/v1/incidents/{iid}/level", headers=admin,
                                      json={"level": "비상 1단계", "reason": "형산강 수위 하강"})
            assert lowered.status_code == 200, lowered.text
            got = lowered.json()
            assert (got["state"], got["level"], got["level_ko"], got["level_en"], got["status"]) == (
                "open", 1, "비상 1단계", "Emergency level 1", "warning")

            # What the wall's header shows: the open incidents, at the lowered level and its colour.
            shown = (await http.get("/api/v1/incidents", params={"state": "open"})).json()["incidents"]
            assert [(i["id"], i["level_ko"], i["status"]) for i in shown] == [(iid, "비상 1단계", "warning")]
            assert (await http.get(f"/api/v1/incidents/{iid}")).json()["level_ko"] == "비상 1단계"

            entries = (await http.get(f"/api/v1/incidents/{iid}/timeline")).json()["entries"]
            assert [(e["kind"], e.get("event"), e.get("level"), e.get("previous")) for e in entries] == [
                ("declared", None, 1, None), ("level", "raised", 3, 1), ("level", "lowered", 1, 3)]
            down = entries[-1]
            assert (down["by"], down["text"], down["level_ko"]) == ("chief", "형산강 수위 하강", "비상 1단계")
            csv = (await http.get(f"/api/v1/incidents/{iid}/timeline", params={"format": "csv"})).text
            assert "lowered" in csv.splitlines()[-1] and "형산강 수위 하강" in csv.splitlines()[-1]

            (told,) = await city.notifications()
            line = told["alerts"][0]
            assert (told["kind"], told["event"], line["name_ko"]) == ("incident", "lowered", "홍수 비상 1단계")
            assert line["message_ko"] == "하향 (chief): 형산강 수위 하강" and line["state"] == "firing"

            audit = (await http.get("/api/v1/audit", params={"action": "incident.level"}, headers=admin)).json()
            last = audit["entries"][0]
            assert (last["actor"], last["target"]) == ("chief", iid)
            assert {k: last["detail"][k] for k in ("from", "level", "reason")} == {
                "from": 3, "level": 1, "reason": "형산강 수위 하강"}
    await city.close()


async def test_only_operators_and_admins_declare_staff_add_notes(redis_url: str, tmp_path: Path) -> None:
    town = await open_incident_city(redis_url, tmp_path)
    with serve(town.city.settings) as srv:
        async with httpx.AsyncClient(base_url=srv.url) as http:
            assert_error(await http.post("/api/v1/incidents", json=FLOOD), 401)
            assert_error(await http.post("/api/v1/incidents", json=FLOOD,
                                         headers=bearer(redis_url, "viewer", "wall")), 403)
            refused = assert_error(await http.post("/api/v1/incidents", json=FLOOD,
                                                   headers=bearer(redis_url, "staff", staff="ds-park")), 403, "role")
            assert "operators and admins" in refused["message"]
            iid = (await http.post("/api/v1/incidents", json=FLOOD,
                                   headers=bearer(redis_url, "admin", "chief"))).json()["id"]
            staff = bearer(redis_url, "staff", staff="env-lee")
            assert_error(await http.post(f"/api/v1/incidents/{iid}/level", headers=staff,
                                         json={"level": 2, "reason": "x"}), 403, "role")
            assert_error(await http.post(f"/api/v1/incidents/{iid}/end", headers=staff, json={"reason": "x"}), 403)
            assert (await http.post(f"/api/v1/incidents/{iid}/notes", headers=staff,
                                    json={"text": "대기질 영향 없음"})).status_code == 201
            assert_error(await http.post(f"/api/v1/incidents/{iid}/notes", json={"text": "x"},
                                         headers=bearer(redis_url, "viewer", "wall")), 403)
    await town.city.close()


async def test_bad_input_is_named_with_its_value(redis_url: str, tmp_path: Path) -> None:
    town = await open_incident_city(redis_url, tmp_path)
    op = bearer(redis_url, "operator", "duty-officer")
    with serve(town.city.settings) as srv:
        async with httpx.AsyncClient(base_url=srv.url) as http:
            async def declare(**change: object) -> httpx.Response:
                return await http.post("/api/v1/incidents", json={**FLOOD, **change}, headers=op)

            assert "flood" in assert_error(await declare(hazard="tsunami"), 422, "hazard", "tsunami")["message"]
            assert_error(await declare(area="seoul"), 422, "area", "seoul")
            assert "1 비상 1단계" in assert_error(await declare(level=4), 422, "level", 4)["message"]
            assert_error(await declare(reason=""), 422, "reason")
            assert_error(await declare(colour="red"), 422, "colour")
            iid = (await declare(area="4711125300", level="비상 3단계")).json()["id"]
            again = assert_error(await declare(area="4711125300"), 409, "hazard", "flood")
            assert iid in again["message"]
            # Another area, or the same area on another hazard, is another incident.
            assert (await declare(area="pohang")).status_code == 201
            assert (await declare(hazard="fine-dust", area="4711125300", level="경계")).status_code == 201
            assert_error(await http.post(f"/api/v1/incidents/{iid}/level", headers=op,
                                         json={"level": 3, "reason": "x"}), 409, "level", 3)
            assert_error(await http.post(f"/api/v1/incidents/{iid}/notes", headers=op,
                                         json={"text": "x", "at": "yesterday"}), 422, "at", "yesterday")
            assert_error(await http.post(f"/api/v1/incidents/{iid}/notes", headers=op,
                                         json={"text": "x", "indicator": "river.height"}), 422, "indicator")
            assert_error(await http.get("/api/v1/incidents/20261206-flood-999"), 404, "id", "20261206-flood-999")
            assert_error(await http.get("/api/v1/incidents/nope/timeline"), 404, "id")
            assert_error(await http.post("/api/v1/incidents/nope/end", headers=op, json={"reason": "x"}), 404, "id")
            assert_error(await http.get("/api/v1/incidents", params={"hazard": "tsunami"}), 422, "hazard")
            assert_error(await http.get("/api/v1/incidents", params={"area": "seoul"}), 422, "area", "seoul")
            assert_error(await http.get("/api/v1/incidents", params={"mode": "drill"}), 422, "mode", "drill")
            assert_error(await http.get("/api/v1/incidents", params={"limit": 0}), 422, "limit")
            assert_error(await http.get("/api/v1/incidents/x/timeline", params={"format": "pdf"}), 422, "format")
    await town.city.close()


async def test_a_drill_declares_exercise_incidents_that_gather_exercise_alerts(redis_url: str,
                                                                               tmp_path: Path) -> None:
    town = await open_incident_city(redis_url, tmp_path)
    city = town.city
    op = bearer(redis_url, "operator", "duty-officer")
    sync = sync_client(redis_url)
    with serve(city.settings) as srv:
        async with httpx.AsyncClient(base_url=srv.url) as http:
            real = (await http.post("/api/v1/incidents", json={**FLOOD, "area": "pohang"}, headers=op)).json()
            drill = drill_mod.start(sync, "typhoon-hinnamnor", 60, 0, "tester (cli)", [])
            assert_error(await http.post("/api/v1/incidents", json={**FLOOD, "exercise": False}, headers=op),
                         409, "exercise", False)
            drilled = (await http.post("/api/v1/incidents", json={**FLOOD, "area": "pohang"}, headers=op)).json()
            assert drilled["exercise"] is True and drilled["drill"] == drill.id
            assert drilled["id"] != real["id"]  # a drill's declaration never blocks, nor joins, a real one
            await city.send("river.level", "hyeongsan", 3.5, exercise=True)
            await city.send("river.level", "chaeun", 3.6)
            await town.follow()
            drill_tl = (await http.get(f"/api/v1/incidents/{drilled['id']}/timeline")).json()["entries"]
            real_tl = (await http.get(f"/api/v1/incidents/{real['id']}/timeline")).json()["entries"]
            assert [(e.get("entity"), e["exercise"]) for e in drill_tl if e["kind"] == "alert"] == [
                ("hyeongsan", True)]
            assert [(e.get("entity"), e["exercise"]) for e in real_tl if e["kind"] == "alert"] == [("chaeun", False)]
            listed = (await http.get("/api/v1/incidents", params={"mode": "exercise"})).json()
            assert [i["id"] for i in listed["incidents"]] == [drilled["id"]]
    drill_mod.stop(sync, "tester (cli)")
    sync.close()
    await city.close()


async def test_entries_about_a_restricted_indicator_are_withheld(redis_url: str, tmp_path: Path) -> None:
    town = await open_incident_city(redis_url, tmp_path)
    op = bearer(redis_url, "operator", "duty-officer")
    with serve(town.city.settings) as srv:
        async with httpx.AsyncClient(base_url=srv.url) as http:
            iid = (await http.post("/api/v1/incidents", json=FLOOD, headers=op)).json()["id"]
            assert (await http.post(f"/api/v1/incidents/{iid}/notes", headers=op,
                                    json={"text": "결제액 급감", "indicator": "economy.spending"})).status_code == 201
            # Staff outside 재난안전과 may not write about the figures they may not read.
            assert_error(await http.post(f"/api/v1/incidents/{iid}/notes", json={"text": "x",
                                                                                  "indicator": "economy.spending"},
                                         headers=bearer(redis_url, "staff", staff="env-lee")), 403, "indicator")
            path = f"/api/v1/incidents/{iid}/timeline"
            public = (await http.get(path)).json()
            assert (public["count"], public["withheld"]) == (1, 1)
            env = (await http.get(path, headers=bearer(redis_url, "staff", staff="env-kwon"))).json()
            assert env["withheld"] == 1 and "결제액" not in str(env)
            own = (await http.get(path, headers=bearer(redis_url, "staff", staff="ds-lee"))).json()
            assert (own["count"], own["withheld"]) == (2, 0)
            csv = (await http.get(path, params={"format": "csv"})).text
            assert "결제액" not in csv
    await town.city.close()


def test_the_incidents_api_is_documented_and_a_site_without_hazards_says_so(redis_url: str,
                                                                            http: httpx.Client) -> None:
    spec = http.get("/openapi.json").json()
    ops = {(path, method): op for path, item in spec["paths"].items() if path.startswith("/api/v1/incidents")
           for method, op in item.items()}
    assert len(ops) == 7
    for op in ops.values():
        assert op["summary"] and op["tags"] == ["incidents"] and "422" in op["responses"]
    timeline = ops[("/api/v1/incidents/{incident_id}/timeline", "get")]["responses"]
    assert "404" in timeline and "text/csv" in timeline["200"]["content"]
    assert "409" in ops[("/api/v1/incidents", "post")]["responses"]
    # The mini site has no seeds/hazards.yaml: nothing can be declared, and the answer says why.
    refused = http.post("/api/v1/incidents", json=FLOOD, headers=bearer(redis_url, "operator", "duty-officer"))
    assert "the site has no seeds/hazards.yaml" in assert_error(refused, 422, "hazard", "flood")["message"]
