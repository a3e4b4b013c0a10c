"""The alert rule models: each kind's spec as written in rules/*.yaml, a compiled Rule, the RuleSet the engine runs."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field, model_validator

from situationroom import configfile
from situationroom.alerts.severity import Severity
from situationroom.catalog import Catalog
from situationroom.durations import Duration
from situationroom.status import BY_ID, LevelName

RULE_ID = r"^[a-z0-9][a-z0-9_.\-]*$"
KINDS = ("threshold", "rate", "absence", "anomaly", "source")
CAP_CATEGORIES = ("Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env", "Transport", "Infra",
                  "CBRNE", "Other")
SOURCE_RULE = "source.down"
"""The built-in rule that fires once per source (collector or push token) that is down."""


def _amount(value: Any) -> tuple[float, bool]:
    """A number, or a percentage written "50%": (amount, is_percent)."""
    if isinstance(value, bool):
        raise ValueError("a number or a percentage such as 50% is expected")
    if isinstance(value, int | float):
        out = (float(value), False)
    elif isinstance(value, str) and value.strip().endswith("%"):
        try:
            out = (float(value.strip()[:-1]), True)
        except ValueError:
            raise ValueError("a number or a percentage such as 50% is expected") from None
    elif isinstance(value, tuple | list) and len(value) == 2:
        out = (float(value[0]), bool(value[1]))
    else:
        raise ValueError("a number or a percentage such as 50% is expected")
    if not math.isfinite(out[0]) or out[0] < 0:
        raise ValueError("must be a finite, non-negative amount")
    return out


Amount = Annotated[tuple[float, bool], BeforeValidator(_amount)]


class Strict(configfile.Strict):
    """Rules also accept their fields by Python name (`for_` beside `for`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class RuleSpec(Strict):
    """What every rule kind has (docs/alerts.md, "Rules")."""

    id: str = Field(pattern=RULE_ID)
    kind: Literal["threshold", "rate", "absence", "anomaly", "source"]
    indicator: str | None = None
    entities: list[str] = Field(default_factory=list)
    """Entity kinds or ids; empty = every entity of the indicator."""
    name_ko: str | None = None
    name_en: str | None = None
    for_: Duration = Field(default=0.0, alias="for")
    """How long the condition must hold (event time) before the alert fires; until then it is pending."""
    clear: Amount = (5.0, True)
    """Hysteresis: leaving a level needs the measure this far (or this % of the threshold) back inside it."""
    min_interval: Duration | None = None
    """Minimum time between two state changes of an alert of this rule (default: setting alert_min_interval)."""
    department: str | None = None
    """Owning department (seeds/departments.yaml); default: the department looking after the indicator's domain."""
    labels: dict[str, str] = Field(default_factory=dict)
    message_ko: str | None = None
    message_en: str | None = None
    escalate_after: Duration | None = None
    """For 경계/심각: unacknowledged this long, the alert goes to the next tier
    (default: setting alert_escalate_after; 0 = never)."""
    repeat_every: Duration | None = None
    group_wait: Duration | None = None
    enabled: bool = True
    cap_category: Literal["Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env", "Transport",
                          "Infra", "CBRNE", "Other"] | None = None


class ThresholdSpec(RuleSpec):
    kind: Literal["threshold"]
    direction: Literal["above", "below"] | None = None
    """Which way is bad; default the catalog's."""
    levels: dict[Severity, float] | None = None
    """Severity -> threshold; none = the catalog's thresholds per entity (the levels of the one status scale)."""
    severities: dict[LevelName, Severity] = Field(default_factory=dict)
    """With the catalog's thresholds: another severity for some of its levels ({warning: 관심}). Each level the
    map leaves out keeps its own (info 관심, warning 주의, critical 경계, severe 심각), so by default the
    alert says what the wall's status says."""


class RateSpec(RuleSpec):
    kind: Literal["rate"]
    window: Duration
    """Change from the first value in (now − window, now] to the newest one; at most 1 h (raw samples kept)."""
    rise: Amount | None = None
    fall: Amount | None = None
    min_value: float | None = None
    """Only when the newest value is at least this (small counts double easily)."""
    severity: Severity = 2

    @model_validator(mode="after")
    def _one_direction(self) -> RateSpec:
        if (self.rise is None) == (self.fall is None):
            raise ValueError("a rate rule needs exactly one of rise or fall")
        if not 0 < self.window <= 3600:
            raise ValueError("window must be more than 0 and at most 1h (the raw samples kept per series)")
        return self


class AbsenceSpec(RuleSpec):
    kind: Literal["absence"]
    after: Duration
    """No new sample for this long fires the alert."""
    severity: Severity = 2


class AnomalySpec(RuleSpec):
    kind: Literal["anomaly"]
    z: float = Field(default=3.0, gt=0)
    """How many spreads from the baseline is far."""
    direction: Literal["above", "below", "both"] = "above"
    days: int = Field(default=7, ge=1, le=90)
    """Baseline: the same hour of day over this many past days (the history store's hourly buckets)."""
    min_days: int = Field(default=3, ge=1)
    """Fewer past days with data than this: no baseline yet, no alert."""
    min_spread: float | None = Field(default=None, gt=0)
    """Floor of the spread (a flat history would make any change "far"); default 10% of the baseline, at least 1."""
    severity: Severity = 1


class SourceSpec(RuleSpec):
    kind: Literal["source"]
    sources: list[str] = Field(default_factory=list)
    """Collector ids or push:<token name>; empty = every source."""
    severity: Severity = 2


SPECS: dict[str, type[RuleSpec]] = {"threshold": ThresholdSpec, "rate": RateSpec, "absence": AbsenceSpec,
                                    "anomaly": AnomalySpec, "source": SourceSpec}


class RulesFile(Strict):
    departments_by_domain: dict[str, str] = Field(default_factory=dict)
    """Owner of the rules without a `department`, by the indicator's domain."""
    rules: list[dict[str, Any]] = Field(default_factory=list)


@dataclass
class Rule:
    """A validated rule, resolved against the catalog and the settings: what the evaluator runs."""

    spec: RuleSpec
    file: str | None
    line: int | None
    department: str | None
    domain: str | None
    entities: frozenset[str]
    name_ko: str
    name_en: str
    for_: float
    min_interval: float
    repeat_every: float
    escalate_after: float
    group_wait: float
    builtin: bool = False
    version: str = ""
    _levels: dict[str, tuple[str, tuple[tuple[int, float], ...]]] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def kind(self) -> str:
        return self.spec.kind

    @property
    def indicator(self) -> str | None:
        return self.spec.indicator

    def levels(self, catalog: Catalog, entity: str) -> tuple[str, tuple[tuple[int, float], ...]]:
        """(direction, ((level, threshold), ...) lowest level first) of the rule's measure for an entity."""
        got = self._levels.get(entity)
        if got is None:
            got = self._levels[entity] = _levels_of(self, catalog, entity)
        return got

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "indicator": self.indicator, "name_ko": self.name_ko,
                "name_en": self.name_en, "department": self.department, "domain": self.domain,
                "builtin": self.builtin, "file": self.file, "line": self.line, "enabled": self.spec.enabled,
                "entities": len(self.entities), "for": self.for_, "min_interval": self.min_interval,
                "repeat_every": self.repeat_every, "escalate_after": self.escalate_after,
                "group_wait": self.group_wait, "version": self.version,
                "spec": self.spec.model_dump(mode="json", by_alias=True, exclude_defaults=True)}


