"""The fan-out of one web process: one shared reader of the update stream, subscriptions, dispatch, heartbeats."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from situationroom import aio, updates
from situationroom.catalog import Catalog
from situationroom.clock import now_ms
from situationroom.settings import Settings
from situationroom.web.fanout.client import Audience, AudienceKey, Client
from situationroom.web.fanout.entries import ID_PATTERN, ZERO_ID, Entry, StreamId, entries_of, parse_id
from situationroom.web.fanout.frames import Chunk, Frame, chunked, delta_of
from situationroom.web.fanout.sinks import QueueSink, Sink, TransportSink
from situationroom.web.fanout.snapshot import read_snapshot
from situationroom.web.fanout.topics import TopicRouter

log = logging.getLogger(__name__)

READ_COUNT = 1000
"""Entries per read of the shared reader and per read of a client's catch-up."""
HEARTBEAT_SLICES = 10
"""The heartbeat interval is walked in this many steps, each pinging the clients whose turn it is."""
STALLED = 0.5
"""Seconds a read of the update stream may last beyond its block time before the pages are told Redis is away."""
WATCH_EVERY = 0.25
"""How often the length of the read under way is looked at."""


class Fanout:
    """Reads the update stream once per process and fans it out to every websocket client of the process."""

    def __init__(self, client: aioredis.Redis, catalog: Catalog, settings: Settings) -> None:
        self.redis = client
        self.catalog = catalog
        self.settings = settings
        self.router = TopicRouter(catalog)
        self.audiences: dict[AudienceKey, Audience] = {}
        self.clients: set[Client] = set()
        self.position = ZERO_ID
        """Id of the last update-stream entry the shared reader has dispatched."""
        self.parsed_position: StreamId = (0, 0)
        self.coalesced_clients = 0
        """How many times a client fell behind and was switched to coalesced updates (for tests and metrics)."""
        self.frames_encoded = 0
        self.store_ok = True
        """Whether the shared reader reaches Redis: while it does not, nothing live can come, and the pages say so."""
        self._read_ok_at = now_ms()
        """When (server ms) a read of the update stream last answered."""
        self._reading_since: float | None = None
        """When (monotonic) the read under way began; None between reads."""
        self._next_id = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._closing_tasks: set[asyncio.Task[None]] = set()
        self._stop = asyncio.Event()

    # -- lifecycle ---------------------------------------------------------------------------------------

    async def start(self) -> None:
        last = await updates.newest_id(self.redis) or ZERO_ID
        self.position, self.parsed_position = last, parse_id(last)
        self._stop.clear()
        self._tasks = [asyncio.create_task(self._read_loop(), name="fanout-reader"),
                       asyncio.create_task(self._heartbeat_loop(), name="fanout-heartbeat"),
                       asyncio.create_task(self._watch_loop(), name="fanout-store-watch")]

    async def stop(self) -> None:
        # The loops also end on the event: redis.asyncio can lose a cancellation that lands as a command
        # starts (Python 3.11's wait_for, cpython#86296), and the reader would then block for ever on the
        # next XREAD; a web role that failed to start hung that way instead of saying why.
        self._stop.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        for client in list(self.clients):
            client.detach()

    @property
    def running(self) -> bool:
        return bool(self._tasks) and not any(t.done() for t in self._tasks)

    # -- connections -------------------------------------------------------------------------------------

    def connect(self, websocket: Any, send: Any = None, hidden: frozenset[str] = frozenset()) -> Client:
        """Register a connection; `send` is the server's raw ASGI send, used to share frames when possible; `hidden`
        the restricted indicators its caller may not read (never sent to it)."""
        sink: Sink | None = TransportSink.find(send) if send is not None else None
        if sink is None:
            sink = QueueSink(websocket, self.settings.ws_queue_frames)
        self._next_id += 1
        client = Client(self, websocket, sink, self._next_id, hidden)
        self.clients.add(client)
        return client

    def disconnect(self, client: Client) -> None:
        client.closed = True
        client.detach()
        if isinstance(client.sink, QueueSink):
            client.sink.abort()
        self.clients.discard(client)

    def send_control(self, frame: dict[str, Any], topic: str | None = None) -> int:
        """Push a control frame (e.g. {"type": "dashboard", ...}) to every client, or to those subscribed
        to `topic` (or to `all`). Encoded once; returns how many clients it was queued for."""
        shared = Frame.of(frame)
        n = 0
        for client in list(self.clients):
            if client.closed:
                continue
            if topic is not None and topic not in client.topics and "all" not in client.topics:
                continue
            client.control(shared)
            n += 1
        return n

    async def subscribe(self, client: Client, topics: frozenset[str], resume: str | None, ref: Any,
                        has_ref: bool) -> None:
        """Replace the client's subscription: a snapshot (or the entries after `resume`), then live deltas.

        Hand-over without gap or duplicate: the client catches up from its id until it has reached the
        shared reader's position, then joins live delivery in the same step (no await in between).
        Entries the shared reader dispatches later are all newer than that position; if the client's
        catch-up went past the reader, the entries it already has are skipped (`caught_up_to`).
        """
        client.detach()
        echo = {"ref": ref} if has_ref else {}
        cursor: str
        resumed = False
        batch: updates.Batch | None = None
        failure: str | None = None
        if resume is not None:
            batch, failure = await self._resume_from(resume)
            if failure is None:
                cursor, resumed = resume, True
        if not resumed:
            cursor, payload = await read_snapshot(self.redis, self.router, self.settings.stale_grace, topics, echo,
                                                  failure, client.hidden)
            await client.send(Frame(payload))
            self.frames_encoded += 1
        held: tuple[list[Entry], str] | None = None
        key: AudienceKey = (topics, client.hidden)
        audience = self.audiences.get(key) or Audience(topics, client.hidden)
        while True:
            if batch is not None and batch.last is not None:
                cursor = batch.last
                matched = audience.matching(entries_of(batch.updates, self.router))
                for piece in chunked(matched, cursor) if matched else []:
                    # One piece is held back: the last frame of a resume carries the ref.
                    if held is not None:
                        await client.send(self._catch_up_frame(held[0], held[1], resumed))
                    held = piece
            if parse_id(cursor) >= self.parsed_position or client.closed:
                break
            batch = await updates.read_from(self.redis, f"({cursor}", count=READ_COUNT)
            if batch.last is None:
                break
        if resumed:
            # The last resumed frame always comes, carrying the final id and the ref: the answer to the resume.
            await client.send(Frame(delta_of(cursor, held[0] if held else [], resumed=True, **echo)))
        elif held is not None:
            await client.send(self._catch_up_frame(held[0], held[1], False))
        if client.closed:
            return
        # No await from the position check above to here: the shared reader cannot dispatch in between.
        reached = parse_id(cursor)
        if reached < self.parsed_position:
            # Only when the stream lost entries under the catch-up (deleted or trimmed); continue live.
            reached = self.parsed_position
        # The same audience may have been made by another subscription meanwhile (the awaits above).
        audience = self.audiences.setdefault(key, audience)
        audience.clients.add(client)
        client.audience = audience
        client.caught_up_to = reached if reached > self.parsed_position else None

    def _catch_up_frame(self, entries: list[Entry], stream_id: str, resumed: bool) -> Frame:
        self.frames_encoded += 1
        return Frame(delta_of(stream_id, entries, resumed=True) if resumed else delta_of(stream_id, entries))

    async def _resume_from(self, resume: str) -> tuple[updates.Batch | None, str | None]:
        """The entries after `resume` (first read), or why the client needs a snapshot instead."""
        if not isinstance(resume, str) or not ID_PATTERN.match(resume):
            return None, "not an update-stream id"
        batch = await updates.read_from(self.redis, resume, count=READ_COUNT)
        if batch.first != resume:
            return None, "no longer in the update stream (trimmed), or never was"
        return updates.Batch(batch.ids, [u for u in batch.updates if u.id != resume]), None

    # -- the shared reader -------------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        backoff = 0.1
        while aio.running(self._stop):
            self._reading_since = time.monotonic()
            try:
                batch = await updates.read_after(self.redis, self.position, count=READ_COUNT,
                                                 block=self.settings.block_ms)
                backoff = 0.1
            # Any Redis error: a cluster in failover answers CLUSTERDOWN or TRYAGAIN, and a reader that ended on
            # one would leave every page of the process without updates for good.
            except (RedisError, OSError) as exc:
                self._reading_since = None
                log.warning("update stream: %s; retrying in %.1fs", exc, backoff)
                self._store(ok=False)
                await aio.wait_event(self._stop, backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            self._reading_since = None
            self._read_ok_at = now_ms()
            self._store(ok=True)
            if batch.last is not None:
                self.dispatch(entries_of(batch.updates, self.router), batch.last)

    async def _watch_loop(self) -> None:
        # A cluster client retries a dead master's commands by itself until a replica is promoted, seconds without
        # an error: a read lasting that long is Redis away all the same.
        limit = self.settings.block_ms / 1000 + STALLED
        while not await aio.wait_event(self._stop, WATCH_EVERY):
            started = self._reading_since
            if started is not None and time.monotonic() - started > limit:
                self._store(ok=False)

    def _store(self, *, ok: bool) -> None:
        # Told once each way: a connection that stays open through a Redis failover would otherwise look live on
        # a wall while nothing can reach it. `since`: nothing has been read after it.
        if ok != self.store_ok:
            self.store_ok = ok
            self.send_control({"type": "store", "ok": ok} if ok else {"type": "store", "ok": ok,
                                                                      "since": self._read_ok_at})

    def dispatch(self, entries: list[Entry], last: str) -> None:
        """Hand one batch to every audience; synchronous, so a subscription joins either before or after it."""
        parsed_last = parse_id(last)
        self.position, self.parsed_position = last, parsed_last
        if not entries:
            return
        first = entries[0].parsed_id
        now = time.monotonic()
        for audience in list(self.audiences.values()):
            matched = audience.matching(entries)
            if not matched:
                continue
            audience.sent_at = now
            chunks: list[Chunk] | None = None
            for client in list(audience.clients):
                caught_up_to = client.caught_up_to
                if caught_up_to is not None:
                    client.caught_up_to = None
                    if caught_up_to >= parsed_last:
                        continue
                    if caught_up_to >= first:
                        newer = [en for en in matched if en.parsed_id > caught_up_to]
                        if newer:
                            client.deliver(Chunk.split(newer, last))
                        continue
                if chunks is None:
                    chunks = Chunk.split(matched, last)
                    self.frames_encoded += len(chunks)
                client.deliver(chunks)

    # -- heartbeats --------------------------------------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        # Each client is pinged on its own phase of the interval: a thousand pongs arriving in the same
        # millisecond held every frame of the wall back by a second in the benchmark.
        tick = self.settings.ws_heartbeat / HEARTBEAT_SLICES
        while not await aio.wait_event(self._stop, tick):
            self.heartbeat()

    def heartbeat(self) -> None:
        """Ping the clients whose turn it is (one shared frame) if nothing else went to them within the interval or
        they have been silent too long; close those silent for two of their own heartbeats."""
        every = self.settings.ws_heartbeat
        ask_after = 1.25 * self.settings.ws_client_beat
        close_after = 2 * self.settings.ws_client_beat
        now = time.monotonic()
        ping: Frame | None = None
        for client in list(self.clients):
            if client.closed or client.next_ping > now:
                continue
            client.next_ping += every
            silent = now - client.last_heard
            if silent > close_after:
                log.info("websocket client %d silent for %.0fs: closing", client.id, silent)
                self._keep_task(asyncio.create_task(client.close(1001, "no heartbeat")))
            elif client.pending is None and (silent >= ask_after or not client.sent_since(now - every)):
                # Two directions, two costs. Towards the client a ping is one shared frame, written only where no
                # update went: the page needs a frame every interval to know its line is alive. Back from it every
                # frame goes through the protocol, the ASGI receive and this process's loop, some 100 µs each, so a
                # client is asked only when it has been silent for longer than its own heartbeat (a wall keeps one,
                # every `ws_client_beat`); a client that is behind gets no ping, its queue shows it alive or not.
                if ping is None:
                    ping = Frame.of({"type": "ping", "server_time": now_ms()})
                client.sink.try_write(ping)

    def _keep_task(self, task: asyncio.Task[None]) -> None:
        # Keep a reference until done (asyncio holds tasks weakly).
        self._closing_tasks.add(task)
        task.add_done_callback(self._closing_tasks.discard)
