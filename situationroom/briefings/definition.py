"""Briefing files (briefings/*.yaml): the model, its schedule and a loader with file:line:field errors."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from croniter import croniter
from pydantic import Field, field_validator

from situationroom.catalog import Catalog
from situationroom.configfile import Strict, _dotted, read_yaml, validate
from situationroom.errors import ConfigError, Problem
from situationroom.notify.people import has_people, load_people
from situationroom.settings import Settings

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
"""A briefing's name is its file name without `.yaml`; it appears in URLs and on the command line."""


class StatusSection(Strict):
    """Overall status by domain, and what changed since the last briefing of the same name."""

    kind: Literal["status"]


class TimelineSection(Strict):
    """Alerts and incidents of the period: fired, acknowledged (by whom, how fast), resolved; declarations, notes."""

    kind: Literal["timeline"]
    limit: int = Field(default=40, ge=1, le=500)
    """Entries shown at most (the newest)."""


class FiguresSection(Strict):
    """Key figures: each indicator's latest value and status, and a chart of the period."""

    kind: Literal["figures"]
    indicators: list[str] = Field(min_length=1, max_length=8)


class DistrictsSection(Strict):
    """The districts (gu and 행정동) with the worst status now."""

    kind: Literal["districts"]
    top: int = Field(default=5, ge=1, le=50)


class OutlookSection(Strict):
    """Weather and river outlook from the latest data: each indicator's latest value where it is highest."""

    kind: Literal["outlook"]
    indicators: list[str] = Field(default_factory=lambda: [
        "weather.temperature", "rain.hourly", "weather.wind_speed", "weather.wave_height", "river.level"])


class EconomySection(Strict):
    """Local-currency (포항사랑상품권) spending by gu and by sector: this week, last week, the same week last year."""

    kind: Literal["economy"]
    by_gu: str = "economy.gift_card_spending"
    by_sector: str = "economy.gift_card_by_sector"


Section = Annotated[StatusSection | TimelineSection | FiguresSection | DistrictsSection | OutlookSection
                    | EconomySection, Field(discriminator="kind")]


class Audience(Strict):
    """Who receives it: every staff member of the departments, and the staff named; on these channels."""

    departments: list[str] = Field(default_factory=list)
    staff: list[str] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=lambda: ["email", "inapp"])


class Definition(Strict):
    name_ko: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    schedule: list[str] = Field(default_factory=list)
    """Cron expressions in the city's time (`30 8 * * *`); none: on demand only."""
    language: Literal["ko", "en"] = "ko"
    audience: Audience = Field(default_factory=Audience)
    sections: list[Section] = Field(min_length=1)

    @field_validator("schedule")
    @classmethod
    def _cron(cls, v: list[str]) -> list[str]:
        for expr in v:
            if not croniter.is_valid(expr):
                raise ValueError(f"{expr!r} is not a cron expression (minute hour day month weekday, e.g. 30 8 * * *)")
        return v


class Briefing:
    """A loaded definition with its name (the file's stem) and file."""

    def __init__(self, name: str, spec: Definition, path: Path) -> None:
        self.name = name
        self.spec = spec
        self.path = path

    def previous(self, at_ms: int, tz: ZoneInfo) -> int | None:
        """The latest scheduled time at or before `at_ms` (epoch ms), or None when it has no schedule."""
        at = datetime.fromtimestamp(at_ms / 1000, tz)
        found = [croniter(e, at).get_prev(datetime) for e in self.spec.schedule]
        # croniter's get_prev is strictly before; a time exactly on the schedule is its own occurrence.
        exact = [at for e in self.spec.schedule if croniter.match(e, at) and at.second == 0 and at.microsecond == 0]
        times = exact + found
        return int(max(times).timestamp() * 1000) if times else None

    def next_after(self, at_ms: int, tz: ZoneInfo) -> int | None:
        """The first scheduled time after `at_ms`, or None when it has no schedule."""
        at = datetime.fromtimestamp(at_ms / 1000, tz)
        times = [croniter(e, at).get_next(datetime) for e in self.spec.schedule]
        return int(min(times).timestamp() * 1000) if times else None


def load_briefing(path: Path, catalog: Catalog, known_people: set[str] | None = None) -> Briefing:
    """Read and check one briefing file: indicators, departments and staff must exist (file:line:field errors)."""
    data, pos = read_yaml(path)
    if data is None:
        raise ConfigError.single("file is empty", file=path)
    spec = validate(Definition, data, file=path, pos=pos)
    problems: list[Problem] = []

    def wrong(message: str, loc: tuple[str | int, ...], value: object) -> None:
        problems.append(Problem(message, str(path), pos.line_of(loc), _dotted(loc), value, True))

    for i, section in enumerate(spec.sections):
        ids = getattr(section, "indicators", None) or [v for v in (getattr(section, "by_gu", None),
                                                                   getattr(section, "by_sector", None)) if v]
        for j, ind in enumerate(ids):
            if ind not in catalog.indicators:
                loc: tuple[str | int, ...] = ("sections", i, "indicators", j) if hasattr(section, "indicators") \
                    else ("sections", i)
                wrong("not an indicator of the catalog", loc, ind)
    if known_people is not None:
        for part in ("departments", "staff"):
            for j, who in enumerate(getattr(spec.audience, part)):
                if who not in known_people:
                    wrong(f"not in {part}.yaml", ("audience", part, j), who)
    if problems:
        raise ConfigError(problems)
    return Briefing(path.stem, spec, path)


def load_briefings(folder: Path, catalog: Catalog, known_people: set[str] | None = None) -> dict[str, Briefing]:
    """Every briefing of the site; all problems of all files in one ConfigError."""
    found: dict[str, Briefing] = {}
    problems: list[Problem] = []
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        if not NAME_PATTERN.match(path.stem):
            problems.append(Problem("a briefing's name is lower-case letters, digits, - and _", str(path)))
            continue
        try:
            found[path.stem] = load_briefing(path, catalog, known_people)
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        raise ConfigError(problems)
    return found


def known_people(settings: Settings) -> set[str] | None:
    """The department and staff ids an audience may name, or None when the site has no people files."""
    people = load_people(settings.seeds) if has_people(settings.seeds) else None
    return set(people.departments) | set(people.staff) if people is not None else None


def site_briefings(settings: Settings, catalog: Catalog) -> dict[str, Briefing]:
    """The site's briefings, their audiences checked against its departments and staff when it has them."""
    return load_briefings(settings.briefings_dir, catalog, known_people(settings))
