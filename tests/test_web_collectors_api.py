"""The collectors API over real HTTP (uvicorn + httpx, real Redis): health of every collector, run now,
pause and resume for operator and admin tokens only, and a clear JSON error for everything else."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import orjson
import pytest
import redis

from situationroom import keys, tokens
from situationroom.redisconn import sync_client
from tests.collectors_support import collector
from tests.http_support import assert_error
from tests.servers_support import Served, serve
from tests.site_support import MINI, settings_for

pytestmark = pytest.mark.cluster


@pytest.fixture
def api(redis_url: str) -> Iterator[Served]:
    with serve(settings_for(redis_url, site=MINI, partitions=4)) as served:
        yield served


@pytest.fixture
def http(api: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api.url, timeout=10) as client:
        yield client


@pytest.fixture
def r(redis_url: str) -> Iterator[redis.Redis]:
    client = sync_client(redis_url)
    yield client
    client.close()


def _token(r: redis.Redis, role: str) -> dict[str, str]:
    token = tokens.create(r, role, f"test-{role}", staff="ds-park" if role == "staff" else None)
    return {"Authorization": f"Bearer {token}"}


def test_list_and_get_show_health_state_errors_samples_and_next_run(http: httpx.Client, r: redis.Redis) -> None:
    now = time.time()
    collector(r, "parking", state="failing", last_run=f"{now - 5}", last_success=f"{now - 65}",
               last_error="CollectError: the API answered 500 Internal Server Error", last_error_at=f"{now - 4}",
               samples_last_run="0", rejected_last_run="2", next_run=f"{now + 55}", consecutive_failures="3",
               runs="10")
    collector(r, "old-feed", state="disabled", kind="csv")
    body = http.get("/api/v1/collectors").json()
    assert body["you"] == {"role": None, "can_operate": False}
    rows = {c["id"]: c for c in body["collectors"]}
    assert set(rows) == {"parking", "old-feed"}
    p = rows["parking"]
    assert p["state"] == "failing" and p["enabled"] is True and p["paused"] is False
    assert p["kind"] == "http_json" and p["file"] == "collectors/parking.yaml" and p["schedule"] == "every 60s"
    assert p["last_error"].startswith("CollectError") and p["last_error_at"] == pytest.approx(now - 4)
    assert p["consecutive_failures"] == 3 and p["rejected_last_run"] == 2 and p["samples_last_run"] == 0
    assert p["next_run"] == pytest.approx(now + 55) and p["last_success"] == pytest.approx(now - 65)
    assert p["run_now_requested"] is None
    assert rows["old-feed"]["enabled"] is False and rows["old-feed"]["state"] == "disabled"

    one = http.get("/api/v1/collectors/parking").json()
    assert {k: v for k, v in one.items() if k != "recent_rejections"} == p
    assert one["recent_rejections"] == []


def test_get_lists_the_collectors_recent_rejections_from_the_dead_letter_stream(http: httpx.Client,
                                                                                 r: redis.Redis) -> None:
    collector(r, "parking", state="ok")
    for n, (source, value) in enumerate([("parking", "-"), ("other", 1), ("parking", "n/a")]):
        r.xadd(keys.deadletter(), {"source": source, "field": "value", "reason": "missing at source",
                                   "value": orjson.dumps(value), "item": "", "at": str(1790000000000 + n)})
    got = http.get("/api/v1/collectors/parking").json()["recent_rejections"]
    assert [(x["value"], x["reason"], x["field"]) for x in got] == [("n/a", "missing at source", "value"),
                                                                    ("-", "missing at source", "value")]
    assert got[0]["at"] == 1790000000.002
    assert len(http.get("/api/v1/collectors/parking", params={"rejections": 1}).json()["recent_rejections"]) == 1
    assert http.get("/api/v1/collectors/parking", params={"rejections": 0}).json()["recent_rejections"] == []
    assert_error(http.get("/api/v1/collectors/parking", params={"rejections": "many"}), 422, "rejections", "many")


def test_an_operator_pauses_runs_and_resumes(http: httpx.Client, r: redis.Redis) -> None:
    collector(r, "parking", state="ok")
    op = _token(r, "operator")
    assert http.get("/api/v1/collectors", headers=op).json()["you"] == {
        "role": "operator", "name": "test-operator", "can_operate": True}

    resp = http.post("/api/v1/collectors/parking/run", headers=op)
    assert resp.status_code == 202, resp.text
    requested = float(r.hget(keys.collector_control("parking"), "run_now"))
    assert requested == pytest.approx(time.time(), abs=5)
    assert resp.json()["run_now_requested"] == pytest.approx(requested, abs=0.01)
    assert http.get("/api/v1/collectors/parking").json()["run_now_requested"] == pytest.approx(requested, abs=0.01)

    resp = http.post("/api/v1/collectors/parking/pause", headers=op)
    assert resp.status_code == 200 and resp.json()["paused"] is True and resp.json()["state"] == "paused"
    assert r.hget(keys.collector_control("parking"), "paused") == b"1"
    # A paused collector must not run: the pending run-now is withdrawn and a new one is refused.
    assert r.hget(keys.collector_control("parking"), "run_now") is None
    err = assert_error(http.post("/api/v1/collectors/parking/run", headers=op), 409, "collector_id", "parking")
    assert "paused" in err["message"]
    assert r.hget(keys.collector_control("parking"), "run_now") is None
    # Pausing twice is harmless.
    assert http.post("/api/v1/collectors/parking/pause", headers=op).json()["paused"] is True

    # The runtime writes state=paused at its next due run; resuming shows it scheduled until the next run.
    r.hset(keys.collector_health("parking"), "state", "paused")
    resp = http.post("/api/v1/collectors/parking/resume", headers=op)
    assert resp.status_code == 200 and resp.json()["paused"] is False and resp.json()["state"] == "scheduled"
    assert r.hget(keys.collector_control("parking"), "paused") is None
    assert http.post("/api/v1/collectors/parking/run", headers=_token(r, "admin")).status_code == 202


def test_a_collector_that_does_not_run_cannot_be_run(http: httpx.Client, r: redis.Redis) -> None:
    op = _token(r, "operator")
    collector(r, "off", state="disabled")
    collector(r, "broken", state="invalid", last_error="collectors/broken.yaml:3: schedule: field required")
    for cid, state in (("off", "disabled"), ("broken", "invalid")):
        err = assert_error(http.post(f"/api/v1/collectors/{cid}/run", headers=op), 409, "collector_id", cid)
        assert state in err["message"]
        assert r.hget(keys.collector_control(cid), "run_now") is None


@pytest.mark.parametrize("role", ["viewer", "staff", "ingest"])
def test_other_roles_are_refused_with_a_clear_error(http: httpx.Client, r: redis.Redis, role: str) -> None:
    collector(r, "parking", state="ok")
    auth = _token(r, role)
    assert http.get("/api/v1/collectors", headers=auth).json()["you"]["can_operate"] is False
    for action in ("run", "pause", "resume"):
        err = assert_error(http.post(f"/api/v1/collectors/parking/{action}", headers=auth), 403)
        assert "operator or admin" in err["message"] and role in err["message"]
    assert r.hgetall(keys.collector_control("parking")) == {}


def test_bad_requests_get_json_errors_never_a_500(http: httpx.Client, r: redis.Redis) -> None:
    collector(r, "parking", state="ok")
    op = _token(r, "operator")
    err = assert_error(http.get("/api/v1/collectors/nope"), 404, "collector_id", "nope")
    assert "unknown collector" in err["message"]
    for action in ("run", "pause", "resume"):
        assert_error(http.post(f"/api/v1/collectors/nope/{action}", headers=op), 404, "collector_id", "nope")
        # No token, a malformed header, an unknown token: 401 before anything is looked up.
        assert_error(http.post(f"/api/v1/collectors/parking/{action}"), 401)
        assert_error(http.post(f"/api/v1/collectors/parking/{action}", headers={"Authorization": "Basic eDp5"}), 401)
        err = assert_error(http.post(f"/api/v1/collectors/parking/{action}",
                                      headers={"Authorization": "Bearer sr_nope"}), 401)
        assert "unknown or revoked" in err["message"]
        assert_error(http.get(f"/api/v1/collectors/parking/{action}", headers=op), 405)
    assert_error(http.delete("/api/v1/collectors/parking", headers=op), 405)
    assert_error(http.post("/api/v1/collectors/parking/explode", headers=op), 404)
    assert r.hgetall(keys.collector_control("parking")) == {}
    # An unknown collector id is never added to the index by a refused request.
    assert r.smembers(keys.collectors_index()) == {b"parking"}


def test_a_run_now_set_by_hand_that_is_not_a_time_is_no_request_not_a_500(http: httpx.Client,
                                                                           r: redis.Redis) -> None:
    # The runtime documents the control hash as settable by hand with HSET: any value must be survivable.
    collector(r, "parking", state="ok")
    collector(r, "river", state="ok")
    r.hset(keys.collector_control("parking"), "run_now", "yes")
    r.hset(keys.collector_control("river"), "run_now", "1773529200.5")
    listed = http.get("/api/v1/collectors")
    assert listed.status_code == 200, listed.text
    rows = {c["id"]: c for c in listed.json()["collectors"]}
    assert rows["parking"]["run_now_requested"] is None
    assert rows["river"]["run_now_requested"] == 1773529200.5
    one = http.get("/api/v1/collectors/parking")
    assert one.status_code == 200, one.text
    assert one.json()["run_now_requested"] is None and one.json()["state"] == "ok"
    for raw in ("", "nan", "inf", "\xff"):
        r.hset(keys.collector_control("parking"), "run_now", raw.encode("latin-1"))
        assert http.get("/api/v1/collectors/parking").json()["run_now_requested"] is None, raw
    op = _token(r, "operator")
    paused = http.post("/api/v1/collectors/parking/pause", headers=op)
    assert paused.status_code == 200 and paused.json()["run_now_requested"] is None


def test_one_collector_is_read_on_its_own(http: httpx.Client, r: redis.Redis) -> None:
    collector(r, "parking", state="ok", runs="4")
    # Another collector's record cannot be read as health; asking for this one does not touch it.
    collector(r, "broken", runs="not a count")
    one = http.get("/api/v1/collectors/parking")
    assert one.status_code == 200, one.text
    assert one.json()["runs"] == 4 and one.json()["paused"] is False
    # A health hash that is not in the index (forgotten) is not a collector, as in the listing.
    r.hset(keys.collector_health("ghost"), mapping={"state": "ok"})
    assert_error(http.get("/api/v1/collectors/ghost"), 404, "collector_id", "ghost")


def test_a_health_field_set_by_hand_that_is_not_a_number_shows_as_unknown_not_a_500(http: httpx.Client,
                                                                                    r: redis.Redis) -> None:
    collector(r, "parking", state="ok", runs="4")
    collector(r, "broken", state="ok", runs="not a count", last_run="yesterday", samples_total="\xff")
    listed = http.get("/api/v1/collectors")
    assert listed.status_code == 200, listed.text
    rows = {c["id"]: c for c in listed.json()["collectors"]}
    assert rows["parking"]["runs"] == 4
    broken = rows["broken"]
    assert (broken["runs"], broken["last_run"], broken["samples_total"], broken["state"]) == (0, None, 0, "ok")
    one = http.get("/api/v1/collectors/broken")
    assert one.status_code == 200, one.text
    assert one.json()["runs"] == 0 and one.json()["file"] == "collectors/parking.yaml"


def test_reads_need_a_token_when_not_public(redis_url: str, r: redis.Redis) -> None:
    collector(r, "parking", state="ok")
    with serve(settings_for(redis_url, site=MINI, public_read=False)) as served, \
            httpx.Client(base_url=served.url, timeout=10) as http:
        assert_error(http.get("/api/v1/collectors"), 401)
        assert_error(http.get("/api/v1/collectors/parking"), 401)
        viewer = _token(r, "viewer")
        assert http.get("/api/v1/collectors", headers=viewer).json()["you"]["role"] == "viewer"
        assert_error(http.post("/api/v1/collectors/parking/pause", headers=viewer), 403)


def test_the_openapi_lists_the_collector_routes(http: httpx.Client) -> None:
    paths = http.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/collectors", "/api/v1/collectors/{collector_id}", "/api/v1/collectors/{collector_id}/run",
                 "/api/v1/collectors/{collector_id}/pause", "/api/v1/collectors/{collector_id}/resume"):
        assert path in paths, path