def _levels_of(rule: Rule, catalog: Catalog, entity: str) -> tuple[str, tuple[tuple[int, float], ...]]:
    spec = rule.spec
    if isinstance(spec, ThresholdSpec):
        ind = catalog.indicators[spec.indicator or ""]
        th = ind.thresholds_for(entity)
        direction = spec.direction or (th.direction if th else "above")
        if spec.levels is not None:
            pairs = list(spec.levels.items())
        else:
            # Two catalog levels mapped to one severity: the lower threshold starts it.
            best: dict[int, float] = {}
            for name, value in th.levels() if th is not None else []:
                lv = spec.severities.get(name, BY_ID[name].level or 0)  # type: ignore[call-overload]
                if lv not in best:
                    best[lv] = value
            pairs = list(best.items())
        return direction, tuple(sorted(pairs))
    if isinstance(spec, RateSpec):
        amount = spec.rise if spec.rise is not None else spec.fall
        assert amount is not None
        return ("above" if spec.rise is not None else "below"), ((spec.severity, amount[0]),)
    if isinstance(spec, AbsenceSpec):
        return "above", ((spec.severity, spec.after),)
    if isinstance(spec, AnomalySpec):
        return "above", ((spec.severity, spec.z),)
    if isinstance(spec, SourceSpec):
        return "above", ((spec.severity, 1.0),)
    raise AssertionError(spec)


@dataclass
class RuleSet:
    """Every rule of a site, indexed for the evaluator."""

    rules: dict[str, Rule] = field(default_factory=dict)
    departments: frozenset[str] | None = None
    version: str = ""

    def __post_init__(self) -> None:
        self.by_indicator: dict[str, list[Rule]] = {}
        self.timed: list[Rule] = []
        for rule in self.rules.values():
            if not rule.spec.enabled:
                continue
            if rule.indicator is not None and rule.kind != "absence":
                self.by_indicator.setdefault(rule.indicator, []).append(rule)
            if rule.kind in ("absence",):
                self.timed.append(rule)
        self.absence_indicators = sorted({r.indicator for r in self.timed if r.indicator})

    @property
    def source_rule(self) -> Rule | None:
        rule = self.rules.get(SOURCE_RULE)
        return rule if rule is not None and rule.spec.enabled else None
