"""Per-process fan-out of the update stream to websocket clients: one reader, shared frames, bounded queues."""

from __future__ import annotations

import asyncio
import logging
import random
import re
import struct
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from situationroom import aio, keys, live
from situationroom.catalog import Catalog
from situationroom.clock import now_ms
from situationroom.messages import RECENT
from situationroom.settings import Settings

log = logging.getLogger(__name__)

StreamId = tuple[int, int]
ZERO_ID = "0-0"
ID_PATTERN = re.compile(r"^\d{1,20}-\d{1,20}$")
READ_COUNT = 1000
"""Entries per XREAD of the shared reader and per XRANGE of a client's catch-up."""
FRAME_BYTES = 256 * 1024
"""A burst is cut into deltas of about this size: client libraries refuse messages over 1 MiB by default."""
HEARTBEAT_SLICES = 10
"""The heartbeat interval is walked in this many steps, each pinging the clients whose turn it is."""
CLOSE_TIMEOUT = 2.0
"""Seconds a close handshake may take before the connection is aborted (a client that does not read)."""
MAX_CONTROLS = 32
"""Control frames (dashboard changes) held for a slow client; only the newest matter."""
TOPIC_HELP = "topics are all, messages, alerts, indicator:<id>, domain:<id>, district:<code>"
MESSAGE_TOPICS = frozenset({"all", "messages"})
ALERT_TOPICS = frozenset({"all", "alerts"})
STATE, MESSAGE, ALERT = 0, 1, 2
"""What an update-stream entry carries: a series' state (`d`), a text message (`m`), an alert or inbox item (`a`)."""


def parse_id(value: str) -> StreamId:
    ms, _, seq = value.partition("-")
    return int(ms), int(seq)


class TopicError(ValueError):
    """A subscription the server cannot use; names the field and the value, as the error frame does."""

    def __init__(self, message: str, field: str, value: Any) -> None:
        super().__init__(message)
        self.message, self.field, self.value = message, field, value


