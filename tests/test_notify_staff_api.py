"""Subscriptions and the staff's own view over real HTTP: staff see and change only their own subscriptions,
a department head also the department's, an admin everyone's; who-am-I, the inbox, people without contacts."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from situationroom import keys, tokens
from situationroom.redisconn import async_client, sync_client
from tests.http_support import bearer
from tests.notify_support import seed
from tests.servers_support import Served, cli, serve
from tests.site_support import REPO, settings_for

pytestmark = pytest.mark.cluster  # also run on the suite's Redis Cluster


@pytest.fixture
def site(redis_url: str) -> Iterator[Served]:
    seed(redis_url)
    with serve(settings_for(redis_url)) as served:
        yield served


def test_staff_see_and_change_only_their_own_subscriptions(site: Served, redis_url: str) -> None:
    lee, choi = bearer(redis_url, "staff", staff="ds-lee"), bearer(redis_url, "staff", staff="env-choi")
    with httpx.Client(base_url=site.url, timeout=10) as http:
        mine = http.get("/api/v1/subscriptions", headers=lee).json()["subscriptions"]
        assert [s["id"] for s in mine] == ["ds-lee-nam-gu"]

        # Someone else's subscription: not to be read, changed or deleted.
        theirs = http.get("/api/v1/subscriptions/env-choi-air", headers=lee)
        assert theirs.status_code == 403 and theirs.json()["error"]["field"] == "id"
        assert "channels" not in theirs.text and "@" not in theirs.text  # nothing of its content
        changed = http.put("/api/v1/subscriptions/env-choi-air", headers=lee,
                           json={"channels": ["inapp"], "min_severity": "심각"})
        assert changed.status_code == 403
        assert http.delete("/api/v1/subscriptions/env-choi-air", headers=lee).status_code == 403
        assert http.get("/api/v1/subscriptions?owner=env-choi", headers=lee).status_code == 403
        stolen = http.post("/api/v1/subscriptions", headers=lee, json={"owner": "env-choi", "channels": ["inapp"]})
        assert stolen.status_code == 403 and stolen.json()["error"]["field"] == "owner"
        # ... and it is untouched for its owner.
        kept = http.get("/api/v1/subscriptions/env-choi-air", headers=choi).json()
        assert kept["min_severity"] == "주의" and kept["channels"] == ["inapp", "email"]

        # The head of 재난안전과 manages the department's own subscription (its messenger room) too.
        kim = bearer(redis_url, "staff", staff="ds-kim")
        ids = {s["id"] for s in http.get("/api/v1/subscriptions", headers=kim).json()["subscriptions"]}
        assert ids == {"ds-kim-critical", "disaster-safety-room"}

        # An admin sees and changes everyone's.
        admin = bearer(redis_url, "admin")
        everything = http.get("/api/v1/subscriptions", headers=admin).json()["subscriptions"]
        assert len(everything) == 12
        done = http.put("/api/v1/subscriptions/env-choi-air", headers=admin,
                        json={"channels": ["inapp"], "min_severity": "경계", "domains": ["environment"]})
        assert done.status_code == 200 and done.json()["owner"] == "env-choi"


def test_a_subscription_is_created_checked_changed_and_deleted(site: Served, redis_url: str) -> None:
    lee = bearer(redis_url, "staff", staff="ds-lee")
    with httpx.Client(base_url=site.url, timeout=10) as http:
        bad = http.post("/api/v1/subscriptions", headers=lee, json={"channels": ["pager"]})
        assert bad.status_code == 422
        assert bad.json()["error"] | {"message": ""} == {"message": "", "field": "channels[0]", "value": "pager"}
        bad = http.post("/api/v1/subscriptions", headers=lee, json={"channels": ["inapp"], "districts": ["9999"]})
        assert bad.json()["error"]["field"] == "districts[0]"
        bad = http.post("/api/v1/subscriptions", headers=lee, json={"channels": ["inapp"], "colour": "red"})
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "colour"
        bad = http.post("/api/v1/subscriptions", headers=lee, json={"channels": ["inapp"], "min_severity": "huge"})
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "min_severity"

        made = http.post("/api/v1/subscriptions", headers=lee, json={
            "name": "북구 강수", "districts": ["47113"], "indicators": ["rain.hourly"], "min_severity": "warning",
            "channels": ["inapp", "email"], "quiet_hours": {"start": "22:30", "end": "06:30"}})
        assert made.status_code == 201
        sub = made.json()
        assert sub["owner"] == "ds-lee" and sub["min_severity"] == "주의" and sub["id"].startswith("s-")
        assert sub["quiet_hours"]["start"] == "22:30:00"
        assert http.get(f"/api/v1/subscriptions/{sub['id']}", headers=lee).json()["name"] == "북구 강수"

        sub.update(min_severity="경계", channels=["inapp"])
        changed = http.put(f"/api/v1/subscriptions/{sub['id']}", headers=lee, json={
            k: v for k, v in sub.items() if k not in ("updated",)})
        assert changed.status_code == 200 and changed.json()["min_severity"] == "경계"
        assert http.delete(f"/api/v1/subscriptions/{sub['id']}", headers=lee).status_code == 204
        assert http.get(f"/api/v1/subscriptions/{sub['id']}", headers=lee).status_code == 404


def test_a_restricted_indicator_is_watched_only_by_those_its_alerts_reach(site: Served, redis_url: str) -> None:
    """admin.complaints_open is 민원봉사과's and 상황실's: a subscription naming it is refused to anyone else, who
    would never hear of its alerts, and to an admin making it for them; its departments' staff subscribe."""
    lee, oh = bearer(redis_url, "staff", staff="ds-lee"), bearer(redis_url, "staff", staff="ca-oh")
    asked = {"indicators": ["rain.hourly", "admin.complaints_open"], "channels": ["inapp"]}
    with httpx.Client(base_url=site.url, timeout=10) as http:
        refused = http.post("/api/v1/subscriptions", headers=lee, json=asked)
        assert refused.status_code == 403
        error = refused.json()["error"]
        assert (error["field"], error["value"]) == ("indicators[1]", "admin.complaints_open")
        assert "민원봉사과 (civil-affairs)" in error["message"] and "ds-lee is of disaster-safety" in error["message"]
        admin = bearer(redis_url, "admin")
        assert http.post("/api/v1/subscriptions", headers=admin, json={**asked, "owner": "ds-lee"}).status_code == 403
        # Changing an existing subscription to name it is refused the same way, and leaves it as it was.
        changed = http.put("/api/v1/subscriptions/ds-lee-nam-gu", headers=lee, json=asked)
        assert changed.status_code == 403
        kept = http.get("/api/v1/subscriptions/ds-lee-nam-gu", headers=lee).json()
        assert kept["indicators"] == ["river.level", "rain.hourly", "rain.3h"]
        assert http.post("/api/v1/subscriptions", headers=oh, json=asked).status_code == 201


