"""Speaking the websocket protocol (docs/websocket.md) as a page does: frames sent, received and subscribed."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection


async def recv(conn: ClientConnection, *types: str, timeout: float = 5.0) -> dict[str, Any]:  # noqa: ASYNC109
    """The next frame of one of the given types (server pings are skipped unless asked for)."""
    async with asyncio.timeout(timeout):
        while True:
            frame = orjson.loads(await conn.recv())
            if not types or frame["type"] in types:
                return frame
            if frame["type"] == "error":
                raise AssertionError(f"unexpected error frame: {frame}")


async def send(conn: ClientConnection, frame: dict[str, Any]) -> None:
    await conn.send(orjson.dumps(frame).decode())


async def subscribe(conn: ClientConnection, topics: list[str], resume: str | None = None,
                    ref: Any = "s1") -> dict[str, Any]:
    """Subscribe to `topics` (resuming after `resume`) and return the snapshot or delta that answers it."""
    await send(conn, {"type": "subscribe", "topics": topics, "resume": resume, "ref": ref})
    return await recv(conn, "snapshot", "delta")
