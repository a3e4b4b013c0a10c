"""The simulator's files as models: the ordinary day (seeds/simulation.yaml) and scenarios (seeds/scenarios/)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BeforeValidator, Field, model_validator

from situationroom.collectors.kinds.simulator.local_time import aware
from situationroom.configfile import Strict
from situationroom.durations import Duration, parse_duration

HOUR = 3600.0
SCENARIO_NAME = r"^[a-z0-9][a-z0-9_\-]*$"

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
        return When(True, aware(value).timestamp())
    if isinstance(value, str) and len(value) >= 10 and value[4:5] == "-":
        try:
            return When(True, aware(datetime.fromisoformat(value.strip())).timestamp())
        except ValueError:
            raise ValueError("expected a time such as 2022-09-06 04:30 (KST) or an offset such as 10h30m") from None
    try:
        return When(False, parse_duration(value))
    except ValueError:
        raise ValueError("expected a time such as 2022-09-06 04:30 (KST) or an offset such as 10h30m") from None


WhenField = Annotated[When, BeforeValidator(_parse_when)]


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

