"""history/sink.py, the history role: samples written to the streams come back from the store once each, late ones
in their event date's partition, exercise ones apart; nothing acknowledged before it is on disk; a kill -9 of
`situationroom run history` mid-write, then a restart, loses and doubles nothing; in a folder and on an object store
alike."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis

from situationroom import keys
from situationroom.catalog import Catalog
from situationroom.history import layout
from situationroom.history.retention import HistoryFile, Keep, Retention
from situationroom.history.sink import HistorySink
from situationroom.history.store import store_for
from situationroom.redisconn import async_client, sync_client
from situationroom.samples import Sample
from situationroom.settings import Settings
from situationroom.streams import StreamWriter, ensure_groups
from tests.history_support import drain, every_row
from tests.servers_support import Command, S3Server, wait_for
from tests.site_support import MINI, settings_for

pytestmark = pytest.mark.cluster  # also run on the suite's Redis Cluster

DAY = 86_400.0


@pytest.fixture(params=["local", "s3"])
def where(request: pytest.FixtureRequest) -> dict[str, str]:
    """Where the history goes, as settings: the default folder, or a new bucket of the local object store."""
    if request.param == "local":
        return {}
    s3: S3Server = request.getfixturevalue("s3")
    return {"history_url": s3.bucket() + "/pohang", "history_s3_endpoint": s3.endpoint}


def _settings(url: str, tmp_path: Path, **more: object) -> Settings:
    return settings_for(url, site=MINI, history_dir=tmp_path / "history", history_flush_every=0.2, claim_idle=1.0,
                        batch_size=200, **more)


def _samples(n: int, start: float, *, exercise: bool = False, seed: int = 1) -> list[Sample]:
    rng = random.Random(seed)
    series = [("air.pm10", "daesong"), ("air.pm10", "yeonil"), ("river.level", "hyeongsan"),
              ("weather.visibility", "pohang")]
    return [Sample(ind, ent, start + k, round(rng.uniform(0, 20), 2), "test", exercise=exercise)
            for k in range(n) for ind, ent in series]


async def _write(client: aioredis.Redis, settings: Settings, samples: list[Sample]) -> None:
    """Into the streams as collectors write: a batch of 50 samples becomes one entry per partition it touches."""
    await StreamWriter(client, partitions=settings.partitions, retention=86400 * 365,
                       deadletter_maxlen=settings.deadletter_maxlen, batch_size=50).write(samples)


async def _entries(client: aioredis.Redis, settings: Settings) -> int:
    """Entries in the sample streams (each carrying a batch of samples)."""
    return sum([await client.xlen(stream) for stream in keys.all_samples(settings.partitions)])


def _stored(settings: Settings, start: float, end: float, *, exercise: bool = False) -> list[tuple]:
    store = store_for(settings)
    return [(ind, *row) for ind in ("air.pm10", "river.level", "weather.visibility")
            for row in every_row(store, ind, start, end, exercise=exercise)]


def _expected(samples: list[Sample]) -> list[tuple]:
    return sorted((s.indicator, s.entity, round(s.ts * 1000), s.value, s.source) for s in samples)


async def _pending(client: aioredis.Redis, settings: Settings) -> int:
    total = 0
    for stream in keys.all_samples(settings.partitions):
        total += (await client.xpending(stream, keys.HISTORY_GROUP))["pending"]
    return total


async def _until(predicate: Callable[[], Awaitable[bool]]) -> None:
    """Poll `predicate` for up to 30 s."""
    for _ in range(600):
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def test_samples_written_to_the_streams_come_back_from_the_store(
        aclient: aioredis.Redis, redis_url: str, mini_catalog: Catalog, tmp_path: Path, where: dict[str, str]) -> None:
    settings = _settings(redis_url, tmp_path, **where)
    now = time.time()
    real = _samples(300, now - 600)
    late = _samples(20, now - 3 * DAY, seed=2)  # three days late: in its own date's partition
    drill = _samples(50, now - 100, exercise=True, seed=3)
    sink = HistorySink(aclient, mini_catalog, settings, consumer="h1")
    stop = asyncio.Event()
    task = asyncio.create_task(sink.run(stop))
    await _write(aclient, settings, real + late + drill + [Sample("no.such", "x", now, 1.0, "test")])

    async def done() -> bool:
        return sink.rows_written == len(real) + len(late) + len(drill) and await _pending(aclient, settings) == 0

    await _until(done)
    stop.set()
    await task
    assert _stored(settings, now - 4 * DAY, now + 1) == _expected(real + late)
    assert _stored(settings, now - 4 * DAY, now + 1, exercise=True) == _expected(drill)
    late_date = layout.date_of(round(late[0].ts * 1000))
    assert [p.domain for p in sink.store.partitions(layout.SAMPLES) if p.date == late_date] == [
        "disaster", "environment", "weather"]
    assert not list((tmp_path / "history").rglob("*.tmp"))
    assert (tmp_path / "history").exists() == (where == {})


async def test_nothing_is_acknowledged_before_its_file_is_written(
        aclient: aioredis.Redis, redis_url: str, mini_catalog: Catalog, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "situationroom.history")
    settings = _settings(redis_url, tmp_path)
    await ensure_groups(aclient, settings.partitions, keys.HISTORY_GROUP)
    samples = _samples(100, time.time() - 200)
    await _write(aclient, settings, samples)
    sink = HistorySink(aclient, mini_catalog, settings, consumer="h1")
    await drain(lambda: sink.read(">", 10))

    def full(*_args: object, **_kwargs: object) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sink.store, "write", full)
    stop = asyncio.Event()
    assert not await sink.flush_writing(stop)
    assert not await sink.flush_writing(stop)
    assert await _pending(aclient, settings) == await _entries(aclient, settings)
    assert [r.getMessage() for r in caplog.records].count(
        f"history cannot write files under {sink.store.url}: [Errno 28] No space left on device; retrying") == 1
    monkeypatch.undo()
    assert await sink.flush_writing(stop)
    assert "history: writing files again" in caplog.text
    assert await _pending(aclient, settings) == 0
    assert _stored(settings, 0, time.time()) == _expected(samples)


async def test_a_restarted_historian_writes_what_it_had_read_but_not_written(
        aclient: aioredis.Redis, redis_url: str, mini_catalog: Catalog, tmp_path: Path) -> None:
    settings = _settings(redis_url, tmp_path, history_flush_rows=100)  # reads of about 100 samples
    await ensure_groups(aclient, settings.partitions, keys.HISTORY_GROUP)
    samples = _samples(200, time.time() - 300)
    await _write(aclient, settings, samples)
    first = HistorySink(aclient, mini_catalog, settings, consumer="h1")
    await first.read(">", 10)
    await first.flush()  # one batch written and acknowledged
    await drain(lambda: first.read(">", 10))  # the rest read, then the process dies before writing them
    left = await _pending(aclient, settings)
    assert 0 < left < await _entries(aclient, settings)
    again = HistorySink(aclient, mini_catalog, settings, consumer="h1")
    assert await again.recover_own() == left
    await again.flush()
    assert await _pending(aclient, settings) == 0
    assert _stored(settings, 0, time.time()) == _expected(samples)


def test_kill_9_of_the_history_role_mid_write_then_a_restart_loses_and_doubles_nothing(
        embedded_url: str, tmp_path: Path, where: dict[str, str]) -> None:
    env = {"REDIS_URL": embedded_url, "SITUATIONROOM_SITE": str(MINI),
           "SITUATIONROOM_HISTORY_DIR": str(tmp_path / "history"), "SITUATIONROOM_HISTORY_FLUSH_EVERY": "0.05",
           "SITUATIONROOM_HISTORY_FLUSH_ROWS": "300", "SITUATIONROOM_BATCH_SIZE": "100",
           "SITUATIONROOM_CLAIM_IDLE": "1", **{f"SITUATIONROOM_{k.upper()}": v for k, v in where.items()}}
    settings = _settings(embedded_url, tmp_path, **where)
    store = store_for(settings)
    now = time.time()
    samples = _samples(3000, now - 4000)
    role = Command("run", "history", env=env, log=tmp_path / "history.log")
    client = sync_client(embedded_url)

    def files() -> int:
        return sum(len(store.files(p)) for p in store.partitions(layout.SAMPLES))

    async def write(chunk: list[Sample]) -> None:
        aclient = async_client(embedded_url)
        await _write(aclient, settings, chunk)
        await aclient.aclose()

    try:
        role.start()
        asyncio.run(write(samples[:6000]))
        wait_for(lambda: files() >= 3, 60, "the history role to write files")
        # Killed while it reads and writes: what it buffered is pending, perhaps a file is half written.
        asyncio.run(write(samples[6000:9000]))
        role.kill()
        assert _unfinished(client) > 0, "the role was killed with work in hand"
        # Whether the dead historian held entries read but not written depends on where the kill fell; when it
        # did, the new one (another consumer name) must say it took them over.
        left_pending = _read_not_written(client)
        asyncio.run(write(samples[9000:]))
        role.start()
        wait_for(lambda: _unfinished(client) == 0, 90, "the restarted history role to write everything")
        if left_pending:
            wait_for(lambda: "took over" in role.output_of_this_start, 10,
                     f"the restarted role to say it took over the {left_pending} entries left pending")
    finally:
        role.stop()
        client.close()
    assert _stored(settings, now - 5000, now) == _expected(samples)


def _read_not_written(client: redis.Redis) -> int:
    """Entries of the historians' group pending on any consumer (read, not yet acknowledged)."""
    return sum(client.xpending(s, keys.HISTORY_GROUP)["pending"] for s in keys.all_samples(8))


