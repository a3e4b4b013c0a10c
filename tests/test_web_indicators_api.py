"""The indicators' API over real HTTP: the catalog, live states and history read back, errors naming field and
value, tokens for reading when the API is not public."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from situationroom import keys
from situationroom.collectors import health
from situationroom.redisconn import async_client, sync_client
from tests.api_support import make_token
from tests.http_support import assert_error
from tests.servers_support import Served, serve
from tests.site_support import MINI, settings_for

pytestmark = pytest.mark.cluster


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
    client = sync_client(redis_url)
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


def test_reads_need_a_token_when_not_public(redis_url: str) -> None:
    settings = settings_for(redis_url, site=MINI, public_read=False)
    with serve(settings) as served, httpx.Client(base_url=served.url, timeout=10) as http:
        assert_error(http.get("/api/v1/indicators"), 401)
        viewer = make_token(redis_url, "viewer")
        assert http.get("/api/v1/indicators", headers={"Authorization": f"Bearer {viewer}"}).status_code == 200
        assert http.get("/healthz").status_code == 200


def test_the_exercise_status_gives_the_pages_the_simulated_clock(api: Served, http: httpx.Client,
                                                                 redis_url: str) -> None:
    assert http.get("/api/v1/exercise").json() == {"type": "exercise", "drill": None, "sources": [], "clock": None}
    client = async_client(redis_url)
    clock = {"scenario": "typhoon-hinnamnor", "speed": 60.0, "start": 1662368400.0, "anchor": time.time(),
             "duration": 108000.0, "loop": False}

    async def report() -> None:
        await health.record(client, "sim-safety", {"state": "ok", "exercise": True, "clock": clock})
        await health.record(client, "airkorea", {"state": "ok", "exercise": False})
        await client.aclose()

    asyncio.run(report())
    status = http.get("/api/v1/exercise").json()
    assert status["sources"] == ["sim-safety"] and status["clock"] == clock


def test_history_parameters_are_checked_and_areas_expand(http: httpx.Client) -> None:
    base = "/api/v1/indicators/economy.spending/history"
    assert_error(http.get(base, params={"entity": "4711325000", "resolution": "raw", "aggregate": "mean"}), 422,
                 "aggregate", "mean")
    assert_error(http.get(base, params={"entity": "4711325000", "aggregate": "median"}), 422, "aggregate", "median")
    assert_error(http.get(base, params={"gu": "4711325000"}), 422, "gu", "4711325000")
    assert_error(http.get(base, params={"district": "nowhere"}), 422, "district", "nowhere")
    assert_error(http.get("/api/v1/indicators/air.pm10/history", params={"gu": "47113"}), 422, "gu", "47113")
    assert_error(http.get(base, params={"entity": "4711325000", "resolution": "raw", "from": "0"}), 422, "from", "0")
    assert_error(http.get(base, params={"entity": "4711325000", "resolution": "1m", "from": "0"}), 422, "from", "0")
    year = http.get(base, params={"gu": "47113", "resolution": "1d", "aggregate": "sum",
                                  "from": str(time.time() - 366 * 86_400)}).json()
    assert year["entities"] == ["4711325000", "4711331000"] and year["entity"] is None
    assert year["aggregate"] == "sum" and year["resolution"] == "1d" and year["points"] == []
    several = http.get(base, params={"entity": ["4711125000", "4711325000"], "resolution": "1h"}).json()
    assert [s["entity"] for s in several["series"]] == ["4711125000", "4711325000"]
    nam = http.get(base, params={"district": "47111"}).json()
    assert nam["entities"] == ["4711125000", "4711125300"]
