"""The websocket protocol (docs/websocket.md) over a real uvicorn server, real Redis and real websocket clients."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from situationroom import __version__, keys, tokens
from situationroom.aggregator import Aggregator
from situationroom.catalog import load_catalog
from situationroom.messages import Message
from situationroom.redisconn import async_client, sync_client
from situationroom.settings import Settings
from situationroom.streams import StreamWriter, ensure_groups
from situationroom.web.fanout.hub import READ_COUNT
from situationroom.web.fanout.sinks import TransportSink
from tests.servers_support import Served, free_port, serve
from tests.site_support import MINI, settings_for
from tests.ws_support import recv, send, subscribe

pytestmark = pytest.mark.cluster

NAM_GU, BUK_GU = "47111", "47113"
YEONIL = "4711125300"  # an eup of Nam-gu; the river gauge hyeongsan and the station yeonil lie in it


def mini(redis_url: str, **overrides: object) -> Settings:
    return settings_for(redis_url, site=MINI, partitions=2, **overrides)


@pytest.fixture
def server(redis_url: str) -> Iterator[Served]:
    with serve(mini(redis_url), lifespan="on") as s:
        yield s


class Publisher:
    """Writes live states the way the aggregator does: the live hash first, then the update stream."""

    def __init__(self, url: str) -> None:
        self.redis = async_client(url)
        self.n = 0

    async def state(self, indicator: str, entity: str, value: float, *, pad: int = 0) -> tuple[str, dict]:
        self.n += 1
        t = int(time.time() * 1000) + self.n  # strictly increasing event times
        state: dict[str, Any] = {"i": indicator, "e": entity, "v": value, "t": t, "st": "normal", "ps": "normal",
                                 "since": t, "n": 3600, "w": {}, "r": None}
        if pad:
            state["pad"] = os.urandom(pad // 2).hex()  # larger, incompressible: fills a slow client's buffers
        raw = orjson.dumps(state)
        await self.redis.hset(keys.live(indicator), entity, raw)
        entry_id = await self.redis.xadd(keys.updates(), {"d": raw})
        return entry_id.decode(), state

    async def many(self, items: list[tuple[str, str, float]], *, pad: int = 0) -> list[str]:
        """Publish many states in pipelined batches; returns the entry ids."""
        ids: list[str] = []
        for k in range(0, len(items), 500):
            pipe = self.redis.pipeline(transaction=False)
            for ind, ent, value in items[k:k + 500]:
                self.n += 1
                t = int(time.time() * 1000) + self.n
                state = {"i": ind, "e": ent, "v": value, "t": t, "st": "normal", "ps": "normal", "since": t,
                         "n": 3600, "w": {}, "r": None}
                if pad:
                    state["pad"] = os.urandom(pad // 2).hex()
                raw = orjson.dumps(state)
                pipe.hset(keys.live(ind), ent, raw)
                pipe.xadd(keys.updates(), {"d": raw})
            ids += [r.decode() for r in (await pipe.execute())[1::2]]
        return ids

    async def close(self) -> None:
        await self.redis.aclose()


@pytest.fixture
async def pub(redis_url: str) -> AsyncIterator[Publisher]:
    p = Publisher(redis_url)
    yield p
    await p.close()


@contextlib.asynccontextmanager
async def ws_client(server: Served, **kwargs: Any) -> AsyncIterator[ClientConnection]:
    async with connect(server.ws, compression=kwargs.pop("compression", None), ping_interval=None,
                       open_timeout=5, **kwargs) as conn:
        yield conn


def values(frame: dict[str, Any]) -> list[tuple[str, str, float]]:
    return [(s["i"], s["e"], s["v"]) for s in frame.get("states", [])]


async def test_hello_then_snapshot_then_deltas(server: Served, pub: Publisher) -> None:
    await pub.state("air.pm10", "daesong", 40)
    last, _ = await pub.state("river.level", "hyeongsan", 1.5)
    server.app.state.build = "abc123"
    async with ws_client(server) as conn:
        hello = await recv(conn)
        assert hello["type"] == "hello" and hello["version"] == __version__ and hello["build"] == "abc123"
        assert hello["heartbeat_s"] == 15 and abs(hello["server_time"] - time.time() * 1000) < 5000

        snap = await subscribe(conn, ["all"], ref={"page": 1})
        assert snap["type"] == "snapshot" and snap["ref"] == {"page": 1}
        assert snap["id"] == last, "the snapshot is consistent with the newest update-stream id"
        assert sorted(values(snap)) == [("air.pm10", "daesong", 40), ("river.level", "hyeongsan", 1.5)]
        assert snap["messages"] == []

        ids = [(await pub.state("air.pm10", "yeonil", v))[0] for v in (10, 11, 12)]
        got: list[tuple[str, str, float]] = []
        frame_ids: list[str] = []
        while len(got) < 3:
            delta = await recv(conn, "delta")
            assert "ref" not in delta and "coalesced" not in delta and "messages" not in delta
            got += values(delta)
            frame_ids.append(delta["id"])
        assert got == [("air.pm10", "yeonil", 10), ("air.pm10", "yeonil", 11), ("air.pm10", "yeonil", 12)]
        assert frame_ids[-1] == ids[-1], "a delta's id is the last update-stream entry it includes"


async def test_a_state_in_its_hash_but_not_yet_on_the_stream_comes_in_the_snapshot_and_again_as_a_delta(
        server: Served, pub: Publisher) -> None:
    """No transaction spans the live hashes and the update stream (other slots of a Redis Cluster): a writer puts
    the state in its hash, then on the stream. A snapshot taken in between reads the stream's id first, so it has
    the state and an id before its entry, and the entry then comes as a delta: the same state twice, never one
    missing (the page applies both as the latest state of the series)."""
    before, _ = await pub.state("air.pm10", "daesong", 40)
    t = int(time.time() * 1000) + 1000
    raw = orjson.dumps({"i": "air.pm10", "e": "daesong", "v": 95, "t": t, "st": "warning", "ps": "normal",
                        "since": t, "n": 3600, "w": {}, "r": None})
    await pub.redis.hset(keys.live("air.pm10"), "daesong", raw)  # the write's first half
    async with ws_client(server) as conn:
        await recv(conn, "hello")
        snap = await subscribe(conn, ["all"])
        assert snap["id"] == before and values(snap) == [("air.pm10", "daesong", 95)]
        entry = (await pub.redis.xadd(keys.updates(), {"d": raw})).decode()  # and its second
        delta = await recv(conn, "delta")
        assert delta["id"] == entry and values(delta) == [("air.pm10", "daesong", 95)]


async def test_topics_choose_what_a_client_gets(server: Served, pub: Publisher) -> None:
    topics = {
        "indicator:river.level": {("river.level", "hyeongsan"), ("river.level", "chaeun")},
        "domain:weather": {("weather.visibility", "pohang")},
        # A gu covers its eup/myeon, and the stations whose district lies in them.
        f"district:{NAM_GU}": {("air.pm10", "daesong"), ("air.pm10", "yeonil"), ("river.level", "hyeongsan"),
                               ("economy.spending", YEONIL), ("economy.spending", NAM_GU)},
        f"district:{YEONIL}": {("air.pm10", "yeonil"), ("river.level", "hyeongsan"), ("economy.spending", YEONIL)},
    }
    series = [("air.pm10", "daesong"), ("air.pm10", "yeonil"), ("river.level", "hyeongsan"),
              ("river.level", "chaeun"), ("weather.visibility", "pohang"), ("economy.spending", YEONIL),
              ("economy.spending", NAM_GU), ("economy.spending", BUK_GU), ("economy.spending", "4711325000")]
    for ind, ent in series:
        await pub.state(ind, ent, 1)
    for topic, expected in topics.items():
        async with ws_client(server) as conn:
            await recv(conn, "hello")
            snap = await subscribe(conn, [topic])
            assert {(i, e) for i, e, _ in values(snap)} == expected, topic
            for ind, ent in series:
                await pub.state(ind, ent, 2)
            # A marker every topic above reaches last, so everything before it has been routed.
            marker = {"indicator:river.level": ("river.level", "hyeongsan"),
                      "domain:weather": ("weather.visibility", "pohang")}.get(topic, ("air.pm10", "yeonil"))
            await pub.state(*marker, 3)
            seen: set[tuple[str, str]] = set()
            while True:
                delta = await recv(conn, "delta")
                seen |= {(i, e) for i, e, _ in values(delta)}
                if (*marker, 3) in values(delta):
                    break
            assert seen == expected, topic


async def test_resume_continues_without_gap_or_duplicate(server: Served, pub: Publisher) -> None:
    """A client that reconnects with its last id gets exactly the entries it missed, then live ones,
    even while updates keep coming during the hand-over."""
    published: list[float] = []
    stop = asyncio.Event()

    async def publish_continuously() -> None:
        v = 0
        while not stop.is_set():
            v += 1
            await pub.state("river.level", "chaeun", v)
            published.append(v)
            await asyncio.sleep(0.001)

    received: list[float] = []
    async with ws_client(server) as conn:
        await recv(conn, "hello")
        snap = await subscribe(conn, ["indicator:river.level"])
        last = snap["id"]
        writer = asyncio.create_task(publish_continuously())
        while len(received) < 50:
            delta = await recv(conn, "delta")
            received += [v for _, _, v in values(delta)]
            last = delta["id"]
    for round_ in range(5):  # away for a moment, back, several times while the writer runs
        await asyncio.sleep(0.05)
        async with ws_client(server) as conn:
            await recv(conn, "hello")
            first = await subscribe(conn, ["indicator:river.level"], resume=last, ref=round_)
            assert first["type"] == "delta" and first["resumed"] is True
            frame = first
            while "ref" not in frame:  # resumed frames end with one carrying the ref: the answer
                received += [v for _, _, v in values(frame)]
                frame = await recv(conn, "delta")
                assert frame.get("resumed") is True
            assert frame["ref"] == round_
            received += [v for _, _, v in values(frame)]
            last = frame["id"]
            for _ in range(20):
                delta = await recv(conn, "delta")
                assert "resumed" not in delta
                received += [v for _, _, v in values(delta)]
                last = delta["id"]
    stop.set()
    await writer
    # Whatever was published after the first snapshot arrived, once each and in order, up to the last read.
    assert received == published[:len(received)]
    assert len(received) >= 150


async def test_resume_after_trim_or_with_a_bad_id_gives_a_fresh_snapshot(server: Served, pub: Publisher) -> None:
    old, _ = await pub.state("air.pm10", "daesong", 1)
    await pub.many([("air.pm10", "daesong", v) for v in range(2, 50)])
    await pub.redis.xtrim(keys.updates(), maxlen=5, approximate=False)  # the client was away too long
    newest = (await pub.redis.xrevrange(keys.updates(), count=1))[0][0].decode()
    for resume, why in ((old, "trimmed"), ("not-an-id", "not an update-stream id"), ("99999999999999-0", "trimmed")):
        async with ws_client(server) as conn:
            await recv(conn, "hello")
            snap = await subscribe(conn, ["all"], resume=resume)
            assert snap["type"] == "snapshot" and snap["id"] == newest and snap["ref"] == "s1"
            assert why in snap["resume_failed"]
            assert values(snap) == [("air.pm10", "daesong", 49)]


@pytest.mark.parametrize("deflate", [False, True], ids=["shared-transport", "per-client-queue"])
async def test_a_client_that_does_not_read_is_coalesced_and_stalls_no_one(redis_url: str, pub: Publisher,
                                                                          deflate: bool) -> None:
    """A client that stops reading gets the latest state per series once it drains; its memory on the
    server stays bounded meanwhile, and a client that keeps up gets every update in time."""
    series = [("river.level", "hyeongsan"), ("river.level", "chaeun"), ("air.pm10", "daesong")]
    rounds = 1500
    with serve(mini(redis_url, ws_queue_frames=8), lifespan="on", deflate=deflate) as server:
        # A small receive buffer and a one-frame client queue: the server sees this client fall behind soon.
        sock = socket.create_connection(("127.0.0.1", int(server.url.rsplit(":", 1)[1])))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        compression = "deflate" if deflate else None
        async with ws_client(server, compression=compression) as fast, \
                ws_client(server, sock=sock, max_queue=1, compression=compression) as slow:
            for conn in (fast, slow):
                await recv(conn, "hello")
                await subscribe(conn, ["all"])
            fanout = server.fanout
            # Uncompressed connections share the encoded frame bytes; compressed ones go through a queue.
            assert all(isinstance(c.sink, TransportSink) is not deflate for c in fanout.clients)

            expected_last = {}
            items = []
            for r in range(rounds):
                for ind, ent in series:
                    items.append((ind, ent, float(r)))
                    expected_last[(ind, ent)] = float(r)
            # Compressed, hex padding halves: 2,000 characters a state would be about 4.5 MB in all, which the
            # server's socket send buffer (autotuned up to 4 MB here) could nearly absorb without the client
            # ever looking behind. Three times that cannot be absorbed.
            write = asyncio.create_task(pub.many(items, pad=6000 if deflate else 2000))
            # The client that reads gets to the newest value of every series while the other one is stuck
            # (uncoalesced while it keeps up; a burst this size may coalesce it too, which is allowed).
            seen: dict[tuple[str, str], float] = {}
            async with asyncio.timeout(60):
                while seen != expected_last:
                    for i, e, v in values(await recv(fast, "delta")):
                        seen[(i, e)] = v
            await write

            slow_client = max(fanout.clients, key=lambda c: c.id)
            assert fanout.coalesced_clients >= 1 and slow_client.coalescing
            pending = slow_client.pending
            assert pending is not None and len(pending.states) <= len(series), "at most one state per series"
            # Bounded: the transport's high-water mark plus the one frame that crossed it, or the frame queue.
            bound = server.settings.ws_queue_frames if deflate else 64 * 1024 + READ_COUNT * 2200
            assert slow_client.sink.backlog() <= bound

            # The slow client reads again: what piled up arrives, ending with the newest value of every series.
            latest: dict[tuple[str, str], float] = {}
            saw_coalesced = False
            async with asyncio.timeout(30):
                while latest != expected_last:
                    frame = await recv(slow, "delta")
                    saw_coalesced |= frame.get("coalesced", False)
                    for i, e, v in values(frame):
                        latest[(i, e)] = v
            assert saw_coalesced


async def test_bad_frames_get_error_frames_and_the_connection_stays(server: Served, pub: Publisher) -> None:
    async with ws_client(server) as conn:
        await recv(conn, "hello")
        await subscribe(conn, ["indicator:air.pm10"])

        async def error_for(frame: str | bytes) -> dict[str, Any]:
            await conn.send(frame)
            return await recv(conn, "error")

        cases: list[tuple[str | bytes, str, Any, str]] = [
            ('{"type":"subscribe","topics":["all","indicator:air.pm99"],"ref":7}', "topics[1]",
             "indicator:air.pm99", "unknown indicator"),
            ('{"type":"subscribe","topics":["weather:x"]}', "topics[0]", "weather:x", "unknown topic kind"),
            ('{"type":"subscribe","topics":["district:999"]}', "topics[0]", "district:999", "unknown district"),
            ('{"type":"subscribe","topics":["domain:sports"]}', "topics[0]", "domain:sports", "unknown domain"),
            ('{"type":"subscribe","topics":["everything"]}', "topics[0]", "everything", "unknown topic"),
            ('{"type":"subscribe","topics":[3]}', "topics[0]", 3, "must be a string"),
            ('{"type":"subscribe","topics":"all"}', "topics", "all", "must be a list"),
            ('{"type":"subscribe","topics":[]}', "topics", [], "must not be empty"),
            ('{"type":"subscribe"}', "topics", None, "needs topics"),
            ('{"type":"subscribe","topics":["all"],"resume":5}', "resume", 5, "update-stream id"),
            ('{"type":"subscribe","topics":["all"],"since":5}', "since", 5, "unknown key"),
            ('{"type":"hug"}', "type", "hug", "unknown frame type"),
            ('{"t":1}', "type", None, "needs a type"),
            ("[1,2]", "frame", "[1,2]", "JSON object"),
            ("hello?", "frame", "hello?", "not valid JSON"),
            (b'{"type":"ping"}', "frame", "15 bytes", "binary frames"),
            ('{"type":"ping","pad":"' + "x" * 200_000 + '"}', "frame", "200024 characters", "too large"),
        ]
        for frame, field, value, words in cases:
            err = await error_for(frame)
            assert err["field"] == field and err["value"] == value and words in err["message"], (frame, err)
        assert (await error_for('{"type":"subscribe","topics":["x"],"ref":"abc"}'))["ref"] == "abc"

        # Still open, still subscribed to what it had before the bad frames.
        await pub.state("weather.visibility", "pohang", 5000)
        await pub.state("air.pm10", "yeonil", 33)
        assert values(await recv(conn, "delta")) == [("air.pm10", "yeonil", 33)]
        await send(conn, {"type": "ping", "t": 123})
        pong = await recv(conn, "pong")
        assert pong["t"] == 123 and pong["server_time"] > 0


async def test_heartbeats_both_ways(redis_url: str) -> None:
    """With no update to send, the server pings every heartbeat (the page needs a frame to know its line is
    alive); a client that answers stays, one silent for two of its own beats is closed with "going away"."""
    with serve(mini(redis_url, ws_heartbeat=0.2, ws_client_beat=0.4), lifespan="on") as server:
        async with ws_client(server) as silent, ws_client(server) as alive:
            hello = await recv(silent, "hello")
            assert hello["heartbeat_s"] == 0.2 and hello["beat_s"] == 0.4
            await recv(alive, "hello")
            pings = 0
            started = time.monotonic()
            while time.monotonic() - started < 1.2:
                ping = await recv(alive, "ping")
                assert ping["server_time"] > 0
                pings += 1
                await send(alive, {"type": "pong", "t": ping["server_time"]})
            assert pings >= 4
            with pytest.raises(ConnectionClosed) as closed:
                async with asyncio.timeout(2):
                    while True:
                        await silent.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
            await send(alive, {"type": "ping", "t": 1})
            assert (await recv(alive, "pong"))["t"] == 1


async def _frames_for(conn: ClientConnection, seconds: float, *, beat: float | None = None) -> list[tuple[float, str]]:
    """(time, type) of the frames `conn` receives for `seconds`, answering pings; with `beat`, it also sends an
    unasked pong that often, as the wall does while updates flow."""
    got: list[tuple[float, str]] = []
    started = time.monotonic()
    next_beat = started + (beat or 0)
    while (now := time.monotonic()) - started < seconds:
        if beat is not None and now >= next_beat:
            await send(conn, {"type": "pong"})
            next_beat += beat
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.02):
                got.append((time.monotonic() - started, orjson.loads(await conn.recv())["type"]))
                if got[-1][1] == "ping":
                    await send(conn, {"type": "pong"})
    return got


async def test_updates_stand_in_for_pings_and_a_client_is_asked_only_when_silent_past_its_beat(
        redis_url: str, pub: Publisher) -> None:
    """While updates flow, the server sends no pings: they show the line is alive. A wall keeps its own beat with
    a pong nobody asked for, which gets no answer, so it is never pinged; a client that only listens is asked once
    it has been silent for 1.25 beats, and answering keeps it."""
    with serve(mini(redis_url, ws_heartbeat=0.1, ws_client_beat=0.4), lifespan="on") as server:
        async with ws_client(server) as wall, ws_client(server) as listener:
            for conn in (wall, listener):
                await recv(conn, "hello")
                await subscribe(conn, ["indicator:air.pm10"])

            async def publish() -> None:
                n = 0
                while True:
                    n += 1
                    await pub.state("air.pm10", "daesong", n)
                    await asyncio.sleep(0.03)
            publishing = asyncio.create_task(publish())
            try:
                walls, listens = await asyncio.gather(_frames_for(wall, 1.5, beat=0.3),
                                                      _frames_for(listener, 1.5))
            finally:
                publishing.cancel()
            assert {k for _, k in walls} == {"delta"}, walls
            pings = [t for t, k in listens if k == "ping"]
            assert "delta" in {k for _, k in listens} and pings, listens
            assert pings[0] >= 0.35, pings   # not at its first heartbeat: after 1.25 beats (0.5 s) of silence
            await send(wall, {"type": "ping", "t": 7})
            assert (await recv(wall, "pong"))["t"] == 7, "the wall is still connected"
            await send(listener, {"type": "ping", "t": 8})
            assert (await recv(listener, "pong"))["t"] == 8, "the listener too, having answered"


async def test_messages_reach_message_subscribers(server: Served, redis_url: str) -> None:
    writer = StreamWriter(async_client(redis_url), partitions=2, retention=3600, deadletter_maxlen=100,
                          batch_size=100)
    first = Message("m1", time.time(), "test", "disaster_text", "warning", "호우 경보", "Heavy rain warning",
                    ("pohang",))
    await writer.publish_messages([first], updates_maxlen=1000)
    async with ws_client(server) as wall, ws_client(server) as river:
        await recv(wall, "hello")
        await recv(river, "hello")
        snap = await subscribe(wall, ["messages", "indicator:air.pm10"])
        assert [m["id"] for m in snap["messages"]] == ["m1"] and snap["messages"][0]["text_ko"] == "호우 경보"
        assert (await subscribe(river, ["indicator:river.level"]))["messages"] == []
        second = Message("m2", time.time(), "test", "cap", "critical", "대피", "Evacuate", ())
        await writer.publish_messages([second, first], updates_maxlen=1000)  # m1 again is not published twice
        delta = await recv(wall, "delta")
        assert [m["id"] for m in delta["messages"]] == ["m2"] and delta["messages"][0]["severity"] == "critical"
        with pytest.raises(TimeoutError):
            await recv(river, "delta", timeout=0.3)
    await writer.client.aclose()


async def test_control_frames_reach_all_or_one_topic(server: Served) -> None:
    async with ws_client(server) as a, ws_client(server) as b, ws_client(server) as c:
        for conn in (a, b, c):
            await recv(conn, "hello")
        await subscribe(a, ["domain:weather"])
        await subscribe(b, ["all"])
        n = await _on_server(server, lambda f: f.send_control({"type": "dashboard", "name": "wall", "version": "v2"}))
        assert n == 3
        for conn in (a, b, c):
            assert await recv(conn, "dashboard") == {"type": "dashboard", "name": "wall", "version": "v2"}
        n = await _on_server(server, lambda f: f.send_control({"type": "dashboard", "name": "weather",
                                                               "version": "v3"}, topic="domain:weather"))
        assert n == 2, "subscribers of the topic, and of all"
        assert (await recv(a, "dashboard"))["name"] == "weather"
        assert (await recv(b, "dashboard"))["name"] == "weather"
        with pytest.raises(TimeoutError):
            await recv(c, "dashboard", timeout=0.3)


async def _on_server(server: Served, call: Any) -> Any:
    """Run `call(fanout)` on the server's event loop (the fan-out is not thread-safe)."""
    loop = server.fanout._tasks[0].get_loop()

    async def run() -> Any:
        return call(server.fanout)

    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(run(), loop))