def _unfinished(client: redis.Redis) -> int:
    """Entries of the historians' group not yet acknowledged: pending on a consumer, or not yet read (lag)."""
    pending = _read_not_written(client)
    lag = sum(g.get("lag") or 0 for s in keys.all_samples(8) for g in client.xinfo_groups(s)
              if g["name"] == keys.HISTORY_GROUP.encode())
    return pending + lag


async def test_the_role_compacts_rolls_up_and_drops_what_is_past_retention(
        aclient: aioredis.Redis, redis_url: str, mini_catalog: Catalog, tmp_path: Path) -> None:
    settings = _settings(redis_url, tmp_path, history_compact_after=0.5)
    await ensure_groups(aclient, settings.partitions, keys.HISTORY_GROUP)
    now = time.time()
    recent, old = _samples(50, now - 3 * DAY), _samples(50, now - 500 * DAY, seed=2)
    await _write(aclient, settings, recent + old)
    sink = HistorySink(aclient, mini_catalog, settings, consumer="h1")
    sink.retention = Retention(HistoryFile(default=Keep(raw=100 * DAY)))
    while await sink.read(">", 10):
        await sink.flush()
    await asyncio.sleep(1.1)
    await sink.maintain()
    recent_date, old_date = (layout.date_of(round(s[0].ts * 1000)) for s in (recent, old))
    # The old day's samples are past their retention; its rollups, kept forever, remain.
    assert {p.date for p in sink.store.partitions(layout.SAMPLES)} == {recent_date}
    assert {p.date for p in sink.store.partitions(layout.ROLLUPS["1d"])} == {recent_date, old_date}
    assert _stored(settings, now - 4 * DAY, now) == _expected(recent)
