"""The simulated city: its ordinary behaviour (seeds/simulation.yaml), scenario files and the pure value functions."""

from __future__ import annotations

import bisect
import fnmatch
import hashlib
import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from statistics import NormalDist
from typing import Annotated, Any, Literal, NamedTuple
from zoneinfo import ZoneInfo

from pydantic import BeforeValidator, Field, model_validator

from situationroom.catalog import Catalog
from situationroom.configfile import Strict, read_yaml, validate
from situationroom.durations import Duration, parse_duration
from situationroom.errors import ConfigError, Problem
from situationroom.samples import Sample

HOUR = 3600.0
_NORMAL = NormalDist()
SCENARIO_NAME = r"^[a-z0-9][a-z0-9_\-]*$"

# Korean CAI (통합대기환경지수) breakpoints: concentration bands mapped onto index bands.
_CAI_INDEX = ((0, 50), (51, 100), (101, 250), (251, 500))
_CAI_BANDS: dict[str, tuple[tuple[float, float], ...]] = {
    "pm10": ((0, 30), (31, 80), (81, 150), (151, 600)),
    "pm25": ((0, 15), (16, 35), (36, 75), (76, 500)),
    "o3": ((0, 0.030), (0.031, 0.090), (0.091, 0.150), (0.151, 0.600)),
    "no2": ((0, 0.030), (0.031, 0.060), (0.061, 0.200), (0.201, 2.0)),
    "co": ((0, 2), (2.01, 9), (9.01, 15), (15.01, 50)),
    "so2": ((0, 0.020), (0.021, 0.050), (0.051, 0.150), (0.151, 1.0)),
}


Profile = str | list[float]
"""A 24-hour profile: the name of one in `profiles:`, or 24 values (00:00 ... 23:00 local time)."""


