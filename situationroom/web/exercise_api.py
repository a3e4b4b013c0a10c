"""What the pages need to mark exercise data: the running drill, the exercise sources, the simulated clock."""

from __future__ import annotations

from typing import Annotated, Any

import redis.asyncio as aioredis
from fastapi import APIRouter, Depends, FastAPI, Request

from situationroom import drill as drill_mod
from situationroom.collectors import health
from situationroom.web import pushwatch, schemas
from situationroom.web.auth import require
from situationroom.web.errors import documented
from situationroom.web.jsonio import JSON

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


async def _frame(app: FastAPI, client: aioredis.Redis) -> dict[str, Any]:
    return await status(client)


# Tell the open pages when the exercise status changes (a drill starts or ends, a replay's clock).
router = APIRouter(lifespan=pushwatch.watching("exercise-watcher", _frame))
Reader = Annotated[Any, Depends(require("read"))]


@router.get("/api/v1/exercise", response_class=JSON, tags=["exercise"], response_model=schemas.ExerciseOut,
            responses=documented(401, 403, 503),
            summary="Exercise status: the running drill, the collectors delivering exercise data, the simulated clock")
async def get_exercise(request: Request, _: Reader) -> JSON:
    return JSON(await status(request.app.state.ctx.client))
