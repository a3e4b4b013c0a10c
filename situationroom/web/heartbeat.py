"""Web roles say they are alive in the Redis they use, so `tokens create` can tell whether its store is in use."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import AsyncIterator

import redis
from fastapi import APIRouter, FastAPI

from situationroom import aio, keys
from situationroom.outage import Outage

log = logging.getLogger(__name__)

EVERY = 10.0
"""Seconds between two heartbeats of one web role."""
ALIVE = 3 * EVERY
"""A web role is taken for running while its last heartbeat is younger than this."""


def member(host: str, port: int) -> str:
    return f"{socket.gethostname()} {os.getpid()} http://{host}:{port}/"


@contextlib.asynccontextmanager
async def _beating(app: FastAPI) -> AsyncIterator[None]:
    ctx = app.state.ctx
    me = member(ctx.settings.host, ctx.settings.port)
    stop = asyncio.Event()

    async def beat() -> None:
        outage = Outage(log, "web heartbeat written again")
        while not stop.is_set():
            try:
                now = int(time.time() * 1000)
                pipe = ctx.client.pipeline(transaction=False)
                pipe.zadd(keys.web_instances(), {me: now})
                pipe.zremrangebyscore(keys.web_instances(), "-inf", now - 10 * ALIVE * 1000)
                await pipe.execute()
                outage.reached()
            except Exception as exc:  # the web role serves on while Redis is away; the next beat retries
                outage.failed("web heartbeat not written: %s", exc, level=logging.WARNING)
            await aio.wait_event(stop, EVERY)

    task = asyncio.create_task(beat(), name="web-heartbeat")
    try:
        yield
    finally:
        stop.set()
        await task
        with contextlib.suppress(Exception):
            await ctx.client.zrem(keys.web_instances(), me)


router = APIRouter(lifespan=_beating)


def running(client: redis.Redis) -> list[str]:
    """The web roles (host, pid, URL) that used this Redis within the last ALIVE seconds."""
    since = int((time.time() - ALIVE) * 1000)
    return [m.decode() for m in client.zrangebyscore(keys.web_instances(), since, "+inf")]