class SeriesSpec(Strict):
    """How one indicator (or a latent helper series, `_name`) behaves when nothing special happens."""

    model: Literal["level", "count", "accumulate", "rollup", "derived"] = "level"
    level: float | list[float] = 0.0
    """Base level, or 12 monthly values (January first) interpolated through the year."""
    levels: dict[str, float] = Field(default_factory=dict)
    """Base level per entity selector (id, group, district, gu, kind), overriding `level`."""
    base_of: str | None = None
    """Multiply the base level by this series' value (e.g. spending = residents x per-capita rate)."""
    daily: Profile | None = None
    daily_weekend: Profile | None = None
    daily_by: dict[str, Profile] = Field(default_factory=dict)
    weekly: list[float] | None = Field(default=None, min_length=7, max_length=7)
    """Factors Monday ... Sunday."""
    swing: float = 0.0
    """Additive daily swing: `swing` times `swing_shape` (a profile between -1 and 1)."""
    swing_shape: Profile = "temperature"
    factors: dict[str, float] = Field(default_factory=dict)
    offsets: dict[str, float] = Field(default_factory=dict)
    noise: float = Field(default=0.0, ge=0)
    """Relative noise (standard deviation) per entity, changing smoothly every `noise_every`."""
    noise_abs: float = Field(default=0.0, ge=0)
    noise_every: Duration = 1200.0
    regional: float = Field(default=0.0, ge=0)
    """Relative day-to-day variation shared by every entity (a dusty day is dusty everywhere)."""
    regional_abs: float = Field(default=0.0, ge=0)
    regional_every: Duration = 86400.0
    bucket: Duration = 600.0
    """count: events are drawn per bucket (a Poisson count with the level as hourly rate)."""
    of: str | None = None
    window: Duration | None = None
    reset: Literal["day"] | None = None
    step: Duration = 600.0
    members: str | None = None
    """rollup: the entity kind summed into gu and city (dong, gu...)."""
    function: Literal["apparent_temperature", "cai", "scale", "power"] | None = None
    inputs: list[str] = Field(default_factory=list)
    factor: float = 1.0
    offset: float = 0.0
    exponent: float = 1.0
    add: float = 0.0
    min: float | None = None
    max: float | None = None
    wrap: float | None = None
    """Values wrap around at this (wind direction at 360)."""
    note: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> SeriesSpec:
        if isinstance(self.level, list) and len(self.level) != 12:
            raise ValueError("level must be one number or 12 monthly values")
        for name in ("noise_every", "regional_every", "bucket", "step"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.model == "accumulate":
            if self.of is None:
                raise ValueError("an accumulate series needs `of`")
            if (self.window is None) == (self.reset is None):
                raise ValueError("an accumulate series needs exactly one of `window` or `reset: day`")
            if HOUR % self.step:
                raise ValueError("step must divide an hour (e.g. 5m, 10m)")
        if self.model == "rollup" and (self.of is None or self.members is None):
            raise ValueError("a rollup series needs `of` and `members`")
        if self.model == "derived":
            if self.function is None:
                raise ValueError("a derived series needs `function`")
            if self.function in ("scale", "power") and self.of is None:
                raise ValueError(f"function {self.function} needs `of`")
            if self.function == "apparent_temperature" and len(self.inputs) != 3:
                raise ValueError("apparent_temperature needs inputs [temperature, humidity, wind speed]")
            if self.function == "cai" and len(self.inputs) != 6:
                raise ValueError("cai needs inputs [pm10, pm25, o3, no2, co, so2]")
        return self

    def references(self) -> list[tuple[str, str]]:
        """(field, series) pairs this spec reads, for checking that they exist."""
        refs = [("of", self.of), ("base_of", self.base_of)]
        refs += [(f"inputs[{i}]", s) for i, s in enumerate(self.inputs)]
        return [(f, s) for f, s in refs if s is not None]


class BaselineFile(Strict):
    profiles: dict[str, list[float]] = Field(default_factory=dict)
    groups: dict[str, list[str]] = Field(default_factory=dict)
    series: dict[str, SeriesSpec]

    @model_validator(mode="after")
    def _profiles_have_24_hours(self) -> BaselineFile:
        for name, values in self.profiles.items():
            if len(values) != 24:
                raise ValueError(f"profile {name} must have 24 values, has {len(values)}")
        return self


class When(NamedTuple):
    """A time in a scenario: absolute (epoch seconds) or an offset from the simulation's start."""

    absolute: bool
    seconds: float


def _parse_when(value: Any) -> When:
    if isinstance(value, When):
        return value
    if isinstance(value, datetime):
        return When(True, _aware(value).timestamp())
    if isinstance(value, str) and len(value) >= 10 and value[4:5] == "-":
        try:
            return When(True, _aware(datetime.fromisoformat(value.strip())).timestamp())
        except ValueError:
            raise ValueError("expected a time such as 2022-09-06 04:30 (KST) or an offset such as 10h30m") from None
    try:
        return When(False, parse_duration(value))
    except ValueError:
        raise ValueError("expected a time such as 2022-09-06 04:30 (KST) or an offset such as 10h30m") from None


WhenField = Annotated[When, BeforeValidator(_parse_when)]

_KST = ZoneInfo("Asia/Seoul")


def _aware(dt: datetime, tz: ZoneInfo = _KST) -> datetime:
    # A scenario is written in the city's local time unless it says otherwise.
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=tz)


class Overlay(Strict):
    """A change to the ordinary behaviour over time, keyframed and interpolated."""

    indicator: str
    """An indicator id, a latent series (`_name`) or a glob such as `air.*`."""
    entities: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    mode: Literal["set", "add", "multiply"]
    interpolate: Literal["linear", "step"] = "linear"
    keyframes: list[tuple[WhenField, float]] = Field(min_length=1)
    factors: dict[str, float] = Field(default_factory=dict)
    """Per-entity strength: set/add scale the value, multiply scales the departure from 1."""
    regional: bool | None = None
    """Keep the day-to-day variation while in force; default: no for `set`, yes otherwise."""
    note: str | None = None


class Event(Strict):
    """Something that happens at one moment and counts (or holds its value) for a while."""

    at: WhenField
    indicator: str
    entities: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    value: float = 1.0
    hold: Duration = HOUR
    combine: Literal["add", "max"] = "add"
    text_ko: str | None = None
    text_en: str | None = None
    """With a text, the event is also published as a message (disaster text) on the wall's ticker."""
    severity: Literal["info", "warning", "critical"] = "warning"
    note: str | None = None


