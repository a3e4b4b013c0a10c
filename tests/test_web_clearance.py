"""Who reads a restricted indicator, over a real server and real Redis: the staff of its departments, operators and
admins get its figures on every read path (indicators, history, alerts, CAP, catalogue, websocket); staff of
another department, viewers, a wall without a token and a caller without one get 403 naming the indicator and who
may read it, or a list that leaves its figures out."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from situationroom import keys, updates
from situationroom.alerts.state import Alert, fingerprint
from situationroom.redisconn import async_client
from tests.http_support import assert_error, bearer
from tests.servers_support import Served, serve
from tests.site_support import settings_for
from tests.ws_support import recv, subscribe

pytestmark = pytest.mark.cluster

SECRET = "admin.complaints_open"
"""Restricted in seeds/catalog.yaml to 민원봉사과 (civil-affairs) and 상황실 (situation-room)."""
DEPT = "dept-roads"
OPEN = ("air.pm10", "daesong")
READERS = ("admin", "operator", "ca-seo", "sr-shin")
"""An admin, an operator, the head of 민원봉사과 and the head of the situation room."""
OTHERS = ("env-lee", "viewer", "ingest", None)
"""The head of 환경정책과, a viewer (a wall display's token), an integrator, and no token at all."""


def headers(url: str, who: str | None) -> dict[str, str]:
    if who is None:
        return {}
    if who in ("admin", "operator", "viewer", "ingest"):
        return bearer(url, who)
    return bearer(url, "staff", staff=who)


async def publish(url: str) -> str:
    """A live state of the restricted indicator and of an open one, and a firing alert on the restricted one."""
    client = async_client(url)
    try:
        t = int(time.time() * 1000)
        for ind, ent, v in ((SECRET, DEPT, 321.0), (*OPEN, 40.0)):
            raw = orjson.dumps({"i": ind, "e": ent, "v": v, "t": t, "st": "critical" if ind == SECRET else "normal",
                                "ps": "normal", "since": t, "n": 600, "w": {}, "r": None})
            await client.hset(keys.live(ind), ent, raw)
            await client.xadd(keys.updates(), {"d": raw})
        fp = fingerprint("catalog.admin.complaints_open", DEPT)
        alert = Alert(fp, "catalog.admin.complaints_open", "threshold", DEPT, indicator=SECRET, level=3,
                      state="firing", value=321.0, threshold=300.0, fired=t, since=t, started=t, episode=1)
        await client.hset(keys.alerts(), fp, alert.encode())
        pipe = client.pipeline(transaction=False)
        updates.add_alert(pipe, alert.public(), 1000)
        await pipe.execute()
        return fp
    finally:
        await client.aclose()


@pytest.fixture
def site(redis_url: str) -> Iterator[Served]:
    with serve(settings_for(redis_url), lifespan="on") as served:
        yield served


@pytest.fixture
async def alert_fp(redis_url: str, site: Served) -> AsyncIterator[str]:
    yield await publish(redis_url)


@pytest.mark.parametrize("who", READERS)
async def test_readers_get_the_figures_everywhere(site: Served, redis_url: str, alert_fp: str, who: str) -> None:
    h = headers(redis_url, who)
    async with httpx.AsyncClient(base_url=site.url, timeout=20, headers=h) as http:
        one = (await http.get(f"/api/v1/indicators/{SECRET}")).json()
        assert [e["value"] for e in one["entities"] if e["id"] == DEPT] == [321.0]
        listed = (await http.get("/api/v1/indicators")).json()["indicators"]
        mine = next(i for i in listed if i["id"] == SECRET)
        assert mine["withheld"] is False and mine["access"] == "departments"
        assert mine["restricted_to"] == ["civil-affairs", "situation-room"]
        assert [e["value"] for e in mine["entities"] if e["id"] == DEPT] == [321.0]
        past = await http.get(f"/api/v1/indicators/{SECRET}/history", params={"entity": DEPT})
        assert past.status_code == 200 and past.json()["indicator"] == SECRET
        alerts = (await http.get("/api/v1/alerts")).json()["alerts"]
        assert [a["value"] for a in alerts if a["indicator"] == SECRET] == [321.0]
        assert (await http.get(f"/api/v1/alerts/{alert_fp}")).status_code == 200
        assert SECRET in (await http.get("/api/v1/cap.xml")).text
        entry = next(d for d in (await http.get("/api/v1/catalog")).json()["dcat:dataset"]
                     if d["dct:identifier"] == SECRET)
        assert entry["withheld"] is False and entry["dct:temporal"]["dcat:endDate"] is not None


@pytest.mark.parametrize("who", OTHERS)
async def test_everyone_else_gets_403_naming_the_indicator_and_its_readers(site: Served, redis_url: str,
                                                                             alert_fp: str, who: str | None) -> None:
    h = headers(redis_url, who)
    async with httpx.AsyncClient(base_url=site.url, timeout=20, headers=h) as http:
        for path in (f"/api/v1/indicators/{SECRET}", f"/api/v1/indicators/{SECRET}/history?entity={DEPT}",
                     f"/api/v1/alerts/{alert_fp}"):
            err = assert_error(await http.get(path), 403, "indicator", SECRET)
            assert "민원봉사과 (civil-affairs)" in err["message"] and "상황실 (situation-room)" in err["message"]
            assert "operators and admins" in err["message"]
        cap = await http.get(f"/api/v1/cap/{alert_fp}.xml")
        assert cap.status_code == 403 and "321" not in cap.text
        # Listed (its existence is no secret), without a figure.
        listed = (await http.get("/api/v1/indicators")).json()["indicators"]
        mine = next(i for i in listed if i["id"] == SECRET)
        assert mine["withheld"] is True and all(e["value"] is None for e in mine["entities"])
        assert mine["updated_at"] is None
        assert next(i for i in listed if i["id"] == OPEN[0])["withheld"] is False
        alerts = (await http.get("/api/v1/alerts")).json()["alerts"]
        assert all(a["indicator"] != SECRET for a in alerts)
        assert SECRET not in (await http.get("/api/v1/cap.xml")).text
        entry = next(d for d in (await http.get("/api/v1/catalog")).json()["dcat:dataset"]
                     if d["dct:identifier"] == SECRET)
        assert entry["withheld"] is True and entry["dct:temporal"] is None and entry["dcat:distribution"] == []
        assert entry["dct:accessRights"] == "departments"


async def _seen_on_the_socket(site: Served, extra: dict[str, str]) -> tuple[set[str], set[str], set[str], set[str]]:
    """Indicators in the snapshot, in the next deltas and alerts in both, for a client subscribed to `all`; and
    those its hello frame says it will never be sent."""
    async with connect(site.ws, additional_headers=extra, ping_interval=None, open_timeout=5) as conn:
        withheld = set((await recv(conn, "hello"))["withheld"])
        snap = await subscribe(conn, ["all"])
        states = {s["i"] for s in snap["states"]}
        alerts = {a["indicator"] for a in snap["alerts"]}
        await publish(site.settings.redis_url)
        live: set[str] = set()
        # Reading stops at the first second with no delta: the alert is published after both states.
        with contextlib.suppress(TimeoutError):
            while OPEN[0] not in live:
                delta = await recv(conn, "delta", timeout=3)
                live |= {s["i"] for s in delta.get("states", [])}
                alerts |= {a.get("indicator") for a in delta.get("alerts", [])}
            while True:
                delta = await recv(conn, "delta", timeout=1)
                alerts |= {a.get("indicator") for a in delta.get("alerts", [])}
        return states, live, alerts, withheld


@pytest.mark.parametrize(("who", "may"), [("admin", True), ("operator", True), ("ca-seo", True),
                                          ("env-lee", False), ("viewer", False), (None, False)])
async def test_the_websocket_sends_restricted_figures_only_to_their_readers(
        site: Served, redis_url: str, alert_fp: str, who: str | None, may: bool) -> None:
    states, live, alerts, withheld = await _seen_on_the_socket(site, headers(redis_url, who))
    assert OPEN[0] in states and OPEN[0] in live
    assert (SECRET in states, SECRET in live, SECRET in alerts) == (may, may, may)
    assert withheld == (set() if may else {SECRET}), "the hello frame names what the screen will never be sent"


async def test_readers_and_others_on_the_same_topics_share_no_frame(site: Served, redis_url: str,
                                                                    alert_fp: str) -> None:
    reader, other = headers(redis_url, "ca-seo"), headers(redis_url, "env-lee")
    async with connect(site.ws, additional_headers=reader, ping_interval=None) as a, \
            connect(site.ws, additional_headers=other, ping_interval=None) as b:
        for conn in (a, b):
            await recv(conn, "hello")
            await subscribe(conn, ["domain:administration", "domain:environment"])
        await publish(redis_url)
        got: dict[str, set[str]] = {}
        for name, conn in (("reader", a), ("other", b)):
            seen: set[str] = set()
            while OPEN[0] not in seen:
                seen |= {s["i"] for s in (await recv(conn, "delta")).get("states", [])}
            got[name] = seen
        assert SECRET in got["reader"] and SECRET not in got["other"]
        assert len(site.fanout.audiences) == 2, "one audience per topics and restricted indicators hidden"


async def test_the_websocket_refuses_a_bad_token_and_no_token_when_reads_are_not_public(redis_url: str) -> None:
    with serve(settings_for(redis_url, public_read=False), lifespan="on") as served:
        for extra in ({"Authorization": "Bearer sr_not-a-token"}, {}):
            async with connect(served.ws, additional_headers=extra, ping_interval=None) as conn:
                frame = orjson.loads(await conn.recv())
                assert frame["type"] == "error" and frame["field"] == "Authorization"
                with pytest.raises(ConnectionClosed) as closed:
                    await conn.recv()
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        async with connect(served.ws, additional_headers=headers(redis_url, "viewer"), ping_interval=None) as conn:
            assert (await recv(conn, "hello"))["type"] == "hello"


async def test_a_signed_in_browser_reads_on_the_socket_with_its_session(site: Served, redis_url: str,
                                                                        alert_fp: str) -> None:
    token = headers(redis_url, "ca-seo")["Authorization"].removeprefix("Bearer ")
    async with httpx.AsyncClient(base_url=site.url, timeout=10) as http:
        assert (await http.post("/api/v1/session", json={"token": token})).status_code == 200
        cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
    origin = site.url
    states, _, _, _ = await _seen_on_the_socket(site, {"Cookie": cookie, "Origin": origin})
    assert SECRET in states
    # Another site's page cannot ride the cookie.
    async with connect(site.ws, additional_headers={"Cookie": cookie, "Origin": "http://evil.example"},
                       ping_interval=None) as conn:
        frame: dict[str, Any] = orjson.loads(await conn.recv())
        assert frame["type"] == "error" and frame["field"] == "Origin"
