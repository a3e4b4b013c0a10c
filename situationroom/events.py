"""Named events of the site (seeds/events.yaml): past emergencies the wall compares the present with.

An event is a span of the city's history with a name (태풍 힌남노, 2022-09-05 18:00 ~ 09-07 00:00) and the dataset
its data is in: `real` for what the city's sources recorded, `exercise` for data that only re-enacts it (the demo's
recorded typhoon scenario, written into the exercise dataset at the event's real dates). Dashboards refer to an
event by its id (`compare: {event: hinnamnor-2022}`, docs/dashboards.md); the history keeps an event's days
whatever its domains' retention (docs/history.md)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import AwareDatetime, Field, model_validator

from situationroom.configfile import Strict, read_yaml, validate
from situationroom.errors import ConfigError, Problem

FILE = "events.yaml"
"""In the site's seeds/ folder; without it the site has no named events."""
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
DATASET_WORDS = {"exercise": ("모의 재현·훈련", "simulated, exercise")}
"""What an event's data is, said beside its name wherever it is drawn (a legend entry), when it is not real."""


class Event(Strict):
    """One named event: its span and where its data is."""

    id: str = Field(pattern=ID_PATTERN.pattern)
    name_ko: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    start: AwareDatetime
    """With its offset (`2022-09-05T18:00:00+09:00`): an instant, whatever the reader's zone."""
    end: AwareDatetime
    dataset: Literal["real", "exercise"] = "real"
    """`real`: the city's samples; `exercise`: the exercise dataset (a drill, or a scenario's re-enactment)."""
    scenario: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    """A scenario of seeds/scenarios/ whose recording the demo writes as this event's exercise history."""

    @model_validator(mode="after")
    def _consistent(self) -> Event:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if self.scenario is not None and self.dataset != "exercise":
            raise ValueError("a scenario's recording is exercise data: give dataset: exercise")
        return self

    @property
    def start_s(self) -> float:
        return self.start.timestamp()

    @property
    def end_s(self) -> float:
        return self.end.timestamp()

    def label(self, lang: str) -> str:
        """Its name as a legend says it, with what its data is when that is not the city's real record."""
        name = self.name_ko if lang == "ko" else self.name_en
        words = DATASET_WORDS.get(self.dataset)
        return f"{name} · {words[0] if lang == 'ko' else words[1]}" if words else name

    def utc_dates(self) -> list[str]:
        """The UTC dates (history partitions) the event touches."""
        first = datetime.fromtimestamp(self.start_s, UTC).date()
        last = datetime.fromtimestamp(self.end_s - 0.001, UTC).date()
        return [d.isoformat() for d in (first.fromordinal(n) for n in range(first.toordinal(),
                                                                              last.toordinal() + 1))]


class _EventsFile(Strict):
    events: list[Event] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Events:
    """The site's named events by id."""

    by_id: dict[str, Event]

    def get(self, event_id: str) -> Event | None:
        return self.by_id.get(event_id)

    def __iter__(self) -> Iterator[Event]:
        return iter(self.by_id.values())

    def protected_dates(self) -> frozenset[str]:
        """Every UTC date an event touches: retention keeps them."""
        return frozenset(d for e in self.by_id.values() for d in e.utc_dates())


NONE = Events({})


def load_events(seeds: Path) -> Events:
    """The site's events from seeds/events.yaml (none without the file); ConfigError with file:line, field and value
    for anything wrong: an unknown key, a time without its offset, an end before the start, a repeated id, a
    scenario seeds/scenarios/ does not have."""
    path = seeds / FILE
    if not path.is_file():
        return NONE
    data, pos = read_yaml(path)
    parsed = validate(_EventsFile, data if data is not None else {}, file=path, pos=pos)
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for n, event in enumerate(parsed.events):
        if event.id in seen:
            problems.append(Problem(f"repeats the id of events[{seen[event.id]}]", str(path),
                                    pos.line_of(("events", n, "id")), f"events[{n}].id", event.id, True))
        seen.setdefault(event.id, n)
        if event.scenario is not None and not (seeds / "scenarios" / f"{event.scenario}.yaml").is_file():
            problems.append(Problem("no such scenario in seeds/scenarios/", str(path),
                                    pos.line_of(("events", n, "scenario")), f"events[{n}].scenario",
                                    event.scenario, True))
    if problems:
        raise ConfigError(problems)
    return Events({e.id: e for e in parsed.events})
