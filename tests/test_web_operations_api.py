"""/healthz and /metrics over real HTTP: Redis reachable or not, and metrics a Prometheus server parses."""

from __future__ import annotations

import time

import httpx
import redis
from prometheus_client.parser import text_string_to_metric_families

from situationroom import keys
from tests.http_support import assert_error
from tests.servers_support import free_port, serve
from tests.site_support import MINI, settings_for


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
