"""The incidents API: declare a situation level for a hazard and area, raise, lower and end it, add notes, and read
incidents with their timelines (JSON or CSV); docs/incidents.md."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

import redis.asyncio as aioredis
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from situationroom import access, audit
from situationroom.errors import ConfigError
from situationroom.incidents import actions, gather, present
from situationroom.incidents import store as incident_store
from situationroom.incidents.hazards import site_hazards
from situationroom.web import clearance, pushwatch
from situationroom.web.auth import address, require
from situationroom.web.errors import ApiError, documented
from situationroom.web.jsonio import JSON, JSONBodyRoute

log = logging.getLogger(__name__)


async def open_frame(app: FastAPI, client: aioredis.Redis) -> dict[str, Any]:
    """The `incidents` control frame: the open incidents as `GET /api/v1/incidents?state=open` lists them (the wall
    follows them; docs/websocket.md)."""
    hazards = app.state.hazards
    if isinstance(hazards, ConfigError):
        return {"type": "incidents", "incidents": []}
    found = sorted(await incident_store.read_open(client), key=lambda i: i.opened, reverse=True)
    return {"type": "incidents", "incidents": [present.describe(i, hazards, app.state.ctx.catalog) for i in found]}


# The open pages learn of a declaration, a change of level and an end within a look (pushwatch.WATCH_EVERY).
router = APIRouter(route_class=JSONBodyRoute, tags=["incidents"],
                   lifespan=pushwatch.watching("incidents-watcher", open_frame))
Reader = Annotated[Any, Depends(require("read"))]
Staff = Annotated[Any, Depends(require("staff"))]
READ_ERRORS = (401, 403, 422, 503)
CHANGE_ERRORS = (400, 401, 403, 404, 409, 413, 415, 422, 503)


class IncidentOut(BaseModel):
    id: str
    hazard: str
    hazard_ko: str
    hazard_en: str
    area: str = Field(description="the city's id, a gu's or a 행정동's code")
    area_ko: str
    area_en: str
    level: int = Field(description="the level's position on its scale, 1 = lowest")
    level_ko: str
    level_en: str
    scale_ko: str | None
    scale_en: str | None
    state: Literal["open", "closed"]
    exercise: bool = Field(description="an exercise (훈련) incident: declared during a drill, or marked so")
    drill: str | None
    opened: int = Field(description="epoch ms of the declaration")
    opened_by: str
    reason: str
    closed: int | None
    closed_by: str | None
    closed_reason: str | None
    updated: int
    dashboards: list[str] = Field(description="the dashboards the wall shows for the hazard")
    status: Literal["info", "warning", "critical", "severe"] = Field(
        description="the status of the one scale the level is coloured with: a scale's top level is severe (심각), "
                    "each level below one step lower, down to info (관심)")


class IncidentsOut(BaseModel):
    incidents: list[IncidentOut]
    count: int


class EntryOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str = Field(description="the order it was recorded in (a stream id)")
    at: int = Field(description="epoch ms of what it says happened")
    kind: Literal["declared", "level", "ended", "note", "alert", "silence", "message"]
    event: str | None = Field(None, description="alert: fired, raised, lowered, escalated, acknowledged, silenced, "
                                                "resolved; level: raised, lowered; message: its kind")
    by: str | None = None
    text: str | None = None
    indicator: str | None = None
    exercise: bool = False


class TimelineOut(BaseModel):
    incident: IncidentOut
    entries: list[EntryOut]
    count: int
    withheld: int = Field(description="entries about restricted indicators the caller may not read, left out")


class NoteOut(BaseModel):
    incident: IncidentOut
    entry: EntryOut


def _site(request: Request) -> actions.Site:
    ctx = request.app.state.ctx
    hazards = request.app.state.hazards
    if isinstance(hazards, ConfigError):
        raise ApiError(503, f"the hazards file does not load: {hazards}", field="hazards")
    return actions.Site(ctx.client, ctx.catalog, hazards, ctx.settings)


def _public(site: actions.Site, incident: incident_store.Incident) -> dict[str, Any]:
    return present.describe(incident, site.hazards, site.catalog)


def _acting(request: Request, record: dict[str, Any]) -> tuple[audit.Actor, str, access.Who]:
    w = access.who(record, request.app.state.notify.people)
    return audit.Actor.of_token(record, address(request)), w.actor, w


def _operator(request: Request, record: dict[str, Any]) -> tuple[audit.Actor, str]:
    actor, by, w = _acting(request, record)
    access.check_declare(w)  # its refusal is answered by the app's handler (web/errors.py)
    return actor, by


async def _found(site: actions.Site, incident_id: str) -> incident_store.Incident:
    incident = await incident_store.read(site.client, incident_id)
    if incident is None:
        raise ApiError(404, "no such incident", field="id", value=incident_id)
    return incident


@router.get("/api/v1/incidents", response_class=JSON, response_model=IncidentsOut, responses=documented(*READ_ERRORS),
            summary="Incidents: the open ones first, then the most recently declared")
async def list_incidents(
    request: Request, _: Reader,
    state: Annotated[Literal["open", "closed", "all"], Query(description="open, closed or all")] = "all",
    hazard: Annotated[str | None, Query(description="a hazard id")] = None,
    area: Annotated[str | None, Query(description="an area: the city, a gu or a 행정동 code")] = None,
    mode: Annotated[Literal["real", "exercise", "all"], Query(description="real or exercise (훈련) incidents")] = "all",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JSON:
    site = _site(request)
    if hazard is not None and hazard not in site.hazards.by_id:
        raise ApiError(422, f"unknown hazard; hazards: {', '.join(site.hazards.by_id)}", field="hazard", value=hazard)
    problem = gather.area_problem(site.catalog, area) if area is not None else None
    if problem:
        raise ApiError(422, problem, field="area", value=area)
    found = [i for i in await incident_store.read_all(site.client)
             if (state == "all" or i.state == state) and (hazard is None or i.hazard == hazard)
             and (area is None or i.area == area) and (mode == "all" or i.exercise == (mode == "exercise"))]
    found.sort(key=lambda i: not i.is_open)  # stable: newest first within each
    out = [_public(site, i) for i in found[:limit]]
    return JSON({"incidents": out, "count": len(out)})


@router.post("/api/v1/incidents", response_class=JSON, status_code=201, response_model=IncidentOut,
             responses=documented(*CHANGE_ERRORS),
             summary="Declare a situation level for a hazard and area: opens an incident (operators, admins)")
async def declare(request: Request, record: Staff, data: actions.DeclareIn) -> JSON:
    site = _site(request)
    actor, by = _operator(request, record)
    incident = await actions.declare(site, actor, by, data)
    return JSON(_public(site, incident), status_code=201)


@router.get("/api/v1/incidents/{incident_id}", response_class=JSON, response_model=IncidentOut,
            responses=documented(404, *READ_ERRORS), summary="One incident, open or closed")
async def get_incident(request: Request, incident_id: str, _: Reader) -> JSON:
    site = _site(request)
    return JSON(_public(site, await _found(site, incident_id)))


async def _change(request: Request, record: dict[str, Any], incident_id: str,
                  act: Callable[..., Awaitable[incident_store.Incident]], data: BaseModel) -> JSON:
    site = _site(request)
    actor, by = _operator(request, record)
    return JSON(_public(site, await act(site, actor, by, incident_id, data)))


@router.post("/api/v1/incidents/{incident_id}/level", response_class=JSON, response_model=IncidentOut,
             responses=documented(*CHANGE_ERRORS),
             summary="Raise or lower an open incident's level, with the reason (operators, admins)")
async def change_level(request: Request, incident_id: str, record: Staff, data: actions.LevelIn) -> JSON:
    return await _change(request, record, incident_id, actions.set_level, data)


@router.post("/api/v1/incidents/{incident_id}/end", response_class=JSON, response_model=IncidentOut,
             responses=documented(*CHANGE_ERRORS),
             summary="End an incident's level: it closes and stays readable (operators, admins)")
async def end_incident(request: Request, incident_id: str, record: Staff, data: actions.EndIn) -> JSON:
    return await _change(request, record, incident_id, actions.end, data)


@router.post("/api/v1/incidents/{incident_id}/notes", response_class=JSON, status_code=201, response_model=NoteOut,
             responses=documented(*CHANGE_ERRORS),
             summary="Add a note to an open incident's timeline, optionally pinned to a time and an indicator (staff)")
async def add_note(request: Request, incident_id: str, record: Staff, data: actions.NoteIn) -> JSON:
    site = _site(request)
    actor, by, _ = _acting(request, record)
    ind = site.catalog.indicators.get(data.indicator or "")
    if ind is not None:
        clearance.check_read(request, record, ind)  # a note about figures the writer may not read is not theirs
    entry = await actions.note(site, actor, by, incident_id, data)
    incident = await _found(site, incident_id)
    return JSON({"incident": _public(site, incident), "entry": entry}, status_code=201)


CSV_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {"description": "the timeline (JSON), or with `format=csv` a CSV file (UTF-8 with BOM, city times)",
          "content": {"text/csv": {"schema": {"type": "string"}}}}}


@router.get("/api/v1/incidents/{incident_id}/timeline", response_class=JSON, response_model=TimelineOut,
            responses={**CSV_ANSWER, **documented(404, *READ_ERRORS)},
            summary="An incident's timeline in order: declarations, levels, notes, alerts, silences, messages")
async def timeline(request: Request, incident_id: str, caller: Reader,
                   format: Annotated[Literal["json", "csv"], Query(description="json or csv")] = "json") -> Response:
    site = _site(request)
    incident = await _found(site, incident_id)
    entries, withheld = present.ordered(await incident_store.read_timeline(site.client, incident_id),
                                        clearance.hidden(request, caller))
    if format == "csv":
        return Response(present.to_csv(entries, site.tz).encode(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="incident-{incident_id}.csv"'})
    return JSON({"incident": _public(site, incident), "entries": entries, "count": len(entries),
                 "withheld": withheld})


def install(app: FastAPI) -> None:
    """The routes, and the site's hazards (a file that does not load answers 503 naming its problems)."""
    ctx = app.state.ctx
    try:
        app.state.hazards = site_hazards(ctx.settings.seeds, ctx.settings.dashboards_dir, ctx.catalog)
    except ConfigError as exc:
        log.error("hazards: %s", exc)
        app.state.hazards = exc
    app.include_router(router)

