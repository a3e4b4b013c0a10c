"""The incident pages (Korean first, `?lang=en`): `/incidents`, the open ones first and the recent closed ones, and
`/incidents/{id}`, an incident's level, history and timeline with the note form and the level controls."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse

from situationroom import access, status
from situationroom.catalog import Catalog
from situationroom.incidents import store as incident_store
from situationroom.incidents.hazards import Hazards
from situationroom.web import desk, shell
from situationroom.web.errors import ApiError

router = APIRouter()
Lang = Annotated[Literal["ko", "en"], Query(description="language of the page: ko (default) or en")]

TEXT = {
    "ko": {"list": "상황 선포 목록", "detail": "상황 선포", "signed_in": "로그인: {name} ({role})",
           "signed_out": "로그인하지 않음", "sign_in": "로그인", "sign_out": "로그아웃", "token": "토큰",
           "lang": "English"},
    "en": {"list": "Situation levels declared", "detail": "Situation level", "signed_in": "Signed in: {name} ({role})",
           "signed_out": "Not signed in", "sign_in": "Sign in", "sign_out": "Sign out", "token": "Token",
           "lang": "한국어"},
}
POLL_S = 5
"""Seconds between two looks at the incident (the pages poll the API: a note, an alert or a level shows within it)."""


def install(app: FastAPI) -> None:
    """Add `/incidents` and `/incidents/{id}` (their style and script come from the wall's asset route)."""
    app.include_router(router)


async def _page(request: Request, lang: str, path: str, view: dict[str, Any]) -> HTMLResponse:
    catalog: Catalog = request.app.state.ctx.catalog
    t = TEXT[lang]
    record = await desk.caller(request)
    w = access.who(record, request.app.state.notify.people) if record is not None else None
    city = catalog.city.name_ko if lang == "ko" else catalog.city.name_en
    title = f"{city} — {t['detail' if view.get('id') else 'list']}"
    data = {**view, "labels": {k: t[k] for k in ("sign_in", "sign_out")}, "poll_s": POLL_S,
            "city": {"id": catalog.city.id, "timezone": catalog.city.timezone},
            "marks": {s.id: s.mark for s in status.SCALE},
            "indicators": {i.id: {"ko": i.name_ko, "en": i.name_en} for i in catalog.indicators.values()},
            "may": {"note": w is not None and "staff" in w.scopes, "level": w is not None and w.any_alert}}
    body = desk.title_bar(path, title, record, lang, t) + desk.login_form(t) + shell.APP
    return shell.page(request, lang=lang, title=title, styles=["desk.css", "incidents.css"], inline_style=status.css(),
                      scripts=["session.js", "incidents.js"], body=body, data=data)


@router.get("/incidents", response_class=HTMLResponse, include_in_schema=False)
async def incidents_page(request: Request, lang: Lang = "ko") -> HTMLResponse:
    return await _page(request, lang, "/incidents", {})


@router.get("/incidents/{incident_id}", response_class=HTMLResponse, include_in_schema=False)
async def incident_page(request: Request, incident_id: str, lang: Lang = "ko") -> HTMLResponse:
    incident = await incident_store.read(request.app.state.ctx.client, incident_id)
    if incident is None:
        raise ApiError(404, "no such incident", field="id", value=incident_id)
    hazards = request.app.state.hazards
    levels = []
    if isinstance(hazards, Hazards) and incident.hazard in hazards.by_id:
        levels = [{"n": n, "ko": lv.name_ko, "en": lv.name_en}
                  for n, lv in enumerate(hazards.scale_of(incident.hazard).levels, 1)]
    return await _page(request, lang, f"/incidents/{incident_id}", {"id": incident_id, "levels": levels})
