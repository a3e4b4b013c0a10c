"""Comparisons with the past on the wall (`compare:` of a chart or KPI panel): what may be written, and which stored
period a comparison reads for the span a chart shows, shifted by how much onto its time axis."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from situationroom.events import Events

if TYPE_CHECKING:
    from situationroom.catalog import Catalog

DAY = 86_400.0
RELATIVE = {"yesterday": DAY, "last_week": 7 * DAY, "last_year": 364 * DAY}
"""How far back each relative comparison looks. A year is 52 weeks, so the same weekday (a Monday's traffic with a
Monday's) at the same hour of the city's day."""
WORDS = {"yesterday": ("어제", "yesterday"), "last_week": ("지난주", "last week"), "last_year": ("작년", "last year")}
SAME_TIME = {"yesterday": ("어제 같은 시각 대비", "vs same time yesterday"),
             "last_week": ("지난주 같은 시각 대비", "vs same time last week"),
             "last_year": ("작년 같은 시각 대비", "vs same time last year")}
"""What a KPI's difference is to, after the number: `+12.3 mm (지난주 같은 시각 대비)`."""
CHOICES = "yesterday, last_week, last_year or {event: <id of seeds/events.yaml>}"


@dataclass(frozen=True, slots=True)
class Compare:
    """One comparison: relative (`kind` yesterday, last_week, last_year) or a named event (`kind` event)."""

    kind: str
    event: str | None = None

    def spec(self) -> Any:
        """As written in a dashboard file."""
        return {"event": self.event} if self.kind == "event" else self.kind


def parse(value: Any, events: Events, *, kpi: bool = False) -> tuple[Compare | None, list[tuple[str, str, Any]]]:
    """A panel's `compare` value checked: the comparison, or the problems as (message, field under `compare`, value).
    A KPI compares with the same time of a relative period only (an event has no "same time" of now)."""
    if isinstance(value, str) and value in RELATIVE:
        return Compare(value), []
    if isinstance(value, dict) and set(value) == {"event"}:
        if kpi:
            return None, [("a KPI compares with the same time yesterday, last_week or last_year, not with an event",
                           "compare", value)]
        event_id = value["event"]
        if not isinstance(event_id, str) or events.get(event_id) is None:
            known = ", ".join(sorted(events.by_id)) or "none: the site has no seeds/events.yaml"
            return None, [(f"unknown event (not in seeds/events.yaml); events: {known}", "compare.event", event_id)]
        return Compare("event", event_id), []
    if isinstance(value, dict):
        extra = sorted(str(k) for k in value if k != "event")
        if extra:
            return None, [(f"unknown key; compare is {CHOICES}", f"compare.{extra[0]}", value[extra[0]])]
    return None, [(f"unknown comparison; compare is {CHOICES}", "compare", value)]


def check(panel: Any, catalog: Catalog, events: Events) -> list[tuple[str, str, Any]]:
    """The problems of a dashboard panel's `compare` (none when it has none, or its indicator is already wrong)."""
    value = getattr(panel, "compare", None)
    indicator = getattr(panel, "indicator", None)
    if value is None or indicator not in catalog.indicators:
        return []
    kpi = getattr(panel, "kind", None) == "kpi"
    _, problems = parse(value, events, kpi=kpi)
    if not problems and kpi and catalog.indicators[indicator].labels:
        problems.append(("a coded indicator (labels) has no difference to show", "compare", value))
    return problems


@dataclass(frozen=True, slots=True)
class Period:
    """What a comparison reads for an axis span: stored instants [start, end) (epoch s), drawn `shift` seconds
    later on the axis. Empty (start >= end) when the comparison has nothing there."""

    start: float
    end: float
    shift: float

    @property
    def empty(self) -> bool:
        return self.start >= self.end


def period(compare: Compare, events: Events, axis_from: float, axis_to: float) -> Period:
    """The stored period a comparison reads for a chart whose axis spans [axis_from, axis_to] (epoch s; during a
    replay the simulated time the axis shows).

    A relative comparison is the same span that much earlier. An event whose own dates the axis reaches (a replay of
    that very event: its simulated time is the event's time) is drawn at its own dates, so the two line up hour for
    hour; otherwise the event starts at the axis' left edge, and what of it fits the span is drawn."""
    if compare.kind in RELATIVE:
        back = RELATIVE[compare.kind]
        return Period(axis_from - back, axis_to - back, back)
    event = events.get(compare.event or "")
    if event is None:
        return Period(0.0, 0.0, 0.0)
    overlaps = axis_from < event.end_s and axis_to > event.start_s
    shift = 0.0 if overlaps else axis_from - event.start_s
    return Period(max(axis_from - shift, event.start_s), min(axis_to - shift, event.end_s), shift)


def label(compare: Compare, events: Events, lang: str) -> str:
    """The legend entry of a comparison's dashed lines."""
    if compare.kind in WORDS:
        return WORDS[compare.kind][0 if lang == "ko" else 1]
    event = events.get(compare.event or "")
    return event.label(lang) if event is not None else str(compare.event)


def dataset(compare: Compare, events: Events) -> str | None:
    """Which dataset a comparison reads: an event's own (`real`, `exercise`); None for a relative one, which reads
    the dataset of the line it is drawn beside."""
    if compare.kind == "event":
        event = events.get(compare.event or "")
        return event.dataset if event is not None else None
    return None
