"""The operator page `/ops`: every collector's state, last error, samples per run; run now, pause, resume; each briefing
with the last one made, and make one now."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse

from situationroom.catalog import Catalog
from situationroom.web import shell

router = APIRouter()
Lang = Annotated[Literal["ko", "en"], Query(description="language of the page: ko (default) or en")]


def install(app: FastAPI) -> None:
    """Add `/ops` (its script and style come from the wall's asset route, under the same build)."""
    app.include_router(router)


@router.get("/ops", response_class=HTMLResponse, include_in_schema=False)
async def ops_page(request: Request, lang: Lang = "ko") -> HTMLResponse:
    catalog: Catalog = request.app.state.ctx.catalog
    ko = lang == "ko"
    title = (f"{catalog.city.name_ko} 상황실 — 수집기 운영" if ko
             else f"{catalog.city.name_en} situation room — collectors")
    data = {
        "city": {"ko": catalog.city.name_ko, "en": catalog.city.name_en, "timezone": catalog.city.timezone},
        "public_read": request.app.state.ctx.settings.public_read,
    }
    return shell.page(request, lang=lang, title=title, styles=["desk.css", "ops.css"], scripts=["session.js", "ops.js"],
                      data=data, body=shell.APP + shell.TOASTS)
