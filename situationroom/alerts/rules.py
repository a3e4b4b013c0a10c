"""Alert rules: the site's rules/*.yaml plus built-in rules from the catalog's thresholds, validated and reloaded."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import math
import string
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field, model_validator

from situationroom import configfile
from situationroom.alerts.severity import Severity
from situationroom.catalog import Catalog
from situationroom.configfile import read_yaml, validate
from situationroom.durations import Duration
from situationroom.errors import ConfigError, Problem, site_relative
from situationroom.settings import Settings
from situationroom.status import BY_ID, LevelName

log = logging.getLogger(__name__)

RULE_ID = r"^[a-z0-9][a-z0-9_.\-]*$"
KINDS = ("threshold", "rate", "absence", "anomaly", "source")
CAP_CATEGORIES = ("Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env", "Transport", "Infra",
                  "CBRNE", "Other")
SOURCE_RULE = "source.down"
"""The built-in rule that fires once per source (collector or push token) that is down."""
TEMPLATE_FIELDS = frozenset({
    "rule", "name", "indicator", "indicator_name", "entity", "entity_name", "district", "district_name",
    "value", "unit", "threshold", "severity", "since", "change", "window", "after", "baseline", "z",
    "source", "direction"})
"""Placeholders a message template may use ({value}, {entity_name}...); names are in the template's language."""


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
    """Baseline: the same hour of day over this many past days (1-hour history)."""
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


# ------------------------------------------------------------------------------------------ loading

def _departments(settings: Settings) -> tuple[frozenset[str] | None, dict[str, str], list[Problem]]:
    """Department ids (None when the site has no departments.yaml yet) and the owner of each domain."""
    path = settings.seeds / "departments.yaml"
    if not path.is_file():
        return None, {}, []
    try:
        data, _pos = read_yaml(path)
    except ConfigError as exc:
        return None, {}, exc.problems
    ids: list[str] = []
    owners: dict[str, str] = {}
    for dept in (data or {}).get("departments", []) if isinstance(data, dict) else []:
        if isinstance(dept, dict) and isinstance(dept.get("id"), str):
            ids.append(dept["id"])
            for dom in dept.get("domains") or []:
                owners.setdefault(str(dom), dept["id"])
    return frozenset(ids), owners, []


def builtin_specs(catalog: Catalog) -> dict[str, dict[str, Any]]:
    """`catalog.<indicator>` for every indicator with thresholds, and `source.down`."""
    out: dict[str, dict[str, Any]] = {}
    for ind in catalog.indicators.values():
        if ind.thresholds is None and not ind.thresholds_by_entity:
            continue
        ents = list(ind.thresholds_by_entity) if ind.thresholds is None else []
        out[f"catalog.{ind.id}"] = {"id": f"catalog.{ind.id}", "kind": "threshold", "indicator": ind.id,
                                    "entities": ents}
    out[SOURCE_RULE] = {"id": SOURCE_RULE, "kind": "source", "name_ko": "데이터 수집 중단",
                        "name_en": "Data source down", "cap_category": "Infra", "for": "1m"}
    return out


def rule_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.yaml") if p.is_file()) if folder.is_dir() else []


def load_rules(folder: Path, catalog: Catalog, settings: Settings) -> RuleSet:
    """All rules of a site: built-ins, changed or disabled by the files, plus the files' own rules.

    Every problem of every file is collected into one ConfigError naming file, line and field.
    """
    departments, owners, problems = _departments(settings)
    raw: dict[str, tuple[dict[str, Any], str | None, Any, tuple[str | int, ...], bool]] = {}
    for rid, spec in builtin_specs(catalog).items():
        raw[rid] = (spec, None, None, (), True)
    seen: dict[str, str] = {}
    digest = hashlib.blake2b(digest_size=8)
    for path in rule_files(folder):
        try:
            data, pos = read_yaml(path)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
        if data is None:
            continue
        try:
            parsed = validate(RulesFile, data, file=path, pos=pos)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        for dom, dept in parsed.departments_by_domain.items():
            if dom not in catalog.domains:
                problems.append(Problem(f"unknown domain; domains: {', '.join(catalog.domains)}", str(path),
                                        pos.line_of(("departments_by_domain", dom)), f"departments_by_domain.{dom}",
                                        dom, True))
            owners[dom] = dept
        for i, item in enumerate(parsed.rules):
            loc: tuple[str | int, ...] = ("rules", i)
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                problems.append(Problem("a rule needs an id", str(path), pos.line_of(loc), f"rules[{i}].id"))
                continue
            rid = item["id"]
            if rid in seen:
                problems.append(Problem(f"duplicate rule id (also in {seen[rid]})", str(path),
                                        pos.line_of((*loc, "id")), f"rules[{i}].id", rid, True))
                continue
            seen[rid] = f"{path.name}:{pos.line_of(loc)}"
            if rid in raw and raw[rid][4]:
                # A file changes a built-in rule by naming it: its keys override the built-in's.
                merged = {**raw[rid][0], **item}
                raw[rid] = (merged, str(path), pos, loc, True)
            else:
                raw[rid] = (item, str(path), pos, loc, False)

    rules: dict[str, Rule] = {}
    for rid, (item, file, pos, loc, builtin) in raw.items():
        rule, found = _compile(item, file, pos, loc, builtin, catalog, settings, departments, owners)
        problems.extend(found)
        if rule is not None:
            rules[rid] = rule
    if problems:
        raise ConfigError(problems)
    return RuleSet(rules, departments, digest.hexdigest())


