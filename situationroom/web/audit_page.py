"""The audit log's page `/audit` (admins): filter by action, actor and time, page back, download CSV."""

from __future__ import annotations

from html import escape
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse

from situationroom import audit
from situationroom.catalog import Catalog

router = APIRouter()
Lang = Annotated[Literal["ko", "en"], Query(description="language of the page: ko (default) or en")]


def install(app: FastAPI) -> None:
    """Add `/audit` (its script and style come from the wall's asset route, in the /ops page's look)."""
    app.include_router(router)


@router.get("/audit", response_class=HTMLResponse, include_in_schema=False)
async def audit_page(request: Request, lang: Lang = "ko") -> HTMLResponse:
    build = request.app.state.build
    base = f"/assets/{build}"
    catalog: Catalog = request.app.state.ctx.catalog
    title = (f"{catalog.city.name_ko} 상황실 — 감사 기록" if lang == "ko"
             else f"{catalog.city.name_en} situation room — audit log")
    data = {"city": {"ko": catalog.city.name_ko, "en": catalog.city.name_en, "timezone": catalog.city.timezone},
            "actions": list(audit.ACTIONS)}
    blob = orjson.dumps(data).replace(b"</", b"<\\/").decode()
    html = (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<title>{escape(title)}</title><link rel="icon" href="data:,">'
        f'<link rel="preload" href="{base}/vendor/PretendardVariable.woff2" as="font" type="font/woff2" crossorigin>'
        f'<link rel="stylesheet" href="{base}/ops.css"><link rel="stylesheet" href="{base}/audit.css">'
        f'<script src="{base}/session.js" defer></script><script src="{base}/audit.js" defer></script>'
        f'</head><body data-lang="{lang}" data-build="{escape(build)}">'
        f'<script id="page-data" type="application/json">{blob}</script>'
        f'<div id="app" aria-live="polite"></div></body></html>'
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-cache"})
