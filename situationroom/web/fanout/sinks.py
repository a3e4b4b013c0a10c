"""How frames reach one connection, in order and bounded: uvicorn's shared transport, or a queue per client."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, Protocol

from situationroom.web.fanout.frames import Frame


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
