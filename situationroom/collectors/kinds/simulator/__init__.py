"""The `simulator` collector kind: a slice of the simulated city, under a scenario, at a chosen speed."""

from __future__ import annotations

import fnmatch
from datetime import datetime

from pydantic import Field

from situationroom.collectors import base
from situationroom.collectors.base import CollectorContext, CollectorKind, CollectResult
from situationroom.collectors.kinds.simulator.load import load_baseline, load_scenario
from situationroom.collectors.kinds.simulator.local_time import local_datetime, parse_start
from situationroom.collectors.kinds.simulator.model import Simulation
from situationroom.collectors.kinds.simulator.spec import SCENARIO_NAME
from situationroom.collectors.registry import register
from situationroom.errors import ConfigError, Problem
from situationroom.messages import Message, message_id


class SimulatorParams(base.Params):
    """What a simulator collector file's `params` may say."""

    scenario: str = Field(default="ordinary", pattern=SCENARIO_NAME)
    """A file name (without .yaml) in the site's seeds/scenarios/."""
    speed: float = Field(default=1.0, gt=0, le=10_000)
    """Simulated seconds per real second; default 1, or the scenario's suggestion when it has one."""
    seed: int = 0
    indicators: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    """Indicator ids or glob patterns (`air.*`)."""
    domains: list[str] = Field(default_factory=list)
    """When given, only indicators of these domains."""
    missing: float = Field(default=0.0, ge=0, le=0.5)
    """Probability that a value is not delivered (a source's occasional gap)."""
    start: datetime | None = None
    """Simulated start (local time unless an offset is given); default: the scenario's, else now."""
    loop: bool = False
    """Start the scenario over when its duration has passed (otherwise the ordinary day goes on)."""


@register
class Simulator(CollectorKind[SimulatorParams]):
    """Produces the catalog's indicators from `seeds/simulation.yaml` and a scenario of `seeds/scenarios/`.

    The command line's `--scenario`, `--speed` and `--seed` (Settings) take precedence over `params`.
    """

    name = "simulator"
    exercise = True

    Params = SimulatorParams

    def __init__(self, params: SimulatorParams, context: CollectorContext) -> None:
        super().__init__(params, context)
        p = params
        settings = context.settings
        override = settings is not None and settings.scenario is not None
        scenario_name = settings.scenario if settings is not None and settings.scenario is not None else p.scenario
        seeds = context.site / "seeds"
        catalog = context.catalog
        baseline = load_baseline(seeds, catalog)
        try:
            scenario = load_scenario(seeds, scenario_name, catalog, baseline)
        except ConfigError as exc:
            for problem in exc.problems:
                if problem.field == "scenario":
                    problem.field = "scenario (command line)" if override else "params.scenario"
            raise
        if settings is not None and settings.speed is not None:
            speed = settings.speed
        elif "speed" in p.model_fields_set or scenario.speed is None:
            speed = p.speed
        else:
            speed = scenario.speed
        seed = settings.seed if settings is not None and settings.seed is not None else p.seed
        tz = catalog.city.timezone
        start = parse_start(p.start, tz) if p.start is not None else None
        self.indicators = self._select(p)
        unmodelled = [i for i in self.indicators if i not in baseline.series]
        if unmodelled:
            # A new catalog indicator without a model in simulation.yaml is skipped, not a reason to stop.
            context.log.warning("no simulation model in %s for: %s", baseline.path, ", ".join(unmodelled))
        self.sim = Simulation(catalog, baseline, scenario, seed=seed, start=start, speed=speed, loop=p.loop)
        self.scenario_name = scenario_name
        self.missing = p.missing
        self.min_interval = context.interval or 0.0
        self._last_sim: float | None = None
        self._started = f"simulating {len(self.indicators)} indicators, scenario {scenario_name}, speed {speed:g}x, " \
                        f"seed {seed}"
        """Said when it first collects: a backfill or a check builds the simulator without running it."""

    def _select(self, p: Simulator.Params) -> list[str]:
        catalog = self.context.catalog
        problems: list[Problem] = []
        for i, d in enumerate(p.domains):
            if d not in catalog.domains:
                problems.append(Problem(f"unknown domain; known: {', '.join(catalog.domains)}", None, None,
                                        f"params.domains[{i}]", d, True))
        chosen: list[str] = []
        for i, pattern in enumerate(p.indicators):
            found = [ind for ind in catalog.indicators if ind == pattern or fnmatch.fnmatchcase(ind, pattern)]
            if not found:
                problems.append(Problem("no indicator of the catalog matches", None, None,
                                        f"params.indicators[{i}]", pattern, True))
            chosen += found
        if problems:
            raise ConfigError(problems)
        chosen = list(dict.fromkeys(chosen))
        if p.domains:
            chosen = [c for c in chosen if catalog.indicators[c].domain in p.domains]
        return chosen

    def clock(self) -> dict[str, float | str | bool] | None:
        """How real time maps to simulated time, once the first run fixed it: the wall shows the simulated
        time of a replay (docs/exercise.md). None before the first run."""
        sim = self.sim
        if sim.anchor is None or sim.start is None:
            return None
        scenario = sim.scenario
        return {"scenario": self.scenario_name, "name_ko": scenario.name_ko if scenario else self.scenario_name,
                "name_en": scenario.name_en if scenario else self.scenario_name, "speed": sim.speed,
                "start": sim.start, "anchor": sim.anchor, "duration": sim.duration or 0.0, "loop": sim.loop}

    def simulated_time(self, now: float) -> datetime:
        """The simulated local time at real time `now` (for logs and the demo's clock)."""
        return local_datetime(self.sim.sim_time(now), self.context.catalog.city.timezone)

    async def collect(self, now: float) -> CollectResult:
        if self._started:
            self.context.log.info(self._started)
            self._started = ""
        samples = self.sim.samples(self.indicators, now, missing=self.missing, source=self.context.collector_id,
                                   min_interval=self.min_interval)
        return CollectResult(samples, messages=self._messages(now))

    def _messages(self, now: float) -> list[Message]:
        """The scenario's texts whose simulated time passed since the previous run, as messages."""
        sim_now = self.sim.sim_time(now)
        since = self._last_sim if self._last_sim is not None else self.sim.start - 1  # type: ignore[operator]
        self._last_sim = sim_now
        if sim_now >= since:
            due = self.sim.texts_between(since, sim_now, self.indicators)
        else:  # a looping scenario started over
            end = self.sim.start + (self.sim.duration or 0)  # type: ignore[operator]
            due = self.sim.texts_between(since, end, self.indicators) + \
                self.sim.texts_between(self.sim.start - 1, sim_now, self.indicators)  # type: ignore[operator]
        out = []
        entities = self.context.catalog.entities
        for index, event, at in due:
            # Issued, in real time, as long before now as it lies before the simulated now.
            issued = now - max(0.0, sim_now - at) / self.sim.speed
            out.append(Message(
                id=message_id("simulator", self.scenario_name, index, round(issued)),
                ts=issued, source=self.context.collector_id, kind="disaster_text", severity=event.severity,
                text_ko=event.text_ko or event.text_en or "", text_en=event.text_en or event.text_ko or "",
                entities=tuple(e for e in event.entities if e in entities and e != self.context.catalog.city.id),
            ))
        return out
