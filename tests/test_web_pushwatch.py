"""The web process's look at Redis every 2 s: an open page hears of a declaration, a note (the incident's `updated`)
and an end as one `incidents` frame each, and nothing while nothing changes (docs/websocket.md)."""

from __future__ import annotations

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.http_support import bearer
from tests.servers_support import serve
from tests.site_support import settings_for
from tests.ws_support import recv

pytestmark = pytest.mark.cluster

TYPHOON = {"hazard": "typhoon", "area": "pohang", "level": 2, "reason": "태풍경보 발효"}


async def test_a_page_hears_of_each_change_of_the_open_incidents_once(redis_url: str) -> None:
    operator = bearer(redis_url, "operator", "duty-officer")
    with serve(settings_for(redis_url), lifespan="on") as site:
        async with connect(site.url.replace("http", "ws") + "/ws", ping_interval=None) as conn, \
                httpx.AsyncClient(base_url=site.url, headers=operator) as http:
            await recv(conn, "hello")
            # Nothing changed since the server started: no frame.
            try:
                extra = await recv(conn, "incidents", timeout=3)
            except TimeoutError:
                extra = None
            assert extra is None, extra

            declared = await http.post("/api/v1/incidents", json=TYPHOON)
            iid = declared.json()["id"]
            frame = await recv(conn, "incidents", timeout=8)
            (inc,) = frame["incidents"]
            assert (inc["id"], inc["level_ko"], inc["status"], inc["dashboards"]) == (
                iid, "비상 2단계", "critical", ["typhoon", "safety", "weather"])

            await http.post(f"/api/v1/incidents/{iid}/notes", json={"text": "형산교 통제"})
            noted = await recv(conn, "incidents", timeout=8)
            assert noted["incidents"][0]["updated"] > inc["updated"], "a note is a change the wall reads notes for"

            await http.post(f"/api/v1/incidents/{iid}/end", json={"reason": "태풍 소멸"})
            ended = await recv(conn, "incidents", timeout=8)
            assert ended["incidents"] == []
