"""Measuring: what a rule measures in a live state (value, rate of change, distance from the usual), the level
that measure is at against the rule's thresholds, and what must be read from Redis to measure it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from situationroom.alerts.ruleset import AnomalySpec, RateSpec, Rule, RuleSet
from situationroom.catalog import Catalog

RateKey = tuple[str, str, int, float]
"""(indicator, entity, event time ms, window s): the first value of a rate rule's window."""
BaselineKey = tuple[str, str, int, int]
"""(indicator, entity, hour, days): an anomaly rule's baseline for an hour."""
Baseline = tuple[float, float, int]
"""(mean, spread, days with data)."""


@dataclass(slots=True)
class Series:
    """What the evaluator remembers of one series: its newest state's time, status and source."""

    t: int
    st: str
    s: str | None
    n: float
    v: float


@dataclass
class Fetch:
    """Data a rule needs beyond the live state, read by the role in one pipeline before evaluating."""

    rate_first: dict[RateKey, tuple[int, float] | None] = field(default_factory=dict)
    baselines: dict[BaselineKey, Baseline | None] = field(default_factory=dict)


class Baselines:
    """The newest hour's baseline per anomaly series and number of days: only that hour's is asked for again,
    so one per series is kept however long the role runs."""

    def __init__(self) -> None:
        self._held: dict[tuple[str, str, int], tuple[int, Baseline | None]] = {}

    def remember(self, key: BaselineKey, value: Baseline | None) -> None:
        indicator, entity, hour, days = key
        held = self._held.get((indicator, entity, days))
        if held is None or hour >= held[0]:  # a late state of an hour gone by does not displace the current one
            self._held[indicator, entity, days] = (hour, value)

    def known(self, key: BaselineKey) -> tuple[bool, Baseline | None]:
        """(whether it is kept, the baseline) of an anomaly series for an hour."""
        indicator, entity, hour, days = key
        held = self._held.get((indicator, entity, days))
        if held is not None and held[0] == hour:
            return True, held[1]
        return False, None


def reads_for(rules: RuleSet, baselines: Baselines, states: list[dict[str, Any]]) -> list[tuple[str, tuple[Any, ...]]]:
    """What to read before evaluating these states: ("rate", RateKey) and ("baseline", BaselineKey) requests."""
    out: list[tuple[str, tuple[Any, ...]]] = []
    seen: set[tuple[Any, ...]] = set()
    for d in states:
        matching = rules.by_indicator.get(d.get("i", ""))
        if not matching or d.get("st") == "stale":
            continue
        for rule in matching:
            if d["e"] not in rule.entities:
                continue
            spec = rule.spec
            if isinstance(spec, RateSpec):
                key: tuple[Any, ...] = (d["i"], d["e"], int(d["t"]), spec.window)
                if key not in seen:
                    seen.add(key)
                    out.append(("rate", key))
            elif isinstance(spec, AnomalySpec):
                hour = int(d["t"]) // 3_600_000
                key = (d["i"], d["e"], hour, spec.days)
                if key not in seen and not baselines.known(key)[0]:  # type: ignore[arg-type]
                    seen.add(key)
                    out.append(("baseline", key))
    return out


def measure(rule: Rule, d: dict[str, Any], t: int, fetch: Fetch,
            baselines: Baselines) -> tuple[float | None, dict[str, Any]]:
    """The rule's measure of a live state (None: nothing to judge yet) and what the message tells of it."""
    spec = rule.spec
    v = float(d["v"])
    if isinstance(spec, RateSpec):
        first = fetch.rate_first.get((d["i"], d["e"], t, spec.window))
        if first is None:
            return None, {}
        ft, fv = first
        if ft >= t:
            return 0.0, {"change": 0.0}
        if spec.min_value is not None and v < spec.min_value:
            return 0.0, {"change": v - fv}
        change = v - fv
        amount = spec.rise if spec.rise is not None else spec.fall
        assert amount is not None
        sign = 1 if spec.rise is not None else -1
        if amount[1]:
            if fv == 0:
                return (math.inf if sign * change > 0 else 0.0), {"change": change}
            return sign * change / abs(fv) * 100, {"change": change}
        return sign * change, {"change": change}
    if isinstance(spec, AnomalySpec):
        hour = t // 3_600_000
        key = (d["i"], d["e"], hour, spec.days)
        known, base = baselines.known(key)
        if not known:
            base = fetch.baselines.get(key)
        if base is None or base[2] < spec.min_days:
            return None, {}
        mean, spread, _n = base
        floor = spec.min_spread if spec.min_spread is not None else max(1.0, abs(mean) * 0.1)
        z = (v - mean) / max(spread, floor)
        score = {"above": z, "below": -z, "both": abs(z)}[spec.direction]
        return score, {"baseline": mean, "z": z}
    return v, {}


def level_for_measure(measure: float, direction: str, levels: tuple[tuple[int, float], ...],
                      clear: tuple[float, bool], current: int) -> tuple[int, float | None]:
    """The level a measure is at, with hysteresis: a level reached stays until the measure is `clear`
    (an amount, or a % of the threshold) back inside it. Returns (level, its threshold)."""
    sign = 1.0 if direction == "above" else -1.0
    got, got_th = 0, None
    for lv, th in levels:
        margin = 0.0
        if lv <= current:
            margin = abs(th) * clear[0] / 100 if clear[1] else clear[0]
        if sign * (measure - th) >= -margin:
            got, got_th = lv, th
    return got, got_th


def worse(value: float, than: float, rule: Rule, catalog: Catalog, entity: str) -> bool:
    """Whether `value` is worse than `than` for the rule (further past its thresholds)."""
    if rule.kind not in ("threshold",):
        return value > than
    direction, _ = rule.levels(catalog, entity)
    return value < than if direction == "below" else value > than