class Scenario(Strict):
    """A scenario file (`seeds/scenarios/<name>.yaml`)."""

    name_ko: str
    name_en: str
    description_ko: str | None = None
    description_en: str | None = None
    start: datetime | None = None
    """Simulated start; none means the real time at which the simulation starts."""
    duration: Duration | None = None
    speed: float | None = Field(default=None, gt=0, le=10_000)
    """Suggested time acceleration, used when neither the collector nor the command line gives one."""
    facts: list[str] = Field(default_factory=list)
    overlays: list[Overlay] = Field(default_factory=list)
    events: list[Event] = Field(default_factory=list)


@dataclass(frozen=True)
class Baseline:
    """The validated baseline: series specs, profiles and entity groups of one site."""

    series: dict[str, SeriesSpec]
    profiles: dict[str, list[float]]
    groups: dict[str, frozenset[str]]
    path: Path


def _selectors(catalog: Catalog, groups: Iterable[str]) -> set[str]:
    """Everything an entity selector may name."""
    return {"*", *catalog.entities, *(e.kind for e in catalog.entities.values()), *groups}


def load_baseline(seeds: Path, catalog: Catalog) -> Baseline:
    """Read and check `simulation.yaml`: every reference names a series, profile, entity or group that exists."""
    path = seeds / "simulation.yaml"
    if not path.is_file():
        raise ConfigError.single("the simulator needs this file (the ordinary behaviour of each indicator)", file=path)
    data, pos = read_yaml(path)
    model = validate(BaselineFile, data or {}, file=path, pos=pos)
    problems: list[Problem] = []

    def problem(msg: str, loc: tuple[str | int, ...], value: object) -> None:
        field = ".".join(str(p) for p in loc)
        problems.append(Problem(msg, str(path), pos.line_of(loc), field, value, True))

    for g, members in model.groups.items():
        for i, m in enumerate(members):
            if m not in catalog.entities:
                problem("unknown entity id or district code", ("groups", g, i), m)
    selectors = _selectors(catalog, model.groups)
    kinds = {e.kind for e in catalog.entities.values()}
    for name, spec in model.series.items():
        if not name.startswith("_") and name not in catalog.indicators:
            problem("not an indicator of the catalog (latent helper series start with _)", ("series", name), name)
        for fld, ref in spec.references():
            if ref not in model.series:
                problem("no such series in simulation.yaml", ("series", name, fld.split("[")[0]), ref)
        for fld in ("levels", "factors", "offsets", "daily_by"):
            for sel in getattr(spec, fld):
                if sel not in selectors:
                    problem("unknown entity selector (an entity id, kind, group or *)", ("series", name, fld, sel), sel)
        for fld in ("daily", "daily_weekend", "swing_shape", *(f"daily_by.{k}" for k in spec.daily_by)):
            prof = spec.daily_by[fld[9:]] if fld.startswith("daily_by.") else getattr(spec, fld)
            if isinstance(prof, str) and prof not in model.profiles:
                problem(f"unknown profile; known: {', '.join(sorted(model.profiles))}",
                        ("series", name, *fld.split(".")), prof)
            elif isinstance(prof, list) and len(prof) != 24:
                problem("a profile needs 24 values", ("series", name, *fld.split(".")), len(prof))
        if spec.members is not None and spec.members not in kinds:
            problem("unknown entity kind", ("series", name, "members"), spec.members)
    problems += _cycles(model.series, path, pos)
    if problems:
        raise ConfigError(problems)
    groups = {g: frozenset(m) for g, m in model.groups.items()}
    return Baseline(dict(model.series), dict(model.profiles), groups, path)


def _cycles(series: dict[str, SeriesSpec], path: Path, pos: Any) -> list[Problem]:
    state: dict[str, int] = {}
    found: list[Problem] = []

    def visit(name: str, trail: list[str]) -> None:
        if state.get(name) == 2 or name not in series:
            return
        if state.get(name) == 1:
            cycle = " -> ".join([*trail[trail.index(name):], name])
            found.append(Problem(f"series depend on each other in a circle: {cycle}", str(path),
                                 pos.line_of(("series", name)), f"series.{name}", None, False))
            return
        state[name] = 1
        for _, ref in series[name].references():
            visit(ref, [*trail, name])
        state[name] = 2

    for name in series:
        visit(name, [])
    return found


