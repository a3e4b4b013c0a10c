"""The HTTP API v1: indicators with live values, history, push ingest, health, metrics (collectors: collectors_api)."""

from __future__ import annotations

import math
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request

from situationroom import live
from situationroom import samples as samples_mod
from situationroom.catalog import Catalog, Indicator
from situationroom.history.query import HistoryQuery
from situationroom.history.seam import NEVER, Ask, Past, SeriesPast
from situationroom.history.store import store_for
from situationroom.web import clearance, schemas
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
        "public": ind.public, "licence": ind.licence, "access": ind.audience,
        "restricted_to": list(ind.restricted.departments) if ind.restricted else None,
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
    caller: Reader,
    domain: Annotated[str | None, Query(description="only this domain (e.g. environment)")] = None,
    mode: Mode = "shown",
) -> JSON:
    ctx = _ctx(request)
    catalog = ctx.catalog
    if domain is not None and domain not in catalog.domains:
        raise ApiError(422, f"unknown domain; known: {', '.join(catalog.domains)}", field="domain", value=domain)
    inds = [i for i in catalog.indicators.values() if domain is None or i.domain == domain]
    hidden = clearance.hidden(request, caller)
    states = await live.read(ctx.client, [i.id for i in inds if i.id not in hidden], ctx.settings.stale_grace, mode)
    out = []
    for ind in inds:
        # A restricted indicator is listed to everyone (that it exists is no secret); its figures only to its readers.
        st = states.get(ind.id, {})
        item = _indicator_info(ind)
        item["withheld"] = ind.id in hidden
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
async def get_indicator(request: Request, indicator_id: str, caller: Reader, mode: Mode = "shown") -> JSON:
    ctx = _ctx(request)
    ind = _get_indicator(request, indicator_id)
    clearance.check_read(request, caller, ind)
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


HISTORY_RAW_MAX_S = 7 * 86_400
"""The longest range of raw samples one answer gives (a year of them would be millions of points)."""
HISTORY_BUCKETS_MAX = 200_000
"""The most buckets one series of an answer may span (a year at 1 minute is 525,600: ask 1h or 1d)."""
BUCKET_S = {"raw": 1, "1m": 60, "1h": 3600, "1d": 86_400}


@router.get("/api/v1/indicators/{indicator_id}/history", response_class=JSON, tags=["indicators"],
            response_model=schemas.HistoryOut, responses=documented(404, *READ_ERRORS),
            summary="History of one or several series over any range: the history store, then Redis for the "
                    "recent part, as one answer")
async def get_history(
    request: Request,
    indicator_id: str,
    caller: Reader,
    entity: Annotated[list[str] | None, Query(description="entity id, repeatable; optional when the indicator "
                                                          "has one, or with district or gu")] = None,
    district: Annotated[str | None, Query(description="every entity of the indicator in this district (a "
                                                      "행정동 or gu code)")] = None,
    gu: Annotated[str | None, Query(description="every entity of the indicator in this gu")] = None,
    start: Annotated[str | None, Query(alias="from", description="epoch seconds or ISO 8601; default 1 h ago")] = None,
    end: Annotated[str | None, Query(alias="to", description="epoch seconds or ISO 8601; default now")] = None,
    resolution: Annotated[Literal["raw", "1m", "1h", "1d"],
                          Query(description="raw samples, or buckets of a minute, an hour or a local day")] = "1m",
    aggregate: Annotated[Literal["mean", "min", "max", "sum", "count", "last"] | None,
                         Query(description="one value per bucket over every entity asked for")] = None,
    mode: Mode = "shown",
) -> JSON:
    ctx = _ctx(request)
    ind = _get_indicator(request, indicator_id)
    clearance.check_read(request, caller, ind)
    entities = entities_asked(ctx.catalog, ind, entity or [], district, gu)
    t_start, t_end = checked_range(start, end, resolution, aggregate, capped=True)
    if mode == "shown":
        states = (await live.read(ctx.client, [ind.id], ctx.settings.stale_grace))[ind.id]
        exercise = any(states.get(e, {}).get("x") for e in entities)
    else:
        exercise = mode == "exercise"
    ask = Ask(ind.id, tuple(entities), int(t_start * 1000), int(t_end * 1000), resolution,
              combined=aggregate is not None, exercise=exercise)
    past = await series_past(request).read(ask)
    body: dict[str, Any] = {
        "indicator": ind.id, "entity": entities[0] if len(entities) == 1 else None, "entities": entities,
        "resolution": resolution, "aggregate": aggregate, "from": t_start, "to": t_end, "unit": ind.unit,
        "exercise": exercise, "seam": past.seam_ms / 1000 if 0 < past.seam_ms < NEVER else None}
    if aggregate is not None:
        body["points"] = [{"t": b.start / 1000, "value": _finite(b.value(aggregate)), "count": b.count}
                          for b in past.buckets.get(None, [])]
        return JSON(body)
    series = [{"entity": e, "points": _points(past, e)} for e in entities]
    if len(entities) == 1:
        body["points"] = series[0]["points"]
    else:
        body["points"] = []
        body["series"] = series
    return JSON(body)


