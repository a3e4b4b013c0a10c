"""The staff page `/staff`: my alerts (acknowledge, silence), my subscriptions, history, pop-ups for new alerts."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse

from situationroom import status
from situationroom.catalog import Catalog
from situationroom.web import shell

router = APIRouter()
Lang = Annotated[Literal["ko", "en"], Query(description="language of the page: ko (default) or en")]


def install(app: FastAPI) -> None:
    """Add `/staff` (assets come from the wall's asset route, under the same build)."""
    app.include_router(router)


def page_data(catalog: Catalog, request: Request) -> dict[str, Any]:
    """What the page needs to name things without extra requests: domains, districts, indicators, levels."""
    info = request.app.state.notify
    return {
        "city": {"id": catalog.city.id, "ko": catalog.city.name_ko, "en": catalog.city.name_en,
                 "timezone": catalog.city.timezone},
        "domains": [{"id": d.id, "ko": d.name_ko, "en": d.name_en} for d in catalog.domains.values()],
        "districts": [{"id": e.id, "ko": e.name_ko, "en": e.name_en, "kind": e.kind, "gu": catalog.gu_of(e.id)}
                      for e in catalog.entities.values() if e.kind in ("gu", "dong")],
        "indicators": [{"id": i.id, "ko": i.name_ko, "en": i.name_en, "domain": i.domain,
                        "unit": {"ko": i.unit, "en": i.unit_en}, "decimals": i.decimals,
                        "labels": {str(k): {"ko": v.ko, "en": v.en} for k, v in i.labels.items()}}
                       for i in catalog.indicators.values()],
        "entities": {e.id: {"ko": e.name_ko, "en": e.name_en} for e in catalog.entities.values()},
        # The crisis levels of the one status scale: words and mark (the colours are the page's --st-* variables).
        "levels": [{"level": s.level, "id": s.id, "ko": s.ko, "en": s.en, "mark": s.mark} for s in status.LEVELS],
        "departments": {d.id: {"ko": d.name_ko, "en": d.name_en} for d in info.people.departments.values()},
        "silence_max": {"staff": request.app.state.ctx.settings.silence_max_staff,
                        "operator": request.app.state.ctx.settings.silence_max_operator},
    }


@router.get("/staff", response_class=HTMLResponse, include_in_schema=False)
async def staff_page(request: Request, lang: Lang = "ko") -> HTMLResponse:
    ko = lang == "ko"
    catalog: Catalog = request.app.state.ctx.catalog
    title = f"{catalog.city.name_ko} 상황실 — 직원" if ko else f"{catalog.city.name_en} situation room — staff"
    return shell.page(request, lang=lang, title=title, styles=["desk.css", "staff.css"], inline_style=status.css(),
                      scripts=["session.js", "staff.js"], data=page_data(catalog, request),
                      body=shell.APP + shell.TOASTS,
                      attrs={"assets": f"/assets/{request.app.state.build}"})
