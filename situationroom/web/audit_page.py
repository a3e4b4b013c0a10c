"""The audit log's page `/audit` (admins): filter by action, actor and time, page back, download CSV."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse

from situationroom import audit
from situationroom.catalog import Catalog
from situationroom.web import shell

router = APIRouter()
Lang = Annotated[Literal["ko", "en"], Query(description="language of the page: ko (default) or en")]


def install(app: FastAPI) -> None:
    """Add `/audit` (its script and style come from the wall's asset route, in the /ops page's look)."""
    app.include_router(router)


@router.get("/audit", response_class=HTMLResponse, include_in_schema=False)
async def audit_page(request: Request, lang: Lang = "ko") -> HTMLResponse:
    catalog: Catalog = request.app.state.ctx.catalog
    title = (f"{catalog.city.name_ko} 상황실 — 감사 기록" if lang == "ko"
             else f"{catalog.city.name_en} situation room — audit log")
    data = {"city": {"ko": catalog.city.name_ko, "en": catalog.city.name_en, "timezone": catalog.city.timezone},
            "actions": list(audit.ACTIONS)}
    return shell.page(request, lang=lang, title=title, styles=["desk.css", "ops.css", "audit.css"],
                      scripts=["session.js", "audit.js"], data=data, body=shell.APP)
