"""The citizens' API `/api/v1/public/...`: no token ever, only the catalog's `public: true` indicators, each answer
computed once per period and served with a strong ETag (web.public_cache)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from situationroom.status import StatusId
from situationroom.web import public_state
from situationroom.web.errors import ApiError, documented
from situationroom.web.indicators_api import app_series_past
from situationroom.web.public_cache import Cached

router = APIRouter(tags=["public"])
HOURS_MAX = 48
"""The longest past one answer gives: a day and a night either side of now is what the page draws."""
ERRORS = (422, 503)


# ---------------------------------------------------------------------------------------------- answers

class Clock(BaseModel):
    """The simulated clock of a replay: simulated = start + (real − anchor) × speed (times are already shown in it)."""

    speed: float
    start: float
    anchor: float
    duration: float | None = None
    loop: bool | None = None
    name_ko: str | None = None
    name_en: str | None = None


class Reading(BaseModel):
    indicator: str
    entity: str
    entity_ko: str
    entity_en: str
    value: float
    ts: float = Field(description="event time, epoch seconds (simulated during a replay when `exercise`)")
    status: StatusId = Field(description="on the one status scale (docs/streams.md)")
    exercise: bool = Field(description="simulated (exercise) data, not the real situation")


class Label(BaseModel):
    ko: str
    en: str


class PublicIndicator(BaseModel):
    id: str
    name_ko: str
    name_en: str
    unit: str
    unit_en: str
    domain: str
    decimals: int
    source: str
    licence: str = Field(description="terms of reuse (kogl-1..kogl-4: 공공누리 types)")
    labels: dict[str, Label] | None = Field(description="what coded values mean (advisory levels)")
    direction: Literal["above", "below"] = Field(description="which way is bad")
    status: StatusId = Field(description="the worst status of its places")
    now: Reading | None = Field(description="the reading of its worst place, None when none reports")
    places: int
    reporting: int = Field(description="places with a value")


class District(BaseModel):
    code: str = Field(description="행정동 code")
    name_ko: str
    name_en: str
    gu: str | None
    status: StatusId = Field(description="the worst status over the public indicators measured in it")
    readings: list[Reading] = Field(description="each public indicator's worst reading in it, worst first")


class StatusOut(BaseModel):
    generated_at: float
    city: dict[str, Any]
    exercise: bool = Field(description="some of what is shown is simulated (exercise) data")
    clock: Clock | None
    indicators: list[PublicIndicator]
    districts: list[District]
    domains: list[dict[str, Any]]


class Point(BaseModel):
    t: float = Field(description="start of the bucket, epoch seconds (simulated during a replay when `exercise`)")
    value: float = Field(description="the value of the worst place within the bucket (`aggregate` of the series)")
    count: int


class Series(BaseModel):
    indicator: str
    unit: str
    unit_en: str
    aggregate: Literal["max", "min"] = Field(description="max: the highest place each bucket; min where low is bad")
    resolution: Literal["1m", "1h"] = Field(description="hours; minutes during a replay, whose simulated day passes "
                                                        "in real minutes")
    exercise: bool
    points: list[Point]


class HistoryOut(BaseModel):
    generated_at: float
    to: float
    hours: int = Field(description="hours shown (simulated hours during a replay)")
    utc_offset_s: float = Field(description="the city's offset from UTC now, for local hours on an axis")
    clock: Clock | None
    series: list[Series]



class PublicMessage(BaseModel):
    id: str
    ts: float
    severity: Literal["info", "warning", "critical"]
    step_ko: str = Field(description="안전안내, 긴급재난 or 위급재난")
    step_en: str
    text_ko: str
    text_en: str
    areas_ko: list[str]
    areas_en: list[str]
    exercise: bool


class MessagesOut(BaseModel):
    generated_at: float
    published: bool = Field(description="whether the catalog makes disaster texts public (else none are given)")
    clock: Clock | None
    messages: list[PublicMessage]


# ---------------------------------------------------------------------------------------------- routes

def install(app: FastAPI) -> None:
    """The routes, and one memory of answers per route for this app (web.public_cache)."""
    period = app.state.ctx.settings.public_cache
    ctx = app.state.ctx

    async def status_body() -> bytes:
        return orjson.dumps(await public_state.current(ctx))

    async def history_body(indicators: tuple[str, ...], hours: int) -> bytes:
        inds = [ctx.catalog.indicators[i] for i in indicators]
        return orjson.dumps(await public_state.history(ctx, app_series_past(app), inds, hours))

    async def messages_body(hours: int) -> bytes:
        return orjson.dumps(await public_state.messages(ctx, hours))

    app.state.public_answers = {name: Cached(make, period, "application/json") for name, make in
                                (("status", status_body), ("history", history_body), ("messages", messages_body))}
    app.include_router(router)


def _answers(request: Request) -> dict[str, Cached]:
    return request.app.state.public_answers


Hours = Annotated[int, Query(ge=1, le=HOURS_MAX, description=f"how many hours back from now (1..{HOURS_MAX})")]


@router.get("/api/v1/public/status", response_model=StatusOut, responses=documented(*ERRORS),
            summary="Citizens: each public indicator now and the status of each 행정동 (no token)")
async def public_status(request: Request) -> Response:
    return await _answers(request)["status"].respond(request)


@router.get("/api/v1/public/history", response_model=HistoryOut, responses=documented(*ERRORS),
            summary="Citizens: the last hours of the public indicators, the worst place each hour (no token)")
async def public_history(
    request: Request,
    indicator: Annotated[list[str] | None, Query(description="a public indicator's id, repeatable; default all")]
    = None,
    hours: Hours = 24,
) -> Response:
    public = {i.id for i in public_state.public_indicators(request.app.state.ctx.catalog)}
    for ind in indicator or []:
        if ind not in public:
            # The same answer for an unknown id and a non-public one: what is not public is not even named.
            raise ApiError(422, "not a public indicator (GET /api/v1/public/status lists them)", field="indicator",
                           value=ind)
    chosen = tuple(sorted(set(indicator))) if indicator else tuple(sorted(public))
    return await _answers(request)["history"].respond(request, chosen, hours)


@router.get("/api/v1/public/messages", response_model=MessagesOut, responses=documented(*ERRORS),
            summary="Citizens: the latest disaster text messages (재난문자), newest first (no token)")
async def public_messages(request: Request, hours: Hours = 24) -> Response:
    return await _answers(request)["messages"].respond(request, hours)