class Topics:
    """Validates topics against the catalog and tells which topics an entry of the update stream reaches."""

    MAX = 1000

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        ents = catalog.entities
        # A district code is a gu or dong, or anything an entity names as its district.
        self.districts = {e.id for e in ents.values() if e.kind in ("gu", "dong")}
        self.districts |= {e.district for e in ents.values() if e.district}
        self._of_state: dict[tuple[str, str], frozenset[str]] = {}
        self._district_indicators: dict[str, frozenset[str]] = {}

    def districts_of(self, entity: str) -> set[str]:
        """District codes an entity lies in: its own (a gu, a dong), its district's, and up the parents."""
        ents = self.catalog.entities
        out: set[str] = set()
        todo = [entity]
        seen: set[str] = set()
        while todo and len(seen) < 16:  # bounded: a cycle in bad data cannot loop
            eid = todo.pop()
            if eid in seen:
                continue
            seen.add(eid)
            if eid in self.districts:
                out.add(eid)
            e = ents.get(eid)
            if e is not None:
                todo.extend(x for x in (e.district, e.parent) if x and x != eid)
        return out

    def of_state(self, indicator: str, entity: str) -> frozenset[str]:
        """Every topic a state of this series is delivered to."""
        key = (indicator, entity)
        topics = self._of_state.get(key)
        if topics is None:
            ind = self.catalog.indicators.get(indicator)
            out = {"all", f"indicator:{indicator}"}
            if ind is not None:
                out.add(f"domain:{ind.domain}")
            out.update(f"district:{d}" for d in self.districts_of(entity))
            # Bounded by the catalog's series (unknown ones only appear if the stream holds foreign data).
            topics = self._of_state[key] = frozenset(out)
        return topics

    def parse(self, topics: Any) -> frozenset[str]:
        """The normalised set of topics, or TopicError naming the first bad one."""
        if not isinstance(topics, list):
            raise TopicError("topics must be a list of strings", "topics", topics)
        if not topics:
            raise TopicError(f"topics must not be empty; {TOPIC_HELP}", "topics", topics)
        if len(topics) > self.MAX:
            raise TopicError(f"at most {self.MAX} topics per subscription", "topics", len(topics))
        for n, topic in enumerate(topics):
            where = f"topics[{n}]"
            if not isinstance(topic, str):
                raise TopicError(f"a topic must be a string; {TOPIC_HELP}", where, topic)
            if topic in ("all", "messages", "alerts"):
                continue
            kind, sep, ident = topic.partition(":")
            if not sep:
                raise TopicError(f"unknown topic; {TOPIC_HELP}", where, topic)
            if kind == "indicator":
                if ident not in self.catalog.indicators:
                    raise TopicError("unknown indicator (not in the catalog)", where, topic)
            elif kind == "domain":
                if ident not in self.catalog.domains:
                    raise TopicError(f"unknown domain; domains: {', '.join(self.catalog.domains)}", where, topic)
            elif kind == "district":
                if ident not in self.districts:
                    raise TopicError("unknown district code (a gu or eup/myeon/dong code of the site)", where, topic)
            else:
                raise TopicError(f"unknown topic kind {kind!r}; {TOPIC_HELP}", where, topic)
        return frozenset(topics)

    def indicators_for(self, topics: frozenset[str]) -> list[str]:
        """The indicators whose live hashes a snapshot of these topics has to read."""
        if "all" in topics:
            return list(self.catalog.indicators)
        out: dict[str, None] = {}
        for topic in topics:
            kind, _, ident = topic.partition(":")
            if kind == "indicator":
                out[ident] = None
            elif kind == "domain":
                out.update((i.id, None) for i in self.catalog.indicators.values() if i.domain == ident)
            elif kind == "district":
                out.update((i, None) for i in self._indicators_in(ident))
        return list(out)

    def _indicators_in(self, district: str) -> frozenset[str]:
        found = self._district_indicators.get(district)
        if found is None:
            topic = f"district:{district}"
            found = self._district_indicators[district] = frozenset(
                i for i in self.catalog.indicators
                if any(topic in self.of_state(i, e) for e in self.catalog.entities_of(i)))
        return found


@dataclass(slots=True)
class Entry:
    """One entry of the update stream, decoded once per process."""

    id: str
    sid: StreamId
    raw: bytes
    """The state or message JSON exactly as published: frames splice these bytes, never re-encode them."""
    topics: frozenset[str]
    key: tuple[str, ...] | None = None
    """(indicator, entity) of a state ((indicator, entity, "x") of an exercise one), ("alert", fingerprint) of an
    alert; None for a message or inbox item."""
    kind: int | None = None
    """STATE, MESSAGE or ALERT; None: a state when it has a key, else a message."""

    def sort(self) -> int:
        if self.kind is not None:
            return self.kind
        return STATE if self.key is not None else MESSAGE


class Frame:
    """One outgoing JSON text frame, encoded once and shared by every client that gets it."""

    __slots__ = ("_text", "_wire", "payload")

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self._text: str | None = None
        self._wire: bytes | None = None

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = self.payload.decode()
        return self._text

    @property
    def wire(self) -> bytes:
        """The whole websocket frame (FIN, text opcode, length, payload): a server's frames are not
        masked, so the same bytes go to every connection without compression."""
        if self._wire is None:
            n = len(self.payload)
            if n < 126:
                head = struct.pack("!BB", 0x81, n)
            elif n < 65536:
                head = struct.pack("!BBH", 0x81, 126, n)
            else:
                head = struct.pack("!BBQ", 0x81, 127, n)
            self._wire = head + self.payload
        return self._wire

    @classmethod
    def of(cls, obj: dict[str, Any]) -> Frame:
        return cls(orjson.dumps(obj))


