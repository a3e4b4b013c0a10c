"""Loading the alert rules: the site's rules/*.yaml plus built-in rules from the catalog's thresholds, validated,
and reloaded when a file changes."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from situationroom.alerts.ruleset import (
    KINDS,
    SOURCE_RULE,
    SPECS,
    RateSpec,
    Rule,
    RuleSet,
    RulesFile,
    ThresholdSpec,
)
from situationroom.alerts.templates import template_problem
from situationroom.catalog import Catalog
from situationroom.configfile import read_yaml, validate
from situationroom.errors import ConfigError, Problem, site_relative
from situationroom.settings import Settings

log = logging.getLogger(__name__)


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
            bad = template_problem(text)
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


def _dotted(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out


class RuleFiles:
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
