"""The HTTP API v1: indicators with live values, history, push ingest, health, metrics (collectors: collectors_api)."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from situationroom import live
from situationroom import samples as samples_mod
from situationroom.catalog import Indicator
from situationroom.web import schemas
from situationroom.web.auth import require
from situationroom.web.errors import ApiError, documented
from situationroom.web.jsonio import JSON, JSONBodyRoute

router = APIRouter(route_class=JSONBodyRoute)
Reader = Annotated[Any, Depends(require("read"))]
READ_ERRORS = (401, 403, 422, 503)

def _ctx(request: Request) -> Any:
    return request.app.state.ctx


def _indicator_info(ind: Indicator) -> dict[str, Any]:
    return {
        "id": ind.id, "name_ko": ind.name_ko, "name_en": ind.name_en, "unit": ind.unit,
        "domain": ind.domain, "interval_s": ind.interval, "source": ind.source, "decimals": ind.decimals,
        "thresholds": ind.thresholds.model_dump() if ind.thresholds else None,
    }


def _public_state(state: dict[str, Any]) -> dict[str, Any]:
    return {"value": state["v"], "ts": state["t"] / 1000, "status": state["st"],
            "since": state["since"] / 1000, "interval_s": state["n"], "exercise": bool(state.get("x"))}


Mode = Annotated[Literal["shown", "real", "exercise"],
                 Query(description="shown: what the wall shows (a fresh exercise series, marked `exercise`, else "
                                   "the real one); real: real data only; exercise: exercise data only")]


@router.get("/api/v1/indicators", response_class=JSON, tags=["indicators"], response_model=schemas.IndicatorsOut,
            responses=documented(*READ_ERRORS), summary="The catalog with live values and statuses")
async def list_indicators(
    request: Request,
    _auth: Reader,
    domain: Annotated[str | None, Query(description="only this domain (e.g. environment)")] = None,
    mode: Mode = "shown",
) -> JSON:
    ctx = _ctx(request)
    catalog = ctx.catalog
    if domain is not None and domain not in catalog.domains:
        raise ApiError(422, f"unknown domain; known: {', '.join(catalog.domains)}", field="domain", value=domain)
    inds = [i for i in catalog.indicators.values() if domain is None or i.domain == domain]
    states = await live.read(ctx.client, [i.id for i in inds], ctx.settings.stale_grace, mode)
    out = []
    for ind in inds:
        st = states[ind.id]
        item = _indicator_info(ind)
        item.update(live.summarize(catalog, ind.id, st))
        item["entities"] = [
            {"id": e, **(_public_state(st[e]) if e in st else {"value": None, "ts": None, "status": "unknown"})}
            for e in catalog.entities_of(ind.id)
        ]
        out.append(item)
    return JSON({"generated_at": time.time(), "city": catalog.city.model_dump(),
                 "domains": [d.model_dump() for d in catalog.domains.values()], "indicators": out})


def _get_indicator(request: Request, indicator_id: str) -> Indicator:
    ind = _ctx(request).catalog.indicators.get(indicator_id)
    if ind is None:
        raise ApiError(404, "unknown indicator", field="indicator_id", value=indicator_id)
    return ind


@router.get("/api/v1/indicators/{indicator_id}", response_class=JSON, tags=["indicators"],
            response_model=schemas.IndicatorOut, responses=documented(404, *READ_ERRORS),
            summary="One indicator, per entity: value, windows, change rate, status")
async def get_indicator(request: Request, indicator_id: str, _auth: Reader, mode: Mode = "shown") -> JSON:
    ctx = _ctx(request)
    ind = _get_indicator(request, indicator_id)
    st = (await live.read(ctx.client, [ind.id], ctx.settings.stale_grace, mode))[ind.id]
    entities = []
    for eid in ctx.catalog.entities_of(ind.id):
        ent = ctx.catalog.entities[eid]
        th = ind.thresholds_for(eid)
        item: dict[str, Any] = {"id": eid, "kind": ent.kind, "name_ko": ent.name_ko, "name_en": ent.name_en,
                                "district": ent.district,
                                "thresholds": th.model_dump() if th else None}
        s = st.get(eid)
        if s is None:
            item.update({"value": None, "ts": None, "status": "unknown", "windows": {}, "rate_per_min": None,
                         "exercise": False})
        else:
            item.update(_public_state(s))
            item["previous_status"] = s.get("ps")
            item["rate_per_min"] = s.get("r")
            item["windows"] = {
                name: {"count": w[0], "mean": w[1], "min": w[2], "max": w[3]} for name, w in (s.get("w") or {}).items()
            }
        entities.append(item)
    return JSON({**_indicator_info(ind), **live.summarize(ctx.catalog, ind.id, st), "entities": entities})


@router.get("/api/v1/indicators/{indicator_id}/history", response_class=JSON, tags=["indicators"],
            response_model=schemas.HistoryOut, responses=documented(404, *READ_ERRORS),
            summary="History of one series: raw samples (last hour) or 1-minute / 1-hour buckets")
async def get_history(
    request: Request,
    indicator_id: str,
    _auth: Reader,
    entity: Annotated[str | None, Query(description="entity id; optional when the indicator has one")] = None,
    start: Annotated[str | None, Query(alias="from", description="epoch seconds or ISO 8601; default 1 h ago")] = None,
    end: Annotated[str | None, Query(alias="to", description="epoch seconds or ISO 8601; default now")] = None,
    resolution: Annotated[Literal["raw", "1m", "1h"], Query()] = "1m",
    mode: Mode = "shown",
) -> JSON:
    ctx = _ctx(request)
    ind = _get_indicator(request, indicator_id)
    entities = ctx.catalog.entities_of(ind.id)
    if entity is None:
        if len(entities) != 1:
            raise ApiError(422, f"give an entity; {ind.id} is measured for {len(entities)}", field="entity",
                           value=None)
        entity = entities[0]
    elif entity not in entities:
        raise ApiError(422, f"entity is not measured for {ind.id}", field="entity", value=entity)
    now = time.time()
    t_end = _parse_time(end, "to", now)
    t_start = _parse_time(start, "from", t_end - 3600)
    if t_start > t_end:
        raise ApiError(422, "from must not be after to", field="from", value=start)
    if mode == "shown":
        state = (await live.read(ctx.client, [ind.id], ctx.settings.stale_grace))[ind.id].get(entity)
        exercise = bool(state and state.get("x"))
    else:
        exercise = mode == "exercise"
    points = await live.history(ctx.client, ind.id, entity, resolution, t_start, t_end, exercise)
    return JSON({"indicator": ind.id, "entity": entity, "resolution": resolution, "from": t_start, "to": t_end,
                 "unit": ind.unit, "exercise": exercise, "points": points})


def _parse_time(value: str | None, name: str, default: float) -> float:
    if value is None:
        return default
    try:
        return samples_mod.parse_ts(value)
    except ValueError as exc:
        raise ApiError(422, str(exc), field=name, value=value) from None