def delta_payload(stream_id: str, states: Iterable[bytes], messages: Iterable[bytes],
                  alerts: Iterable[bytes] = (), **extra: Any) -> bytes:
    """A delta frame, spliced from the pre-encoded states, messages and alerts (no JSON per state)."""
    parts = [b'{"type":"delta","id":', orjson.dumps(stream_id)]
    states = list(states)
    messages = list(messages)
    alerts = list(alerts)
    if states:
        parts += [b',"states":[', b",".join(states), b"]"]
    if messages:
        parts += [b',"messages":[', b",".join(messages), b"]"]
    if alerts:
        parts += [b',"alerts":[', b",".join(alerts), b"]"]
    for k, v in extra.items():
        parts += [b',"', k.encode(), b'":', orjson.dumps(v)]
    parts.append(b"}")
    return b"".join(parts)


def delta_of(stream_id: str, entries: Iterable[Entry], **extra: Any) -> bytes:
    lists: tuple[list[bytes], list[bytes], list[bytes]] = ([], [], [])
    for en in entries:
        lists[en.sort()].append(en.raw)
    return delta_payload(stream_id, *lists, **extra)


def chunked(entries: list[Entry], last: str) -> list[tuple[list[Entry], str]]:
    """Entries cut into pieces of at most about FRAME_BYTES, each with the id it brings a client to
    (its own last entry; the batch's last id for the final piece)."""
    out: list[tuple[list[Entry], str]] = []
    piece: list[Entry] = []
    size = 0
    for en in entries:
        if piece and size + len(en.raw) > FRAME_BYTES:
            out.append((piece, piece[-1].id))
            piece, size = [], 0
        piece.append(en)
        size += len(en.raw) + 1
    out.append((piece, last))
    return out


class Chunk:
    """One delta of a batch for one subscription; its frame is encoded at most once, on first use."""

    __slots__ = ("_frame", "entries", "id")

    def __init__(self, entries: list[Entry], stream_id: str) -> None:
        self.entries = entries
        self.id = stream_id
        self._frame: Frame | None = None

    @property
    def frame(self) -> Frame:
        if self._frame is None:
            self._frame = Frame(delta_of(self.id, self.entries))
        return self._frame

    @classmethod
    def split(cls, entries: list[Entry], last: str) -> list[Chunk]:
        return [cls(piece, cid) for piece, cid in chunked(entries, last)]


class Sink(Protocol):
    """How frames reach one connection, in order."""

    def try_write(self, frame: Frame) -> bool:
        """Queue the frame now if there is room (never waits); False when the client is behind."""

    def write(self, frame: Frame) -> None:
        """Queue the frame now even past the bound (the coalesced frames of a client that just drained)."""

    async def send(self, frame: Frame) -> None:
        """Queue a frame for this client alone, waiting for room (snapshots, catch-up, answers)."""

    async def drained(self) -> None:
        """Return once try_write would accept a frame again."""

    def abort(self) -> None:
        """Drop the connection without a closing handshake (it does not read)."""

    def backlog(self) -> int:
        """Bytes or frames waiting to be written (for tests and metrics)."""