def _compile(item: dict[str, Any], file: str | None, pos: Any, loc: tuple[str | int, ...], builtin: bool,
             catalog: Catalog, settings: Settings, departments: frozenset[str] | None,
             owners: dict[str, str]) -> tuple[Rule | None, list[Problem]]:
    problems: list[Problem] = []

    def problem(message: str, fld: str, value: Any = ...) -> None:
        where = (*loc, fld)
        problems.append(Problem(message, file, pos.line_of(where) if pos else None,
                                _dotted(where), None if value is ... else value, value is not ...))

    kind = item.get("kind")
    if kind not in SPECS:
        problem(f"unknown rule kind; kinds: {', '.join(KINDS)}", "kind", kind)
        return None, problems
    try:
        spec = validate(SPECS[kind], item, file=file, pos=pos, prefix=loc)
    except ConfigError as exc:
        return None, exc.problems
    ind = catalog.indicators.get(spec.indicator or "") if spec.indicator else None
    if kind == "source":
        if spec.indicator is not None:
            problem("a source rule watches sources, not an indicator", "indicator", spec.indicator)
        entities: frozenset[str] = frozenset(spec.sources)  # type: ignore[attr-defined]
    else:
        if spec.indicator is None:
            problem("required field is missing", "indicator")
            return None, problems
        if ind is None:
            problem("unknown indicator (not in the catalog)", "indicator", spec.indicator)
            return None, problems
        measured = catalog.entity_sets[ind.id]
        chosen: set[str] = set()
        for n, ref in enumerate(spec.entities):
            if ref in measured:
                chosen.add(ref)
                continue
            of_kind = {e for e in measured if catalog.entities[e].kind == ref}
            if not of_kind:
                problems.append(Problem(f"neither an entity of {ind.id} nor a kind of them", file,
                                        pos.line_of((*loc, "entities", n)) if pos else None,
                                        _dotted((*loc, "entities", n)), ref, True))
            chosen |= of_kind
        entities = frozenset(chosen) if spec.entities else frozenset(measured)
    if isinstance(spec, ThresholdSpec) and ind is not None:
        if spec.levels is None:
            if ind.thresholds is None and not ind.thresholds_by_entity:
                problem("the indicator has no thresholds in the catalog: give levels", "levels")
        else:
            if not spec.levels:
                problem("give at least one level (severity: threshold)", "levels", spec.levels)
            direction = spec.direction or (ind.thresholds.direction if ind.thresholds else "above")
            ordered = sorted(spec.levels.items())
            for (_l1, t1), (_l2, t2) in itertools.pairwise(ordered):
                if (t2 <= t1) if direction == "above" else (t2 >= t1):
                    problem(f"a higher severity needs a threshold beyond the lower one's when direction is "
                            f"{direction}", "levels", {k: v for k, v in ordered})
                    break
    if isinstance(spec, RateSpec) and spec.window > max(settings.late_limit, 3600):
        problem("window is longer than the raw samples kept (1h)", "window", spec.window)
    domain = ind.domain if ind is not None else None
    department = spec.department or (owners.get(domain) if domain else None) or owners.get("*")
    if spec.department is not None and departments is not None and spec.department not in departments:
        problem(f"unknown department; seeds/departments.yaml has: {', '.join(sorted(departments))}",
                "department", spec.department)
    for lang in ("ko", "en"):
        text = getattr(spec, f"message_{lang}")
        if text is not None:
            bad = _template_problem(text)
            if bad:
                problem(bad, f"message_{lang}", text)
    if problems:
        return None, problems
    name_ko = spec.name_ko or (ind.name_ko if ind is not None else spec.id)
    name_en = spec.name_en or (ind.name_en if ind is not None else spec.id)
    escalate = spec.escalate_after if spec.escalate_after is not None else settings.alert_escalate_after
    rule = Rule(
        spec=spec, file=file, line=pos.line_of(loc) if pos and loc else None, department=department, domain=domain,
        entities=entities, name_ko=name_ko, name_en=name_en, for_=spec.for_,
        min_interval=spec.min_interval if spec.min_interval is not None else settings.alert_min_interval,
        repeat_every=spec.repeat_every if spec.repeat_every is not None else settings.alert_repeat_every,
        escalate_after=escalate, group_wait=(
            spec.group_wait if spec.group_wait is not None else settings.alert_group_wait),
        builtin=builtin,
        version=hashlib.blake2b(spec.model_dump_json(by_alias=True).encode(), digest_size=6).hexdigest(),
    )
    return rule, problems


