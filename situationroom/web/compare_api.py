"""A dashboard panel's comparison with the past (`compare:`): the dashed lines of a chart, or the value a KPI's
difference is taken to, read from the history store through the same seam as the history API and shifted onto the
chart's time axis (situationroom/compare.py says which period and by how much)."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from situationroom import compare
from situationroom import dashboards as dash
from situationroom.events import NONE, Events
from situationroom.history.seam import Ask
from situationroom.web import clearance
from situationroom.web.errors import ApiError, documented
from situationroom.web.indicators_api import READ_ERRORS, Reader, _parse_time, series_past
from situationroom.web.jsonio import JSON

router = APIRouter()


class ComparePointOut(BaseModel):
    t: float
    """Where it is drawn on the chart's axis (epoch s)."""
    stored_t: float
    """When it was measured (a bucket: its start)."""
    value: float | None


class CompareSeriesOut(BaseModel):
    entity: str
    points: list[ComparePointOut]


class CompareOut(BaseModel):
    """A panel's comparison: a chart's lines (`shift`, `start`, `end`, `resolution`, `series`) or a KPI's value at
    the same time (`entity`, `at`, `value`, `value_t`; `value` null when the past holds none)."""

    panel: str
    compare: str | dict[str, str]
    exercise: bool
    label: dict[str, str]
    shift: float | None = None
    start: float | None = None
    end: float | None = None
    resolution: str | None = None
    series: list[CompareSeriesOut] | None = None
    entity: str | None = None
    at: float | None = None
    value: float | None = None
    value_t: float | None = None
LONG_S = 12 * 3600
"""Up to this span a comparison is read in 1-minute buckets (the wall's own rule for a line's past)."""
BUCKET_S = {"raw": 0, "1m": 60, "1h": 3600, "1d": 86_400}


def view(panel: dash.PanelBase, events: Events) -> dict[str, Any] | None:
    """A panel's comparison as the page draws it: what, its legend entry (a KPI: the words after its difference), and
    the dataset an event's data is in."""
    value = getattr(panel, "compare", None)
    found = compare.parse(value, events, kpi=isinstance(panel, dash.KpiPanel))[0] if value is not None else None
    if found is None:
        return None
    out = {"kind": found.kind, "event": found.event, "dataset": compare.dataset(found, events),
           "label": {lang: compare.label(found, events, lang) for lang in ("ko", "en")}}
    if found.kind in compare.SAME_TIME:
        out["same_time"] = dict(zip(("ko", "en"), compare.SAME_TIME[found.kind], strict=True))
    return out


def resolution_for(span_s: float) -> str:
    """How finely a comparison over a span is read: raw samples up to an hour, 1-minute buckets up to half a day,
    hourly ones up to 90 days, days beyond (a few hundred points a line, as the wall reads a line's past)."""
    if span_s <= 3600:
        return "raw"
    if span_s <= LONG_S:
        return "1m"
    return "1h" if span_s <= 90 * 86_400 else "1d"


def _panel(request: Request, name: str, panel_id: str) -> tuple[dash.PanelBase, compare.Compare]:
    entry = request.app.state.dashboards.get(name)
    if entry is None or entry.dashboard is None:
        raise ApiError(404, f"no dashboard {name!r}", field="name", value=name)
    for p, page in enumerate(entry.dashboard.pages):
        for n, panel in enumerate(page.panels):
            if f"p{p}-{n}" != panel_id:
                continue
            value = getattr(panel, "compare", None)
            found = compare.parse(value, _events(request), kpi=isinstance(panel, dash.KpiPanel))[0] \
                if value is not None else None
            if found is None:
                raise ApiError(422, "this panel compares with nothing (no `compare` in its file)", field="panel_id",
                               value=panel_id)
            return panel, found
    raise ApiError(404, f"dashboard {name!r} has no panel {panel_id!r} (ids are p<page>-<panel>, from 0)",
                   field="panel_id", value=panel_id)


def _events(request: Request) -> Events:
    return getattr(request.app.state, "events", NONE)


@router.get("/api/v1/dashboards/{name}/compare/{panel_id}", response_class=JSON, tags=["dashboards"],
            response_model=CompareOut, responses=documented(404, *READ_ERRORS),
            summary="A panel's comparison with the past: a chart's dashed lines on its time axis, or the value a "
                    "KPI's difference is taken to")
async def get_compare(
    request: Request,
    name: str,
    panel_id: str,
    caller: Reader,
    to: Annotated[str | None, Query(description="the end of the chart's time axis (epoch s or ISO 8601; during a "
                                                "replay the simulated time it shows); default now")] = None,
    mode: Annotated[Literal["real", "exercise"], Query(description="the dataset of the lines compared (a relative "
                                                                   "comparison reads the same one; an event its own)")]
    = "real",
) -> JSON:
    panel, found = _panel(request, name, panel_id)
    events = _events(request)
    axis_to = _parse_time(to, "to", time.time())
    exercise = (compare.dataset(found, events) or mode) == "exercise"
    ctx = request.app.state.ctx
    indicator = getattr(panel, "indicator", "")
    # The past of a restricted indicator is its figures too: the history API's check (docs/access.md).
    if indicator in ctx.catalog.indicators:
        clearance.check_read(request, caller, ctx.catalog.indicators[indicator])
    body: dict[str, Any] = {"panel": panel_id, "compare": found.spec(), "exercise": exercise,
                            "label": {lang: compare.label(found, events, lang) for lang in ("ko", "en")}}
    if isinstance(panel, dash.KpiPanel):
        entity = panel.entity or dash.default_entity(ctx.catalog, indicator) or ""
        back = compare.RELATIVE[found.kind]
        at = axis_to - back
        # The last sample at or before the same instant, if there is one close enough to stand for it.
        tolerance = max(3 * ctx.catalog.indicators[indicator].interval, 900.0)
        past = await series_past(request).read(Ask(indicator, (entity,), int((at - tolerance) * 1000),
                                                    int(at * 1000), "raw", exercise=exercise))
        points = past.raw.get(entity, [])
        body.update(entity=entity, at=at, value=points[-1][1] if points else None,
                    value_t=points[-1][0] / 1000 if points else None)
        return JSON(body)
    window = float(getattr(panel, "window", 3600.0))
    period = compare.period(found, events, axis_to - window, axis_to)
    entities = dash.resolve_entities(ctx.catalog, indicator, getattr(panel, "entities", []))
    resolution = resolution_for(window)
    body.update(shift=period.shift, start=period.start, end=period.end, resolution=resolution)
    if period.empty:
        body["series"] = [{"entity": e, "points": []} for e in entities]
        return JSON(body)
    past = await series_past(request).read(Ask(indicator, tuple(entities), int(period.start * 1000),
                                                int(period.end * 1000), resolution, exercise=exercise))
    half = BUCKET_S[resolution] / 2
    series = []
    for e in entities:
        if resolution == "raw":
            points = [{"t": ts / 1000 + period.shift, "stored_t": ts / 1000, "value": v}
                      for ts, v in past.raw.get(e, [])]
        else:
            # A bucket is drawn at its middle, the running one no later than the period's end (as the wall does).
            points = [{"t": min(b.start / 1000 + half, period.end) + period.shift, "stored_t": b.start / 1000,
                       "value": b.mean} for b in past.buckets.get(e, []) if b.count]
        series.append({"entity": e, "points": points})
    body["series"] = series
    return JSON(body)
