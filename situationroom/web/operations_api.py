"""Operations endpoints: `/healthz` (is the server up and Redis reachable) and `/metrics` (Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from situationroom import __version__
from situationroom.web import metrics, schemas
from situationroom.web.errors import documented
from situationroom.web.jsonio import JSON

router = APIRouter()


@router.get("/healthz", response_class=JSON, tags=["operations"], summary="Is the server up and Redis reachable",
            response_model=schemas.HealthOut,
            responses={503: {"model": schemas.HealthOut, "description": "Redis is unreachable"}})
async def healthz(request: Request) -> JSON:
    ctx = request.app.state.ctx
    try:
        await ctx.client.ping()
        redis_ok = True
    except Exception:  # any failure to reach Redis is reported, not raised
        redis_ok = False
    body = {"status": "ok" if redis_ok else "degraded", "redis": "ok" if redis_ok else "unreachable",
            "version": __version__}
    return JSON(body, status_code=200 if redis_ok else 503)


@router.get("/metrics", response_class=PlainTextResponse, tags=["operations"], responses=documented(503),
            summary="Prometheus metrics: samples in, aggregator lag, errors, collectors")
async def get_metrics(request: Request) -> Response:
    ctx = request.app.state.ctx
    text = await metrics.render(ctx.client, ctx.settings, ws_clients=len(request.app.state.fanout.clients))
    return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8")
