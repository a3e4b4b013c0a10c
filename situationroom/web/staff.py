"""The staff page `/staff`: my alerts (acknowledge, silence), my subscriptions, history, pop-ups for new alerts."""

from __future__ import annotations

from html import escape
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse

from situationroom import status
from situationroom.catalog import Catalog

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
    build = request.app.state.build
    base = f"/assets/{build}"
    ko = lang == "ko"
    catalog: Catalog = request.app.state.ctx.catalog
    title = f"{catalog.city.name_ko} 상황실 — 직원" if ko else f"{catalog.city.name_en} situation room — staff"
    data = orjson.dumps(page_data(catalog, request)).replace(b"</", b"<\\/").decode()
    html = (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<title>{escape(title)}</title><link rel="icon" href="data:,">'
        f'<link rel="preload" href="{base}/vendor/PretendardVariable.woff2" as="font" type="font/woff2" crossorigin>'
        f'<link rel="stylesheet" href="{base}/staff.css"><style>{status.css()}</style>'
        f'<script src="{base}/session.js" defer></script><script src="{base}/staff.js" defer></script>'
        f'</head><body data-lang="{lang}" data-build="{escape(build)}" data-assets="{escape(base)}">'
        f'<script id="page-data" type="application/json">{data}</script>'
        f'<div id="app" aria-live="polite"></div><div id="toasts" aria-live="assertive"></div></body></html>'
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-cache"})