def test_who_am_i_my_inbox_and_people_without_contacts(site: Served, redis_url: str) -> None:
    client = sync_client(redis_url)
    client.xadd(keys.inbox("ds-lee"), {"n": b'{"type":"inbox","id":"k1/ds-lee/inapp","at":2,"alerts":[]}'})
    client.xadd(keys.inbox("disaster-safety"), {"n": b'{"type":"inbox","id":"k2/disaster-safety/inapp","at":3}'})
    client.xadd(keys.inbox("env-choi"), {"n": b'{"type":"inbox","id":"k3/env-choi/inapp","at":4}'})
    client.close()
    lee = bearer(redis_url, "staff", staff="ds-lee")
    with httpx.Client(base_url=site.url, timeout=10) as http:
        me = http.get("/api/v1/staff/me", headers=lee).json()
        assert me["staff"]["id"] == "ds-lee" and me["department"]["name_ko"] == "재난안전과"
        assert me["staff"]["contacts"]["email"] == "ds-lee@pohang.example"  # their own, to check them
        usable = {c["id"]: c["usable"] for c in me["channels"]}
        assert usable["inapp"] is True and usable["email"] is False  # no SMTP server configured in this test
        inbox = http.get("/api/v1/staff/me/inbox", headers=lee).json()["items"]
        assert [i["id"] for i in inbox] == ["k2/disaster-safety/inapp", "k1/ds-lee/inapp"]  # theirs and the dept's

        people = http.get("/api/v1/people")
        assert people.status_code == 200 and "@" not in people.text and "010-" not in people.text
        assert {d["id"] for d in people.json()["departments"]} >= {"disaster-safety", "situation-room"}
        channels = http.get("/api/v1/channels").json()["channels"]
        assert {c["id"] for c in channels} == {"inapp", "email", "disaster-safety-webhook", "kakao", "sms"}

        assert http.get("/api/v1/staff/me").status_code == 401
        assert http.get("/api/v1/staff/me", headers=bearer(redis_url, "viewer")).status_code == 403
        assert http.get("/api/v1/subscriptions", headers=bearer(redis_url, "ingest")).status_code == 403
        assert http.get("/api/v1/notify/deadletter", headers=lee).status_code == 403
        assert http.get("/api/v1/notify/deadletter", headers=bearer(redis_url, "operator")).json() == {"deadletter": []}


def test_a_staff_token_is_bound_to_a_staff_member(embedded_url: str) -> None:
    missing = cli("tokens", "create", "--role", "staff", "--redis-url", embedded_url)
    assert missing.returncode == 2 and "--role staff needs --staff ID" in missing.stderr
    unknown = cli("tokens", "create", "--role", "staff", "--staff", "nobody", "--redis-url", embedded_url)
    assert unknown.returncode == 2 and "--staff nobody: no such staff member" in unknown.stderr
    made = cli("tokens", "create", "--role", "staff", "--staff", "ds-lee", "--name", "lee-phone",
               "--redis-url", embedded_url)
    assert made.returncode == 0, made.stderr
    listed = cli("tokens", "list", "--redis-url", embedded_url).stdout
    assert "staff" in listed and "lee-phone  (staff ds-lee)" in listed

    async def lookup() -> dict:
        client = async_client(embedded_url)
        try:
            return await tokens.lookup(client, made.stdout.strip())
        finally:
            await client.aclose()

    record = asyncio.run(lookup())
    assert record["staff"] == "ds-lee" and record["scopes"] == frozenset({"read", "staff"})
    assert REPO.is_dir()
