"""The collect role's side of a drill: runs the drill's scenario as an exercise simulator while the drill lasts."""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from situationroom import drill as drill_mod
from situationroom.aio import wait_event
from situationroom.collectors import registry
from situationroom.collectors.definition import CollectorDefinition, LoadedCollector, Schedule
from situationroom.errors import ConfigError
from situationroom.outage import Outage
from situationroom.settings import Settings

log = logging.getLogger(__name__)

POLL = 1.0
"""Seconds between two looks at the drill record: a drill starts and ends on the wall within about this."""


class DrillHost(Protocol):
    """What a drill needs of the collect role's runner (runtime.CollectorRunner)."""

    client: aioredis.Redis
    settings: Settings

    async def add_collector(self, loaded: LoadedCollector) -> None: ...

    async def remove_collector(self, cid: str) -> None: ...


def collector_for(drill: drill_mod.Drill, runner: DrillHost) -> LoadedCollector:
    """The drill's scenario as a collector of the simulator kind: every indicator, exercise data."""
    definition = CollectorDefinition(
        kind="simulator", name_ko=f"훈련: {drill.scenario}", name_en=f"Drill: {drill.scenario}", exercise=True,
        schedule=Schedule(interval=drill_mod.SCHEDULE_S),
        params={"scenario": drill.scenario, "speed": drill.speed, "seed": drill.seed})
    kind = registry.get("simulator")
    assert kind is not None
    params = kind.Params.model_validate(definition.params)
    return LoadedCollector(id=drill.collector, path=runner.settings.collectors_dir / f"{drill.collector}.yaml",
                           definition=definition, params=params)


async def follow(runner: DrillHost, stop: asyncio.Event) -> None:
    """Start the running drill's collector, stop it when the drill ends; until `stop`."""
    active: str | None = None
    outage = Outage(log, "drills: the drill record can be read again")
    while not stop.is_set():
        try:
            drill = await drill_mod.read_current(runner.client)
            wanted = drill.collector if drill is not None else None
            if active is not None and active != wanted:
                await runner.remove_collector(active)
                log.info("drill collector %s stopped (the drill ended)", active)
                active = None
            if drill is not None and active is None:
                try:
                    await runner.add_collector(collector_for(drill, runner))
                except ConfigError as exc:  # a scenario removed since the drill was started
                    log.error("drill %s cannot run: %s", drill.id, exc)
                else:
                    active = drill.collector
                    log.info("drill %s: scenario %s at %gx as exercise data", drill.id, drill.scenario, drill.speed)
            outage.reached()
        except (RedisError, OSError) as exc:
            outage.failed("drills: cannot read the drill record: %s", exc)
        await wait_event(stop, POLL)
    if active is not None:
        await runner.remove_collector(active)
