"""The sql kind against real databases: SQLite files always, the PostgreSQL at 127.0.0.1:5432 when it answers."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from situationroom.catalog import Catalog
from situationroom.collectors.base import CollectError, CollectorContext
from situationroom.collectors.definition import load_collector
from situationroom.collectors.kinds.sql import Sql
from situationroom.collectors.mapping import MISSING_AT_SOURCE
from situationroom.configfile import validate
from situationroom.envref import Redactor
from situationroom.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent
KST = ZoneInfo("Asia/Seoul")
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
NOW = datetime(2026, 3, 15, 9, 0, tzinfo=KST).timestamp()
LEVEL_MAP = [{"indicator": "river.level", "value": "level", "entity_from": "station", "ts_from": "measured"}]


def kind(params: dict[str, Any], catalog: Catalog, site: Path = REPO, secrets: set[str] | None = None) -> Sql:
    return Sql(validate(Sql.Params, params, prefix=("params",)),
               CollectorContext("sql-test", catalog, site, logging.getLogger("test.sql"),
                                redact=Redactor(secrets or set())))


def complaints_db(path: Path) -> None:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE complaint (id INTEGER PRIMARY KEY, dept_code TEXT, status TEXT, updated_at TEXT)")
    rows = [("3470012", "접수")] * 3 + [("3470012", "완료")] * 5 + [("3470051", "처리중")] * 7 + [("9999999", "접수")]
    con.executemany("INSERT INTO complaint (dept_code, status, updated_at) VALUES (?, ?, '2026-03-15 08:55:00')", rows)
    con.commit()
    con.close()


async def test_the_example_counts_open_complaints_per_department_in_sqlite(tmp_path: Path,
                                                                          site_catalog: Catalog) -> None:
    complaints_db(tmp_path / "saeol.db")
    loaded = load_collector(REPO / "collectors" / "examples" / "sql.yaml",
                            env={"DB_URL": f"sqlite:///{tmp_path / 'saeol.db'}"})
    assert loaded.definition.kind == "sql" and loaded.params is not None
    collector = Sql(loaded.params, CollectorContext(loaded.id, site_catalog, REPO, logging.getLogger("x"),
                                                    redact=loaded.redact))
    try:
        result = await collector.collect(NOW)
    finally:
        await collector.close()
    assert sorted((s.entity, s.value, s.ts) for s in result.samples) == [("dept-safety", 7, NOW),
                                                                         ("dept-traffic", 3, NOW)]
    assert [(r.field, r.value) for r in result.rejected] == [("dept_code", "9999999")]


async def test_rows_with_nulls_times_and_a_relative_sqlite_path(tmp_path: Path, site_catalog: Catalog) -> None:
    con = sqlite3.connect(tmp_path / "gauges.db")
    con.execute("CREATE TABLE reading (station INTEGER, measured TEXT, level REAL)")
    con.executemany("INSERT INTO reading VALUES (?, ?, ?)", [
        (2101690, "2026-03-15 08:00:00", 1.25), (2101687, "2026-03-15 08:00:00", None),
        (2101660, "2026-03-15T08:10:00+09:00", 0.5), (2101690, "not a time", 1.3)])
    con.commit()
    con.close()
    collector = kind({"url": "sqlite:///gauges.db", "query": "SELECT * FROM reading ORDER BY rowid",
                      "map": [{**LEVEL_MAP[0], "ts_format": None}]}, site_catalog, site=tmp_path)
    result = await collector.collect(NOW)
    await collector.close()
    at8 = datetime(2026, 3, 15, 8, tzinfo=KST).timestamp()
    assert [(s.entity, s.value, s.ts) for s in result.samples] == [("hrfco-2101690", 1.25, at8),
                                                                    ("hrfco-2101660", 0.5, at8 + 600)]
    assert [(r.field, r.value, r.index) for r in result.rejected] == [("level", None, 1),
                                                                       ("measured", "not a time", 3)]
    assert result.rejected[0].reason.startswith(MISSING_AT_SOURCE)


async def test_bad_queries_are_collect_errors_and_nothing_is_written(tmp_path: Path, site_catalog: Catalog) -> None:
    complaints_db(tmp_path / "c.db")
    url = f"sqlite:///{tmp_path / 'c.db'}"
    with pytest.raises(CollectError, match=r"^sqlite: no such table: nope$"):
        await kind({"url": url, "query": "SELECT * FROM nope", "map": LEVEL_MAP}, site_catalog).collect(NOW)
    collector = kind({"url": url, "query": "DELETE FROM complaint", "map": LEVEL_MAP}, site_catalog)
    with pytest.raises(CollectError, match="must be a SELECT"):
        await collector.collect(NOW)
    await collector.close()
    con = sqlite3.connect(tmp_path / "c.db")
    assert con.execute("SELECT count(*) FROM complaint").fetchone() == (16,)  # rolled back
    con.close()
    with pytest.raises(CollectError, match="sqlite: unable to open database file"):
        await kind({"url": f"sqlite:///{tmp_path}/no/such/dir.db", "query": "SELECT 1", "map": LEVEL_MAP},
                   site_catalog).collect(NOW)


def knob_db(path: Path, *, wal: bool = False, **knobs: float) -> None:
    """One gauge reading, and a `knob` row the queries read how long to run from (the test turns it down)."""
    con = sqlite3.connect(path)
    if wal:
        con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE reading (station TEXT, measured TEXT, level REAL)")
    con.execute("INSERT INTO reading VALUES ('2101690', '2026-03-15 08:00:00', 1.25)")
    con.execute(f"CREATE TABLE knob ({', '.join(knobs)})")
    con.execute(f"INSERT INTO knob VALUES ({', '.join('?' for _ in knobs)})", list(knobs.values()))
    con.commit()
    con.close()


def set_knob(path: Path, name: str, value: float) -> None:
    con = sqlite3.connect(path, timeout=0)  # at once: "database is locked" if a query still holds it
    con.execute(f"UPDATE knob SET {name} = ?", (value,))
    con.commit()
    con.close()


async def test_a_sqlite_query_that_runs_too_long_is_interrupted_and_the_next_run_works(
        tmp_path: Path, site_catalog: Catalog) -> None:
    db = tmp_path / "slow.db"
    knob_db(db, upto=30_000_000)  # counting to 30 million takes SQLite many seconds
    collector = kind({"url": f"sqlite:///{db}", "timeout": "0.5s", "map": LEVEL_MAP,
                      "query": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
                               "WHERE x < (SELECT upto FROM knob)) "
                               "SELECT station, measured, level + 0 * (SELECT count(*) FROM c) AS level FROM reading"},
                     site_catalog)
    try:
        started = time.monotonic()
        with pytest.raises(CollectError, match=r"^sqlite did not answer within 0\.5s; the query was interrupted$"):
            await collector.collect(NOW)
        assert time.monotonic() - started < 3
        # The query no longer reads the database: a writer gets its lock at once.
        set_knob(db, "upto", 10)
        result = await collector.collect(NOW)
    finally:
        await collector.close()
    assert [(s.entity, s.value) for s in result.samples] == [("hrfco-2101690", 1.25)]


async def test_a_query_that_cannot_be_interrupted_skips_the_runs_until_it_ends(tmp_path: Path,
                                                                                site_catalog: Catalog) -> None:
    db = tmp_path / "stuck.db"
    knob_db(db, wal=True, pause=2.5)  # WAL: the test can turn the knob down while the query still reads
    collector = kind({"url": f"sqlite:///{db}", "timeout": "0.3s", "map": LEVEL_MAP,
                      "query": "SELECT station, measured, level + 0 * pause((SELECT pause FROM knob)) AS level "
                               "FROM reading"}, site_catalog)
    # A Python function inside the query: SQLite checks for an interrupt between its own steps, so the sleep
    # runs to its end, as a driver that cannot interrupt would.
    sa.event.listen(collector.engine, "connect",
                    lambda con, _record: con.create_function("pause", 1, lambda s: time.sleep(s) or 0))
    try:
        started = time.monotonic()
        with pytest.raises(CollectError, match=r"^sqlite did not answer within 0\.3s; the query is still running, "
                                               r"and later runs are skipped until it ends$"):
            await collector.collect(NOW)
        skipped = time.monotonic()
        with pytest.raises(CollectError, match=r"^the previous query is still running \(\d+s, sqlite could not "
                                               r"interrupt it\); this run is skipped$"):
            await collector.collect(NOW)
        assert time.monotonic() - skipped < 0.2  # at once, not queued behind it
        set_knob(db, "pause", 0)
        await asyncio.sleep(3.5 - (time.monotonic() - started))  # the stuck query ends after its 2.5s
        result = await collector.collect(NOW)
    finally:
        await collector.close()
    assert [(s.entity, s.value) for s in result.samples] == [("hrfco-2101690", 1.25)]


def test_bad_urls_are_config_errors_without_the_secret(tmp_path: Path, site_catalog: Catalog) -> None:
    path = tmp_path / "db.yaml"
    path.write_text("kind: sql\nschedule: {interval: 5m}\nparams:\n  url: ${DB_URL}\n  query: SELECT 1\n"
                    "  parameters: {now: 1}\n  map: [{indicator: river.level, value: v, entity: hrfco-2101690}]\n",
                    encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_collector(path, env={"DB_URL": "no url at all with s3cret"})
    assert [(p.line, p.field, p.value) for p in err.value.problems] == [
        (4, "params.url", "${DB_URL}"), (6, "params.parameters", {"now": 1})]
    assert "s3cret" not in str(err.value)
    params = validate(Sql.Params, {"url": "mysql+nosuchdriver://u:s3cret@h/db", "query": "SELECT 1",
                                   "map": LEVEL_MAP})
    with pytest.raises(ConfigError) as err:
        Sql(params, CollectorContext("x", site_catalog, REPO, logging.getLogger("x"), redact=Redactor({"s3cret"})))
    assert err.value.problems[0].field == "params.url" and "s3cret" not in str(err.value)


# --- PostgreSQL --------------------------------------------------------------------------------------------

def _pg_answers() -> bool:
    try:
        engine = sa.create_engine(PG, connect_args={"connect_timeout": 2})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(scope="module")
def pg_table() -> Iterator[str]:
    if not _pg_answers():
        pytest.skip("no PostgreSQL answers at 127.0.0.1:5432 (SQLite is still tested)")
    table = f"reading_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(PG)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE {table} (station text, measured timestamptz, "
                             "level numeric(6,3), local_time timestamp)"))
        conn.execute(sa.text(f"INSERT INTO {table} VALUES "
                             "('2101690', '2026-03-15 08:00+09', 1.250, '2026-03-15 08:00'), "
                             "('2101687', '2026-03-15 08:30+09', NULL, '2026-03-15 08:30'), "
                             "('2402680', '2026-03-14 23:30+00', 0.875, '2026-03-15 08:30'), "
                             "('2101660', '2026-03-15 06:00+09', 0.4, '2026-03-15 06:00')"))
    yield table
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE {table}"))
    engine.dispose()


async def test_postgresql_rows_since_the_last_run(pg_table: str, site_catalog: Catalog) -> None:
    collector = kind({"url": PG, "query": f"SELECT * FROM {pg_table} WHERE measured > :last_run ORDER BY measured",
                      "lookback": "2h", "map": LEVEL_MAP}, site_catalog)
    try:
        first = await collector.collect(NOW)  # 07:00 onwards
        at8 = datetime(2026, 3, 15, 8, tzinfo=KST).timestamp()
        assert [(s.entity, s.value, s.ts) for s in first.samples] == [("hrfco-2101690", 1.25, at8),
                                                                       ("hrfco-2402680", 0.875, at8 + 1800)]
        assert [(r.field, r.value) for r in first.rejected] == [("level", None)]
        second = await collector.collect(NOW + 600)  # nothing newer than the first run
        assert second.samples == [] and second.rejected == []
        # A timestamp without zone is the city's time.
        local = kind({"url": PG, "query": f"SELECT station, local_time AS measured, level FROM {pg_table} "
                                          "WHERE station = :s", "parameters": {"s": "2101660"}, "map": LEVEL_MAP},
                     site_catalog)
        assert [s.ts for s in (await local.collect(NOW)).samples] == [at8 - 7200]
        await local.close()
    finally:
        await collector.close()


async def test_postgresql_queries_run_off_the_event_loop_and_time_out(pg_table: str, site_catalog: Catalog) -> None:
    collector = kind({"url": PG, "query": "SELECT '2101690' AS station, now() AS measured, 1.0 AS level "
                                          "FROM pg_sleep(0.8)", "map": LEVEL_MAP}, site_catalog)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.05)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        result = await collector.collect(time.time())
    finally:
        task.cancel()
        await collector.close()
    assert len(result.samples) == 1
    assert ticks >= 10  # the loop went on while the database slept
    slow = kind({"url": PG, "query": "SELECT pg_sleep(5)", "timeout": "0.5s", "map": LEVEL_MAP}, site_catalog)
    started = time.monotonic()
    with pytest.raises(CollectError, match=r"^postgresql: .*statement timeout"):
        await slow.collect(time.time())
    assert time.monotonic() - started < 3
    await slow.close()


async def test_postgresql_unreachable_is_a_collect_error_without_the_password(site_catalog: Catalog) -> None:
    if not _pg_answers():
        pytest.skip("no PostgreSQL answers at 127.0.0.1:5432")
    url = "postgresql+psycopg://postgres:s3cret@127.0.0.1:1/test"
    collector = kind({"url": url, "query": "SELECT 1", "timeout": "2s", "map": LEVEL_MAP}, site_catalog,
                     secrets={url})
    with pytest.raises(CollectError) as err:
        await collector.collect(NOW)
    await collector.close()
    assert str(err.value).startswith("postgresql: ") and "s3cret" not in str(err.value)
    assert "refused" in str(err.value).lower() or "failed" in str(err.value).lower()