class TransportSink:
    """Frames written straight to the connection's transport: uvicorn's websockets-sansio protocol
    without extensions. The transport's own write buffer is the bounded queue: once it is past its
    high-water mark (uvicorn pauses writing), the client is behind."""

    def __init__(self, proto: Any) -> None:
        self.proto = proto

    @staticmethod
    def find(send: Any) -> TransportSink | None:
        """A TransportSink for the ASGI `send` of a uvicorn websocket, or None for any other server."""
        proto = getattr(send, "__self__", None)
        if proto is None or type(proto).__module__ != "uvicorn.protocols.websockets.websockets_sansio_impl":
            return None
        conn = getattr(proto, "conn", None)
        writable = getattr(proto, "writable", None)
        # Compression would make every client's bytes different: only the plain protocol is shared.
        if conn is None or getattr(conn, "extensions", None) != [] or not isinstance(writable, asyncio.Event):
            return None
        if not hasattr(proto, "transport") or not hasattr(proto, "close_sent"):
            return None
        return TransportSink(proto)

    def try_write(self, frame: Frame) -> bool:
        p = self.proto
        if p.close_sent or p.transport.is_closing():
            return True  # the connection is going away; nothing to queue for it
        if not p.writable.is_set():
            return False
        p.transport.write(frame.wire)
        return True

    def write(self, frame: Frame) -> None:
        p = self.proto
        if not (p.close_sent or p.transport.is_closing()):
            p.transport.write(frame.wire)

    async def send(self, frame: Frame) -> None:
        while not self.try_write(frame):
            await self.proto.writable.wait()

    async def drained(self) -> None:
        await self.proto.writable.wait()

    def abort(self) -> None:
        self.proto.transport.abort()

    def backlog(self) -> int:
        return int(self.proto.transport.get_write_buffer_size())


