"""Python collectors: a plugin file in the site's collectors/ and an installed package's entry point, found for real."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from situationroom.catalog import Catalog
from situationroom.collectors import health, registry
from situationroom.collectors.definition import load_collectors
from situationroom.collectors.plugin import dry_run
from situationroom.collectors.runtime import CollectorRunner
from tests.site_support import MINI, REPO, settings_for
from tests.stream_support import stream_samples

pytestmark = pytest.mark.cluster  # also run on the suite's Redis Cluster

FUNCTION_PLUGIN = '''"""Parking lots of a made-up city system."""
from situationroom.collectors.plugin import CollectError, Context, Params, Sample, collector_kind


class ParkingParams(Params):
    entity: str
    levels: list[float]


@collector_kind("plugin-parking", params=ParkingParams)
async def collect(params: ParkingParams, ctx: Context, now: float) -> list[Sample]:
    if not params.levels:
        raise CollectError("the parking system answered an empty list")
    return [Sample("river.level", params.entity, now - i, v) for i, v in enumerate(params.levels)]
'''

CLASS_PLUGIN = '''from typing import ClassVar

from situationroom.collectors.plugin import CollectorKind, CollectResult, Rejection, Sample, register


@register
class Gauges(CollectorKind):
    name: ClassVar[str] = "plugin-gauges"

    def collect(self, now: float) -> CollectResult:  # a plain def: it runs in a thread
        return CollectResult([Sample("river.level", "hyeongsan", now, 0.4)],
                             [Rejection("station", "gauge 77 is not mapped", "77")])
'''


def _site(tmp_path: Path, files: dict[str, str]) -> Path:
    site = tmp_path / "site"
    (site / "collectors").mkdir(parents=True)
    (site / "seeds").symlink_to(MINI / "seeds")
    for name, text in files.items():
        (site / "collectors" / name).write_text(text, encoding="utf-8")
    return site


async def test_plugins_in_the_site_folder_run_like_any_kind(aclient: aioredis.Redis, redis_url: str,
                                                            mini_catalog: Catalog, tmp_path: Path) -> None:
    site = _site(tmp_path, {
        "parking.py": FUNCTION_PLUGIN,
        "parking.yaml": "kind: plugin-parking\nschedule: {interval: 1h}\nparams:\n  entity: chaeun\n"
                        "  levels: [1.0, 1.5]\n",
        "gauges.py": CLASS_PLUGIN,
        "gauges.yaml": "kind: plugin-gauges\nschedule: {interval: 1h}\n",
        "empty.yaml": "kind: plugin-parking\nschedule: {interval: 1h}\nretries: 0\nparams:\n  entity: chaeun\n"
                      "  levels: []\n",
        "_helpers.py": "raise RuntimeError('a helper module is not loaded as a plugin')\n",
    })
    runner = CollectorRunner(aclient, mini_catalog, settings_for(redis_url, site=site), watch=False)
    await runner.load()
    try:
        assert runner.problems == []
        assert (await runner.run_once("parking")).written == 2
        outcome = await runner.run_once("gauges")
        assert outcome.written == 1 and outcome.rejected == 1
        failed = await runner.run_once("empty")
        assert not failed.ok and failed.error == "the parking system answered an empty list"
    finally:
        await runner.stop()
    states = await health.read_all(aclient)
    assert states["parking"]["kind"] == "plugin-parking" and states["parking"]["samples_last_run"] == 2
    assert states["empty"]["last_error"] == "the parking system answered an empty list"
    assert registry.get("plugin-parking") is None, "the site's kinds leave with its runner"


async def test_a_broken_plugin_is_an_error_with_file_and_line_and_the_others_run(
        aclient: aioredis.Redis, redis_url: str, mini_catalog: Catalog, tmp_path: Path) -> None:
    site = _site(tmp_path, {
        "syntax.py": "from situationroom.collectors.plugin import Sample\n\ndef collect(:\n    pass\n",
        "imports.py": '"""Needs a library that is not installed."""\n\nimport no_such_library_here\n',
        "raises.py": "def setup():\n    return 1 / 0\n\nsetup()\n",
        "nothing.py": "X = 1\n",
        "parking.py": FUNCTION_PLUGIN,
        "parking.yaml": "kind: plugin-parking\nschedule: {interval: 1h}\nparams: {entity: chaeun, levels: [1]}\n",
        "orphan.yaml": "kind: plugin-imports\nschedule: {interval: 1h}\n",
    })
    folder = site / "collectors"
    runner = CollectorRunner(aclient, mini_catalog, settings_for(redis_url, site=site), watch=False)
    await runner.load()
    try:
        problems = [str(p) for p in runner.problems]
        assert f"{folder / 'syntax.py'}:3: Python syntax: invalid syntax" in problems
        assert any(p.startswith(f"{folder / 'imports.py'}:3: ModuleNotFoundError: No module named "
                                "'no_such_library_here'") for p in problems), problems
        assert any(p.startswith(f"{folder / 'raises.py'}:2: ZeroDivisionError") for p in problems), problems
        assert any(p.startswith(f"{folder / 'nothing.py'}: defines no collector kind") for p in problems)
        orphan = next(p for p in problems if "orphan.yaml" in p)
        assert "unknown collector kind" in orphan and "failed to load" in orphan and "imports.py" in orphan
        assert list(runner.collectors) == ["parking"]
        assert (await runner.run_once("parking")).ok
    finally:
        await runner.stop()


# An installed package's entry point: a .dist-info on a sys.path folder is what `pip install` leaves
# behind, and importlib.metadata finds it the same way.
EP_MODULE = '''from situationroom.collectors.plugin import Context, Params, Sample, collector_kind


class GaugeParams(Params):
    level: float = 0.9


@collector_kind("ep-gauge", params=GaugeParams)
def collect(params: GaugeParams, ctx: Context, now: float) -> list[Sample]:
    return [Sample("river.level", "chaeun", now, params.level)]
'''


def _install(where: Path, entry_points: str) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    (where / "sr_test_gauges.py").write_text(EP_MODULE, encoding="utf-8")
    info = where / "sr_test_gauges-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sr-test-gauges\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(entry_points, encoding="utf-8")
    return where


@pytest.fixture
def installed(tmp_path: Path) -> Iterator[Path]:
    where = _install(tmp_path / "site-packages", "[situationroom.collectors]\nep-gauge = sr_test_gauges:collect\n"
                                                 "broken = sr_test_not_there:Kind\n")
    sys.path.insert(0, str(where))
    yield where
    sys.path.remove(str(where))
    sys.modules.pop("sr_test_gauges", None)
    registry.load_entry_points()  # forget the broken one's problem


async def test_a_kind_from_an_installed_entry_point(installed: Path, aclient: aioredis.Redis, redis_url: str,
                                                    mini_catalog: Catalog, tmp_path: Path) -> None:
    problems = registry.load_entry_points()
    assert registry.get("ep-gauge") is not None
    assert registry.origin("ep-gauge") == "entry point ep-gauge = sr_test_gauges:collect (sr-test-gauges)"
    assert [str(p) for p in problems] == [
        "entry point broken = sr_test_not_there:Kind (sr-test-gauges): ModuleNotFoundError: No module named "
        "'sr_test_not_there'"]
    site = _site(tmp_path, {"gauge.yaml": "kind: ep-gauge\nschedule: {interval: 1h}\nparams: {level: 1.25}\n"})
    loaded, load_problems = load_collectors(site / "collectors")
    assert [c.id for c in loaded] == ["gauge"] and [p.file for p in load_problems] == [problems[0].file]
    runner = CollectorRunner(aclient, mini_catalog, settings_for(redis_url, site=site), watch=False)
    await runner.load()
    try:
        assert (await runner.run_once("gauge")).written == 1
    finally:
        await runner.stop()
    (sample,) = await stream_samples(aclient)
    assert (sample.value, sample.source) == (1.25, "gauge")


def test_a_fresh_process_finds_the_entry_point(tmp_path: Path) -> None:
    where = _install(tmp_path / "site-packages", "[situationroom.collectors]\nep-gauge = sr_test_gauges:collect\n")
    site = _site(tmp_path, {"gauge.yaml": "kind: ep-gauge\nschedule: {interval: 1h}\n"})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(where), str(REPO)])}
    run = subprocess.run([sys.executable, "-m", "situationroom", "collectors", "run", "gauge", "--dry-run", "--site",
                          str(site), "--json"], capture_output=True, text=True, env=env, timeout=60)
    assert run.returncode == 0, run.stderr
    assert '"value": 0.9' in run.stdout and '"kind": "ep-gauge"' in run.stdout


def test_dry_run_of_a_plugin_for_its_tests(tmp_path: Path) -> None:
    site = _site(tmp_path, {
        "parking.py": FUNCTION_PLUGIN,
        "parking.yaml": "kind: plugin-parking\nschedule: {interval: 1h}\nparams:\n  entity: chaeun\n"
                        "  levels: [1.0, 99.0]\n",
    })
    result = dry_run(site, "parking")
    assert result.error is None and [s.value for s in result.samples] == [1.0]
    (rejection, item), = result.rejected
    assert rejection.field == "value" and "outside the possible range" in rejection.reason and item["value"] == 99.0


LIVE_PLUGIN = '''import asyncio
import time
from typing import ClassVar

from situationroom.collectors.plugin import CollectorKind, CollectResult, Sample, register


@register
class Ticker(CollectorKind):
    """A live plugin: a reading every 0.1 s until stopped."""

    name: ClassVar[str] = "plugin-ticker"
    live: ClassVar[bool] = True

    async def run(self, emit, stop: asyncio.Event) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            await emit(CollectResult([Sample("river.level", "chaeun", time.time(), n / 10)]))
            try:
                await asyncio.wait_for(stop.wait(), 0.1)
            except TimeoutError:
                pass
'''


def test_dry_run_of_a_live_plugin_listens_for_a_while(tmp_path: Path) -> None:
    site = _site(tmp_path, {"ticker.py": LIVE_PLUGIN, "ticker.yaml": "kind: plugin-ticker\n"})
    result = dry_run(site, "ticker", seconds=0.55)
    assert result.error is None
    assert 4 <= len(result.samples) <= 8 and result.samples[0].value == 0.1
