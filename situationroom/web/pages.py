"""The wall display at `/`, any dashboard at `/dashboards/{name}`, their index, definitions API and static assets."""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import logging
import mimetypes
from collections.abc import AsyncIterator
from html import escape
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from situationroom import audit, status
from situationroom.dashboard_store import DashboardStore, Entry
from situationroom.errors import ConfigError, site_relative
from situationroom.events import NONE, load_events
from situationroom.web import compare_api, dashboard_view, schemas, shell
from situationroom.web.errors import ApiError, documented
from situationroom.web.jsonio import JSON

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
WALL = "overview"
"""The dashboard the wall display at `/` shows."""
WALL_SCRIPTS = ("wall-words.js", "wall-state.js", "wall-format.js", "wall-panel.js", "wall-kpi.js",
                "wall-charts.js", "wall-map.js", "wall-lists.js", "wall-layout.js", "wall-data.js", "wall-render.js",
                "wall-connection.js", "wall.js")
"""The wall's scripts in the order they run: they share the page's script scope, each using what those before it
declare, and wall.js, last, starts the page."""
Lang = Annotated[Literal["ko", "en"], Query(description="language of the page: ko (default) or en")]


def asset_build(folder: Path = STATIC) -> str:
    """Hash of every asset the page loads: a page served with another build reloads itself."""
    digest = hashlib.blake2b(digest_size=6)
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@contextlib.asynccontextmanager
async def _watching(app: FastAPI) -> AsyncIterator[None]:
    """Reload dashboard files while the server runs, and tell the open pages about each change."""
    store: DashboardStore = app.state.dashboards

    async def notify(entry: Entry) -> None:
        fanout = getattr(app.state, "fanout", None)
        if fanout is not None:
            result = fanout.send_control({"type": "dashboard", "name": entry.name, "version": entry.version})
            if inspect.isawaitable(result):
                await result
        ctx = app.state.ctx
        await audit.record(ctx.client, "dashboards.reload", actor=audit.Actor.system("file watcher"),
                           target=entry.name,
                           detail={"file": site_relative(entry.path, ctx.settings.site), "version": entry.version,
                                   "valid": entry.error is None},
                           maxlen=ctx.settings.audit_maxlen)

    import asyncio

    stop = asyncio.Event()
    task = asyncio.create_task(store.watch(notify, stop), name="dashboard-watcher")
    try:
        yield
    finally:
        stop.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


router = APIRouter(lifespan=_watching)


def install(app: FastAPI) -> None:
    """Load the site's dashboards, fix the asset build, and add the pages (with the file watcher)."""
    ctx = app.state.ctx
    try:
        events = load_events(ctx.settings.seeds)
    except ConfigError as exc:
        # The dashboards that compare with an event then say the event is unknown; the file's own problems are here.
        log.error("seeds/events.yaml is invalid; the wall knows no named event:\n%s", exc)
        events = NONE
    app.state.events = events
    store = DashboardStore(ctx.settings.dashboards_dir, ctx.catalog, events)
    store.load_all()
    app.state.dashboards = store
    app.state.build = asset_build()
    app.include_router(router)
    app.include_router(compare_api.router)


# ---------------------------------------------------------------------------------------------- assets

@router.get("/assets/{build}/{path:path}", include_in_schema=False)
async def asset(request: Request, build: str, path: str) -> Response:
    target = (STATIC / path).resolve()
    if not target.is_relative_to(STATIC) or not target.is_file():
        raise ApiError(404, "no such asset", field="path", value=path)
    current = build == request.app.state.build
    # An asset under the current build never changes (its URL changes with it), so a wall caches it
    # for good; an old build's URL gets the new content, revalidated, while that page reloads itself.
    headers = {"Cache-Control": "public, max-age=31536000, immutable" if current else "no-cache"}
    media = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    if target.suffix == ".woff2":
        media = "font/woff2"
    elif target.suffix == ".js":
        media = "text/javascript; charset=utf-8"
    elif target.suffix == ".css":
        media = "text/css; charset=utf-8"
    return Response(target.read_bytes(), media_type=media, headers=headers)


# ---------------------------------------------------------------------------------------------- API

def _store(request: Request) -> DashboardStore:
    return request.app.state.dashboards


def _entry(request: Request, name: str) -> Entry:
    entry = _store(request).get(name)
    if entry is None:
        known = ", ".join(sorted(_store(request).entries)) or "none"
        raise ApiError(404, f"no dashboard {name!r}; dashboards: {known}", field="name", value=name)
    return entry


@router.get("/api/v1/dashboards", response_class=JSON, tags=["dashboards"], response_model=schemas.DashboardsOut,
            summary="Every dashboard of the site: titles, pages, and whether its file is valid")
