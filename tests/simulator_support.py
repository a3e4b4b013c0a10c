"""Helpers of the simulator's tests: a simulator collector as the runtime builds it, run at a simulated time."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from statistics import mean

from situationroom.catalog import load_catalog
from situationroom.collectors import registry
from situationroom.collectors.base import CollectorContext
from situationroom.collectors.kinds.simulator import Simulator
from situationroom.collectors.kinds.simulator.local_time import parse_start
from situationroom.samples import Sample
from situationroom.settings import Settings
from tests.site_support import REPO

NOW = 1_800_000_000.0
"""The real time of a simulator's first run in these tests (any fixed instant will do)."""

INDUSTRIAL_SOUTH = {"4711131000", "4711157000", "4711156000"}   # 대송면, 제철동, 청림동
RURAL_NORTH = {"4711335000", "4711336000", "4711332000"}        # 죽장면, 기북면, 청하면

Values = dict[tuple[str, str], float]


def simulator(*, site: Path = REPO, settings: Settings | None = None, interval: float = 5.0,
              **params: object) -> Simulator:
    """A simulator collector as the runtime builds it from a collector file's params."""
    kind = registry.get("simulator")
    assert kind is Simulator
    catalog = load_catalog(site / "seeds")
    context = CollectorContext("sim-test", catalog, site, logging.getLogger("test.simulator"), interval, settings)
    return Simulator(Simulator.Params(**params), context)


async def collect_at(sim: Simulator, when: str) -> list[Sample]:
    """Run the collector at the real time that corresponds to the simulated local time `when`."""
    if sim.sim.anchor is None:
        await sim.collect(NOW)  # the first run ties the simulated start to NOW
    assert sim.sim.start is not None
    now = NOW + (parse_start(when) - sim.sim.start) / sim.sim.speed
    return (await sim.collect(now)).samples


def values(batch: list[Sample]) -> Values:
    return {(s.indicator, s.entity): s.value for s in batch}


async def ordinary_at(when: str, seed: int = 7, **params: object) -> Values:
    """Values of an ordinary day at simulated local time `when`."""
    return values((await simulator(seed=seed, start=when, **params).collect(NOW)).samples)


def avg(v: Values, indicator: str, entities: set[str] | None = None) -> float:
    return mean(x for (i, e), x in v.items() if i == indicator and (entities is None or e in entities))


def site_seeds_copy(folder: Path) -> Path:
    """A site in `folder` with a copy of the repository's seeds and a scenarios folder of its own (empty)."""
    (folder / "seeds" / "scenarios").mkdir(parents=True)
    for name in ("catalog.yaml", "entities.yaml", "districts.csv", "simulation.yaml"):
        shutil.copy(REPO / "seeds" / name, folder / "seeds" / name)
    return folder
