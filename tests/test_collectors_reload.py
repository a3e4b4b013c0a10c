"""Hot reload with a real runner, real files and real Redis: add, change, remove, a bad file, a plugin's new code."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import ClassVar

import pytest
import redis.asyncio as aioredis

from situationroom import keys
from situationroom.catalog import Catalog
from situationroom.collectors import health, registry
from situationroom.collectors.base import CollectorKind, Params
from situationroom.collectors.runtime import CollectorRunner
from situationroom.samples import Sample
from tests.site_support import MINI, settings_for
from tests.stream_support import stream_samples

pytestmark = pytest.mark.cluster  # also run on the suite's Redis Cluster


class ValueParams(Params):
    value: float = 1.0


@registry.register
class ValueKind(CollectorKind):
    name: ClassVar[str] = "reload-value"
    Params: ClassVar[type[Params]] = ValueParams

    async def collect(self, now: float) -> list[Sample]:
        assert isinstance(self.params, ValueParams)
        return [Sample("river.level", "chaeun", now, self.params.value)]


def _yaml(value: float, interval: str = "0.2s") -> str:
    return f"kind: reload-value\nschedule: {{interval: {interval}}}\nparams:\n  value: {value}\n"


PLUGIN = '''from situationroom.collectors.plugin import Context, Params, Sample, collector_kind


@collector_kind("reload-plugin")
async def collect(params: Params, ctx: Context, now: float) -> list[Sample]:
    return [Sample("river.level", "hyeongsan", now, {value})]
'''


async def _values(client: aioredis.Redis, source: str, since: float) -> list[float]:
    return [s.value for s in await stream_samples(client) if s.source == source and s.ts >= since]


async def _until(check: Callable[[], Awaitable[bool]], what: str, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {within}s: {what}")


@pytest.fixture
async def running(aclient: aioredis.Redis, redis_url: str, mini_catalog: Catalog,
                  tmp_path: Path) -> AsyncIterator[tuple[CollectorRunner, Path]]:
    site = tmp_path / "site"
    (site / "collectors").mkdir(parents=True)
    (site / "seeds").symlink_to(MINI / "seeds")
    (site / "collectors" / "a.yaml").write_text(_yaml(1.0), encoding="utf-8")
    runner = CollectorRunner(aclient, mini_catalog, settings_for(redis_url, site=site))
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    await _until(lambda: _state(aclient, "a", "ok"), "a runs")
    await asyncio.sleep(0.5)  # the watcher is set up
    yield runner, site / "collectors"
    stop.set()
    await asyncio.wait_for(task, 10)


async def _state(client: aioredis.Redis, cid: str, state: str) -> bool:
    return (await health.read_all(client)).get(cid, {}).get("state") == state


async def test_a_file_added_starts_and_a_file_removed_stops_its_collector(
        aclient: aioredis.Redis, running: tuple[CollectorRunner, Path]) -> None:
    runner, folder = running
    (folder / "b.yaml").write_text(_yaml(2.0), encoding="utf-8")
    since = time.time()

    async def b_writes() -> bool:
        return len(await _values(aclient, "b", since)) >= 2
    await _until(b_writes, "b writes samples after its file appeared")
    assert "b" in runner.collectors and (await health.read_all(aclient))["b"]["file"] == "collectors/b.yaml"

    (folder / "b.yaml").unlink()

    async def b_gone() -> bool:
        return "b" not in await health.read_all(aclient)
    await _until(b_gone, "b's health is forgotten after its file was removed")
    assert "b" not in runner.collectors
    await asyncio.sleep(0.3)
    after = time.time()
    await asyncio.sleep(0.6)
    assert await _values(aclient, "b", after) == [], "b still writes after its file was removed"
    assert len(await _values(aclient, "a", after)) >= 2, "a was disturbed"


async def test_a_changed_file_restarts_its_collector_with_the_new_definition(
        aclient: aioredis.Redis, running: tuple[CollectorRunner, Path]) -> None:
    runner, folder = running
    first = runner.collectors["a"].instance
    (folder / "a.yaml").write_text(_yaml(3.0), encoding="utf-8")
    since = time.time()

    async def new_value() -> bool:
        return 3.0 in await _values(aclient, "a", since)
    await _until(new_value, "a writes the new value")
    assert runner.collectors["a"].instance is not first


async def test_a_bad_file_keeps_the_last_good_version_running_and_says_why(
        aclient: aioredis.Redis, running: tuple[CollectorRunner, Path]) -> None:
    runner, folder = running
    (folder / "other.yaml").write_text(_yaml(4.0), encoding="utf-8")
    await _until(lambda: _state(aclient, "other", "ok"), "other runs")
    (folder / "a.yaml").write_text("kind: reload-value\nschedule: {interval: 0.2s}\nparams:\n  value: high\n",
                                   encoding="utf-8")
    (folder / "never.yaml").write_text("kind: reload-value\nschedule: {interval: soon}\n", encoding="utf-8")

    async def reported() -> bool:
        return bool((await health.read_all(aclient))["a"]["config_error"])
    await _until(reported, "a's health says its file is invalid")
    h = (await health.read_all(aclient))["a"]
    # Named from the site's folder, as the operator knows it (the log names it in full).
    assert h["config_error"].startswith("collectors/a.yaml:4: params.value") and "'high'" in h["config_error"]
    assert str(folder) not in h["config_error"]
    assert h["state"] == "ok" and h["config_error_at"] > 0
    since = time.time()
    await asyncio.sleep(0.8)
    assert 1.0 in await _values(aclient, "a", since), "the last good version of a stopped"
    assert 4.0 in await _values(aclient, "other", since), "the others stopped"
    never = (await health.read_all(aclient))["never"]
    assert never["state"] == "invalid" and never["last_error"].startswith("collectors/never.yaml:2: schedule.interval")
    assert "never" not in runner.collectors

    (folder / "a.yaml").write_text(_yaml(1.0), encoding="utf-8")

    async def cleared() -> bool:
        return (await health.read_all(aclient))["a"]["config_error"] is None
    await _until(cleared, "the error is cleared when the file is fixed")


async def test_a_plugin_changed_restarts_the_collectors_of_its_kind_with_the_new_code(
        aclient: aioredis.Redis, running: tuple[CollectorRunner, Path]) -> None:
    runner, folder = running
    (folder / "sensor.py").write_text(PLUGIN.format(value=0.5), encoding="utf-8")
    (folder / "sensor.yaml").write_text("kind: reload-plugin\nschedule: {interval: 0.2s}\n", encoding="utf-8")
    since = time.time()

    async def writes(value: float) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return value in await _values(aclient, "sensor", since)
        return check
    await _until(await writes(0.5), "the plugin's collector runs")
    (folder / "sensor.py").write_text(PLUGIN.format(value=0.7), encoding="utf-8")
    await _until(await writes(0.7), "the plugin's new code runs")
    (folder / "sensor.py").write_text("def broken(:\n", encoding="utf-8")

    async def reported() -> bool:
        return any("sensor.py:1" in str(p) for p in runner.problems)
    await _until(reported, "the broken plugin is reported")

    async def in_health() -> bool:
        return "sensor.py:1: Python syntax" in ((await health.read_all(aclient))["sensor"]["config_error"] or "")
    await _until(in_health, "the health of the plugin's collector says its code is broken")
    since = time.time()
    await asyncio.sleep(0.6)
    assert 0.7 in await _values(aclient, "sensor", since), "the last good code stopped running"
    assert (await health.read_all(aclient))["sensor"]["state"] == "ok"


async def test_a_health_write_refused_by_redis_neither_stops_a_reload_nor_leaves_a_collector_unscheduled(
        aclient: aioredis.Redis, redis_url: str, mini_catalog: Catalog, tmp_path: Path) -> None:
    """Redis refusing the health writes of a sync (here a key of the wrong type at the health hash, so
    HSET answers WRONGTYPE) must not abort it: the new collector is scheduled and runs, the files after
    it are applied, and the health is written once Redis takes it."""
    site = tmp_path / "site"
    folder = site / "collectors"
    folder.mkdir(parents=True)
    (site / "seeds").symlink_to(MINI / "seeds")
    (folder / "a.yaml").write_text(_yaml(1.0), encoding="utf-8")
    runner = CollectorRunner(aclient, mini_catalog, settings_for(redis_url, site=site), watch=False)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        await _until(lambda: _state(aclient, "a", "ok"), "a runs")
        for cid in ("b", "bad", "off"):
            await aclient.set(keys.collector_health(cid), "not a hash")
        (folder / "b.yaml").write_text(_yaml(2.0), encoding="utf-8")
        (folder / "bad.yaml").write_text("kind: reload-value\nschedule: {interval: soon}\n", encoding="utf-8")
        (folder / "off.yaml").write_text("kind: reload-value\nenabled: false\nschedule: {interval: 1m}\n",
                                         encoding="utf-8")
        (folder / "c.yaml").write_text(_yaml(3.0), encoding="utf-8")
        since = time.time()
        await runner.sync()  # raised WRONGTYPE, leaving b without a job and c not started

        async def both_write() -> bool:
            return 2.0 in await _values(aclient, "b", since) and 3.0 in await _values(aclient, "c", since)
        await _until(both_write, "b (whose health Redis refuses) and c (after it) run")
        assert {"a", "b", "c"} <= set(runner.collectors)

        for cid in ("b", "bad", "off"):
            await aclient.delete(keys.collector_health(cid))

        async def described() -> bool:
            states = await health.read_all(aclient)
            return all(states.get(cid, {}).get("kind") == "reload-value" for cid in ("b", "off")) \
                and bool(states.get("bad", {}).get("last_error"))
        await _until(described, "the health refused earlier is written once Redis takes it")
        states = await health.read_all(aclient)
        assert states["b"]["file"] == "collectors/b.yaml" and states["b"]["schedule"] == "every 0.2s"
        assert states["b"]["state"] in ("scheduled", "ok")
        assert states["bad"]["state"] == "invalid" and "bad.yaml:2: schedule.interval" in states["bad"]["last_error"]
        assert states["off"]["state"] == "disabled"
        await _until(lambda: _state(aclient, "b", "ok"), "b's runs are in its health")
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