def scenario_path(seeds: Path, name: str) -> Path:
    return seeds / "scenarios" / f"{name}.yaml"


def list_scenarios(seeds: Path) -> list[str]:
    folder = seeds / "scenarios"
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def load_scenario(seeds: Path, name: str, catalog: Catalog, baseline: Baseline) -> Scenario:
    """Read a scenario and check every indicator and entity it names against the catalog and baseline."""
    path = scenario_path(seeds, name)
    if not path.is_file():
        raise ConfigError.single(f"unknown scenario; available: {', '.join(list_scenarios(seeds)) or 'none'}",
                                 file=path, field="scenario", value=name)
    data, pos = read_yaml(path)
    if data is None:
        raise ConfigError.single("file is empty", file=path)
    scenario = validate(Scenario, data, file=path, pos=pos)
    problems: list[Problem] = []
    selectors = _selectors(catalog, baseline.groups)

    def problem(msg: str, loc: tuple[str | int, ...], value: object) -> None:
        field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        problems.append(Problem(msg, str(path), pos.line_of(loc), field, value, True))

    for i, ov in enumerate(scenario.overlays):
        if not _match_series(ov.indicator, baseline.series):
            problem("no indicator of the catalog (or series of simulation.yaml) matches",
                    ("overlays", i, "indicator"), ov.indicator)
        for j, sel in enumerate(ov.entities):
            if sel not in selectors:
                problem("unknown entity selector (an entity id, kind, group or *)", ("overlays", i, "entities", j), sel)
        for sel in ov.factors:
            if sel not in selectors:
                problem("unknown entity selector (an entity id, kind, group or *)",
                        ("overlays", i, "factors", sel), sel)
        times = [w for w, _ in ov.keyframes]
        if len({w.absolute for w in times}) > 1:
            problem("keyframes mix absolute times and offsets", ("overlays", i, "keyframes"), None)
        elif any(b.seconds < a.seconds for a, b in itertools.pairwise(times)):
            problem("keyframes must be in time order", ("overlays", i, "keyframes"), None)
    for i, ev in enumerate(scenario.events):
        if ev.indicator not in baseline.series:
            problem("no indicator of the catalog (or series of simulation.yaml) has this id",
                    ("events", i, "indicator"), ev.indicator)
        for j, sel in enumerate(ev.entities):
            if sel not in selectors:
                problem("unknown entity selector (an entity id, kind, group or *)", ("events", i, "entities", j), sel)
    if problems:
        raise ConfigError(problems)
    return scenario


def _match_series(pattern: str, series: Iterable[str]) -> list[str]:
    return [s for s in series if s == pattern or fnmatch.fnmatchcase(s, pattern)]


@dataclass(frozen=True)
class _Overlay:
    mode: str
    step: bool
    times: tuple[float, ...]
    values: tuple[float, ...]
    factor: float
    regional: bool

    def at(self, t: float) -> float | None:
        if t < self.times[0] or t > self.times[-1]:
            return None
        i = bisect.bisect_right(self.times, t) - 1
        if self.step or i >= len(self.times) - 1:
            return self.values[i]
        t0, t1 = self.times[i], self.times[i + 1]
        if t1 == t0:
            return self.values[i + 1]
        f = (t - t0) / (t1 - t0)
        return self.values[i] + (self.values[i + 1] - self.values[i]) * f