class QueueSink:
    """Frames sent through ASGI by a writer task, from a queue of at most `limit` shared frames: for
    servers (or compressed connections) whose transport cannot be shared."""

    def __init__(self, websocket: Any, limit: int) -> None:
        self.websocket = websocket
        self.limit = limit
        self.queue: deque[Frame] = deque()
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._task = asyncio.create_task(self._writer(), name="ws-writer")

    def try_write(self, frame: Frame) -> bool:
        if len(self.queue) >= self.limit:
            self._room.clear()
            return False
        self.queue.append(frame)
        self._wake.set()
        return True

    def write(self, frame: Frame) -> None:
        self.queue.append(frame)
        self._wake.set()

    async def send(self, frame: Frame) -> None:
        while not self.try_write(frame):
            await self._room.wait()

    async def drained(self) -> None:
        await self._room.wait()

    async def _writer(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self.queue:
                    frame = self.queue.popleft()
                    await self.websocket.send_text(frame.text)
                self._room.set()
        except asyncio.CancelledError:
            raise
        except Exception:  # the connection is gone; its endpoint cleans up
            self.queue.clear()
            self._room.set()

    def abort(self) -> None:
        self._task.cancel()
        self.queue.clear()
        self._room.set()

    def backlog(self) -> int:
        return len(self.queue)


@dataclass(slots=True)
class Pending:
    """What a slow client has not been sent yet: the latest state per series, messages, control frames."""

    id: str = ZERO_ID
    states: dict[tuple[str, ...], bytes] = field(default_factory=dict)
    messages: deque[bytes] = field(default_factory=deque)
    alerts: dict[Any, bytes] = field(default_factory=dict)
    """Latest state per alert (an alert's JSON is its whole state), and every inbox item (never merged)."""
    controls: deque[bytes] = field(default_factory=lambda: deque(maxlen=MAX_CONTROLS))
    dropped: int = 0

    def merge(self, entries: Iterable[Entry], stream_id: str, max_messages: int) -> None:
        states = self.states
        for en in entries:
            if en.sort() == ALERT:
                akey = en.key if en.key is not None else en.id
                self.alerts.pop(akey, None)
                self.alerts[akey] = en.raw
            elif en.key is not None:
                # Re-inserted at the end: the coalesced frame lists states in the order of their last change.
                states.pop(en.key, None)
                states[en.key] = en.raw
            else:
                self.messages.append(en.raw)
                if len(self.messages) > max_messages:
                    self.messages.popleft()
                    self.dropped += 1
        self.id = stream_id

    def frames(self) -> list[Frame]:
        out = [Frame(c) for c in self.controls]
        if self.states or self.messages or self.alerts:
            extra: dict[str, Any] = {"coalesced": True}
            if self.dropped:
                extra["messages_dropped"] = self.dropped
            out.append(Frame(delta_payload(self.id, self.states.values(), self.messages, self.alerts.values(),
                                           **extra)))
        return out


class Client:
    """One websocket connection as the fan-out sees it."""

    __slots__ = ("_flusher", "after", "closed", "fanout", "group", "id", "last_heard", "next_ping", "pending",
                 "sink", "websocket")

    def __init__(self, fanout: Fanout, websocket: Any, sink: Sink, cid: int) -> None:
        self.fanout = fanout
        self.websocket = websocket
        self.sink = sink
        self.id = cid
        self.group: Group | None = None
        self.after: StreamId | None = None
        """Set while the client was attached ahead of the shared reader: entries up to it are skipped."""
        self.pending: Pending | None = None
        self._flusher: asyncio.Task[None] | None = None
        self.last_heard = time.monotonic()
        every = fanout.settings.ws_heartbeat
        self.next_ping = self.last_heard + every * (1 + random.random()) / 2
        self.closed = False

    @property
    def topics(self) -> frozenset[str]:
        return self.group.topics if self.group is not None else frozenset()

    @property
    def coalescing(self) -> bool:
        return self.pending is not None

    def deliver(self, chunks: list[Chunk]) -> None:
        """A batch for this client: the shared frames while it keeps up, else merged into its pending updates."""
        for chunk in chunks:
            if self.pending is None:
                if self.sink.try_write(chunk.frame):
                    continue
                self._start_coalescing()
            assert self.pending is not None
            self.pending.merge(chunk.entries, chunk.id, self.fanout.settings.ws_pending_messages)

    def control(self, frame: Frame) -> None:
        if self.pending is None:
            if self.sink.try_write(frame):
                return
            self._start_coalescing()
        assert self.pending is not None
        self.pending.controls.append(frame.payload)

    def _start_coalescing(self) -> None:
        self.pending = Pending()
        self.fanout.coalesced_clients += 1
        self._flusher = asyncio.create_task(self._flush(), name=f"ws-flush-{self.id}")

    async def _flush(self) -> None:
        """Once the client has drained, send what piled up. Everything new goes into `pending` until
        the moment the coalesced frames are written (no await in between), so nothing overtakes them."""
        try:
            await self.sink.drained()
            pending, self.pending = self.pending, None
            if pending is not None and not self.closed:
                for frame in pending.frames():
                    self.sink.write(frame)
        finally:
            self._flusher = None

    def detach(self) -> None:
        """Stop live delivery (before a new subscription); updates pending for the old one are dropped."""
        if self.group is not None:
            self.group.clients.discard(self)
            if not self.group.clients:
                self.fanout.groups.pop(self.group.topics, None)
            self.group = None
        self.after = None
        self.pending = None
        if self._flusher is not None:
            self._flusher.cancel()
            self._flusher = None

    async def send(self, frame: Frame) -> None:
        await self.sink.send(frame)

    async def close(self, code: int, reason: str) -> None:
        """Close with a handshake, or abort when the client does not take the close frame in time."""
        if self.closed:
            return
        self.closed = True
        self.detach()
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await self.websocket.close(code=code, reason=reason)
        except TimeoutError:
            self.sink.abort()
        except Exception:  # already gone
            self.sink.abort()


class Group:
    """All clients with the same subscription: they share one encoded frame per batch."""

    __slots__ = ("clients", "everything", "topics")

    def __init__(self, topics: frozenset[str]) -> None:
        self.topics = topics
        self.everything = "all" in topics
        self.clients: set[Client] = set()


class Fanout:
    """Reads the update stream once per process and fans it out to every websocket client of the process."""

    def __init__(self, client: aioredis.Redis, catalog: Catalog, settings: Settings) -> None:
        self.redis = client
        self.catalog = catalog
        self.settings = settings
        self.topics = Topics(catalog)
        self.groups: dict[frozenset[str], Group] = {}
        self.clients: set[Client] = set()
        self.position = ZERO_ID
        """Id of the last update-stream entry the shared reader has dispatched."""
        self.position_sid: StreamId = (0, 0)
        self.coalesced_clients = 0
        """How many times a client fell behind and was switched to coalesced updates (for tests and metrics)."""
        self.frames_encoded = 0
        self._next_id = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._closing: set[asyncio.Task[None]] = set()
        self._stop = asyncio.Event()

    # -- lifecycle ---------------------------------------------------------------------------------------

    async def start(self) -> None:
        last = await self._last_id()
        self.position, self.position_sid = last, parse_id(last)
        self._stop.clear()
        self._tasks = [asyncio.create_task(self._read_loop(), name="fanout-reader"),
                       asyncio.create_task(self._heartbeat_loop(), name="fanout-heartbeat")]

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

    async def _last_id(self) -> str:
        newest = await self.redis.xrevrange(keys.updates(), count=1)
        return _s(newest[0][0]) if newest else ZERO_ID

    # -- connections -------------------------------------------------------------------------------------

    def connect(self, websocket: Any, send: Any = None) -> Client:
        """Register a connection; `send` is the server's raw ASGI send, used to share frames when possible."""
        sink: Sink | None = TransportSink.find(send) if send is not None else None
        if sink is None:
            sink = QueueSink(websocket, self.settings.ws_queue_frames)
        self._next_id += 1
        client = Client(self, websocket, sink, self._next_id)
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

        Hand-over without gap or duplicate: the client catches up with XRANGE from its id until it has
        reached the shared reader's position, then joins live delivery in the same step (no await in
        between). Entries the shared reader dispatches later are all newer than that position; if the
        client's catch-up went past the reader, the entries it already has are skipped (`after`).
        """
        client.detach()
        echo = {"ref": ref} if has_ref else {}
        cursor: str
        resumed = False
        first: list[Entry] = []
        failure: str | None = None
        if resume is not None:
            first, failure = await self._resume_from(resume)
            if failure is None:
                cursor, resumed = resume, True
        if not resumed:
            cursor, payload = await self._snapshot(topics, echo, failure)
            await client.send(Frame(payload))
            self.frames_encoded += 1
        held: tuple[list[Entry], str] | None = None
        batch = first
        while True:
            if batch:
                cursor = batch[-1].id
                matched = self._match(topics, batch)
                for piece in chunked(matched, cursor) if matched else []:
                    # One piece is held back: the last frame of a resume carries the ref.
                    if held is not None:
                        await client.send(self._catch_up_frame(held[0], held[1], resumed))
                    held = piece
            if parse_id(cursor) >= self.position_sid or client.closed:
                break
            batch = await self._range(f"({cursor}")
            if not batch:
                break
        if resumed:
            # The last resumed frame always comes, carrying the final id and the ref: the answer to the resume.
            await client.send(Frame(delta_of(cursor, held[0] if held else [], resumed=True, **echo)))
        elif held is not None:
            await client.send(self._catch_up_frame(held[0], held[1], False))
        if client.closed:
            return
        # No await from the position check above to here: the shared reader cannot dispatch in between.
        sid = parse_id(cursor)
        if sid < self.position_sid:
            # Only when the stream lost entries under the catch-up (deleted or trimmed); continue live.
            sid = self.position_sid
        group = self.groups.get(topics)
        if group is None:
            group = self.groups[topics] = Group(topics)
        group.clients.add(client)
        client.group = group
        client.after = sid if sid > self.position_sid else None

    def _catch_up_frame(self, entries: list[Entry], stream_id: str, resumed: bool) -> Frame:
        self.frames_encoded += 1
        return Frame(delta_of(stream_id, entries, resumed=True) if resumed else delta_of(stream_id, entries))

    def _match(self, topics: frozenset[str], entries: list[Entry]) -> list[Entry]:
        if "all" in topics:
            return entries
        return [en for en in entries if not en.topics.isdisjoint(topics)]

    async def _resume_from(self, resume: str) -> tuple[list[Entry], str | None]:
        """Entries after `resume` (first chunk), or why the client needs a snapshot instead."""
        if not isinstance(resume, str) or not ID_PATTERN.match(resume):
            return [], "not an update-stream id"
        entries = await self._range(resume)
        if not entries or entries[0].id != resume:
            return [], "no longer in the update stream (trimmed), or never was"
        return entries[1:], None

    async def _range(self, start: str) -> list[Entry]:
        reply = await self.redis.xrange(keys.updates(), min=start, max="+", count=READ_COUNT)
        return self._decode(reply)

    async def _snapshot(self, topics: frozenset[str], echo: dict[str, Any],
                        failure: str | None) -> tuple[str, bytes]:
        """A snapshot consistent with an update-stream id.

        The newest id and the recent messages are read in one transaction (they share a slot), then the
        live hashes. Every state published up to that id was written to its hash before it was
        published, so the hashes hold it or something newer; anything newer is also published after the
        id and comes again as a delta. So a state may arrive twice (in the snapshot and a delta) but is
        never missing, and messages are exact.
        """
        with_alerts = not ALERT_TOPICS.isdisjoint(topics)
        pipe = self.redis.pipeline(transaction=True)
        pipe.xrevrange(keys.updates(), count=1)
        pipe.lrange(keys.recent_messages(), 0, RECENT - 1)
        if with_alerts:
            # In the same transaction: the alert role writes an alert and publishes it in one as well,
            # so every alert change up to the snapshot's id is in it. (Standalone Redis: the keys are in
            # two slots; under a cluster the alerts would be read just after, and may arrive twice.)
            pipe.hgetall(keys.alerts())
            pipe.hgetall(keys.alert_acks())
        newest, recent, *alert_data = await pipe.execute()
        snapshot_id = _s(newest[0][0]) if newest else ZERO_ID
        indicators = self.topics.indicators_for(topics)
        states: list[bytes] = []
        if indicators:
            pipe = self.redis.pipeline(transaction=False)
            # Real and exercise series both: the page shows which it has (docs/exercise.md).
            series = [(ind, x) for ind in indicators for x in (False, True)]
            for ind, x in series:
                pipe.hgetall(keys.live(ind, x))
            now = now_ms()
            grace = self.settings.stale_grace
            everything = "all" in topics
            for (ind, _x), raw in zip(series, await pipe.execute(), strict=True):
                for ent, value in raw.items():
                    if not everything and self.topics.of_state(ind, _s(ent)).isdisjoint(topics):
                        continue
                    state = orjson.loads(value)
                    seen = live.effective(state, now, grace)
                    # Read-time staleness, as every reader applies it; the untouched bytes otherwise.
                    states.append(value if seen is state else orjson.dumps(seen))
        messages = list(recent) if not MESSAGE_TOPICS.isdisjoint(topics) else []
        alerts = active_alerts(*alert_data) if with_alerts else []
        parts = [b'{"type":"snapshot","id":', orjson.dumps(snapshot_id), b',"states":[', b",".join(states),
                 b'],"messages":[', b",".join(messages), b'],"alerts":[', b",".join(alerts), b"]"]
        if failure is not None:
            parts += [b',"resume_failed":', orjson.dumps(failure)]
        if echo:
            parts += [b',"ref":', orjson.dumps(echo["ref"], default=str)]
        parts.append(b"}")
        return snapshot_id, b"".join(parts)

    # -- the shared reader -------------------------------------------------------------------------------

    def _decode(self, entries: list[Any]) -> list[Entry]:
        out: list[Entry] = []
        of_state = self.topics.of_state
        for raw_id, fields in entries:
            eid = _s(raw_id)
            d = fields.get(b"d")
            if d is not None:
                try:
                    state = orjson.loads(d)
                    key = (state["i"], state["e"])
                except (orjson.JSONDecodeError, KeyError, TypeError):
                    log.warning("update %s: not a live state, skipped", eid)
                    continue
                # An exercise series is a series of its own: a slow client's coalescing keeps both.
                series_key = (*key, "x") if state.get("x") else key
                out.append(Entry(eid, parse_id(eid), d, of_state(*key), series_key))
                continue
            m = fields.get(b"m")
            if m is not None:
                out.append(Entry(eid, parse_id(eid), m, MESSAGE_TOPICS, None, MESSAGE))
                continue
            a = fields.get(b"a")
            if a is not None:
                try:
                    item = orjson.loads(a)
                    akey = ("alert", item["fingerprint"]) if item.get("type") == "alert" else None
                except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
                    log.warning("update %s: not an alert, skipped", eid)
                    continue
                out.append(Entry(eid, parse_id(eid), a, ALERT_TOPICS, akey, ALERT))
        return out

    async def _read_loop(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            try:
                reply = await self.redis.xread({keys.updates(): self.position}, count=READ_COUNT,
                                               block=self.settings.block_ms)
                backoff = 0.1
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                log.warning("update stream: %s; retrying in %.1fs", exc, backoff)
                await aio.wait_event(self._stop, backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            for _stream, raw in reply or []:
                if raw:
                    last = _s(raw[-1][0])
                    self.dispatch(self._decode(raw), last)

    def dispatch(self, entries: list[Entry], last: str) -> None:
        """Hand one batch to every group; synchronous, so a subscription joins either before or after it."""
        last_sid = parse_id(last)
        self.position, self.position_sid = last, last_sid
        if not entries:
            return
        first_sid = entries[0].sid
        for group in list(self.groups.values()):
            matched = entries if group.everything else [en for en in entries if not en.topics.isdisjoint(group.topics)]
            if not matched:
                continue
            chunks: list[Chunk] | None = None
            for client in list(group.clients):
                after = client.after
                if after is not None:
                    client.after = None
                    if after >= last_sid:
                        continue
                    if after >= first_sid:
                        newer = [en for en in matched if en.sid > after]
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
        """Ping the clients whose turn it is (one shared frame); close those silent for three heartbeats."""
        every = self.settings.ws_heartbeat
        silent_after = 3 * every
        now = time.monotonic()
        ping: Frame | None = None
        for client in list(self.clients):
            if client.closed or client.next_ping > now:
                continue
            client.next_ping += every
            if now - client.last_heard > silent_after:
                log.info("websocket client %d silent for %.0fs: closing", client.id, now - client.last_heard)
                task = asyncio.create_task(client.close(1001, "no heartbeat for three intervals"))
                self._tasks_keep(task)
            elif client.pending is None:
                # A client that is behind gets no ping: its queue already shows it is alive or not.
                if ping is None:
                    ping = Frame.of({"type": "ping", "server_time": now_ms()})
                client.sink.try_write(ping)

    def _tasks_keep(self, task: asyncio.Task[None]) -> None:
        # Keep a reference until done (asyncio holds tasks weakly).
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)


def active_alerts(stored: dict[bytes, bytes], acks: dict[bytes, bytes]) -> list[bytes]:
    """The pending and firing alerts as the `a` entries carry them, worst and oldest first."""
    from situationroom.alerts.state import Alert

    out = []
    for fp, raw in stored.items():
        alert = Alert.decode(raw)
        if not alert.active:
            continue
        ack = acks.get(fp)
        if ack is not None and alert.acked is None:
            got = orjson.loads(ack)
            if got.get("episode") == alert.episode:
                alert.acked = {k: got.get(k) for k in ("by", "at", "comment")}
        out.append((-alert.level, alert.since, alert))
    out.sort(key=lambda x: (x[0], x[1]))
    return [orjson.dumps({"type": "alert", **a.public()}) for *_, a in out]


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value

