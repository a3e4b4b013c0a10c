"""Outgoing frames: encoded once per broadcast, spliced from the published bytes, cut to a size clients accept."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Any

import orjson

from situationroom.web.fanout.entries import Entry

FRAME_BYTES = 256 * 1024
"""A burst is cut into deltas of about this size: client libraries refuse messages over 1 MiB by default."""


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
    """A delta frame of these entries, each in its list (states, messages, alerts), bringing a client to `stream_id`."""
    sections: tuple[list[bytes], list[bytes], list[bytes]] = ([], [], [])
    for en in entries:
        sections[en.section].append(en.body)
    return delta_payload(stream_id, *sections, **extra)


def chunked(entries: list[Entry], last: str) -> list[tuple[list[Entry], str]]:
    """Entries cut into pieces of at most about FRAME_BYTES, each with the id it brings a client to
    (its own last entry; the batch's last id for the final piece)."""
    out: list[tuple[list[Entry], str]] = []
    piece: list[Entry] = []
    size = 0
    for en in entries:
        if piece and size + len(en.body) > FRAME_BYTES:
            out.append((piece, piece[-1].id))
            piece, size = [], 0
        piece.append(en)
        size += len(en.body) + 1
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
        """The batch `entries` (up to id `last`) as chunks of at most about FRAME_BYTES each."""
        return [cls(piece, cid) for piece, cid in chunked(entries, last)]