@dataclass(frozen=True)
class _Event:
    start: float
    end: float
    value: float
    combine: str


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
        scenario_start = _aware(scenario.start, self.tz).timestamp() if scenario and scenario.start else None
        self.start = start if start is not None else scenario_start
        """Simulated start (epoch seconds); None until the first call fixes it to the real time."""
        self.anchor: float | None = None
        """The real time at which simulated time was `start`."""
        self.duration = scenario.duration if scenario else None
        self._scratch: dict[tuple[str, str, float], float] = {}
        """Values of the evaluation under way (a rollup and its members, a derived series and its inputs)."""
        self._grid: dict[float, dict[tuple[str, str], float]] = {}
        """Values at the grid times accumulations sum over, by time: each is reused by every later run
        whose window still reaches it, and dropped when none does (see _forget_grid)."""
        self._reach = self._lookback()
        self._knots: dict[tuple[str, str, str], tuple[int, float, float]] = {}
        """(knot index, its value, the next one's) around the latest time asked, per noisy series and entity."""
        self._keys: dict[str, tuple[str, ...]] = {}
        self._members: dict[tuple[str, str], tuple[str, ...] | None] = {}
        self._overlays: dict[tuple[str, str], tuple[_Overlay, ...]] = {}
        self._events: dict[tuple[str, str], tuple[_Event, ...]] = {}
        # Every series asks the clock at the evaluation's time; the count buckets and the grid times an
        # accumulation adds are a few more. Grid values are kept, so a cold start's day of grid times asks
        # each time once per series and entity, and a larger cache would only hold the past.
        self._clock = lru_cache(maxsize=64)(self._clock_uncached)
        self._resolved = False

    # ------------------------------------------------------------------ time
    def sim_time(self, now: float) -> float:
        """Simulated time at real time `now`: start + (now - anchor) x speed (wrapped when looping)."""
        if self.anchor is None:
            self.anchor = now
            if self.start is None:
                self.start = now
            self._resolve()
        assert self.start is not None
        elapsed = (now - self.anchor) * self.speed
        if self.loop and self.duration:
            elapsed %= self.duration
        return self.start + elapsed

    def _clock_uncached(self, t: float) -> tuple[float, int, float, float, int]:
        """(hour of day, weekday Mon=0, month position 0..12, local midnight, month 1..12) at `t`."""
        dt = datetime.fromtimestamp(t, self.tz)
        hour = dt.hour + dt.minute / 60 + (dt.second + dt.microsecond / 1e6) / 3600
        midnight = dt.replace(hour=0, minute=0, second=0, microsecond=0)
        year_start = dt.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
        days_in_year = (year_start.replace(year=dt.year + 1) - year_start).days
        month_pos = (dt - year_start).total_seconds() / 86400 / days_in_year * 12
        return hour, dt.weekday(), month_pos, midnight.timestamp(), dt.month

    def _midnight(self, t: float) -> float:
        return self._clock(t)[3]

    # ------------------------------------------------------------------ randomness
    def _unit(self, *parts: object) -> float:
        digest = hashlib.blake2b(repr((self.seed, *parts)).encode(), digest_size=8).digest()
        return (int.from_bytes(digest, "big") + 0.5) / 2.0**64

    def _gauss(self, *parts: object) -> float:
        return _NORMAL.inv_cdf(self._unit(*parts))

    def _smooth(self, tag: str, name: str, entity: str, t: float, every: float) -> float:
        """Standard-normal noise that changes smoothly: hashed knots every `every`, eased between."""
        x = t / every
        k = math.floor(x)
        f = x - k
        s = f * f * (3 - 2 * f)
        key = (tag, name, entity)
        knots = self._knots.get(key)
        if knots is None or knots[0] != k:
            # Time moves on: the knot that was on the right is now on the left, so one new knot is hashed.
            a = knots[2] if knots is not None and knots[0] == k - 1 else self._gauss(tag, name, entity, k)
            knots = self._knots[key] = (k, a, self._gauss(tag, name, entity, k + 1))
        _, a, b = knots
        return (a * (1 - s) + b * s) / math.sqrt((1 - s) ** 2 + s**2)

    def missing(self, indicator: str, entity: str, t: float, probability: float) -> bool:
        return probability > 0 and self._unit("missing", indicator, entity, round(t)) < probability

    # ------------------------------------------------------------------ entity lookups
    def _candidates(self, entity: str) -> tuple[str, ...]:
        """Selector keys for an entity, most specific first: id, its groups, district, gu, kind, *."""
        keys = self._keys.get(entity)
        if keys is None:
            e = self.catalog.entities.get(entity)
            out: list[str] = [entity]
            out += [g for g, m in self.baseline.groups.items() if entity in m]
            if e is not None:
                if e.district and e.district != entity:
                    out.append(e.district)
                    out += [g for g, m in self.baseline.groups.items() if e.district in m]
                gu = self.catalog.gu_of(entity)
                if gu and gu != entity:
                    out.append(gu)
                out.append(e.kind)
            out.append("*")
            keys = self._keys[entity] = tuple(dict.fromkeys(out))
        return keys

    def _lookup(self, mapping: dict[str, Any], entity: str, default: Any = None) -> Any:
        if mapping:
            for key in self._candidates(entity):
                if key in mapping:
                    return mapping[key]
        return default

    def _selected(self, selectors: Iterable[str], entity: str) -> bool:
        keys = self._candidates(entity)
        return any(s in keys for s in selectors)

    def _profile(self, profile: Profile, hour: float) -> float:
        values = self.baseline.profiles[profile] if isinstance(profile, str) else profile
        i = int(hour) % 24
        f = hour - int(hour)
        return values[i] * (1 - f) + values[(i + 1) % 24] * f

    # ------------------------------------------------------------------ scenario
    def _resolve(self) -> None:
        """Turn the scenario's keyframe times into simulated epoch seconds (offsets count from start)."""
        self._resolved = True
        self._overlay_specs: list[tuple[Overlay, tuple[float, ...]]] = []
        self._event_specs: list[tuple[Event, float]] = []
        if self.scenario is None:
            return
        assert self.start is not None
        for ov in self.scenario.overlays:
            times = tuple(w.seconds if w.absolute else self.start + w.seconds for w, _ in ov.keyframes)
            self._overlay_specs.append((ov, times))
        for ev in self.scenario.events:
            self._event_specs.append((ev, ev.at.seconds if ev.at.absolute else self.start + ev.at.seconds))

    def _overlays_for(self, name: str, entity: str) -> tuple[_Overlay, ...]:
        key = (name, entity)
        found = self._overlays.get(key)
        if found is None:
            if not self._resolved:
                self._resolve()
            items = []
            for ov, times in self._overlay_specs:
                if (ov.indicator == name or fnmatch.fnmatchcase(name, ov.indicator)) and \
                        self._selected(ov.entities, entity):
                    regional = ov.regional if ov.regional is not None else ov.mode != "set"
                    items.append(_Overlay(ov.mode, ov.interpolate == "step", times,
                                          tuple(v for _, v in ov.keyframes),
                                          self._lookup(ov.factors, entity, 1.0), regional))
            found = self._overlays[key] = tuple(items)
        return found

    def _events_for(self, name: str, entity: str) -> tuple[_Event, ...]:
        key = (name, entity)
        found = self._events.get(key)
        if found is None:
            if not self._resolved:
                self._resolve()
            found = self._events[key] = tuple(
                _Event(at, at + ev.hold, ev.value, ev.combine)
                for ev, at in self._event_specs if ev.indicator == name and self._selected(ev.entities, entity))
        return found

    def _apply_overlays(self, name: str, entity: str, t: float, v: float) -> tuple[float, bool]:
        """The value with the scenario's overlays in force at `t`, and whether day-to-day variation stays."""
        regional = True
        for ov in self._overlays_for(name, entity):
            k = ov.at(t)
            if k is None:
                continue
            regional = regional and ov.regional
            if ov.mode == "set":
                v = k * ov.factor
            elif ov.mode == "add":
                v += k * ov.factor
            else:
                v *= 1 + (k - 1) * ov.factor
        return v, regional

    def texts_between(self, t0: float, t1: float, indicators: Iterable[str]) -> list[tuple[int, Event, float]]:
        """Events with a text, of the given indicators, at simulated times in (t0, t1]: (index, event, at)."""
        if not self._resolved:
            self._resolve()
        wanted = set(indicators)
        return [(k, ev, at) for k, (ev, at) in enumerate(self._event_specs)
                if (ev.text_ko or ev.text_en) and ev.indicator in wanted and t0 < at <= t1]

    def _apply_events(self, name: str, entity: str, t: float, v: float) -> float:
        for ev in self._events_for(name, entity):
            if ev.start <= t < ev.end:
                v = v + ev.value if ev.combine == "add" else max(v, ev.value)
        return v

    # ------------------------------------------------------------------ values
    def value(self, name: str, entity: str, t: float) -> float:
        """The value of series `name` for `entity` at simulated time `t` (not rounded)."""
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

    def _on_grid(self, name: str, entity: str, t: float) -> float:
        """A value at a grid time of an accumulation, computed once for every run whose window covers it."""
        at = self._grid.get(t)
        if at is None:
            at = self._grid[t] = {}
        v = at.get((name, entity))
        if v is None:
            v = at[name, entity] = self._value(name, entity, t)
        return v

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
        for at in [at for at in self._grid if not t - before <= at <= t + after]:
            del self._grid[at]

    def _base(self, spec: SeriesSpec, name: str, entity: str, t: float) -> float:
        hour, weekday, month_pos, _, _ = self._clock(t)
        base = self._lookup(spec.levels, entity)
        if base is None:
            if isinstance(spec.level, list):
                # Monthly values sit at mid-month; interpolate between neighbours, wrapping the year.
                x = month_pos - 0.5
                i = math.floor(x)
                f = x - i
                base = spec.level[i % 12] * (1 - f) + spec.level[(i + 1) % 12] * f
            else:
                base = spec.level
        if spec.base_of:
            base *= self._value(spec.base_of, entity, t)
        profile = self._lookup(spec.daily_by, entity)
        if profile is None:
            profile = spec.daily_weekend if weekday >= 5 and spec.daily_weekend is not None else spec.daily
        v = base * self._profile(profile, hour) if profile is not None else base
        if spec.weekly:
            v *= spec.weekly[weekday]
        if spec.swing:
            v += spec.swing * self._profile(spec.swing_shape, hour)
        return v * self._lookup(spec.factors, entity, 1.0) + self._lookup(spec.offsets, entity, 0.0)

    def _noisy(self, spec: SeriesSpec, name: str, entity: str, t: float, v: float, regional: bool) -> float:
        rel = spec.noise * self._smooth("n", name, entity, t, spec.noise_every) if spec.noise else 0.0
        add = spec.noise_abs * self._smooth("a", name, entity, t, spec.noise_every) if spec.noise_abs else 0.0
        if regional:
            if spec.regional:
                rel += spec.regional * self._smooth("r", name, "*", t, spec.regional_every)
            if spec.regional_abs:
                add += spec.regional_abs * self._smooth("ra", name, "*", t, spec.regional_every)
        return v * max(0.0, 1 + rel) + add

    def _compute(self, name: str, entity: str, t: float) -> float:
        spec = self.series[name]
        if spec.model == "count":
            tb = math.floor(t / spec.bucket) * spec.bucket
            rate, regional = self._apply_overlays(name, entity, tb, self._base(spec, name, entity, tb))
            rate = self._noisy(spec, name, entity, tb, rate, regional)
            v = float(_poisson(max(0.0, rate) * spec.bucket / HOUR, self._unit("count", name, entity, tb)))
        else:
            if spec.model == "level":
                v = self._base(spec, name, entity, t)
            elif spec.model == "accumulate":
                v = self._accumulate(spec, entity, t)
            elif spec.model == "rollup":
                v = self._rollup(spec, entity, t)
            else:
                v = self._derived(spec, entity, t)
            v, regional = self._apply_overlays(name, entity, t, v)
            if spec.noise or spec.noise_abs or spec.regional or spec.regional_abs:
                v = self._noisy(spec, name, entity, t, v, regional)
        v = self._apply_events(name, entity, t, v)
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
            return sum(self._on_grid(spec.of, entity, k * b) for k in range(first, math.floor(t / b) + 1))
        # A rate (per hour) integrated on a grid: each grid point stands for the step that ends there.
        s = spec.step
        last = math.floor(t / s)
        first = math.floor(self._midnight(t) / s) + 1 if spec.reset else math.floor((t - (spec.window or 0)) / s) + 1
        total = sum(self._on_grid(spec.of, entity, k * s) for k in range(first, last + 1)) * s / HOUR
        if spec.reset:
            # The running step counts at the rate of its end, so the total never goes down within a day.
            total += self._on_grid(spec.of, entity, (last + 1) * s) * (t - last * s) / HOUR
        return total

    def _rollup(self, spec: SeriesSpec, entity: str, t: float) -> float:
        assert spec.of is not None and spec.members is not None
        members = self._members_of(entity, spec.members)
        if members is None:
            return self._value(spec.of, entity, t)
        return sum(self._value(spec.of, m, t) for m in members)

    def _members_of(self, entity: str, kind: str) -> tuple[str, ...] | None:
        key = (entity, kind)
        if key not in self._members:
            e = self.catalog.entities[entity]
            if e.kind == kind:
                found = None
            elif e.kind == "city":
                found = tuple(m.id for m in self.catalog.entities_of_kind(kind))
            elif e.kind == "gu":
                found = tuple(m.id for m in self.catalog.entities_of_kind(kind) if self.catalog.gu_of(m.id) == entity)
            else:
                found = tuple(m.id for m in self.catalog.entities_of_kind(kind) if m.district == entity)
            self._members[key] = found
        return self._members[key]

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
                    if self.missing(ind_id, entity, t, missing):
                        continue
                    v = round(self._value(ind_id, entity, t), ind.decimals) + 0.0  # + 0.0 turns -0.0 into 0.0
                    out.append(Sample(ind_id, entity, now, v, source, interval))
        finally:
            self._scratch.clear()
        return out


