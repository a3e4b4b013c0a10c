"""The simulated city's past: the samples a simulator running in real time would have delivered over past hours.

The values come from the same `Simulation` (same seed, same baseline and scenario, same rounding and the same
occasional missing values) evaluated at past instants, so a backfilled hour holds exactly what the live simulator
would have produced then, only sampled less often: each series at its catalog interval over the last day, at least
every `OLD_SPACING` before that (a month of every series at its live rate would be tens of millions of rows)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from situationroom.collectors.kinds.simulator import Simulator
from situationroom.collectors.kinds.simulator.model import Simulation
from situationroom.collectors.kinds.simulator.spec import Scenario

HOUR = 3600
RECENT = 86_400.0
"""The last day before `until` is sampled at each series' catalog interval."""
OLD_SPACING = 300.0
"""Older days: at least this far apart (five minutes), which the wall's 1-minute, hourly and daily charts need."""
COLUMNS = ("indicator", "entity", "ts", "value", "source")
"""The columns of the rows `past_samples` gives: `ts` is epoch ms, the rest as in a sample."""


def replay_reason(simulator: Simulator) -> str | None:
    """Why a simulator has no real past to fill (a replay of a scenario at its own start or speed, a loop), or
    None when its simulated time is the real time."""
    sim = simulator.sim
    if sim.start is not None:
        return "its scenario starts at a simulated time of its own"
    if sim.speed != 1:
        return f"it runs at speed {sim.speed:g}"
    if sim.loop and sim.duration:
        return "its scenario loops"
    return None


def spacing(interval: float, t: float, until: float) -> int:
    """How far apart a series of catalog `interval` is sampled at `t` (whole seconds, so instants are exact)."""
    every = interval if t >= until - RECENT else max(interval, OLD_SPACING)
    return max(1, round(every))


def past_samples(simulator: Simulator, hours: Iterable[int], until: float) -> pa.Table:
    """The samples of `simulator` (a real-time one: `replay_reason` is None) in the given UTC hours (their starts,
    epoch s), at instants before `until`, in COLUMNS. Instants are multiples of each series' spacing since the
    epoch, so the same hours give the same rows whenever they are asked for."""
    catalog = simulator.context.catalog
    live = simulator.sim
    # The past as the running simulator sees it: simulated time is real time, the scenario placed at `until`.
    sim = Simulation(catalog, live.baseline, live.scenario, seed=live.seed, start=until, speed=1.0)
    sim.sim_time(until)
    intervals = {i: catalog.indicators[i].interval for i in simulator.indicators if i in live.series}
    source = simulator.context.collector_id
    indicator: list[str] = []
    entity: list[str] = []
    ts: list[int] = []
    value: list[float] = []
    # Oldest first: the model's smooth noise and running sums reuse what the previous instant computed.
    for start in sorted(set(hours)):
        end = min(start + HOUR, until)
        by_every: dict[int, list[str]] = {}
        for ind, interval in intervals.items():
            by_every.setdefault(spacing(interval, start, until), []).append(ind)
        step = math.gcd(*by_every)
        first = -(-start // step) * step
        for t in range(first, math.ceil(end), step):
            if t >= until:
                break
            due = [i for every, inds in by_every.items() if t % every == 0 for i in inds]
            for s in sim.samples(due, float(t), missing=simulator.missing, source=source):
                indicator.append(s.indicator)
                entity.append(s.entity)
                ts.append(t * 1000)
                value.append(s.value)
    return pa.table({"indicator": indicator, "entity": entity, "ts": pa.array(ts, pa.int64()), "value": value,
                     "source": pa.array([source] * len(ts), pa.string())})


def rows_per_day(simulator: Simulator) -> int:
    """About how many rows a past day of `simulator` holds (the whole day sampled as old days are)."""
    catalog = simulator.context.catalog
    return sum(len(catalog.entities_of(i)) * round(RECENT / max(catalog.indicators[i].interval, OLD_SPACING))
               for i in simulator.indicators if i in simulator.sim.series)


def recorded_samples(simulator: Simulator, scenario: Scenario, first: float, end: float, source: str) -> pa.Table:
    """The samples `simulator`'s slice of the city would have delivered while `scenario` happened at its own dates:
    simulated time is the scenario's time (the scenario placed at its `start`), sampled as old backfilled days are
    (each series at least every OLD_SPACING) over [first, end) (epoch s), in COLUMNS, with `source` as the source.
    The same seed, baseline, rounding and missing values as the collector's, so a replay of the scenario at any
    speed delivers these values at the same simulated instants."""
    catalog = simulator.context.catalog
    live = simulator.sim
    # Placed at its own start when it has one (its keyframes' dates are absolute), else at `first`; anchored there,
    # so simulated time is the instant itself.
    sim = Simulation(catalog, live.baseline, scenario, seed=live.seed, start=None if scenario.start else first,
                     speed=1.0)
    assert sim.start is not None
    sim.sim_time(sim.start)
    by_every: dict[int, list[str]] = {}
    for ind in simulator.indicators:
        if ind in live.series:
            by_every.setdefault(spacing(catalog.indicators[ind].interval, first, math.inf), []).append(ind)
    columns: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    if not by_every:
        return pa.table({name: pa.array([], pa.int64() if name == "ts" else pa.float64() if name == "value"
                                         else pa.string()) for name in COLUMNS})
    step = math.gcd(*by_every)
    for t in range(-(-int(first) // step) * step, math.ceil(end), step):
        due = [i for every, inds in by_every.items() if t % every == 0 for i in inds]
        for s in sim.samples(due, float(t), missing=simulator.missing, source=source):
            columns["indicator"].append(s.indicator)
            columns["entity"].append(s.entity)
            columns["ts"].append(t * 1000)
            columns["value"].append(s.value)
            columns["source"].append(source)
    return pa.table({"indicator": pa.array(columns["indicator"], pa.string()),
                     "entity": pa.array(columns["entity"], pa.string()), "ts": pa.array(columns["ts"], pa.int64()),
                     "value": pa.array(columns["value"], pa.float64()),
                     "source": pa.array(columns["source"], pa.string())})