def checked_range(start: str | None, end: str | None, resolution: str, aggregate: str | None, *,
                  capped: bool) -> tuple[float, float]:
    """The range (epoch seconds) a history request asks for, `from` defaulting to an hour before `to` and `to` to
    now; 422 naming the parameter when it is not one. `capped`: within what one JSON answer may hold (an export
    streams any range)."""
    t_end = _parse_time(end, "to", time.time())
    t_start = _parse_time(start, "from", t_end - 3600)
    if t_start > t_end:
        raise ApiError(422, "from must not be after to", field="from", value=start)
    if resolution == "raw" and aggregate is not None:
        raise ApiError(422, "raw samples are not aggregated: ask for 1m, 1h or 1d buckets", field="aggregate",
                       value=aggregate)
    if capped and resolution == "raw" and t_end - t_start > HISTORY_RAW_MAX_S:
        raise ApiError(422, f"raw samples are given for at most {HISTORY_RAW_MAX_S // 86_400} days: ask for "
                            "buckets (1m, 1h, 1d) or a shorter range", field="from", value=start)
    if capped and resolution != "raw" and (t_end - t_start) / BUCKET_S[resolution] > HISTORY_BUCKETS_MAX:
        raise ApiError(422, f"the range spans more than {HISTORY_BUCKETS_MAX} buckets of {resolution}: ask for a "
                            "coarser resolution or a shorter range", field="from", value=start)
    return t_start, t_end


def entities_asked(catalog: Catalog, ind: Indicator, given: list[str], district: str | None,
                    gu: str | None) -> list[str]:
    """The entities a history request names: each `entity`, and every entity of the indicator in `district` or
    `gu`; the indicator's one entity when none is named."""
    measured = catalog.entities_of(ind.id)
    for e in given:
        if e not in measured:
            raise ApiError(422, f"entity is not measured for {ind.id}", field="entity", value=e)
    chosen = list(given)
    for name, area in (("district", district), ("gu", gu)):
        if area is None:
            continue
        found = catalog.entities.get(area)
        if found is None or (name == "gu" and found.kind != "gu"):
            known = "a gu" if name == "gu" else "a district (행정동 or gu)"
            raise ApiError(422, f"{name} is not {known} of the catalog", field=name, value=area)
        inside = [e for e in measured
                  if e == area or catalog.entities[e].district == area or catalog.gu_of(e) == area]
        if not inside:
            raise ApiError(422, f"no entity of {ind.id} lies in {area}", field=name, value=area)
        chosen += inside
    if not chosen:
        if len(measured) != 1:
            raise ApiError(422, f"give an entity; {ind.id} is measured for {len(measured)}", field="entity",
                           value=None)
        chosen = [measured[0]]
    return list(dict.fromkeys(chosen))


def series_past(request: Request) -> SeriesPast:
    """The app's reader of the past: one DuckDB connection over the history store, made at first use."""
    return app_series_past(request.app)


def app_series_past(app: FastAPI) -> SeriesPast:
    """`series_past` for what has the app but no request (an answer computed once for many requests)."""
    found: SeriesPast | None = getattr(app.state, "series_past", None)
    if found is None:
        ctx = app.state.ctx
        found = SeriesPast(ctx.client, HistoryQuery(store_for(ctx.settings)), ctx.settings, ctx.catalog.city.timezone)
        app.state.series_past = found
    return found


def _points(past: Past, entity: str) -> list[dict[str, Any]]:
    if entity in past.raw:
        return [{"t": ts / 1000, "value": value} for ts, value in past.raw[entity]]
    return [{"t": b.start / 1000, "count": b.count, "sum": b.sum, "mean": b.mean, "min": b.min, "max": b.max,
             "last": b.last} for b in past.buckets.get(entity, [])]


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _parse_time(value: str | None, name: str, default: float) -> float:
    if value is None:
        return default
    try:
        return samples_mod.parse_ts(value)
    except ValueError as exc:
        raise ApiError(422, str(exc), field=name, value=value) from None
