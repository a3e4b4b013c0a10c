"""The HTTP API served by a real uvicorn server on a free port, called over real HTTP with httpx."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families

from situationroom import keys, tokens
from situationroom.aggregator import Aggregator
from situationroom.catalog import Catalog
from situationroom.collectors import health
from situationroom.settings import Settings
from situationroom.streams import ensure_groups
from tests.http_support import assert_error
from tests.servers_support import Served, free_port, serve
from tests.site_support import MINI, settings_for


@pytest.fixture
def api(redis_url: str) -> Iterator[Served]:
    with serve(settings_for(redis_url, site=MINI, partitions=4, ingest_max_items=50)) as served:
        yield served


@pytest.fixture
def http(api: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api.url, timeout=10) as client:
        yield client


def _token(url: str, role: str) -> str:
    client = redis.Redis.from_url(url)
    try:
        return tokens.create(client, role, f"test-{role}")
    finally:
        client.close()


async def _aggregate(url: str, settings: Settings, catalog: Catalog) -> None:
    client = aioredis.Redis.from_url(url)
    try:
        await ensure_groups(client, settings.partitions)
        agg = Aggregator(client, catalog, settings, consumer="test")
        while await agg.step(None):
            pass
    finally:
        await client.aclose()


def test_healthz_and_openapi(http: httpx.Client) -> None:
    resp = http.get("/healthz")
    assert resp.status_code == 200
    assert resp.json()["status"] == "ok" and resp.json()["redis"] == "ok"
    docs = http.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    spec = http.get("/openapi.json").json()
    for path in ("/api/v1/indicators", "/api/v1/indicators/{indicator_id}", "/api/v1/indicators/{indicator_id}/history",
                 "/api/v1/collectors", "/api/v1/samples", "/healthz", "/metrics"):
        assert path in spec["paths"], path


def test_healthz_when_redis_is_unreachable() -> None:
    settings = settings_for(f"redis://127.0.0.1:{free_port()}/0", site=MINI)
    with serve(settings) as served, httpx.Client(base_url=served.url, timeout=10) as http:
        resp = http.get("/healthz")
        assert resp.status_code == 503
        assert resp.json()["redis"] == "unreachable"
        resp = http.get("/api/v1/indicators")
        assert_error(resp, 503)
        assert "Redis" in resp.json()["error"]["message"] and resp.headers["retry-after"]


async def test_push_then_read_live_values(api: Served, redis_url: str) -> None:
    token = _token(redis_url, "ingest")
    now = time.time()
    batch = {"samples": [
        {"indicator": "air.pm10", "entity": "daesong", "ts": now - 120, "value": 40},
        {"indicator": "air.pm10", "entity": "daesong", "ts": now - 60, "value": 95.5},
        {"indicator": "air.pm10", "entity": "yeonil", "ts": now, "value": "30"},
        {"indicator": "weather.visibility", "entity": "pohang",
         "ts": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now)), "value": 150},
    ]}
    async with httpx.AsyncClient(base_url=api.url, timeout=10) as http:
        resp = await http.post("/api/v1/samples", json=batch, headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 200, resp.text
        assert resp.json() == {"accepted": 4, "rejected": []}

        await _aggregate(redis_url, api.settings, api.catalog)

        listing = (await http.get("/api/v1/indicators")).json()
        assert listing["city"]["id"] == "pohang"
        assert {d["id"] for d in listing["domains"]} == {"environment", "disaster", "weather"}
        by_id = {i["id"]: i for i in listing["indicators"]}
        assert set(by_id) == set(api.catalog.indicators)
        pm = by_id["air.pm10"]
        assert pm["status"] == "warning" and pm["counts"] == {"warning": 1, "normal": 1}
        assert pm["unit"] == "µg/m³" and pm["thresholds"]["warning"] == 81
        ents = {e["id"]: e for e in pm["entities"]}
        assert ents["daesong"]["value"] == 95.5 and ents["daesong"]["status"] == "warning"
        assert ents["yeonil"]["value"] == 30.0
        assert by_id["river.level"]["status"] == "unknown" and by_id["river.level"]["counts"] == {"unknown": 2}
        assert by_id["weather.visibility"]["status"] == "critical"

        env = (await http.get("/api/v1/indicators", params={"domain": "environment"})).json()
        assert [i["id"] for i in env["indicators"]] == ["air.pm10"]
        assert_error(await http.get("/api/v1/indicators", params={"domain": "sports"}), 422, "domain", "sports")

        one = (await http.get("/api/v1/indicators/air.pm10")).json()
        assert one["id"] == "air.pm10" and one["status"] == "warning"
        daesong = next(e for e in one["entities"] if e["id"] == "daesong")
        assert daesong["name_ko"] == "대송면" and daesong["kind"] == "airkorea"
        assert daesong["windows"]["5m"] == {"count": 2, "mean": 67.75, "min": 40.0, "max": 95.5}
        assert daesong["rate_per_min"] == pytest.approx(55.5)
        assert daesong["previous_status"] == "unknown" and daesong["thresholds"]["direction"] == "above"
        assert daesong["ts"] == pytest.approx(now - 60, abs=0.001)
        river = (await http.get("/api/v1/indicators/river.level")).json()
        hyeongsan = next(e for e in river["entities"] if e["id"] == "hyeongsan")
        assert hyeongsan["thresholds"]["warning"] == 2.0 and hyeongsan["status"] == "unknown"
        assert hyeongsan["value"] is None and hyeongsan["windows"] == {}

        hist = (await http.get("/api/v1/indicators/air.pm10/history",
                               params={"entity": "daesong", "resolution": "raw"})).json()
        assert [p["value"] for p in hist["points"]] == [40.0, 95.5]
        assert hist["unit"] == "µg/m³" and hist["resolution"] == "raw"
        hist = (await http.get("/api/v1/indicators/air.pm10/history",
                               params={"entity": "daesong", "from": str(now - 3600), "to": str(now + 60)})).json()
        assert hist["resolution"] == "1m" and sum(p["count"] for p in hist["points"]) == 2
        assert hist["from"] == pytest.approx(now - 3600)
        hist = (await http.get("/api/v1/indicators/weather.visibility/history",
                               params={"resolution": "1h", "from": "2020-01-01T00:00:00+09:00"})).json()
        assert hist["entity"] == "pohang" and hist["points"][-1]["min"] == 150.0
        narrow = (await http.get("/api/v1/indicators/air.pm10/history",
                                 params={"entity": "daesong", "resolution": "raw",
                                         "from": str(now - 90), "to": str(now)})).json()
        assert [p["value"] for p in narrow["points"]] == [95.5]


def test_read_errors_name_field_and_value(http: httpx.Client) -> None:
    assert_error(http.get("/api/v1/indicators/no.such"), 404, "indicator_id", "no.such")
    assert_error(http.get("/api/v1/indicators/no.such/history"), 404, "indicator_id", "no.such")
    base = "/api/v1/indicators/air.pm10/history"
    err = assert_error(http.get(base, params={"entity": "daesong", "resolution": "5s"}), 422, "resolution", "5s")
    assert "raw" in err["message"]
    assert_error(http.get(base), 422, "entity", None)
    assert_error(http.get(base, params={"entity": "pohang"}), 422, "entity", "pohang")
    assert_error(http.get(base, params={"entity": "daesong", "from": "yesterday"}), 422, "from", "yesterday")
    assert_error(http.get(base, params={"entity": "daesong", "to": "nan"}), 422, "to", "nan")
    assert_error(http.get(base, params={"entity": "daesong", "from": "2026-01-01T00:00:00"}), 422, "from")
    assert_error(http.get(base, params={"entity": "daesong", "from": "2000", "to": "1000"}), 422, "from", "2000")
    assert_error(http.get("/api/v1/nothing-here"), 404)
    assert_error(http.delete("/api/v1/indicators"), 405)


def test_collectors_endpoint(api: Served, http: httpx.Client, redis_url: str) -> None:
    assert http.get("/api/v1/collectors").json()["collectors"] == []
    client = redis.Redis.from_url(redis_url)
    try:
        client.sadd(keys.collectors_index(), "airkorea")
        client.hset(keys.collector_health("airkorea"), mapping={
            "state": "failing", "last_error": "timed out after 30s", "consecutive_failures": "3",
            "last_run": "1790000000.5", "next_run": "1790000060", "samples_total": "120"})
    finally:
        client.close()
    rows = http.get("/api/v1/collectors").json()["collectors"]
    assert len(rows) == 1
    row = rows[0]
    assert row["id"] == "airkorea" and row["state"] == "failing" and row["last_error"] == "timed out after 30s"
    assert row["consecutive_failures"] == 3 and row["samples_total"] == 120
    assert row["last_run"] == 1790000000.5 and row["next_run"] == 1790000060.0
    assert row["last_success"] is None and row["paused"] is False


async def test_push_mixed_batch(api: Served, redis_url: str) -> None:
    token = _token(redis_url, "ingest")
    now = time.time()
    items: list[Any] = [
        {"indicator": "air.pm10", "entity": "daesong", "ts": now, "value": 12},  # 0 good
        {"indicator": "air.pm11", "entity": "daesong", "ts": now, "value": 12},  # 1 unknown indicator
        {"indicator": "air.pm10", "entity": "pohang", "ts": now, "value": 12},  # 2 wrong entity
        {"indicator": "air.pm10", "entity": "yeonil", "ts": now, "value": "lots"},  # 3 not a number
        {"indicator": "air.pm10", "entity": "yeonil", "ts": now, "value": -5},  # 4 outside range
        {"indicator": "air.pm10", "entity": "yeonil", "ts": "yesterday", "value": 5},  # 5 bad time
        {"indicator": "air.pm10", "entity": "yeonil", "ts": now + 86400, "value": 5},  # 6 future
        {"indicator": "air.pm10", "entity": "yeonil", "ts": now - 86400, "value": 5},  # 7 too old
        "air.pm10 5",  # 8 not an object
        {"indicator": "air.pm10", "entity": "yeonil", "value": 5, "colour": "red"},  # 9 unknown field
        {"entity": "yeonil", "value": 5},  # 10 missing indicator
        {"indicator": "air.pm10", "entity": "yeonil", "ts": now, "value": "NaN"},  # 11 not finite
        {"indicator": "river.level", "entity": "chaeun", "ts": now * 1000, "value": 1.25},  # 12 good (ms)
    ]
    async with httpx.AsyncClient(base_url=api.url, timeout=10) as http:
        resp = await http.post("/api/v1/samples", json=items, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["accepted"] == 2
    got = {r["index"]: (r["field"], r["value"]) for r in body["rejected"]}
    assert got == {
        1: ("indicator", "air.pm11"), 2: ("entity", "pohang"), 3: ("value", "lots"), 4: ("value", -5),
        5: ("ts", "yesterday"), 6: ("ts", pytest.approx(now + 86400)), 7: ("ts", pytest.approx(now - 86400)),
        8: ("item", "air.pm10 5"), 9: ("colour", "red"), 10: ("indicator", None), 11: ("value", "NaN"),
    }
    assert all(r["reason"] for r in body["rejected"])

    client = aioredis.Redis.from_url(redis_url)
    try:
        dead = [{k.decode(): v.decode() for k, v in f.items()} for _, f in await client.xrange(keys.deadletter())]
        assert sorted(int(d["index"]) for d in dead) == sorted(got)
        assert all(d["source"] == "push:test-ingest" for d in dead)
        assert {d["field"] for d in dead} == {f for f, _ in got.values()}
    finally:
        await client.aclose()
    await _aggregate(redis_url, api.settings, api.catalog)
    with httpx.Client(base_url=api.url) as http:
        river = http.get("/api/v1/indicators/river.level").json()
        chaeun = next(e for e in river["entities"] if e["id"] == "chaeun")
        assert chaeun["value"] == 1.25 and chaeun["ts"] == pytest.approx(now, abs=0.001)

        metrics = {f.name: f for f in text_string_to_metric_families(http.get("/metrics").text)}
        assert metrics["situationroom_samples_in"].samples[0].value == 2
        assert metrics["situationroom_samples_rejected"].samples[0].value == 11
        assert metrics["situationroom_samples_aggregated"].samples[0].value == 2


def test_push_auth(api: Served, http: httpx.Client, redis_url: str) -> None:
    item = [{"indicator": "air.pm10", "entity": "daesong", "value": 1}]
    resp = http.post("/api/v1/samples", json=item)
    assert_error(resp, 401)
    assert resp.headers["www-authenticate"] == "Bearer"
    assert_error(http.post("/api/v1/samples", json=item, headers={"Authorization": "Basic dXNlcjpwYXNz"}), 401)
    err = assert_error(http.post("/api/v1/samples", json=item, headers={"Authorization": "Bearer sr_nope"}), 401)
    assert "unknown or revoked" in err["message"]
    viewer = _token(redis_url, "viewer")
    err = assert_error(http.post("/api/v1/samples", json=item, headers={"Authorization": f"Bearer {viewer}"}), 403)
    assert "viewer" in err["message"] and "ingest" in err["message"]
    operator = _token(redis_url, "operator")
    resp = http.post("/api/v1/samples", json=item, headers={"Authorization": f"Bearer {operator}"})
    assert resp.status_code == 200 and resp.json()["accepted"] == 1
    # A revoked token stops working at once.
    client = redis.Redis.from_url(redis_url)
    try:
        assert tokens.revoke(client, tokens.digest(operator)[:12]) == 1
    finally:
        client.close()
    assert_error(http.post("/api/v1/samples", json=item, headers={"Authorization": f"Bearer {operator}"}), 401)


def test_push_bad_bodies(api: Served, http: httpx.Client, redis_url: str) -> None:
    auth = {"Authorization": f"Bearer {_token(redis_url, 'ingest')}"}
    err = assert_error(http.post("/api/v1/samples", content=b"indicator=air.pm10", headers=auth), 400)
    assert "not valid JSON" in err["message"]
    assert_error(http.post("/api/v1/samples", content=b"", headers=auth), 400)
    assert_error(http.post("/api/v1/samples", content=b"\xff\xfe", headers=auth), 400)
    assert_error(http.post("/api/v1/samples", json={"samples": "all of them"}, headers=auth), 422, "samples", "str")
    assert_error(http.post("/api/v1/samples", json={"items": []}, headers=auth), 422, "items")
    assert_error(http.post("/api/v1/samples", json=42, headers=auth), 422, "samples", "int")
    too_many = [{"indicator": "air.pm10", "entity": "daesong", "value": 1}] * 51
    assert_error(http.post("/api/v1/samples", json=too_many, headers=auth), 413, "samples", 51)
    huge = b"[" + b" " * (50 * 1024 + 10) + b"]"
    assert_error(http.post("/api/v1/samples", content=huge, headers=auth), 413, "body")
    assert http.post("/api/v1/samples", json={"samples": []}, headers=auth).json() == {"accepted": 0, "rejected": []}


def _samples(client: redis.Redis) -> list[dict[str, str]]:
    return [{k.decode(): v.decode() for k, v in f.items()}
            for p in range(4) for _, f in client.xrange(keys.samples(p))]


def test_push_source_is_the_tokens(api: Served, http: httpx.Client, redis_url: str) -> None:
    auth = {"Authorization": f"Bearer {_token(redis_url, 'ingest')}"}
    now = time.time()
    items = [
        {"indicator": "air.pm10", "entity": "daesong", "ts": now - 2, "value": 10},
        {"indicator": "air.pm10", "entity": "daesong", "ts": now - 1, "value": 11, "source": "airkorea"},
        {"indicator": "air.pm10", "entity": "yeonil", "ts": now, "value": 12, "source": "push:test-ingest"},
        {"indicator": "air.pm10", "entity": "yeonil", "ts": now, "value": 13, "interval": 0.01},
        {"indicator": "air.pm10", "entity": "yeonil", "ts": now, "value": 14, "interval": 30 * 86400},
    ]
    body = http.post("/api/v1/samples", json=items, headers=auth).json()
    assert body["accepted"] == 2
    assert [(r["index"], r["field"], r["value"]) for r in body["rejected"]] == [
        (1, "source", "airkorea"), (3, "interval", 0.01), (4, "interval", 30 * 86400)]
    client = redis.Redis.from_url(redis_url)
    try:
        # Nothing was stamped as the collector: every stored sample names the token, and the spoof is on record.
        assert sorted((s["v"], s["s"]) for s in _samples(client)) == [("10.0", "push:test-ingest"),
                                                                     ("12.0", "push:test-ingest")]
        dead = [{k.decode(): v.decode() for k, v in f.items()} for _, f in client.xrange(keys.deadletter())]
        assert [(d["field"], d["value"], d["source"]) for d in dead] == [
            ("source", '"airkorea"', "push:test-ingest"), ("interval", "0.01", "push:test-ingest"),
            ("interval", "2592000", "push:test-ingest")]
    finally:
        client.close()


def test_push_nested_item_is_rejected_alone(api: Served, http: httpx.Client, redis_url: str) -> None:
    """An item nested deeper than JSON can be written back (orjson: 254 levels) is one rejection; the rest of
    the batch is accepted once, and the answer is a 200, not an error after part of the batch was stored."""
    auth = {"Authorization": f"Bearer {_token(redis_url, 'ingest')}", "Content-Type": "application/json"}
    now = time.time()
    deep = "[" * 500 + "]" * 500
    body = (f'[{{"indicator":"air.pm10","entity":"daesong","ts":{now},"value":1}},'
            f'{{"indicator":"air.pm10","entity":"daesong","ts":{now},"value":{deep}}},'
            f'{deep},'
            f'{{"indicator":"air.pm10","entity":"yeonil","ts":{now},"value":2}}]')
    resp = http.post("/api/v1/samples", content=body, headers=auth)
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert answer["accepted"] == 2
    assert [(r["index"], r["field"]) for r in answer["rejected"]] == [(1, "value"), (2, "item")]
    assert all(r["value"].startswith("[[[") for r in answer["rejected"])
    client = redis.Redis.from_url(redis_url)
    try:
        assert sorted(s["e"] for s in _samples(client)) == ["daesong", "yeonil"]
        assert client.xlen(keys.deadletter()) == 2
    finally:
        client.close()
    # Past the parser's own limit (1024 levels) the body is not JSON to it: a 400, nothing stored.
    err = assert_error(http.post("/api/v1/samples", content="[" * 2000 + "]" * 2000, headers=auth), 400, "body")
    assert "not valid JSON" in err["message"]


def test_push_of_megabytes_costs_the_dead_letters_kilobytes(redis_url: str) -> None:
    """Ten requests of one 9.9 MB item each (what the body limit admits at the default 10,000 items): the
    dead-letter stream grows by a few KB per rejection, and each answer echoes the value cut to 1 KB."""
    with serve(settings_for(redis_url, site=MINI, partitions=4)) as served, \
            httpx.Client(base_url=served.url, timeout=60) as http:
        auth = {"Authorization": f"Bearer {_token(redis_url, 'ingest')}", "Content-Type": "application/json"}
        big = "9" * 9_900_000
        body = b'[{"indicator":"air.pm10","entity":"daesong","value":"' + big.encode() + b'"}]'
        assert len(body) < served.settings.ingest_max_items * 1024
        client = redis.Redis.from_url(redis_url)
        try:
            for _ in range(10):
                resp = http.post("/api/v1/samples", content=body, headers=auth)
                assert resp.status_code == 200, resp.text[:300]
                assert len(resp.content) < 2048
                (rejected,) = resp.json()["rejected"]
                assert rejected["field"] == "value" and rejected["value_bytes"] == len(big)
                assert rejected["value"].startswith("999") and len(rejected["value"].encode()) <= 1024 + 3
            grown = client.memory_usage(keys.deadletter(), samples=0)
            assert client.xlen(keys.deadletter()) == 10
            assert grown < 40_000, grown
        finally:
            client.close()


def test_push_needs_a_json_body(api: Served, http: httpx.Client, redis_url: str) -> None:
    auth = {"Authorization": f"Bearer {_token(redis_url, 'ingest')}"}
    form = {**auth, "Content-Type": "application/x-www-form-urlencoded"}  # what plain `curl -d` sends
    err = assert_error(http.post("/api/v1/samples", content=b'{"samples": []}', headers=form), 415, "content-type")
    assert "application/json" in err["message"]
    assert_error(http.post("/api/v1/samples", content=b"[]", headers={**auth, "Content-Type": "text/plain"}), 415)
    typed = {**auth, "Content-Type": "application/json; charset=utf-8"}
    assert http.post("/api/v1/samples", content=b"[]", headers=typed).json() == {"accepted": 0, "rejected": []}


def test_reads_need_a_token_when_not_public(redis_url: str) -> None:
    settings = settings_for(redis_url, site=MINI, public_read=False)
    with serve(settings) as served, httpx.Client(base_url=served.url, timeout=10) as http:
        assert_error(http.get("/api/v1/indicators"), 401)
        viewer = _token(redis_url, "viewer")
        assert http.get("/api/v1/indicators", headers={"Authorization": f"Bearer {viewer}"}).status_code == 200
        assert http.get("/healthz").status_code == 200


def test_metrics_parse_as_prometheus_text(http: httpx.Client, redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        for p in range(4):
            client.xgroup_create(keys.samples(p), keys.AGGREGATOR_GROUP, id="0", mkstream=True)
        client.xadd(keys.samples(1), {"i": "air.pm10", "e": "daesong", "t": "1", "v": "1", "s": ""})
        client.sadd(keys.collectors_index(), "airkorea")
        client.hset(keys.collector_health("airkorea"), mapping={"state": "ok", "failures": "2",
                                                                "last_success": str(time.time() - 5)})
    finally:
        client.close()
    resp = http.get("/metrics")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(resp.text)}
    for name in ("situationroom_samples_in", "situationroom_samples_rejected", "situationroom_aggregator_pending",
                 "situationroom_aggregator_lag", "situationroom_stream_length", "situationroom_collector_ok",
                 "situationroom_collector_failures"):
        assert name in families, name
    lag = {s.labels["stream"]: s.value for s in families["situationroom_aggregator_lag"].samples}
    assert lag[keys.samples(1)] == 1 and lag[keys.samples(0)] == 0
    ok = families["situationroom_collector_ok"].samples[0]
    assert ok.labels == {"collector": "airkorea"} and ok.value == 1
    age = families["situationroom_collector_last_success_age_seconds"].samples[0].value
    assert 4 <= age < 60


def test_an_exercise_tokens_pushes_are_exercise_data_shown_as_such(api: Served, http: httpx.Client,
                                                                   redis_url: str) -> None:
    """An integrator rehearsing with a drill token: its samples are exercise data; the API shows them marked,
    and `mode=real` still gives the real value, untouched."""
    client = redis.Redis.from_url(redis_url)
    try:
        drill_token = tokens.create(client, "ingest", "drill-feed", exercise=True)
    finally:
        client.close()
    real = {"Authorization": f"Bearer {_token(redis_url, 'ingest')}"}
    now = time.time()
    assert http.post("/api/v1/samples", json=[{"indicator": "air.pm10", "entity": "daesong", "ts": now - 5,
                                               "value": 30}], headers=real).json()["accepted"] == 1
    got = http.post("/api/v1/samples", json=[{"indicator": "air.pm10", "entity": "daesong", "ts": now, "value": 300},
                                             {"indicator": "air.pm10", "entity": "daesong", "ts": now,
                                              "value": 1, "exercise": False}],
                    headers={"Authorization": f"Bearer {drill_token}"}).json()
    assert got["accepted"] == 1 and got["rejected"][0]["field"] == "exercise", "an item cannot unmark itself"
    asyncio.run(_aggregate(redis_url, api.settings, api.catalog))
    shown = http.get("/api/v1/indicators/air.pm10").json()
    daesong = next(e for e in shown["entities"] if e["id"] == "daesong")
    assert daesong["value"] == 300 and daesong["exercise"] is True and daesong["status"] == "critical"
    real_only = http.get("/api/v1/indicators/air.pm10", params={"mode": "real"}).json()
    assert next(e for e in real_only["entities"] if e["id"] == "daesong")["value"] == 30
    history = http.get("/api/v1/indicators/air.pm10/history", params={"entity": "daesong", "resolution": "raw"}).json()
    assert history["exercise"] is True and [p["value"] for p in history["points"]] == [300]
    bad = http.get("/api/v1/indicators", params={"mode": "drill"})
    assert_error(bad, 422, "mode", "drill")


def test_the_exercise_status_gives_the_pages_the_simulated_clock(api: Served, http: httpx.Client,
                                                                 redis_url: str) -> None:
    assert http.get("/api/v1/exercise").json() == {"type": "exercise", "drill": None, "sources": [], "clock": None}
    client = aioredis.Redis.from_url(redis_url)
    clock = {"scenario": "typhoon-hinnamnor", "speed": 60.0, "start": 1662368400.0, "anchor": time.time(),
             "duration": 108000.0, "loop": False}

    async def report() -> None:
        await health.record(client, "sim-safety", {"state": "ok", "exercise": True, "clock": clock})
        await health.record(client, "airkorea", {"state": "ok", "exercise": False})
        await client.aclose()

    asyncio.run(report())
    status = http.get("/api/v1/exercise").json()
    assert status["sources"] == ["sim-safety"] and status["clock"] == clock