def _template_problem(text: str) -> str | None:
    """Why a message template cannot be rendered, or None."""
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError as exc:
        return f"not a valid template ({exc}); use {{value}}, and {{{{ }}}} for a literal brace"
    for name in names:
        base = name.split(".")[0].split("[")[0]
        if not base:
            return "a placeholder needs a name, e.g. {value}"
        if base not in TEMPLATE_FIELDS:
            return f"unknown placeholder {{{base}}}; known: {', '.join(sorted(TEMPLATE_FIELDS))}"
    try:
        render(text, {k: Num(1.0) if k in NUMERIC_FIELDS else "x" for k in TEMPLATE_FIELDS})
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        return f"not a valid template: {exc}"
    return None


def _dotted(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out


# ------------------------------------------------------------------------------------------ templates

NUMERIC_FIELDS = frozenset({"value", "threshold", "change", "z", "baseline"})


class Num(float):
    """A number that prints with the indicator's decimals unless the template gives a format."""

    decimals: int = 1

    def __new__(cls, value: float, decimals: int = 1) -> Num:
        obj = super().__new__(cls, value)
        obj.decimals = decimals
        return obj

    def __format__(self, spec: str) -> str:
        if spec:
            return format(float(self), spec)
        return f"{float(self):,.{self.decimals}f}"

    def __str__(self) -> str:
        return format(self, "")


class _Values(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


def render(template: str, values: dict[str, Any]) -> str:
    return template.format_map(_Values(values))


# ------------------------------------------------------------------------------------------ the store

class RuleStore:
    """The rules the alert role runs: loaded at start, reloaded when a file changes; a broken file keeps
    the last good rules running and its error is reported (log and `errors`)."""

    def __init__(self, catalog: Catalog, settings: Settings) -> None:
        self.catalog = catalog
        self.settings = settings
        self.folder = settings.rules_dir
        self.rules: RuleSet = RuleSet()
        self.error: ConfigError | None = None
        self.changed_files: list[str] = []
        """The files (site-relative) whose change caused the last reload, for the audit log."""

    def load(self) -> bool:
        """Load the files again; True when the rules changed. Raises nothing: errors are kept in `error`."""
        try:
            rules = load_rules(self.folder, self.catalog, self.settings)
        except ConfigError as exc:
            if self.error is None or str(exc) != str(self.error):
                kept = "keeping the last good rules" if self.rules.rules else "running the built-in rules"
                log.error("alert rules are invalid (%s):\n%s", kept, exc)
            self.error = exc
            if not self.rules.rules:
                self.rules = _builtins_only(self.catalog, self.settings)
                return True
            return False
        if self.error is not None:
            log.info("alert rules are valid again")
        self.error = None
        changed = rules.version != self.rules.version or set(rules.rules) != set(self.rules.rules)
        self.rules = rules
        return changed

    def errors(self) -> list[dict[str, Any]]:
        if self.error is None:
            return []
        return [{"file": p.file, "line": p.line, "field": p.field, "message": p.message, "text": str(p)}
                for p in self.error.problems]

    async def watch(self, on_change: Callable[[RuleSet], Awaitable[None]], stop: asyncio.Event) -> None:
        """Reload on every change of rules/*.yaml (or seeds/departments.yaml) until `stop` is set."""
        from situationroom import filewatch

        self.folder.mkdir(parents=True, exist_ok=True)
        paths = [self.folder, self.settings.seeds]
        async for changes in filewatch.changes(*paths, stop=stop):
            relevant = [p for _, p in changes if p.endswith(".yaml")
                        and (Path(p).parent == self.folder or Path(p).name == "departments.yaml")]
            if not relevant:
                continue
            before = self.error
            self.changed_files = sorted({site_relative(Path(p), self.settings.site) for p in relevant})
            if self.load() or (before is not None) != (self.error is not None):
                try:
                    await on_change(self.rules)
                except Exception:  # a failed reaction must not stop the watcher
                    log.exception("applying the reloaded rules failed")


def _builtins_only(catalog: Catalog, settings: Settings) -> RuleSet:
    """The built-in rules alone, when the site's files are broken from the start."""
    empty = settings.model_copy(update={"site": settings.site})
    try:
        return load_rules(Path("/nonexistent-rules-folder"), catalog, empty)
    except ConfigError:
        return RuleSet()
