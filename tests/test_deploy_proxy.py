"""deploy/nginx/situationroom.conf in a real nginx in front of two real `situationroom run web` processes on one
Redis (docs/scale-out.md): a wall's websocket survives the death of its process with no update missed or doubled,
API reads are answered by both processes, and a client cannot forge its way past the failed-token lockout."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import redis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from situationroom import keys, tokens
from situationroom.redisconn import sync_client
from tests.nginx_support import CONF, NGINX, Nginx
from tests.servers_support import Command, cli, free_port, wait_for
from tests.site_support import MINI, REPO
from tests.ws_support import recv, subscribe

needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx is not installed here (`apt-get install nginx`; "
                                                       ".ci/run installs it)")

pytestmark = pytest.mark.cluster  # the resume test also runs with both processes on the suite's Redis Cluster

FAIL_LIMIT = 3


@dataclass
class Web:
    """One `situationroom run web` process: its port and the command that runs it."""

    port: int
    command: Command

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def upstream(self) -> str:
        return f"127.0.0.1:{self.port}"

    def ws_clients(self) -> int:
        """The websocket clients connected to this process, from its own /metrics (asked directly, not through
        the proxy)."""
        text = httpx.get(self.url + "/metrics", timeout=10).text
        found = re.search(r"^situationroom_ws_clients (\S+)$", text, re.M)
        assert found, "/metrics has no situationroom_ws_clients"
        return int(float(found.group(1)))


@dataclass
class Deployment:
    proxy: Nginx
    webs: list[Web]
    redis: redis.Redis

    @property
    def ws(self) -> str:
        return self.proxy.url.replace("http://", "ws://") + "/ws"


@pytest.fixture
def deployment(redis_url: str, tmp_path: Path) -> Iterator[Deployment]:
    """Two web processes of the mini site on the test's Redis, and nginx in front of them."""
    webs = []
    with contextlib.ExitStack() as stack:
        for name in ("a", "b"):
            port = free_port()
            command = Command("run", "web", "--site", str(MINI), "--redis-url", redis_url, "--port", str(port),
                              log=tmp_path / f"web-{name}.log",
                              env={"SITUATIONROOM_AUTH_FAIL_LIMIT": str(FAIL_LIMIT)})
            webs.append(Web(port, stack.enter_context(command)))
        for web in webs:
            wait_for(lambda web=web: _healthy(web), 60, f"web process on {web.port} to answer /healthz")
        proxy = stack.enter_context(Nginx(tmp_path / "nginx", [web.port for web in webs]))
        client = stack.enter_context(contextlib.closing(sync_client(redis_url)))
        yield Deployment(proxy, webs, client)


