"""The `simulator` collector kind: its collector files, params and command-line overrides, end to end on Redis."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from situationroom import keys
from situationroom.catalog import Catalog
from situationroom.collectors.base import CollectorContext
from situationroom.collectors.definition import load_collectors
from situationroom.collectors.kinds.simulator import Simulator
from situationroom.collectors.runtime import CollectorRunner
from situationroom.errors import ConfigError
from situationroom.redisconn import async_client
from situationroom.settings import Settings
from tests.simulator_support import NOW, simulator, site_seeds_copy
from tests.site_support import REPO, settings_for
from tests.stream_support import stream_samples

pytestmark = pytest.mark.cluster  # also run on the suite's Redis Cluster


async def test_at_speed_60_one_real_minute_is_one_simulated_hour() -> None:
    sim = simulator(start="2025-10-15 08:00", speed=60, interval=5.0)
    first = (await sim.collect(NOW)).samples
    assert (sim.simulated_time(NOW + 60) - sim.simulated_time(NOW)).total_seconds() == 3600
    assert sim.simulated_time(NOW + 60).hour == 9
    # An hourly indicator now arrives every simulated hour = every real minute; staleness follows that.
    pm10 = next(s for s in first if s.indicator == "air.pm10")
    assert pm10.interval == 60 and pm10.ts == NOW
    # ...but never more often than the collector runs.
    river = next(s for s in first if s.indicator == "river.level")
    assert river.interval == 10


def test_every_collector_file_of_the_repository_loads(site_catalog: Catalog) -> None:
    loaded, problems = load_collectors(REPO / "collectors")
    assert problems == []
    sims = [c for c in loaded if c.definition.kind == "simulator"]
    assert len(sims) >= 7
    covered: set[str] = set()
    for c in sims:
        assert c.definition.name_ko and c.definition.name_en
        assert c.definition.schedule.interval is not None and c.definition.schedule.interval <= 10
        ctx = CollectorContext(c.id, site_catalog, REPO, logging.getLogger(c.id), c.definition.schedule.interval)
        instance = Simulator(c.params, ctx)
        assert not covered & set(instance.indicators), "two collectors simulate the same indicator"
        covered |= set(instance.indicators)
    assert covered == set(site_catalog.indicators)


def test_the_command_line_overrides_the_collector_file() -> None:
    settings = Settings(site=REPO, scenario="typhoon-hinnamnor", speed=120, seed=9)
    sim = simulator(settings=settings, scenario="ordinary", speed=1, seed=1)
    assert (sim.scenario_name, sim.sim.speed, sim.sim.seed) == ("typhoon-hinnamnor", 120, 9)
    assert simulator(scenario="typhoon-hinnamnor", speed=1).sim.speed == 1  # a collector's own speed wins


def test_an_unknown_scenario_or_indicator_pattern_is_a_config_error(tmp_path: Path) -> None:
    site_copy = site_seeds_copy(tmp_path)
    shutil.copy(REPO / "seeds" / "scenarios" / "ordinary.yaml", site_copy / "seeds" / "scenarios")
    with pytest.raises(ConfigError) as exc:
        simulator(site=site_copy, scenario="tsunami")
    assert "params.scenario: unknown scenario; available: ordinary" in str(exc.value)
    with pytest.raises(ConfigError) as exc:
        simulator(site=site_copy, indicators=["air.*", "aire.*"], domains=["weathr"])
    message = str(exc.value)
    assert "params.indicators[1]: no indicator of the catalog matches" in message
    assert "params.domains[0]: unknown domain" in message


# ---------------------------------------------------------------- end to end, on a real Redis

async def test_a_simulator_collector_writes_valid_samples_to_the_streams(redis_url: str, site_catalog: Catalog) -> None:
    settings = settings_for(redis_url)
    client = async_client(redis_url)
    runner = CollectorRunner(client, site_catalog, settings)
    try:
        await runner.load()
        assert [p for p in runner.problems if "sim-" in (p.file or "")] == []
        assert {"sim-environment", "sim-safety", "sim-traffic"} <= set(runner.collectors)
        outcome = await runner.run_once("sim-environment")
        assert outcome.ok and outcome.rejected == 0
        written = await stream_samples(client, partitions=settings.partitions)
        environment = {i for i, ind in site_catalog.indicators.items() if ind.domain == "environment"}
        expected = sum(len(site_catalog.entities_of(i)) for i in environment)
        assert len(written) == outcome.written >= 0.95 * expected  # a rare gap is allowed (missing: 0.002)
        assert {s.indicator for s in written} <= environment
        assert all(s.source == "sim-environment" and s.interval for s in written)
        assert await client.xlen(keys.deadletter()) == 0
    finally:
        await runner.stop()
        await client.aclose()


async def test_a_simulator_says_what_it_simulates_once_when_it_starts_collecting(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    sim = simulator(start="2025-10-15 08:00", speed=60)
    # Built but not run (a backfill, a check): nothing said, so `up`'s log names each simulator once.
    assert not [r for r in caplog.records if "simulating" in r.getMessage()]
    await sim.collect(NOW)
    await sim.collect(NOW + 5)
    said = [r.getMessage() for r in caplog.records if "simulating" in r.getMessage()]
    assert len(said) == 1 and "speed 60x" in said[0] and "scenario ordinary" in said[0]