def _poisson(mean: float, u: float) -> int:
    """The Poisson count at cumulative probability `u` (inverse CDF; normal approximation when large)."""
    if mean <= 0:
        return 0
    if mean > 60:
        return max(0, round(mean + math.sqrt(mean) * _NORMAL.inv_cdf(u)))
    k, p = 0, math.exp(-mean)
    cdf = p
    while cdf < u and k < 1000:
        k += 1
        p *= mean / k
        cdf += p
    return k


def apparent_temperature(temperature: float, humidity: float, wind: float, *, month: int) -> float:
    """KMA's apparent temperature: from wet-bulb temperature in May-September, wind chill otherwise."""
    if 5 <= month <= 9:
        rh = max(0.0, min(100.0, humidity))
        tw = (temperature * math.atan(0.151977 * math.sqrt(rh + 8.313659)) + math.atan(temperature + rh)
              - math.atan(rh - 1.67633) + 0.00391838 * rh**1.5 * math.atan(0.023101 * rh) - 4.686035)
        return (-0.2442 + 0.55399 * tw + 0.45535 * temperature - 0.0022 * tw**2
                + 0.00278 * tw * temperature + 3.0)
    v = wind * 3.6
    if temperature <= 10 and v >= 4.8:
        return 13.12 + 0.6215 * temperature - 11.37 * v**0.16 + 0.3965 * v**0.16 * temperature
    return temperature


def cai(pm10: float, pm25: float, o3: float, no2: float, co: float, so2: float) -> float:
    """Korea's comprehensive air-quality index: the worst pollutant's sub-index."""
    worst = 0.0
    for pollutant, c in (("pm10", pm10), ("pm25", pm25), ("o3", o3), ("no2", no2), ("co", co), ("so2", so2)):
        bands = _CAI_BANDS[pollutant]
        for (lo, hi), (ilo, ihi) in zip(bands, _CAI_INDEX, strict=True):
            if c <= hi or (lo, hi) == bands[-1]:
                c = min(c, hi)
                worst = max(worst, ilo + (ihi - ilo) * max(0.0, c - lo) / (hi - lo))
                break
    return worst


def local_datetime(t: float, tz: str = "Asia/Seoul") -> datetime:
    return datetime.fromtimestamp(t, ZoneInfo(tz))


def parse_start(value: str | datetime, tz: str = "Asia/Seoul") -> float:
    """Epoch seconds of a simulated start given as ISO text or datetime (naive means the city's time)."""
    dt = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return _aware(dt, ZoneInfo(tz)).timestamp()


