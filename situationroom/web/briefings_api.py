"""Briefings over HTTP: run one now (operators, audited), the archive's list, each briefing as JSON, PDF and its
HTML page, and the /briefings page (docs/briefings.md)."""

from __future__ import annotations

import asyncio
import time
from html import escape
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from situationroom import briefing_archive as archive
from situationroom import status
from situationroom.briefings import deliver
from situationroom.briefings.run import Site
from situationroom.clock import WHEN_HELP, parse_when
from situationroom.errors import ConfigError
from situationroom.web import shell
from situationroom.web.auth import actor, audited, require
from situationroom.web.errors import ApiError, documented
from situationroom.web.indicators_api import series_past
from situationroom.web.jsonio import JSON, JSONBodyRoute

router = APIRouter(route_class=JSONBodyRoute, tags=["briefings"])
pages = APIRouter()
Reader = Annotated[Any, Depends(require("read"))]
Operator = Annotated[Any, Depends(require("operate"))]
Lang = Annotated[Literal["ko", "en"], Query(description="language of the page: ko (default) or en")]
READ_ERRORS = (401, 403, 422, 503)
STYLES = ["desk.css", "briefings.css"]


class BriefingOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = Field(description="<name>-<city date>-<HHMM> of the period's end")
    name: str
    title_ko: str
    title_en: str
    language: str
    from_: int = Field(alias="from", description="start of the period, epoch ms")
    to: int = Field(description="end of the period, epoch ms")
    made: int
    by: str
    exercise: bool = Field(description="true when it cites exercise data or a simulated clock (marked 훈련)")
    clock: str | None = Field(description="the simulated clock the exercise data runs on, if any")
    deliveries: list[dict[str, Any]] = Field(
        description="each recipient and channel as the notify role's delivery log last says: sent, retrying (with "
                    "`next`, when the next attempt is due), dead, skipped or unrouted, with `attempt`, `note` and "
                    "`error`; empty until the notify role has taken the briefing")
    links: dict[str, str]


class BriefingsOut(BaseModel):
    briefings: list[BriefingOut]
    definitions: list[dict[str, Any]]


async def _site(request: Request) -> Site:
    found: Site | None = getattr(request.app.state, "briefings", None)
    if found is None:
        ctx = request.app.state.ctx
        try:
            found = Site.load(ctx.client, ctx.catalog, ctx.settings, past=series_past(request))
        except ConfigError as exc:
            raise ApiError(503, f"the site's people files do not load: {exc}") from None
        request.app.state.briefings = found
    else:
        # As the briefing role's watcher does: a changed file is read again (an unchanged one is only hashed).
        await asyncio.to_thread(found.store.load_all)
    return found


def _links(record: dict[str, Any]) -> dict[str, Any]:
    base = f"/api/v1/briefings/{record['id']}"
    return {**record, "links": {"self": base, "pdf": f"{base}.pdf", "html": f"{base}.html",
                                "page": f"/briefings/{record['id']}"}}


async def _record(request: Request, briefing_id: str) -> dict[str, Any]:
    client = request.app.state.ctx.client
    found = await archive.read(client, briefing_id)
    if found is None:
        raise ApiError(404, "no such briefing in the archive (it may be past the retention)", field="briefing_id",
                       value=briefing_id)
    return (await deliver.with_deliveries(client, [found]))[0]


async def _file(request: Request, briefing_id: str, kind: str) -> tuple[dict[str, Any], Path]:
    """A briefing's record and its archived file of `kind` (pdf, html); 404 naming the id when there is none."""
    rec = await _record(request, briefing_id)
    return rec, archive.path_of(request.app.state.ctx.settings.briefings_archive, rec["id"], kind)


@router.post("/api/v1/briefings/{name}/run", response_class=JSON, status_code=201, response_model=BriefingOut,
             responses=documented(400, 401, 403, 404, 422, 503),
             summary="Make a briefing now for the period ending at `at` (default now), archive it and hand it to the "
                     "notify role for its audience (operators and admins; audited)")
async def run_briefing(request: Request, name: str, record: Operator,
                       at: Annotated[str | None, Query(description=WHEN_HELP + "; default now")] = None) -> JSON:
    site = await _site(request)
    site.get(name)  # an unknown name is a 404 naming it, before anything is read
    tz = ZoneInfo(request.app.state.ctx.catalog.city.timezone)
    try:
        at_s = parse_when(at, tz) if at is not None else time.time()
    except ValueError as exc:
        raise ApiError(422, str(exc), field="at", value=at) from None
    who = actor(record) or "?"
    made, _ = await site.run(name, int(at_s * 1000), who)
    await audited(request, record, "briefing.run", made["id"], {"name": name, "from": made["from"], "to": made["to"]})
    # Just handed to the notify role: no delivery is logged yet.
    return JSON({k: v for k, v in _links({**made, "deliveries": []}).items() if k != "sections"}, status_code=201)


