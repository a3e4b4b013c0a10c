"""Push ingest over real HTTP: valid samples reach the live state, each invalid one is answered with where and
why and kept in the dead-letter stream, and the token decides who may push and as what source."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from situationroom import keys, tokens
from situationroom.redisconn import async_client, sync_client
from situationroom.samples import Sample
from tests.api_support import aggregate, make_token
from tests.http_support import assert_error
from tests.servers_support import Served, serve
from tests.site_support import MINI, settings_for
from tests.stream_support import stream_samples_sync

pytestmark = pytest.mark.cluster


def _samples(client: redis.Redis) -> list[Sample]:
    return stream_samples_sync(client, partitions=4)


async def test_push_then_read_live_values(api: Served, redis_url: str) -> None:
    token = make_token(redis_url, "ingest")
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

        await aggregate(redis_url, api.settings, api.catalog)

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


async def test_push_mixed_batch(api: Served, redis_url: str) -> None:
    token = make_token(redis_url, "ingest")
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

    client = async_client(redis_url)
    try:
        dead = [{k.decode(): v.decode() for k, v in f.items()} for _, f in await client.xrange(keys.deadletter())]
        assert sorted(int(d["index"]) for d in dead) == sorted(got)
        assert all(d["source"] == "push:test-ingest" for d in dead)
        assert {d["field"] for d in dead} == {f for f, _ in got.values()}
    finally:
        await client.aclose()
    await aggregate(redis_url, api.settings, api.catalog)
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
    viewer = make_token(redis_url, "viewer")
    err = assert_error(http.post("/api/v1/samples", json=item, headers={"Authorization": f"Bearer {viewer}"}), 403)
    assert "viewer" in err["message"] and "ingest" in err["message"]
    operator = make_token(redis_url, "operator")
    resp = http.post("/api/v1/samples", json=item, headers={"Authorization": f"Bearer {operator}"})
    assert resp.status_code == 200 and resp.json()["accepted"] == 1
    # A revoked token stops working at once.
    client = sync_client(redis_url)
    try:
        assert tokens.revoke(client, tokens.digest(operator)[:12]) == 1
    finally:
        client.close()
    assert_error(http.post("/api/v1/samples", json=item, headers={"Authorization": f"Bearer {operator}"}), 401)


def test_push_bad_bodies(api: Served, http: httpx.Client, redis_url: str) -> None:
    auth = {"Authorization": f"Bearer {make_token(redis_url, 'ingest')}"}
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


def test_push_source_is_the_tokens(api: Served, http: httpx.Client, redis_url: str) -> None:
    auth = {"Authorization": f"Bearer {make_token(redis_url, 'ingest')}"}
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
    client = sync_client(redis_url)
    try:
        # Nothing was stamped as the collector: every stored sample names the token, and the spoof is on record.
        assert sorted((s.value, s.source) for s in _samples(client)) == [(10.0, "push:test-ingest"),
                                                                         (12.0, "push:test-ingest")]
        dead = [{k.decode(): v.decode() for k, v in f.items()} for _, f in client.xrange(keys.deadletter())]
        assert [(d["field"], d["value"], d["source"]) for d in dead] == [
            ("source", '"airkorea"', "push:test-ingest"), ("interval", "0.01", "push:test-ingest"),
            ("interval", "2592000", "push:test-ingest")]
    finally:
        client.close()


def test_push_nested_item_is_rejected_alone(api: Served, http: httpx.Client, redis_url: str) -> None:
    """An item nested deeper than JSON can be written back (orjson: 254 levels) is one rejection; the rest of
    the batch is accepted once, and the answer is a 200, not an error after part of the batch was stored."""
    auth = {"Authorization": f"Bearer {make_token(redis_url, 'ingest')}", "Content-Type": "application/json"}
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
    client = sync_client(redis_url)
    try:
        assert sorted(s.entity for s in _samples(client)) == ["daesong", "yeonil"]
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
        auth = {"Authorization": f"Bearer {make_token(redis_url, 'ingest')}", "Content-Type": "application/json"}
        big = "9" * 9_900_000
        body = b'[{"indicator":"air.pm10","entity":"daesong","value":"' + big.encode() + b'"}]'
        assert len(body) < served.settings.ingest_max_items * 1024
        client = sync_client(redis_url)
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
    auth = {"Authorization": f"Bearer {make_token(redis_url, 'ingest')}"}
    form = {**auth, "Content-Type": "application/x-www-form-urlencoded"}  # what plain `curl -d` sends
    err = assert_error(http.post("/api/v1/samples", content=b'{"samples": []}', headers=form), 415, "content-type")
    assert "application/json" in err["message"]
    assert_error(http.post("/api/v1/samples", content=b"[]", headers={**auth, "Content-Type": "text/plain"}), 415)
    typed = {**auth, "Content-Type": "application/json; charset=utf-8"}
    assert http.post("/api/v1/samples", content=b"[]", headers=typed).json() == {"accepted": 0, "rejected": []}


def test_an_exercise_tokens_pushes_are_exercise_data_shown_as_such(api: Served, http: httpx.Client,
                                                                   redis_url: str) -> None:
    """An integrator rehearsing with a drill token: its samples are exercise data; the API shows them marked,
    and `mode=real` still gives the real value, untouched."""
    client = sync_client(redis_url)
    try:
        drill_token = tokens.create(client, "ingest", "drill-feed", exercise=True)
    finally:
        client.close()
    real = {"Authorization": f"Bearer {make_token(redis_url, 'ingest')}"}
    now = time.time()
    assert http.post("/api/v1/samples", json=[{"indicator": "air.pm10", "entity": "daesong", "ts": now - 5,
                                               "value": 30}], headers=real).json()["accepted"] == 1
    got = http.post("/api/v1/samples", json=[{"indicator": "air.pm10", "entity": "daesong", "ts": now, "value": 300},
                                             {"indicator": "air.pm10", "entity": "daesong", "ts": now,
                                              "value": 1, "exercise": False}],
                    headers={"Authorization": f"Bearer {drill_token}"}).json()
    assert got["accepted"] == 1 and got["rejected"][0]["field"] == "exercise", "an item cannot unmark itself"
    asyncio.run(aggregate(redis_url, api.settings, api.catalog))
    shown = http.get("/api/v1/indicators/air.pm10").json()
    daesong = next(e for e in shown["entities"] if e["id"] == "daesong")
    assert daesong["value"] == 300 and daesong["exercise"] is True and daesong["status"] == "critical"
    real_only = http.get("/api/v1/indicators/air.pm10", params={"mode": "real"}).json()
    assert next(e for e in real_only["entities"] if e["id"] == "daesong")["value"] == 30
    history = http.get("/api/v1/indicators/air.pm10/history", params={"entity": "daesong", "resolution": "raw"}).json()
    assert history["exercise"] is True and [p["value"] for p in history["points"]] == [300]
    bad = http.get("/api/v1/indicators", params={"mode": "drill"})
    assert_error(bad, 422, "mode", "drill")


def test_with_replica_durability_a_push_no_replica_confirmed_is_a_503_to_send_again(embedded_url: str) -> None:
    # The embedded server has no replica: the samples reach it, but a push is confirmed only once a replica holds
    # it, so the sender is told to send them again (the repeat is a duplicate, applied once).
    settings = settings_for(embedded_url, site=MINI, partitions=4, ingest_durability="replica",
                            ingest_durability_timeout="200ms")
    with serve(settings) as served, httpx.Client(base_url=served.url, timeout=30) as http:
        auth = {"Authorization": f"Bearer {make_token(embedded_url, 'ingest')}"}
        item = {"indicator": "air.pm10", "entity": "daesong", "ts": time.time(), "value": 10}
        answer = http.post("/api/v1/samples", json=[item], headers=auth)
        assert answer.status_code == 503 and answer.headers["retry-after"] == "1"
        assert "not stored safely yet" in answer.json()["error"]["message"]
        assert "0 of the 1 replicas asked for confirmed them within 200 ms" in answer.json()["error"]["message"]
    client = sync_client(embedded_url)
    try:
        assert [s.value for s in _samples(client)] == [10.0]
    finally:
        client.close()