async def test_two_web_processes_on_one_redis_both_deliver(redis_url: str, pub: Publisher) -> None:
    with serve(mini(redis_url), lifespan="on") as one, serve(mini(redis_url), lifespan="on") as two:
        async with ws_client(one) as a, ws_client(two) as b:
            for conn in (a, b):
                await recv(conn, "hello")
                await subscribe(conn, ["all"])
            await pub.many([("air.pm10", "daesong", float(v)) for v in range(100)])
            for conn in (a, b):
                got: list[float] = []
                while len(got) < 100:
                    got += [v for _, _, v in values(await recv(conn, "delta"))]
                assert got == [float(v) for v in range(100)]


async def test_pushed_sample_reaches_the_websocket(server: Served, redis_url: str) -> None:
    """The whole path: push ingest → sample stream → aggregator → update stream → fan-out → client."""
    sync = sync_client(redis_url)
    token = tokens.create(sync, "ingest", "ws-test")
    sync.close()
    agg_client = async_client(redis_url)
    await ensure_groups(agg_client, server.settings.partitions)
    stop = asyncio.Event()
    aggregator = asyncio.create_task(Aggregator(agg_client, load_catalog(MINI / "seeds"), server.settings,
                                                consumer="test").run(stop))
    try:
        async with ws_client(server) as conn, httpx.AsyncClient(base_url=server.url) as http:
            await recv(conn, "hello")
            await subscribe(conn, [f"district:{YEONIL}"])
            resp = await http.post("/api/v1/samples", headers={"Authorization": f"Bearer {token}"},
                                   json={"samples": [{"indicator": "river.level", "entity": "hyeongsan",
                                                      "value": 2.5}]})
            assert resp.status_code == 200 and resp.json()["accepted"] == 1
            delta = await recv(conn, "delta", timeout=10)
            state = delta["states"][0]
            assert (state["i"], state["e"], state["v"], state["st"]) == ("river.level", "hyeongsan", 2.5, "warning")
    finally:
        stop.set()
        await asyncio.wait_for(aggregator, 10)
        await agg_client.aclose()


