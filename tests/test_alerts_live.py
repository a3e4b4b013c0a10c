"""Alerts live over the websocket: the `alerts` topic gets every change at once, a new page's snapshot
holds the active alerts, and a subscriber of one indicator is not bothered with them."""

from __future__ import annotations

from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from situationroom.web.fanout.client import Pending
from situationroom.web.fanout.entries import ALERTS, Entry
from situationroom.web.fanout.frames import delta_of
from tests.alerts_support import City
from tests.servers_support import serve
from tests.ws_support import recv, subscribe

pytestmark = pytest.mark.cluster  # also run on the suite's Redis Cluster

RULES = """
rules:
  - id: river.stage
    kind: threshold
    indicator: river.level
    levels: {주의: 2.0, 경계: 3.0}
  - {id: catalog.river.level, enabled: false}
"""


async def test_alerts_reach_their_topic_live_and_are_in_the_snapshot(redis_url: str, tmp_path: Path) -> None:
    city = await City.open(redis_url, tmp_path, RULES)
    await city.send("river.level", "chaeun", 2.4)
    with serve(city.settings, lifespan="on") as srv:
        async with connect(srv.ws) as wall, connect(srv.ws) as river_page:
            await recv(wall, "hello")
            await recv(river_page, "hello")
            snap = await subscribe(wall, ["alerts"])
            assert snap["states"] == [] and [(a["entity"], a["state"]) for a in snap["alerts"]] == [
                ("chaeun", "firing")]
            await subscribe(river_page, ["indicator:river.level"])
            await city.send("river.level", "hyeongsan", 3.2)
            delta = await recv(wall, "delta")
            assert [(a["type"], a["entity"], a["severity"], a["state"]) for a in delta["alerts"]] == [
                ("alert", "hyeongsan", "경계", "firing")]
            # The indicator's page gets the value, not the alert.
            got = await recv(river_page, "delta")
            assert "alerts" not in got and got["states"][0]["e"] == "hyeongsan"
            # `all` gets both.
            snap = await subscribe(wall, ["all"])
            assert {a["entity"] for a in snap["alerts"]} == {"chaeun", "hyeongsan"}
            await city.send("river.level", "chaeun", 1.0)
            while True:
                delta = await recv(wall, "delta")
                if delta.get("alerts"):
                    break
            assert [(a["entity"], a["state"]) for a in delta["alerts"]] == [("chaeun", "resolved")]
    await city.close()


def test_a_slow_client_gets_the_latest_state_of_each_alert_and_every_inbox_item() -> None:
    def alert(n: int, fp: str, state: str) -> Entry:
        raw = f'{{"type":"alert","fingerprint":"{fp}","state":"{state}"}}'.encode()
        return Entry(f"{n}-0", (n, 0), raw, frozenset({"alerts"}), ("alert", fp), ALERTS)

    inbox = Entry("4-0", (4, 0), b'{"type":"inbox","recipient":"ds-kim"}', frozenset({"alerts"}), None, ALERTS)
    pending = Pending()
    pending.merge([alert(1, "a1", "pending"), alert(2, "a1", "firing"), alert(3, "a2", "firing"), inbox],
                  "4-0", 10)
    frame = pending.frames()[0].payload
    assert frame.count(b'"fingerprint":"a1"') == 1 and b'"state":"firing"' in frame and b"inbox" in frame
    assert delta_of("9-0", [inbox]) == b'{"type":"delta","id":"9-0","alerts":[{"type":"inbox","recipient":"ds-kim"}]}'
