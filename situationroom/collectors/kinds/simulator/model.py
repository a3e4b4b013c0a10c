"""The simulated city's values: every series for every entity at any simulated time, and the samples of a run."""

from __future__ import annotations

import math
from collections.abc import Iterable
from functools import lru_cache
from zoneinfo import ZoneInfo

from situationroom.catalog import Catalog
from situationroom.collectors.kinds.simulator.entities import EntitySelectors
from situationroom.collectors.kinds.simulator.formulas import (
    apparent_temperature,
    at_hour,
    cai,
    poisson,
    through_the_year,
)
from situationroom.collectors.kinds.simulator.local_time import aware, local_clock
from situationroom.collectors.kinds.simulator.noise import Noise
from situationroom.collectors.kinds.simulator.spec import HOUR, Baseline, Event, Profile, Scenario, SeriesSpec
from situationroom.collectors.kinds.simulator.timeline import ScenarioTimeline
from situationroom.samples import Sample


class Simulation:
    """The value of every series for every entity at any simulated time: a pure function of the seed.

    Nothing here keeps state between calls except values already computed, so the same seed gives
    the same numbers in any order, and a restarted collector continues where it was. What is kept
    is bounded by the catalog, never by how long the simulation runs (a wall runs for months):
    the values of one evaluation (dropped when it ends), the grid values accumulations add up
    (dropped once no window reaches back to them), and the two noise knots around the latest time
    of each noisy series.
    """

    def __init__(self, catalog: Catalog, baseline: Baseline, scenario: Scenario | None = None, *,
                 seed: int = 0, start: float | None = None, speed: float = 1.0, loop: bool = False) -> None:
        self.catalog = catalog
        self.baseline = baseline
        self.series = baseline.series
        self.scenario = scenario
        self.seed = seed
        self.speed = speed
        self.loop = loop
        self.tz = ZoneInfo(catalog.city.timezone)
        scenario_start = aware(scenario.start, self.tz).timestamp() if scenario and scenario.start else None
        self.start = start if start is not None else scenario_start
        """Simulated start (epoch seconds); None until the first call fixes it to the real time."""
        self.anchor: float | None = None
        """The real time at which simulated time was `start`."""
        self.duration = scenario.duration if scenario else None
        self.noise = Noise(seed)
        self.selectors = EntitySelectors(catalog, baseline.groups)
        self.timeline = ScenarioTimeline(scenario, self.selectors)
        self._scratch: dict[tuple[str, str, float], float] = {}
        """Values of the evaluation under way (a rollup and its members, a derived series and its inputs)."""
        self._grid: dict[tuple[str, str, float], tuple[int, list[float]]] = {}
        """Values on the grid accumulations sum over, per (series, entity, grid step): the first grid index held
        and the values from there on, one per step. Each is reused by every later run whose window still
        reaches it, and dropped when none does (see _forget_grid)."""
        self._reach = self._lookback()
        # Every series asks the clock at the evaluation's time; the count buckets and the grid times an
        # accumulation adds are a few more. Grid values are kept, so a cold start's day of grid times asks
        # each time once per series and entity, and a larger cache would only hold the past.
        self._clock = lru_cache(maxsize=64)(self._clock_uncached)

    # ------------------------------------------------------------------ time
    def sim_time(self, now: float) -> float:
        """Simulated time at real time `now`: start + (now - anchor) x speed (wrapped when looping)."""
        if self.anchor is None:
            self.anchor = now
            if self.start is None:
                self.start = now
            self.timeline.resolve(self.start)
        assert self.start is not None
        elapsed = (now - self.anchor) * self.speed
        if self.loop and self.duration:
            elapsed %= self.duration
        return self.start + elapsed

    def _clock_uncached(self, t: float) -> tuple[float, int, float, float, int]:
        return local_clock(t, self.tz)

    def _midnight(self, t: float) -> float:
        return self._clock(t)[3]

    def _profile(self, profile: Profile, hour: float) -> float:
        return at_hour(self.baseline.profiles[profile] if isinstance(profile, str) else profile, hour)

    def _placed_in_time(self) -> ScenarioTimeline:
        """The scenario's timeline, its offsets counted from the start (the first run fixes a start not given)."""
        if not self.timeline.resolved:
            self.timeline.resolve(self.start)
        return self.timeline

    def texts_between(self, t0: float, t1: float, indicators: Iterable[str]) -> list[tuple[int, Event, float]]:
        """Events with a text, of the given indicators, at simulated times in (t0, t1]: (index, event, at)."""
        return self._placed_in_time().texts_between(t0, t1, indicators)

    # ------------------------------------------------------------------ values
    def value(self, name: str, entity: str, t: float) -> float:
        """The value of series `name` for `entity` at simulated time `t` (not rounded)."""
        self._placed_in_time()
        self._forget_grid(t)
        try:
            return self._value(name, entity, t)
        finally:
            self._scratch.clear()

    def _value(self, name: str, entity: str, t: float) -> float:
        key = (name, entity, t)
        v = self._scratch.get(key)
        if v is None:
            v = self._scratch[key] = self._compute(name, entity, t)
        return v

    def _on_grid(self, name: str, entity: str, step: float, first: int, last: int) -> list[float]:
        """The values at grid times k x step, k from first to last, of an accumulation's series: each computed
        once for every run whose window covers it, held side by side so a window is summed as one slice."""
        if last < first:
            return []
        key = (name, entity, step)
        k0, values = self._grid.get(key, (first, []))
        if not values or first > k0 + len(values) or last < k0 - 1:
            k0, values = first, []  # nothing held next to the window: start again from it
        if first < k0:
            values[:0] = [self._value(name, entity, k * step) for k in range(first, k0)]
            k0 = first
        values += [self._value(name, entity, k * step) for k in range(k0 + len(values), last + 1)]
        self._grid[key] = (k0, values)
        return values[first - k0:last - k0 + 1]

    def _lookback(self) -> tuple[float, float]:
        """How far before and after an evaluation's time accumulations read grid values (seconds)."""
        before, after = 0.0, 0.0
        for spec in self.series.values():
            if spec.model != "accumulate":
                continue
            assert spec.of is not None
            grid = self.series[spec.of].bucket if self.series[spec.of].model == "count" else spec.step
            # Since local midnight reaches back a day at most, or 25 hours on the day clocks go back an hour.
            window = spec.window if spec.window is not None else 25 * HOUR
            before = max(before, window + grid)
            after = max(after, grid)
        return before, after

    def _forget_grid(self, t: float) -> None:
        """Drop the grid values no window reaching from `t` can use (time also jumps back when a scenario loops)."""
        before, after = self._reach
        for key, (k0, values) in list(self._grid.items()):
            step = key[2]
            if (k0 + len(values) - 1) * step > t + after:
                del self._grid[key]  # time went back
                continue
            drop = min(len(values), max(0, math.ceil((t - before) / step) - k0))
            if drop == len(values):
                del self._grid[key]
            elif drop:
                self._grid[key] = (k0 + drop, values[drop:])

    def _base(self, spec: SeriesSpec, name: str, entity: str, t: float) -> float:
        hour, weekday, month_pos, _, _ = self._clock(t)
        base = self.selectors.lookup(spec.levels, entity)
        if base is None:
            base = through_the_year(spec.level, month_pos) if isinstance(spec.level, list) else spec.level
        if spec.base_of:
            base *= self._value(spec.base_of, entity, t)
        profile = self.selectors.lookup(spec.daily_by, entity)
        if profile is None:
            profile = spec.daily_weekend if weekday >= 5 and spec.daily_weekend is not None else spec.daily
        v = base * self._profile(profile, hour) if profile is not None else base
        if spec.weekly:
            v *= spec.weekly[weekday]
        if spec.swing:
            v += spec.swing * self._profile(spec.swing_shape, hour)
        return v * self.selectors.lookup(spec.factors, entity, 1.0) + self.selectors.lookup(spec.offsets, entity, 0.0)

    def _noisy(self, spec: SeriesSpec, name: str, entity: str, t: float, v: float, regional: bool) -> float:
        rel = spec.noise * self.noise.smooth("n", name, entity, t, spec.noise_every) if spec.noise else 0.0
        add = spec.noise_abs * self.noise.smooth("a", name, entity, t, spec.noise_every) if spec.noise_abs else 0.0
        if regional:
            if spec.regional:
                rel += spec.regional * self.noise.smooth("r", name, "*", t, spec.regional_every)
            if spec.regional_abs:
                add += spec.regional_abs * self.noise.smooth("ra", name, "*", t, spec.regional_every)
        return v * max(0.0, 1 + rel) + add

    def _compute(self, name: str, entity: str, t: float) -> float:
        spec = self.series[name]
        if spec.model == "count":
            tb = math.floor(t / spec.bucket) * spec.bucket
            rate, regional = self.timeline.apply_overlays(name, entity, tb, self._base(spec, name, entity, tb))
            rate = self._noisy(spec, name, entity, tb, rate, regional)
            v = float(poisson(max(0.0, rate) * spec.bucket / HOUR, self.noise.unit("count", name, entity, tb)))
        else:
            if spec.model == "level":
                v = self._base(spec, name, entity, t)
            elif spec.model == "accumulate":
                v = self._accumulate(spec, entity, t)
            elif spec.model == "rollup":
                v = self._rollup(spec, entity, t)
            else:
                v = self._derived(spec, entity, t)
            v, regional = self.timeline.apply_overlays(name, entity, t, v)
            if spec.noise or spec.noise_abs or spec.regional or spec.regional_abs:
                v = self._noisy(spec, name, entity, t, v, regional)
        v = self.timeline.apply_events(name, entity, t, v)
        return self._bounded(spec, name, v)

    def _bounded(self, spec: SeriesSpec, name: str, v: float) -> float:
        if spec.wrap:
            v %= spec.wrap
        lo, hi = spec.min, spec.max
        ind = self.catalog.indicators.get(name)
        if ind is not None and ind.range is not None:
            lo = ind.range[0] if lo is None else max(lo, ind.range[0])
            hi = ind.range[1] if hi is None else min(hi, ind.range[1])
        if lo is not None:
            v = max(lo, v)
        if hi is not None:
            v = min(hi, v)
        return v

    def _accumulate(self, spec: SeriesSpec, entity: str, t: float) -> float:
        assert spec.of is not None
        of = self.series[spec.of]
        if of.model == "count":
            # Counts add up bucket by bucket; a bucket's events count from its start.
            b = of.bucket
            first = math.ceil(self._midnight(t) / b) if spec.reset else math.floor((t - (spec.window or 0)) / b) + 1
            return sum(self._on_grid(spec.of, entity, b, first, math.floor(t / b)))
        # A rate (per hour) integrated on a grid: each grid point stands for the step that ends there.
        s = spec.step
        last = math.floor(t / s)
        first = math.floor(self._midnight(t) / s) + 1 if spec.reset else math.floor((t - (spec.window or 0)) / s) + 1
        total = sum(self._on_grid(spec.of, entity, s, first, last)) * s / HOUR
        if spec.reset:
            # The running step counts at the rate of its end, so the total never goes down within a day.
            total += self._on_grid(spec.of, entity, s, last + 1, last + 1)[0] * (t - last * s) / HOUR
        return total

    def _rollup(self, spec: SeriesSpec, entity: str, t: float) -> float:
        assert spec.of is not None and spec.members is not None
        members = self.selectors.members_of(entity, spec.members)
        if members is None:
            return self._value(spec.of, entity, t)
        return sum(self._value(spec.of, m, t) for m in members)

    def _derived(self, spec: SeriesSpec, entity: str, t: float) -> float:
        if spec.function == "scale":
            assert spec.of is not None
            return self._value(spec.of, entity, t) * spec.factor + spec.add
        if spec.function == "power":
            assert spec.of is not None
            return spec.add + spec.factor * max(0.0, self._value(spec.of, entity, t) - spec.offset) ** spec.exponent
        values = [self._value(s, entity, t) for s in spec.inputs]
        if spec.function == "apparent_temperature":
            return apparent_temperature(*values, month=self._clock(t)[4])
        return cai(*values)

    # ------------------------------------------------------------------ samples
    def samples(self, indicators: Iterable[str], now: float, *, missing: float = 0.0, source: str = "",
                min_interval: float = 0.0) -> list[Sample]:
        """Every sample of the given catalog indicators at real time `now` (event time = `now`)."""
        t = self.sim_time(now)
        out: list[Sample] = []
        self._forget_grid(t)
        try:
            for ind_id in indicators:
                ind = self.catalog.indicators[ind_id]
                if ind_id not in self.series:
                    continue
                interval = max(ind.interval / self.speed, min_interval)
                for entity in self.catalog.entities_of(ind_id):
                    if self.noise.missing(ind_id, entity, t, missing):
                        continue
                    v = round(self._value(ind_id, entity, t), ind.decimals) + 0.0  # + 0.0 turns -0.0 into 0.0
                    out.append(Sample(ind_id, entity, now, v, source, interval))
        finally:
            self._scratch.clear()
        return out

