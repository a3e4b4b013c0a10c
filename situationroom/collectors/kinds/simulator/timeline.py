"""A scenario on the simulated time line: its overlays and events in force for a series and entity at a time."""

from __future__ import annotations

import bisect
import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass

from situationroom.collectors.kinds.simulator.entities import EntitySelectors
from situationroom.collectors.kinds.simulator.spec import Event, Overlay, Scenario


@dataclass(frozen=True)
class Keyframes:
    """One overlay as it applies to one entity: keyframes at simulated epoch seconds, with its strength there."""

    mode: str
    step: bool
    times: tuple[float, ...]
    values: tuple[float, ...]
    factor: float
    regional: bool

    def at(self, t: float) -> float | None:
        """The keyframed value at `t`, or None outside the keyframes."""
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
class Held:
    """One event as it applies to one entity: its value from `start` until `end` (simulated epoch seconds)."""

    start: float
    end: float
    value: float
    combine: str


class ScenarioTimeline:
    """The scenario's overlays and events by series and entity, once `resolve(start)` placed them in time."""

    def __init__(self, scenario: Scenario | None, selectors: EntitySelectors) -> None:
        self.scenario = scenario
        self.selectors = selectors
        self.resolved = False
        self._overlay_specs: list[tuple[Overlay, tuple[float, ...]]] = []
        self._event_specs: list[tuple[Event, float]] = []
        self._overlays: dict[tuple[str, str], tuple[Keyframes, ...]] = {}
        self._events: dict[tuple[str, str], tuple[Held, ...]] = {}

    def resolve(self, start: float | None) -> None:
        """Turn the scenario's keyframe times into simulated epoch seconds (offsets count from start)."""
        self.resolved = True
        self._overlay_specs = []
        self._event_specs = []
        if self.scenario is None:
            return
        assert start is not None
        for ov in self.scenario.overlays:
            times = tuple(w.seconds if w.absolute else start + w.seconds for w, _ in ov.keyframes)
            self._overlay_specs.append((ov, times))
        for ev in self.scenario.events:
            self._event_specs.append((ev, ev.at.seconds if ev.at.absolute else start + ev.at.seconds))

    def _overlays_for(self, name: str, entity: str) -> tuple[Keyframes, ...]:
        key = (name, entity)
        found = self._overlays.get(key)
        if found is None:
            items = []
            for ov, times in self._overlay_specs:
                if (ov.indicator == name or fnmatch.fnmatchcase(name, ov.indicator)) and \
                        self.selectors.selected(ov.entities, entity):
                    regional = ov.regional if ov.regional is not None else ov.mode != "set"
                    items.append(Keyframes(ov.mode, ov.interpolate == "step", times,
                                           tuple(v for _, v in ov.keyframes),
                                           self.selectors.lookup(ov.factors, entity, 1.0), regional))
            found = self._overlays[key] = tuple(items)
        return found

    def _events_for(self, name: str, entity: str) -> tuple[Held, ...]:
        key = (name, entity)
        found = self._events.get(key)
        if found is None:
            found = self._events[key] = tuple(
                Held(at, at + ev.hold, ev.value, ev.combine)
                for ev, at in self._event_specs
                if ev.indicator == name and self.selectors.selected(ev.entities, entity))
        return found

    def apply_overlays(self, name: str, entity: str, t: float, v: float) -> tuple[float, bool]:
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

    def apply_events(self, name: str, entity: str, t: float, v: float) -> float:
        """The value with the scenario's events held at `t` added (or as a floor, `combine: max`)."""
        for ev in self._events_for(name, entity):
            if ev.start <= t < ev.end:
                v = v + ev.value if ev.combine == "add" else max(v, ev.value)
        return v

    def texts_between(self, t0: float, t1: float, indicators: Iterable[str]) -> list[tuple[int, Event, float]]:
        """Events with a text, of the given indicators, at simulated times in (t0, t1]: (index, event, at)."""
        wanted = set(indicators)
        return [(k, ev, at) for k, (ev, at) in enumerate(self._event_specs)
                if (ev.text_ko or ev.text_en) and ev.indicator in wanted and t0 < at <= t1]
