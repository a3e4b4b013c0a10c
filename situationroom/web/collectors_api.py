"""The collectors API: every collector's health, and run now / pause / resume for operators."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from situationroom.collectors import control, health
from situationroom.web import schemas
from situationroom.web.auth import audited, identify, require
from situationroom.web.errors import ApiError, documented
from situationroom.web.jsonio import JSON, JSONBodyRoute

router = APIRouter(tags=["collectors"], route_class=JSONBodyRoute)
Reader = Annotated[Any, Depends(require("read"))]



async def operator_token(request: Request) -> dict[str, Any]:
    """Admit only tokens whose role may operate collectors (operator, admin); say so plainly otherwise."""
    try:
        record = await require("operate")(request)
    except ApiError as exc:
        if exc.status == 403:
            raise ApiError(403, f"operating collectors needs an operator or admin token; this token's role is "
                                f"{_role_of(exc.message)}") from None
        raise
    assert record is not None  # "operate" is never a public scope
    return record


def _role_of(message: str) -> str:
    # require() names the role in its message: "the token's role (viewer) does not have ..."
    start, end = message.find("("), message.find(")")
    return message[start + 1:end] if 0 <= start < end else "not allowed to"


Operator = Annotated[dict[str, Any], Depends(operator_token)]


def _client(request: Request) -> Any:
    return request.app.state.ctx.client


def _view(cid: str, h: dict[str, Any]) -> dict[str, Any]:
    """One collector as the API shows it: the health fields plus what an operator needs to read at a glance."""
    out: dict[str, Any] = {"id": cid, **h}
    recorded = h.get("state")
    out["enabled"] = recorded != "disabled"
    # A pause takes effect at once for the operator (the runtime records `paused` at its next due run).
    if h.get("paused") and recorded not in control.NOT_RUNNING:
        out["state"] = "paused"
    elif recorded == "paused":
        out["state"] = "scheduled"  # resumed: it runs when next due, and the runtime records the outcome
    return out


async def _read_one(request: Request, cid: str) -> dict[str, Any]:
    h = await health.read_one(_client(request), cid)
    if h is None:
        raise _unknown(cid)
    return _view(cid, h)


def _unknown(cid: str) -> ApiError:
    return ApiError(404, "unknown collector; GET /api/v1/collectors lists them", field="collector_id", value=cid)


async def _who(request: Request) -> dict[str, Any]:
    """Who is asking, so the operator page can offer its buttons only to those the server will obey."""
    try:
        record = await identify(request)
    except ApiError:
        record = None
    if record is None:
        return {"role": None, "can_operate": False}
    return {"role": record["role"], "name": record["name"], "can_operate": "operate" in record["scopes"]}


@router.get("/api/v1/collectors", response_class=JSON, response_model=schemas.CollectorsOut,
            responses=documented(401, 403, 503),
            summary="Every collector's health: state, last run, last success, last error, samples, next run")
async def list_collectors(request: Request, _auth: Reader) -> JSON:
    states = await health.read_all(_client(request))
    rows = [_view(cid, h) for cid, h in states.items()]
    return JSON({"generated_at": time.time(), "you": await _who(request), "collectors": rows})


@router.get("/api/v1/collectors/{collector_id}", response_class=JSON, response_model=schemas.CollectorDetailOut,
            responses=documented(404, 401, 403, 422, 503),
            summary="One collector's health, with its recent rejections from the dead-letter stream")
async def get_collector(
    request: Request,
    collector_id: str,
    _auth: Reader,
    rejections: Annotated[int, Query(ge=0, le=200, description="how many recent rejections to include")] = 20,
) -> JSON:
    view = await _read_one(request, collector_id)
    view["recent_rejections"] = (await health.recent_rejections(_client(request), collector_id, rejections)
                                 if rejections else [])
    return JSON(view)


@router.post("/api/v1/collectors/{collector_id}/run", response_class=JSON, status_code=202,
             response_model=schemas.CollectorOut, responses=documented(404, 409, 401, 403, 422, 503),
             summary="Run a collector now (operator or admin token); 409 when it is paused or not running")
async def run_now(request: Request, collector_id: str, record: Operator) -> JSON:
    client = _client(request)
    h = await health.read_one(client, collector_id)
    refused = control.run_now_refusal(h)
    if refused is not None:
        raise _refusal_error(collector_id, refused)
    assert h is not None
    view = _view(collector_id, h)
    view["run_now_requested"] = await control.request_run(client, collector_id)
    await audited(request, record, "collector.run", target=collector_id)
    return JSON(view, status_code=202)


def _refusal_error(cid: str, refused: control.RunNowRefused) -> ApiError:
    if refused.reason is control.Refusal.UNKNOWN:
        return _unknown(cid)
    if refused.reason is control.Refusal.PAUSED:
        return ApiError(409, "the collector is paused; resume it first", field="collector_id", value=cid)
    where = refused.file or "collectors/"
    return ApiError(409, f"the collector is {refused.state}; fix or enable its file ({where}) and it runs again",
                    field="collector_id", value=cid)


@router.post("/api/v1/collectors/{collector_id}/pause", response_class=JSON, response_model=schemas.CollectorOut,
             responses=documented(404, 401, 403, 422, 503),
             summary="Pause a collector (operator or admin token): it skips its runs until resumed")
async def pause(request: Request, collector_id: str, record: Operator) -> JSON:
    await _read_one(request, collector_id)
    await control.pause(_client(request), collector_id)
    await audited(request, record, "collector.pause", target=collector_id)
    return JSON(await _read_one(request, collector_id))


@router.post("/api/v1/collectors/{collector_id}/resume", response_class=JSON, response_model=schemas.CollectorOut,
             responses=documented(404, 401, 403, 422, 503),
             summary="Resume a paused collector (operator or admin token)")
async def resume(request: Request, collector_id: str, record: Operator) -> JSON:
    await _read_one(request, collector_id)
    await control.resume(_client(request), collector_id)
    await audited(request, record, "collector.resume", target=collector_id)
    return JSON(await _read_one(request, collector_id))
