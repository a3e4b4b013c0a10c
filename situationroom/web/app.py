"""The FastAPI application of the web role."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from situationroom import __version__
from situationroom.catalog import Catalog
from situationroom.settings import Settings
from situationroom.streams import StreamWriter
from situationroom.web import (
    alerts_api,
    audit_api,
    audit_page,
    briefings_api,
    catalog_api,
    catalog_page,
    collectors_api,
    data_page,
    errors,
    exercise_api,
    export_api,
    heartbeat,
    incidents_api,
    incidents_page,
    indicators_api,
    ingest_api,
    operations_api,
    ops,
    pages,
    public_api,
    public_page,
    session_api,
    staff,
    staff_api,
    ws,
)
from situationroom.web.lockout import Lockout


@dataclass
class WebContext:
    client: aioredis.Redis
    catalog: Catalog
    settings: Settings
    writer: StreamWriter


def create_app(client: aioredis.Redis, catalog: Catalog, settings: Settings) -> FastAPI:
    # /docs (Swagger UI) with its script and style served by this server: a city network may have no way
    # out, and the API's documentation must not depend on a CDN. No ReDoc: it fetches its logo from one.
    app = FastAPIOffline(
        static_url="/docs-assets",
        redoc_url=None,
        title=f"situationroom — {catalog.city.name_en} ({catalog.city.name_ko})",
        version=__version__,
        description="Live municipal indicators of the city's situation room. "
                    "Reads are open on the city network unless configured otherwise; "
                    "push ingest needs a token with the ingest scope.",
    )
    app.state.ctx = WebContext(
        client, catalog, settings,
        StreamWriter.for_settings(client, settings),
    )
    app.state.lockout = Lockout(client, settings)  # failed token checks per address (web.auth)
    errors.install(app)
    app.include_router(heartbeat.router)  # says in Redis that a web role uses it (`tokens create` asks)
    app.include_router(session_api.router)  # sign in once with a token: the session cookie
    app.include_router(audit_api.router)  # the audit log (admins)
    app.include_router(indicators_api.router)  # indicators, their live state and history
    app.include_router(catalog_api.router)  # the data catalogue (DCAT-like)
    app.include_router(export_api.router)  # history as CSV, XLSX or Parquet files
    app.include_router(ingest_api.router)  # push ingest of samples
    app.include_router(operations_api.router)  # /healthz, /metrics
    app.include_router(alerts_api.router)  # alerts, silences, rules, the CAP feed
    app.include_router(collectors_api.router)  # collectors' health; run now, pause, resume (operators)
    app.include_router(exercise_api.router)  # the drill, exercise sources and simulated clock the pages mark
    briefings_api.install(app)  # briefings: run now, the archive, /briefings
    incidents_api.install(app)  # incidents: situation levels declared, their timelines (with the hazards file)
    ws.install(app)  # /ws and app.state.fanout, the live updates
    pages.install(app)  # the wall, dashboards and their assets (with the dashboard file watcher)
    staff_api.install(app)  # subscriptions, my inbox, people and channels (seeds the subscriptions)
    staff.install(app)  # the staff page /staff
    ops.install(app)  # the operator page /ops
    audit_page.install(app)  # the audit log's page /audit (admins)
    catalog_page.install(app)  # the data catalogue's page /catalog
    data_page.install(app)  # the data page for officials /data
    public_api.install(app)  # the citizens' API /api/v1/public/... (no token, public indicators only, cached)
    public_page.install(app)  # the citizens' page /public
    incidents_page.install(app)  # the incident pages /incidents and /incidents/{id}
    return app
