"""Who may do what, over real HTTP (docs/access.md): staff acknowledge and silence only their department's alerts
or what they subscribe to; a silence has a bounded length, a start before its end and only labels alerts have;
ending one early is for its creator, its department's staff and operators. Found by staff of two departments:
a staff token of one department silenced `department=disaster-safety` for 36,500 days, and got 201."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from situationroom import access, tokens
from situationroom.catalog import Catalog
from situationroom.notify.people import load_people
from situationroom.notify.subscriptions import Store, Subscription
from tests.alerts_support import City, open_city
from tests.http_support import bearer
from tests.servers_support import serve
from tests.site_support import REPO

pytestmark = pytest.mark.cluster  # also run on the suite's Redis Cluster

SEEDS = REPO / "seeds"


async def _river_alerts(redis_url: str, tmp_path: Path) -> City:
    """A firing river alert in Nam-gu (형산교) and one in Buk-gu (채운교), both of 재난안전과 (disaster-safety)."""
    city = await open_city(redis_url, tmp_path)
    await city.send("river.level", "hyeongsan", 3.2)
    await city.send("river.level", "chaeun", 3.3)
    return city


async def _subscribe(city: City, owner: str, **filters: object) -> None:
    await Store(city.client).put(Subscription.model_validate(
        {"id": f"{owner}-test", "owner": owner, "channels": ["inapp"], "min_severity": "주의", **filters}))


async def test_the_hundred_year_silence_of_another_department_is_refused(redis_url: str, tmp_path: Path) -> None:
    city = await _river_alerts(redis_url, tmp_path)
    env = bearer(redis_url, "staff", "kwon-laptop", staff="env-kwon")
    ds = bearer(redis_url, "staff", "kim-laptop", staff="ds-kim")
    century = {"matchers": {"department": "disaster-safety"}, "duration": "36500d", "reason": "알림이 너무 많음"}
    with serve(city.settings) as srv:
        async with httpx.AsyncClient(base_url=srv.url) as http:
            # What was found: environment staff silencing disaster safety for 100 years.
            other = await http.post("/api/v1/silences", headers=env, json=century)
            assert other.status_code == 403, other.text
            err = other.json()["error"]
            assert err["field"] == "matchers" and "own department" in err["message"]
            # Disaster safety's own staff may silence their department, but for a day at most.
            own = await http.post("/api/v1/silences", headers=ds, json=century)
            assert own.status_code == 422, own.text
            err = own.json()["error"]
            assert (err["field"], err["value"]) == ("duration", "36500d")
            assert "at most 1d" in err["message"] and "staff" in err["message"]
            day = await http.post("/api/v1/silences", headers=ds, json={**century, "duration": "24h"})
            assert day.status_code == 201, day.text
            assert day.json()["silence"]["department"] == "disaster-safety"
            assert sorted(day.json()["matching_alerts"]) == sorted(
                [(await city.alert("river.stage", e)).fingerprint for e in ("hyeongsan", "chaeun")])
            # Operators go up to a week (settings silence_max_operator), not beyond.
            ops = bearer(redis_url, "operator", "it-team")
            week = await http.post("/api/v1/silences", headers=ops, json={**century, "duration": "7d"})
            assert week.status_code == 201, week.text
            longer = await http.post("/api/v1/silences", headers=ops, json={**century, "duration": "8d"})
            assert longer.status_code == 422 and "at most 7d" in longer.json()["error"]["message"]
            # Nothing refused was stored.
            listed = (await http.get("/api/v1/silences")).json()["silences"]
            assert sorted(s["by"] for s in listed) == ["ds-kim", "it-team"]
    await city.close()


async def test_a_silence_starts_before_it_ends_and_matches_only_labels_alerts_have(redis_url: str,
                                                                                   tmp_path: Path) -> None:
    city = await _river_alerts(redis_url, tmp_path)
    ds = bearer(redis_url, "staff", "kim", staff="ds-kim")
    now = time.time()
    mine = {"department": "disaster-safety"}
    cases = [
        ({"matchers": {**mine, "hazzard": "flood"}, "duration": "1h"}, "matchers.hazzard", "unknown label"),
        ({"matchers": {"department": "disaster"}, "duration": "1h"}, "matchers.department", "unknown department"),
        ({"matchers": mine, "starts": now + 3600, "ends": now + 60}, "ends", "start before it ends"),
        ({"matchers": mine, "duration": "0s"}, "duration", "start before it ends"),
        ({"matchers": mine, "starts": now - 7200, "ends": now - 3600}, "ends", "ended already"),
        ({"matchers": mine, "starts": now + 200 * 86400, "duration": "1h"}, "starts", "ahead"),
    ]
    with serve(city.settings) as srv:
        async with httpx.AsyncClient(base_url=srv.url) as http:
            for body, field, words in cases:
                got = await http.post("/api/v1/silences", headers=ds, json={**body, "reason": "점검"})
                assert got.status_code == 422, (body, got.text)
                assert got.json()["error"]["field"] == field and words in got.json()["error"]["message"], got.text
            # The rule's own labels are known (hazard: flood), and a start in an hour is fine.
            ok = await http.post("/api/v1/silences", headers=ds, json={
                "matchers": {**mine, "hazard": "flood"}, "starts": now + 3600, "duration": "2h", "reason": "점검"})
            assert ok.status_code == 201 and ok.json()["silence"]["state"] == "pending", ok.text
            # Maintenance windows (recurring) are for operators, and they end.
            weekly = {"matchers": mine, "cron": "0 2 * * 0", "duration": "3h", "reason": "정기 점검"}
            staff_weekly = await http.post("/api/v1/silences", headers=ds, json=weekly)
            assert staff_weekly.status_code == 403 and staff_weekly.json()["error"]["field"] == "cron"
            ops = bearer(redis_url, "operator", "it-team")
            endless = await http.post("/api/v1/silences", headers=ops, json=weekly)
            assert endless.status_code == 422 and endless.json()["error"]["field"] == "until"
            too_far = await http.post("/api/v1/silences", headers=ops, json={**weekly, "until": now + 200 * 86400})
            assert too_far.status_code == 422 and "90d" in too_far.json()["error"]["message"]
            season = await http.post("/api/v1/silences", headers=ops, json={**weekly, "until": now + 60 * 86400})
            assert season.status_code == 201, season.text
    await city.close()


async def test_staff_act_on_their_department_and_what_they_subscribe_to(redis_url: str, tmp_path: Path) -> None:
    city = await _river_alerts(redis_url, tmp_path)
    hyeongsan = (await city.alert("river.stage", "hyeongsan")).fingerprint  # Nam-gu (47111)
    chaeun = (await city.alert("river.stage", "chaeun")).fingerprint  # Buk-gu
    env = bearer(redis_url, "staff", "kwon", staff="env-kwon")
    with serve(city.settings) as srv:
        async with httpx.AsyncClient(base_url=srv.url) as http:
            refused = await http.post(f"/api/v1/alerts/{hyeongsan}/ack", headers=env)
            assert refused.status_code == 403 and "disaster-safety" in refused.json()["error"]["message"]
            # Environment staff who subscribe to Nam-gu's river levels may act on those, not on Buk-gu's.
            await _subscribe(city, "env-kwon", indicators=["river.level"], districts=["47111"])
            ok = await http.post(f"/api/v1/alerts/{hyeongsan}/ack", headers=env)
            assert ok.status_code == 200 and ok.json()["alert"]["acked"]["by"] == "env-kwon"
            assert (await http.post(f"/api/v1/alerts/{chaeun}/ack", headers=env)).status_code == 403
            # A silence confined to the subscription: its filters pinned (indicator and gu).
            scoped = await http.post("/api/v1/silences", headers=env, json={
                "matchers": {"indicator": "river.level", "gu": "47111"}, "duration": "2h", "reason": "현장 확인"})
            assert scoped.status_code == 201, scoped.text
            wider = await http.post("/api/v1/silences", headers=env, json={
                "matchers": {"indicator": "river.level"}, "duration": "2h", "reason": "현장 확인"})
            assert wider.status_code == 403
            # One alert they may act on (what the staff page's silence button sends), and not another's.
            one = await http.post("/api/v1/silences", headers=env, json={
                "matchers": {"rule": "river.stage", "entity": "hyeongsan"}, "duration": "1h", "reason": "확인"})
            assert one.status_code == 201, one.text
            other = await http.post("/api/v1/silences", headers=env, json={
                "matchers": {"rule": "river.stage", "entity": "chaeun"}, "duration": "1h", "reason": "확인"})
            assert other.status_code == 403
            # Their own department's alerts need no subscription.
            await city.send("air.pm10", "daesong", 120)
            dust = (await city.alert("dust", "daesong")).fingerprint
            assert (await http.post(f"/api/v1/alerts/{dust}/ack", headers=env)).status_code == 200
    await city.close()


async def test_ending_a_silence_early_is_for_its_creator_its_department_and_operators(redis_url: str,
                                                                                     tmp_path: Path) -> None:
    city = await _river_alerts(redis_url, tmp_path)
    lee = bearer(redis_url, "staff", "lee", staff="ds-lee")
    kim = bearer(redis_url, "staff", "kim", staff="ds-kim")
    env = bearer(redis_url, "staff", "kwon", staff="env-kwon")
    ops = bearer(redis_url, "operator", "it-team")
    body = {"matchers": {"department": "disaster-safety"}, "duration": "2h", "reason": "점검"}
    with serve(city.settings) as srv:
        async with httpx.AsyncClient(base_url=srv.url) as http:
            async def silence(headers: dict[str, str]) -> str:
                made = await http.post("/api/v1/silences", headers=headers, json=body)
                assert made.status_code == 201, made.text
                return made.json()["silence"]["id"]

            first = await silence(lee)
            refused = await http.delete(f"/api/v1/silences/{first}", headers=env)
            assert refused.status_code == 403 and "ds-lee" in refused.json()["error"]["message"]
            colleague = await http.delete(f"/api/v1/silences/{first}", headers=kim)
            assert colleague.status_code == 200 and colleague.json()["silence"]["state"] == "expired"
            second = await silence(lee)
            assert (await http.delete(f"/api/v1/silences/{second}", headers=lee)).status_code == 200
            third = await silence(kim)
            assert (await http.delete(f"/api/v1/silences/{third}", headers=ops)).status_code == 200
            assert (await http.delete("/api/v1/silences/nope", headers=ops)).status_code == 404
    await city.close()


def test_who_reads_a_restricted_indicator(site_catalog: Catalog) -> None:
    people = load_people(SEEDS)
    secret, open_one = site_catalog.indicators["admin.complaints_open"], site_catalog.indicators["air.pm10"]

    def w(role: str, staff: str | None = None) -> access.Who:
        return access.who({"name": staff or role, "role": role, "scopes": sorted(tokens.ROLES[role]),
                           "staff": staff}, people)

    readers = [w("admin"), w("operator"), w("staff", "ca-seo"), w("staff", "sr-hwang")]
    others = [w("staff", "env-lee"), w("staff", "ds-kim"), w("viewer"), w("ingest"), None]
    assert all(access.may_read(x, secret) for x in readers)
    assert not any(access.may_read(x, secret) for x in others)
    assert all(access.may_read(x, open_one) for x in readers + others)
    assert access.hidden_from(None, site_catalog) == frozenset({"admin.complaints_open"})
    assert access.hidden_from(w("staff", "ca-seo"), site_catalog) == frozenset()
    with pytest.raises(access.Refused) as refused:
        access.check_read(w("viewer"), secret, people)
    assert refused.value.status == 403 and refused.value.field == "indicator"
    message = refused.value.message
    assert "the token's role is viewer" in message and "민원봉사과 (civil-affairs)" in message
