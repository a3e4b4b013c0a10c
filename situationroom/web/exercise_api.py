"""What the pages need to mark exercise data: the running drill, the exercise sources, the simulated clock."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

import redis.asyncio as aioredis
from fastapi import APIRouter, Depends, FastAPI, Request
from redis.exceptions import RedisError

from situationroom import drill as drill_mod
from situationroom.aio import wait_event
from situationroom.collectors import health
from situationroom.web import schemas
from situationroom.web.auth import require
from situationroom.web.errors import documented
from situationroom.web.jsonio import JSON

log = logging.getLogger(__name__)

WATCH_EVERY = 2.0
"""Seconds between two looks at the collectors' health and the drill record: a page learns of a new drill
or simulated clock within about this (its data itself arrives over the websocket at once)."""
OFF = frozenset({"disabled", "invalid", "paused"})


async def status(client: aioredis.Redis) -> dict[str, Any]:
    """The running drill, the collectors delivering exercise data now, and the simulated clock a page shows:
    the drill's when one runs, else the first running simulator's."""
    healths = await health.read_all(client)
    running = await drill_mod.read_current(client)
    sources = sorted(cid for cid, h in healths.items()
                     if h.get("exercise") and h.get("state") not in OFF and not h.get("paused"))
    clock = None
    if running is not None:
        clock = (healths.get(running.collector) or {}).get("clock")
    if clock is None:
        clock = next((healths[cid]["clock"] for cid in sources if healths[cid].get("clock")), None)
    return {"type": "exercise", "drill": running.public() if running is not None else None, "sources": sources,
            "clock": clock}


@contextlib.asynccontextmanager
async def _watching(app: FastAPI) -> AsyncIterator[None]:
    """Tell the open pages when the exercise status changes (a drill starts or ends, a replay's clock)."""
    stop = asyncio.Event()

    async def watch() -> None:
        last: dict[str, Any] | None = None
        client = app.state.ctx.client
        while not stop.is_set():
            try:
                now = await status(client)
                fanout = getattr(app.state, "fanout", None)
                if now != last and fanout is not None:
                    result = fanout.send_control(now)
                    if inspect.isawaitable(result):
                        await result
                    last = now
            except (RedisError, OSError):
                pass  # Redis down: the pages say so themselves; the status waits for it
            await wait_event(stop, WATCH_EVERY)

    task = asyncio.create_task(watch(), name="exercise-watcher")
    try:
        yield
    finally:
        stop.set()
        with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError, Exception):
            await asyncio.wait_for(task, 2)
        task.cancel()


router = APIRouter(lifespan=_watching)
Reader = Annotated[Any, Depends(require("read"))]


@router.get("/api/v1/exercise", response_class=JSON, tags=["exercise"], response_model=schemas.ExerciseOut,
            responses=documented(401, 403, 503),
            summary="Exercise status: the running drill, the collectors delivering exercise data, the simulated clock")
async def get_exercise(request: Request, _: Reader) -> JSON:
    return JSON(await status(request.app.state.ctx.client))
