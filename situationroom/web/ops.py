"""The operator page `/ops`: every collector's state, last error, samples per run; run now, pause, resume."""

from __future__ import annotations

from html import escape
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse

from situationroom.catalog import Catalog

router = APIRouter()
Lang = Annotated[Literal["ko", "en"], Query(description="language of the page: ko (default) or en")]


def install(app: FastAPI) -> None:
    """Add `/ops` (its script and style come from the wall's asset route, under the same build)."""
    app.include_router(router)


@router.get("/ops", response_class=HTMLResponse, include_in_schema=False)
async def ops_page(request: Request, lang: Lang = "ko") -> HTMLResponse:
    build = request.app.state.build
    base = f"/assets/{build}"
    catalog: Catalog = request.app.state.ctx.catalog
    ko = lang == "ko"
    title = (f"{catalog.city.name_ko} 상황실 — 수집기 운영" if ko
             else f"{catalog.city.name_en} situation room — collectors")
    data = {
        "city": {"ko": catalog.city.name_ko, "en": catalog.city.name_en, "timezone": catalog.city.timezone},
        "public_read": request.app.state.ctx.settings.public_read,
    }
    blob = orjson.dumps(data).replace(b"</", b"<\\/").decode()
    html = (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<title>{escape(title)}</title><link rel="icon" href="data:,">'
        f'<link rel="preload" href="{base}/vendor/PretendardVariable.woff2" as="font" type="font/woff2" crossorigin>'
        f'<link rel="stylesheet" href="{base}/ops.css">'
        f'<script src="{base}/session.js" defer></script><script src="{base}/ops.js" defer></script>'
        f'</head><body data-lang="{lang}" data-build="{escape(build)}">'
        f'<script id="page-data" type="application/json">{blob}</script>'
        f'<div id="app" aria-live="polite"></div><div id="toasts" aria-live="assertive"></div></body></html>'
    )
    # The page names the build its assets come from, so it must not outlive an upgrade in a cache.
    return HTMLResponse(html, headers={"Cache-Control": "no-cache"})
