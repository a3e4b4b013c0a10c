"""A background look at Redis every few seconds that pushes a control frame to the open pages when what it reads
changes: how the wall learns of a drill, a replay's clock and the open incidents, whoever changed them."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import redis.asyncio as aioredis
from fastapi import FastAPI
from redis.exceptions import RedisError

from situationroom.aio import wait_event

WATCH_EVERY = 2.0
"""Seconds between two looks: a page learns of a change within about this. Polling rather than hooking the
actions, since the command line and other web processes change the same records."""


def watching(name: str, read: Callable[[FastAPI, aioredis.Redis], Awaitable[dict[str, Any]]],
             every: float = WATCH_EVERY) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """A router lifespan that sends `read(app, client)` (a frame with a `type`) to every connection whenever it
    differs from what it sent last."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()

        async def watch() -> None:
            last: dict[str, Any] | None = None
            client = app.state.ctx.client
            while not stop.is_set():
                # Redis down: the pages say so themselves; the frame waits for it.
                with contextlib.suppress(RedisError, OSError):
                    now = await read(app, client)
                    fanout = getattr(app.state, "fanout", None)
                    if now != last and fanout is not None:
                        result = fanout.send_control(now)
                        if inspect.isawaitable(result):
                            await result
                        last = now
                await wait_event(stop, every)

        task = asyncio.create_task(watch(), name=name)
        try:
            yield
        finally:
            stop.set()
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 2)
            task.cancel()

    return lifespan
