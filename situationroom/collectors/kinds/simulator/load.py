"""Reading the simulator's files: the ordinary day and a scenario, each checked against the catalog."""

from __future__ import annotations

import fnmatch
import itertools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from situationroom.catalog import Catalog
from situationroom.collectors.kinds.simulator.spec import Baseline, BaselineFile, Scenario, SeriesSpec
from situationroom.configfile import read_yaml, validate
from situationroom.errors import ConfigError, Problem


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
