"""The `sql` collector kind: a query against a database (SQLAlchemy URL) on a schedule, rows mapped to samples."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlalchemy.exc
from pydantic import Field, field_validator

from situationroom.collectors import base
from situationroom.collectors.base import CollectError, CollectorContext, CollectorKind, CollectResult
from situationroom.collectors.mapping import Mapping
from situationroom.collectors.registry import register
from situationroom.durations import Duration
from situationroom.errors import ConfigError, Problem

RESERVED = ("now", "last_run")
"""Bound for every query: `:now` (this run) and `:last_run` (the previous successful run, or now - lookback),
both timezone-aware in the city's zone, so a query can ask for what is new."""
STOP_GRACE = 1.0
"""Seconds a timed-out query is given to end once interrupted, before the run fails saying it still runs."""


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__


class SqlParams(base.Params):
    url: str
    """SQLAlchemy URL, usually `${DB_URL}`: postgresql+psycopg://user:pw@host/db, sqlite:///relative.db
    (relative to the site folder), mysql+pymysql://... when that driver is installed."""
    query: str = Field(min_length=1)
    parameters: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    """Bound parameters (`:name` in the query)."""
    lookback: Duration = 3600.0
    """`:last_run` of the first run: this long before now."""
    timeout: Duration = 30.0
    """Connecting and running the query (PostgreSQL: also its statement_timeout)."""
    max_rows: int = Field(default=10_000, ge=1, le=1_000_000)
    map: Mapping

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        try:
            sa.engine.make_url(v)
        except sqlalchemy.exc.ArgumentError:
            raise ValueError("not an SQLAlchemy URL (dialect+driver://user:password@host/database)") from None
        return v

    @field_validator("parameters")
    @classmethod
    def _reserved(cls, v: dict[str, Any]) -> dict[str, Any]:
        for name in RESERVED:
            if name in v:
                raise ValueError(f":{name} is bound by the collector itself; choose another name")
        return v

    @field_validator("timeout")
    @classmethod
    def _positive(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("timeout must be longer than 0s")
        return v


@register
class Sql(CollectorKind[SqlParams]):
    """Runs one read-only query per run (in a worker thread: database drivers block) and maps the rows.

    Each collector has its own worker thread, so a slow database never holds the threads other kinds and
    plugins share. A query that outlives `timeout` is interrupted where the driver allows it (SQLite;
    PostgreSQL cancels it itself by statement_timeout); one that still runs makes the next runs fail at once,
    saying so, until it ends, rather than pile up behind it.
    """

    name = "sql"

    Params = SqlParams

    def __init__(self, params: SqlParams, context: CollectorContext) -> None:
        super().__init__(params, context)
        self.p = params
        params.map.check_catalog(context.catalog)
        self.tz = ZoneInfo(context.catalog.city.timezone)
        self.last_run: float | None = None
        url = sa.engine.make_url(params.url)
        self.dialect = url.get_backend_name()
        connect_args: dict[str, Any] = {}
        self.wait = params.timeout
        if self.dialect == "sqlite":
            db = url.database
            if db and db != ":memory:" and not db.startswith("file:") and not Path(db).is_absolute():
                url = url.set(database=str(context.site / db))
            connect_args["timeout"] = params.timeout
        elif self.dialect == "postgresql" and url.get_driver_name() in ("psycopg", "psycopg2"):
            connect_args["connect_timeout"] = max(1, int(params.timeout))
            connect_args["options"] = f"-c statement_timeout={int(params.timeout * 1000)}"
            # The server cancels the statement itself (freeing the connection); waiting stops a bit later.
            self.wait = params.timeout + 2.0
        try:
            self.engine = sa.create_engine(url, pool_pre_ping=True, pool_size=1, max_overflow=1,
                                           connect_args=connect_args) if self.dialect != "sqlite" else \
                sa.create_engine(url, connect_args=connect_args)
        except (ImportError, sqlalchemy.exc.NoSuchModuleError, sqlalchemy.exc.ArgumentError) as exc:
            raise ConfigError([Problem(context.redact(f"cannot use this database URL: {exc}"), None, None,
                                       "params.url", None, False)]) from None
        self.statement = sa.text(params.query)
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"sql-{context.collector_id}")
        self._job: Future[list[dict[str, Any]]] | None = None
        self._job_started = 0.0
        self._dbapi: Any = None
        """The driver's connection while a query runs on it (read by the event loop to interrupt it)."""

    def _query(self, bound: dict[str, Any]) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            try:
                self._dbapi = conn.connection.dbapi_connection
                result = conn.execute(self.statement, bound)
                if not result.returns_rows:
                    raise CollectError("the query returns no rows (it must be a SELECT)")
                rows = result.mappings().fetchmany(self.p.max_rows + 1)
            finally:
                self._dbapi = None
                conn.rollback()  # read only: whatever the query did is not kept
        if len(rows) > self.p.max_rows:
            self.context.log.warning("the query gave more than max_rows (%d) rows; the rest is ignored",
                                     self.p.max_rows)
            rows = rows[: self.p.max_rows]
        return [{str(k): v for k, v in row.items()} for row in rows]

    async def fetch_rows(self, now: float) -> list[dict[str, Any]]:
        if self._job is not None and not self._job.done():
            raise CollectError(f"the previous query is still running ({time.monotonic() - self._job_started:.0f}s, "
                               f"{self.dialect} could not interrupt it); this run is skipped")
        since = self.last_run if self.last_run is not None else now - self.p.lookback
        bound = {**self.p.parameters, "now": datetime.fromtimestamp(now, self.tz),
                 "last_run": datetime.fromtimestamp(since, self.tz)}
        job = self._job = self._worker.submit(self._query, bound)
        self._job_started = time.monotonic()
        try:
            async with asyncio.timeout(self.wait):
                return await asyncio.wrap_future(job)
        except TimeoutError:
            ended = await self._stop(job)
            raise CollectError(f"{self.dialect} did not answer within {self.p.timeout:g}s; "
                               + ("the query was interrupted" if ended else
                                  "the query is still running, and later runs are skipped until it ends")) from None
        except asyncio.CancelledError:
            self._interrupt()  # the run's own timeout or a shutdown: the query must not go on without it
            raise
        except sqlalchemy.exc.SQLAlchemyError as exc:
            # The driver's own first line says it best ("connection failed: ... Connection refused",
            # "no such table: x"); the SQL and parameters SQLAlchemy appends are left out.
            raise CollectError(self.context.redact(f"{self.dialect}: {_first_line(exc)}")) from None

    def _interrupt(self) -> None:
        # sqlite3's interrupt() is meant to be called from another thread; a no-op when nothing runs.
        interrupt = getattr(self._dbapi, "interrupt", None)
        if interrupt is not None:
            interrupt()

    async def _stop(self, job: Future[list[dict[str, Any]]]) -> bool:
        """Interrupt a timed-out query and give it STOP_GRACE to end; whether it did."""
        self._interrupt()
        try:
            async with asyncio.timeout(STOP_GRACE):
                await asyncio.wrap_future(job)
        except TimeoutError:
            return False
        except Exception:  # its own end ("interrupted") is what was asked for
            return True
        return True

    async def collect(self, now: float) -> CollectResult:
        rows = await self.fetch_rows(now)
        catalog = self.context.catalog
        result = self.p.map.apply(rows, now=now, source=self.context.collector_id, catalog=catalog,
                                  tz=catalog.city.timezone)
        self.last_run = now
        return result

    async def close(self) -> None:
        self._interrupt()
        # Not waiting for a query the driver cannot interrupt: its thread ends with it.
        self._worker.shutdown(wait=False, cancel_futures=True)
        await asyncio.to_thread(self.engine.dispose)