def _three_free_ports() -> int:
    """A port whose next two are free as well (the benchmark listens on port, port + 1, port + 2)."""
    for _ in range(50):
        port = free_port()
        with contextlib.ExitStack() as stack:
            try:
                for k in range(3):
                    s = stack.enter_context(socket.socket())
                    s.bind(("127.0.0.1", port + k))
            except OSError:
                continue
        return port
    raise AssertionError("no three consecutive free ports")


def test_bench_ws_runs_both_servers() -> None:
    """`situationroom bench ws` end to end (its figures are recorded in docs/benchmarks.md, not asserted)."""
    result = subprocess.run(
        [sys.executable, "-m", "situationroom", "bench", "ws", "--site", str(MINI), "--clients", "4",
         "--seconds", "1", "--processes", "2", "--port", str(_three_free_ports()), "--json"],
        capture_output=True, text=True, timeout=240, cwd=MINI)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert [(p["server"], p["clients"]) for p in figures["phases"]] == [
        ("situationroom", 4), ("situationroom fan-out alone", 4), ("bare websockets broadcast", 4)]
    ours, fanout, bare = figures["phases"]
    # 1 s at 10 updates/s after the warm-up: every client has every measured update, once, from each
    # phase; the warm-up's updates are sent in each and measured by none.
    assert 8 <= ours["updates"] <= 11 and fanout["updates"] == bare["updates"] == ours["updates"]
    for phase in (ours, fanout, bare):
        assert phase["latency_ms"]["n"] == 4 * ours["updates"]
        assert phase["frames"] >= 4 * (ours["updates"] + 8)
    assert set(ours["stages_ms"]) == {"push_to_sample_stream", "sample_to_update_stream"}
    assert all(stage["p50"] >= 0 for stage in ours["stages_ms"].values())
    assert fanout["stages_ms"] == bare["stages_ms"] == {}
    # The fan-out alone skips ingest and the aggregator: it cannot take longer than all of it.
    assert fanout["latency_ms"]["p50"] < ours["latency_ms"]["p50"]
    assert set(figures["ratios"]["4"]) == {"p50", "p99", "fanout_p99", "cpu_per_frame", "fanout_cpu_per_frame"}
