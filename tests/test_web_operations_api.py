"""/healthz and /metrics over real HTTP: Redis reachable or not, and metrics a Prometheus server parses (the history
store's among them)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from situationroom import keys
from situationroom.catalog import Catalog
from situationroom.history.store import HistoryStore
from situationroom.redisconn import sync_client
from situationroom.samples import Sample
from tests.history_support import write_batch
from tests.http_support import assert_error
from tests.servers_support import free_port, serve
from tests.site_support import MINI, settings_for

pytestmark = pytest.mark.cluster


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
    client = sync_client(redis_url)
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
    # The one figure of the process asked alone (tests/test_deploy_proxy.py counts clients behind a proxy with it).
    assert families["situationroom_ws_clients"].samples[0].value == 0


def test_metrics_of_the_history_store_and_role(redis_url: str, tmp_path: Path, mini_catalog: Catalog) -> None:
    store = HistoryStore.local(tmp_path / "history")
    write_batch(store, mini_catalog, [Sample("air.pm10", "daesong", 1_780_000_000.0 + k, 1.0, "a")
                                      for k in range(5)], "1")
    client = sync_client(redis_url)
    try:
        client.xgroup_create(keys.samples(0), keys.HISTORY_GROUP, id="0", mkstream=True)
        client.xadd(keys.samples(0), {"i": "air.pm10", "e": "daesong", "t": "1", "v": "1", "s": ""})
        client.set(keys.history_flushed(), str(time.time() - 30))
    finally:
        client.close()
    settings = settings_for(redis_url, site=MINI, partitions=2, history_dir=tmp_path / "history")
    with serve(settings) as served:
        text = httpx.get(served.url + "/metrics", timeout=10).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    (files,) = families["situationroom_history_files"].samples
    assert files.labels == {"dataset": "samples", "domain": "environment"} and files.value == 1
    assert families["situationroom_history_bytes"].samples[0].value > 0
    assert {s.labels["stream"]: s.value for s in families["situationroom_history_lag"].samples} == {
        keys.samples(0): 1}
    assert 29 <= families["situationroom_history_seconds_since_flush"].samples[0].value < 60