@router.get("/api/v1/briefings", response_class=JSON, response_model=BriefingsOut, responses=documented(*READ_ERRORS),
            summary="The archive: briefings made, newest first, and the site's briefing definitions")
async def list_briefings(request: Request, _: Reader,
                         name: Annotated[str | None, Query(description="only this briefing's")] = None,
                         limit: Annotated[int, Query(ge=1, le=1000, description="at most this many")] = 100) -> JSON:
    site = await _site(request)
    if name is not None and name not in site.briefings:
        raise ApiError(422, f"not a briefing of the site; its briefings: {', '.join(site.briefings) or 'none'}",
                       field="name", value=name)
    client = request.app.state.ctx.client
    found = await deliver.with_deliveries(client, await archive.listing(client, name=name, limit=limit))
    defs = [{"name": b.name, "name_ko": b.spec.name_ko, "name_en": b.spec.name_en, "schedule": b.spec.schedule,
             "audience": b.spec.audience.model_dump(), "sections": [s.kind for s in b.spec.sections]}
            for b in site.briefings.values()]
    return JSON({"briefings": [_links(r) for r in found], "definitions": defs})


@router.get("/api/v1/briefings/{briefing_id}.pdf", response_class=FileResponse,
            responses=documented(404, 401, 403, answers_json=False),
            summary="A briefing as PDF")
async def briefing_pdf(request: Request, briefing_id: str, _: Reader) -> FileResponse:
    rec, path = await _file(request, briefing_id, "pdf")
    return FileResponse(path, media_type="application/pdf", filename=f"{rec['id']}.pdf")


@router.get("/api/v1/briefings/{briefing_id}.html", response_class=HTMLResponse,
            responses=documented(404, 401, 403, answers_json=False),
            summary="A briefing as an HTML page (the same content as its PDF)")
async def briefing_html(request: Request, briefing_id: str, _: Reader) -> HTMLResponse:
    rec, path = await _file(request, briefing_id, "html")
    body = await asyncio.to_thread(path.read_text, encoding="utf-8")
    lang = rec["language"]
    ko = lang == "ko"
    city = request.app.state.ctx.catalog.city
    links = _links(rec)["links"]
    # The desk's title bar, with the way back to the archive and the same briefing as PDF.
    top = (f'<header class="top"><h1>{escape(city.name_ko if ko else city.name_en)} '
           f'{"상황실 · 상황 보고" if ko else "situation room · briefing"}</h1>'
           f'<a class="lang" href="{links["pdf"]}">PDF</a>'
           f'<a class="lang" href="/briefings{"" if ko else "?lang=en"}">{"보고 목록" if ko else "All briefings"}</a>'
           "</header>")
    return shell.page(request, lang=lang, title=rec["title_ko" if ko else "title_en"], styles=STYLES,
                      scripts=[], body=top + body, inline_style=status.css())


@router.get("/api/v1/briefings/{briefing_id}", response_class=JSON, response_model=BriefingOut,
            responses=documented(404, *READ_ERRORS), summary="A briefing's record and each section's figures")
async def get_briefing(request: Request, briefing_id: str, _: Reader) -> JSON:
    return JSON(_links(await _record(request, briefing_id)))


@pages.get("/briefings", response_class=HTMLResponse, include_in_schema=False)
async def briefings_page(request: Request, lang: Lang = "ko") -> HTMLResponse:
    catalog = request.app.state.ctx.catalog
    title = (f"{catalog.city.name_ko} 상황실 — 상황 보고" if lang == "ko"
             else f"{catalog.city.name_en} situation room — briefings")
    data = {"city": {"ko": catalog.city.name_ko, "en": catalog.city.name_en, "timezone": catalog.city.timezone}}
    return shell.page(request, lang=lang, title=title, styles=STYLES, scripts=["session.js", "briefings.js"],
                      data=data, body=shell.APP)


@pages.get("/briefings/{briefing_id}", response_class=HTMLResponse, include_in_schema=False)
async def briefing_page(request: Request, briefing_id: str, _: Reader) -> HTMLResponse:
    return await briefing_html(request, briefing_id, _)


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.include_router(pages)
