"""The collectors API: every collector's health, and run now / pause / resume for operators."""

from __future__ import annotations

import math
import time
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request

from situationroom import keys
from situationroom.collectors import health
from situationroom.web import schemas
from situationroom.web.auth import audited, identify, require
from situationroom.web.errors import ApiError, documented
from situationroom.web.jsonio import JSON, JSONBodyRoute

router = APIRouter(tags=["collectors"], route_class=JSONBodyRoute)
Reader = Annotated[Any, Depends(require("read"))]

# States in which a collector does not run at all, so run now / pause have nothing to act on.
NOT_RUNNING = {"disabled", "invalid"}
# How far back the dead-letter stream is searched for one collector's rejections.
DEADLETTER_SCAN = 2000


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


def _view(cid: str, h: dict[str, Any], control: dict[bytes, bytes] | None = None) -> dict[str, Any]:
    """One collector as the API shows it: the health fields plus what an operator needs to read at a glance."""
    out: dict[str, Any] = {"id": cid, **h}
    recorded = h.get("state")
    out["enabled"] = recorded != "disabled"
    # A pause takes effect at once for the operator (the runtime records `paused` at its next due run).
    if h.get("paused") and recorded not in NOT_RUNNING:
        out["state"] = "paused"
    elif recorded == "paused":
        out["state"] = "scheduled"  # resumed: it runs when next due, and the runtime records the outcome
    out["run_now_requested"] = _requested_at((control or {}).get(b"run_now"))
    return out


def _requested_at(raw: bytes | None) -> float | None:
    """When run now was asked for. Controls may be set by hand (`HSET ... run_now yes`), so a value that is
    not a time is shown as no request rather than failing the whole listing."""
    if not raw:
        return None
    try:
        at = float(raw)
    except ValueError:
        return None
    return at if math.isfinite(at) else None


async def _read_one(request: Request, cid: str) -> dict[str, Any]:
    client = _client(request)
    h = await health.read_one(client, cid)
    if h is None:
        raise ApiError(404, "unknown collector; GET /api/v1/collectors lists them", field="collector_id", value=cid)
    return _view(cid, h, await client.hgetall(keys.collector_control(cid)))


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
    client = _client(request)
    states = await health.read_all(client)
    pipe = client.pipeline(transaction=False)
    for cid in states:
        pipe.hget(keys.collector_control(cid), "run_now")
    pending = await pipe.execute() if states else []
    rows = [_view(cid, h, {b"run_now": p} if p else None) for (cid, h), p in zip(states.items(), pending, strict=True)]
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
    view["recent_rejections"] = await _rejections(request, collector_id, rejections) if rejections else []
    return JSON(view)


async def _rejections(request: Request, cid: str, limit: int) -> list[dict[str, Any]]:
    entries = await _client(request).xrevrange(keys.deadletter(), count=DEADLETTER_SCAN)
    out: list[dict[str, Any]] = []
    for entry_id, fields in entries:
        if fields.get(b"source", b"").decode() != cid:
            continue
        value = fields.get(b"value", b"").decode()
        try:
            parsed: Any = orjson.loads(value) if value else None
        except orjson.JSONDecodeError:
            parsed = value
        out.append({"id": entry_id.decode(), "at": int(fields.get(b"at", b"0")) / 1000,
                    "field": fields.get(b"field", b"").decode() or None,
                    "reason": fields.get(b"reason", b"").decode(), "value": parsed})
        if len(out) >= limit:
            break
    return out


@router.post("/api/v1/collectors/{collector_id}/run", response_class=JSON, status_code=202,
             response_model=schemas.CollectorOut, responses=documented(404, 409, 401, 403, 422, 503),
             summary="Run a collector now (operator or admin token); 409 when it is paused or not running")
async def run_now(request: Request, collector_id: str, record: Operator) -> JSON:
    view = await _read_one(request, collector_id)
    if view["paused"]:
        raise ApiError(409, "the collector is paused; resume it first", field="collector_id", value=collector_id)
    if view["state"] in NOT_RUNNING:
        where = view.get("file") or "collectors/"
        raise ApiError(409, f"the collector is {view['state']}; fix or enable its file ({where}) and it runs again",
                       field="collector_id", value=collector_id)
    at = time.time()
    await _client(request).hset(keys.collector_control(collector_id), "run_now", f"{at:.3f}")
    await audited(request, record, "collector.run", target=collector_id)
    view["run_now_requested"] = at
    return JSON(view, status_code=202)


@router.post("/api/v1/collectors/{collector_id}/pause", response_class=JSON, response_model=schemas.CollectorOut,
             responses=documented(404, 401, 403, 422, 503),
             summary="Pause a collector (operator or admin token): it skips its runs until resumed")
async def pause(request: Request, collector_id: str, record: Operator) -> JSON:
    await _read_one(request, collector_id)
    client = _client(request)
    pipe = client.pipeline(transaction=True)
    pipe.hset(keys.collector_control(collector_id), "paused", "1")
    pipe.hdel(keys.collector_control(collector_id), "run_now")  # a paused collector must not run
    await pipe.execute()
    await audited(request, record, "collector.pause", target=collector_id)
    return JSON(await _read_one(request, collector_id))


@router.post("/api/v1/collectors/{collector_id}/resume", response_class=JSON, response_model=schemas.CollectorOut,
             responses=documented(404, 401, 403, 422, 503),
             summary="Resume a paused collector (operator or admin token)")
async def resume(request: Request, collector_id: str, record: Operator) -> JSON:
    await _read_one(request, collector_id)
    await _client(request).hdel(keys.collector_control(collector_id), "paused")
    await audited(request, record, "collector.resume", target=collector_id)
    return JSON(await _read_one(request, collector_id))