def _healthy(web: Web) -> bool:
    assert web.command.running(), f"web process ended:\n{web.command.output}"
    try:
        return httpx.get(web.url + "/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def publish(r: redis.Redis, values: range) -> list[str]:
    """River level values of one gauge, published as the aggregator does (live hash first, then the update
    stream); the entry ids."""
    ids = []
    for v in values:
        t = int(time.time() * 1000)
        raw = orjson.dumps({"i": "river.level", "e": "chaeun", "v": v, "t": t, "st": "normal", "ps": "normal",
                            "since": t, "n": 3600, "w": {}, "r": None})
        r.hset(keys.live("river.level"), "chaeun", raw)
        ids.append(r.xadd(keys.updates(), {"d": raw}).decode())
    return ids


@contextlib.asynccontextmanager
async def through_proxy(deployment: Deployment, **kwargs: Any) -> AsyncIterator[ClientConnection]:
    async with connect(deployment.ws, ping_interval=None, open_timeout=10, compression=None, **kwargs) as conn:
        assert (await recv(conn, "hello"))["type"] == "hello"
        yield conn


async def receive(conn: ClientConnection, until: int) -> tuple[list[int], str]:
    """The values of the deltas that come until one brings `until`, and the newest id seen."""
    got: list[int] = []
    last = ""
    while until not in got:
        frame = await recv(conn, "delta", timeout=10)
        got += [s["v"] for s in frame.get("states", [])]
        last = frame["id"]
    return got, last


def holder(deployment: Deployment) -> Web:
    """The web process the one websocket client is connected to (a killed one holds none)."""
    def find() -> Web | None:
        counts = [web.ws_clients() if web.command.running() else 0 for web in deployment.webs]
        return deployment.webs[counts.index(1)] if sorted(counts) == [0, 1] else None

    return wait_for(find, 10, "exactly one web process to hold the client")


@needs_nginx
async def test_a_wall_resumes_on_the_other_process_without_gap_or_duplicate(deployment: Deployment) -> None:
    r = deployment.redis
    # Signed in through the proxy, as a browser is: the cookie (a session in Redis) and the page's Origin are good
    # on every process, since nginx passes the Host the browser used.
    token = tokens.create(r, "viewer", "wall-screen-3")
    async with httpx.AsyncClient(base_url=deployment.proxy.url, timeout=10) as http:
        signed = await http.post("/api/v1/session", json={"token": token})
    assert signed.status_code == 200, signed.text
    browser = {"additional_headers": {"Cookie": f"sr_session={signed.cookies['sr_session']}"},
               "origin": deployment.proxy.url}

    received: list[int] = []
    async with through_proxy(deployment, **browser) as conn:
        snapshot = await subscribe(conn, ["indicator:river.level"])
        assert snapshot["type"] == "snapshot"
        first = holder(deployment)
        ids = publish(r, range(1, 21))
        got, last = await receive(conn, 20)
        received += got
        assert last == ids[-1]
        first.command.kill()  # SIGKILL: no goodbye from the process, the proxy just loses it
        with pytest.raises(ConnectionClosed):
            while True:  # a heartbeat sent before the kill may still be on its way
                frame = await recv(conn, timeout=10)
                assert frame["type"] == "ping", frame

    away = publish(r, range(21, 61))  # written while the wall is away
    async with through_proxy(deployment, **browser) as conn:
        answer = await subscribe(conn, ["indicator:river.level"], resume=last, ref="back")
        assert answer["type"] == "delta" and answer["resumed"] is True, answer
        frame = answer
        received += [s["v"] for s in frame.get("states", [])]
        while "ref" not in frame:  # the resumed deltas end with the one carrying the ref
            frame = await recv(conn, "delta", timeout=10)
            assert frame.get("resumed") is True
            received += [s["v"] for s in frame.get("states", [])]
        assert frame["id"] == away[-1], "the answer to the resume brings the client to the newest entry"
        second = holder(deployment)
        assert second is not first and second.command.running()
        publish(r, range(61, 81))  # and live again
        got, _ = await receive(conn, 80)
        received += got

    assert received == list(range(1, 81)), "every update once, in order, across the change of process"
    # The proxy's log agrees: the second connection ended up on the survivor.
    assert wait_for(lambda: deployment.proxy.upstreams("/ws")[-1:], 10, "the /ws log line")[0].endswith(
        second.upstream)


@needs_nginx
@pytest.mark.parametrize("redis_url", ["embedded"], indirect=True)  # the Redis version is not the subject here
def test_api_reads_are_answered_by_both_processes(deployment: Deployment) -> None:
    publish(deployment.redis, range(7, 8))
    with httpx.Client(base_url=deployment.proxy.url, timeout=10) as http:
        for _ in range(8):
            resp = http.get("/api/v1/indicators/river.level")
            assert resp.status_code == 200, resp.text
            assert '"chaeun"' in resp.text and "7" in resp.text
    served = set(deployment.proxy.upstreams("/api/v1/indicators/river.level"))
    assert served == {web.upstream for web in deployment.webs}, served


@needs_nginx
@pytest.mark.parametrize("redis_url", ["embedded"], indirect=True)
def test_a_forged_x_forwarded_for_does_not_escape_the_lockout(deployment: Deployment) -> None:
    """Failed token checks count per address across both processes (the counts are in Redis), and the address is
    the one nginx saw, not one the client wrote in X-Forwarded-For."""
    with httpx.Client(base_url=deployment.proxy.url, timeout=10) as http:
        for k in range(FAIL_LIMIT):
            resp = http.get("/api/v1/indicators", headers={"Authorization": "Bearer sr_wrong",
                                                           "X-Forwarded-For": f"198.51.100.{k}"})
            assert resp.status_code == 401, resp.text
        resp = http.get("/api/v1/indicators", headers={"Authorization": "Bearer sr_wrong",
                                                       "X-Forwarded-For": "198.51.100.77"})
        assert resp.status_code == 429, resp.text
        assert "127.0.0.1" in resp.json()["error"]["message"] and "198.51.100" not in resp.text
    served = set(deployment.proxy.upstreams("/api/v1/indicators"))
    assert served == {web.upstream for web in deployment.webs}, "the failures were spread over both processes"


@pytest.mark.parametrize("redis_url", ["embedded"], indirect=True)
def test_the_web_role_believes_x_forwarded_for_only_from_its_trusted_proxies(redis_url: str, tmp_path: Path) -> None:
    """SITUATIONROOM_TRUSTED_PROXIES: from a trusted address (127.0.0.1 by default) the header names the client,
    which is why the proxy must write it itself; from any other address it is ignored."""
    for trusted, seen in (("127.0.0.1,::1", "198.51.100.5"), ("10.0.0.0/8", "127.0.0.1")):
        port = free_port()
        with Command("run", "web", "--site", str(MINI), "--redis-url", redis_url, "--port", str(port),
                     log=tmp_path / "web.log", env={"SITUATIONROOM_TRUSTED_PROXIES": trusted,
                                                    "SITUATIONROOM_AUTH_FAIL_LIMIT": "1"}) as command:
            web = Web(port, command)
            wait_for(lambda web=web: _healthy(web), 60, "the web process to answer /healthz")
            bad = {"Authorization": "Bearer sr_wrong", "X-Forwarded-For": "198.51.100.5"}
            assert httpx.get(web.url + "/api/v1/indicators", headers=bad, timeout=10).status_code == 401
            refused = httpx.get(web.url + "/api/v1/indicators", headers=bad, timeout=10)
            assert refused.status_code == 429 and f"from {seen};" in refused.json()["error"]["message"], trusted


def test_a_trusted_proxy_that_is_not_an_address_is_named() -> None:
    result = cli("run", "web", "--site", str(MINI), "--redis-url", "redis://127.0.0.1:6379/10",
                 env={"SITUATIONROOM_TRUSTED_PROXIES": "127.0.0.1,nginx"})
    assert result.returncode == 2, result.stderr
    assert "SITUATIONROOM_TRUSTED_PROXIES" in result.stderr and "'nginx'" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_docs_show_the_shipped_config_as_it_is() -> None:
    docs = (REPO / "docs" / "scale-out.md").read_text(encoding="utf-8")
    block = re.search(r"```nginx\n(.*?)```", docs, re.S)
    assert block and block.group(1) == CONF.read_text(encoding="utf-8"), "docs/scale-out.md shows another config"