async def list_dashboards(request: Request) -> JSON:
    out = []
    for name, entry in sorted(_store(request).entries.items()):
        d = entry.dashboard
        out.append({"name": name, "version": entry.version, "valid": entry.error is None,
                    "title_ko": d.title_ko if d else None, "title_en": d.title_en if d else None,
                    "pages": [{"title_ko": p.title_ko, "title_en": p.title_en} for p in d.pages] if d else [],
                    "error": entry.error_info(), "url": f"/dashboards/{name}"})
    return JSON({"wall": WALL, "dashboards": out})


@router.get("/api/v1/dashboards/{name}", response_class=JSON, tags=["dashboards"], response_model=schemas.DashboardOut,
            responses=documented(404, 422),
            summary="One dashboard: its definition with every panel resolved against the catalog, "
                    "the Vega-Lite specs of its charts, and the current error if its file is invalid")
async def get_dashboard(request: Request, name: str) -> JSON:
    entry = _entry(request, name)
    ctx = request.app.state.ctx
    return JSON(dashboard_view.resolve(entry, ctx.catalog, ctx.settings.seeds, ctx.settings.stale_grace,
                        getattr(request.app.state, "events", NONE)))


# ---------------------------------------------------------------------------------------------- pages

def _shell(request: Request, name: str, lang: str, title: str, follow: bool = False) -> HTMLResponse:
    # `follow`: the wall at `/` switches to the open incidents' boards (docs/incidents.md); a fixed board does not.
    attrs = {"dashboard": name, "follow": "1"} if follow else {"dashboard": name}
    return shell.page(request, lang=lang, title=title, styles=["wall.css"], inline_style=status.css(),
                      scripts=["vendor/vega.min.js", "vendor/vega-lite.min.js", "vendor/vega-embed.min.js",
                               "wall-compare.js", *WALL_SCRIPTS],
                      body='<div id="wall" aria-live="polite"></div>', attrs=attrs)


def _page_title(request: Request, name: str, lang: str) -> str:
    entry = _store(request).get(name)
    if entry is None or entry.dashboard is None:
        return name
    return entry.dashboard.title_ko if lang == "ko" else entry.dashboard.title_en


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def wall(request: Request, lang: Lang = "ko") -> HTMLResponse:
    return _shell(request, WALL, lang, _page_title(request, WALL, lang), follow=True)


@router.get("/dashboards/{name}", response_class=HTMLResponse, include_in_schema=False)
async def dashboard_page(request: Request, name: str, lang: Lang = "ko") -> HTMLResponse:
    _entry(request, name)
    return _shell(request, name, lang, _page_title(request, name, lang))


@router.get("/dashboards/", include_in_schema=False)
async def index_slash() -> RedirectResponse:
    return RedirectResponse("/dashboards")


@router.get("/dashboards", response_class=HTMLResponse, include_in_schema=False)
async def index(request: Request, lang: Lang = "ko") -> HTMLResponse:
    ko = lang == "ko"
    rows = []
    # The wall first, then the rest by name.
    for name, entry in sorted(_store(request).entries.items(), key=lambda item: (item[0] != WALL, item[0])):
        d = entry.dashboard
        title = (d.title_ko if ko else d.title_en) if d else name
        pages = ", ".join(escape(p.title_ko if ko else p.title_en) for p in d.pages) if d else ""
        other = "en" if ko else "ko"
        state = ""
        if entry.error is not None:
            state = (f'<pre class="err">{escape(str(entry.error))}</pre>')
        rows.append(
            f'<li><a href="/dashboards/{escape(name)}?lang={lang}">{escape(title)}</a> '
            f'<span class="name">{escape(name)}{" · 벽면 (/)" if ko and name == WALL else ""}'
            f'{" · wall (/)" if not ko and name == WALL else ""}</span>'
            f' <a class="lang" href="/dashboards/{escape(name)}?lang={other}">{other}</a>'
            f'<div class="pages">{pages}</div>{state}</li>'
        )
    heading = "대시보드" if ko else "Dashboards"
    base = f"/assets/{request.app.state.build}"
    html = (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{heading}</title>'
        f'<link rel="stylesheet" href="{base}/wall.css"></head><body class="index">'
        f'<h1>{heading}</h1><ul class="dashboards">{"".join(rows)}</ul>'
        f'<p class="foot"><a href="/?lang={lang}">{"벽면 표시" if ko else "Wall display"}</a> · '
        f'<a href="/dashboards?lang={"en" if ko else "ko"}">{"English" if ko else "한국어"}</a> · '
        f'<a href="/docs">API</a></p></body></html>'
    )
    return HTMLResponse(html)
