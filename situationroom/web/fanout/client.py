"""One websocket connection as the fan-out sees it: shared frames while it keeps up, coalesced updates once behind."""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from situationroom.web.fanout.entries import ALERTS, ZERO_ID, Entry, StreamId
from situationroom.web.fanout.frames import Chunk, Frame, delta_payload
from situationroom.web.fanout.sinks import Sink

if TYPE_CHECKING:
    from situationroom.web.fanout.hub import Fanout

CLOSE_TIMEOUT = 2.0
"""Seconds a close handshake may take before the connection is aborted (a client that does not read)."""
MAX_CONTROLS = 32
"""Control frames (dashboard changes) held for a slow client; only the newest matter."""


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
            if en.section == ALERTS:
                alert = en.coalesce_key if en.coalesce_key is not None else en.id
                self.alerts.pop(alert, None)
                self.alerts[alert] = en.body
            elif en.coalesce_key is not None:
                # Re-inserted at the end: the coalesced frame lists states in the order of their last change.
                states.pop(en.coalesce_key, None)
                states[en.coalesce_key] = en.body
            else:
                self.messages.append(en.body)
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

    __slots__ = ("_flusher", "audience", "caught_up_to", "closed", "fanout", "hidden", "id", "last_heard",
                 "next_ping", "pending", "sink", "websocket")

    def __init__(self, fanout: Fanout, websocket: Any, sink: Sink, cid: int,
                 hidden: frozenset[str] = frozenset()) -> None:
        self.fanout = fanout
        self.hidden = hidden
        """The restricted indicators whose figures this connection's caller may not read (docs/access.md)."""
        self.websocket = websocket
        self.sink = sink
        self.id = cid
        self.audience: Audience | None = None
        self.caught_up_to: StreamId | None = None
        """Set while the client was attached ahead of the shared reader: entries up to it are skipped."""
        self.pending: Pending | None = None
        self._flusher: asyncio.Task[None] | None = None
        self.last_heard = time.monotonic()
        every = fanout.settings.ws_heartbeat
        self.next_ping = self.last_heard + every * (1 + random.random()) / 2
        self.closed = False

    @property
    def topics(self) -> frozenset[str]:
        return self.audience.topics if self.audience is not None else frozenset()

    def sent_since(self, moment: float) -> bool:
        """Whether an update went to this client after `moment` (monotonic)."""
        return self.audience is not None and self.audience.sent_at > moment

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
        if self.audience is not None:
            self.audience.clients.discard(self)
            if not self.audience.clients:
                self.fanout.audiences.pop(self.audience.key, None)
            self.audience = None
        self.caught_up_to = None
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


AudienceKey = tuple[frozenset[str], frozenset[str]]
"""An audience's topics, and the restricted indicators its clients may not read."""


class Audience:
    """All clients with the same topics and the same restricted indicators hidden: they share one encoded frame
    per batch."""

    __slots__ = ("clients", "everything", "hidden", "key", "sent_at", "topics")

    def __init__(self, topics: frozenset[str], hidden: frozenset[str] = frozenset()) -> None:
        self.topics = topics
        self.hidden = hidden
        self.key: AudienceKey = (topics, hidden)
        self.everything = "all" in topics and not hidden
        self.clients: set[Client] = set()
        self.sent_at = 0.0
        """When (monotonic) a batch last had something for these clients: they need no ping for a while."""

    def matching(self, entries: list[Entry]) -> list[Entry]:
        """The entries this audience gets."""
        if self.everything:
            return entries
        topics, hidden = self.topics, self.hidden
        if "all" in topics:
            return [en for en in entries if en.shown_to(hidden)]
        return [en for en in entries if not en.topics.isdisjoint(topics) and en.shown_to(hidden)]
