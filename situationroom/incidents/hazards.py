"""The site's hazards and their level scales (`seeds/hazards.yaml`): loaded, validated against the catalog and the
dashboards, and asked what a level is called (docs/incidents.md)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import Field, model_validator

from situationroom.catalog import Catalog
from situationroom.configfile import Strict, read_yaml, validate
from situationroom.errors import ConfigError, Problem

FILE = "hazards.yaml"
ID_PATTERN = r"^[a-z0-9][a-z0-9-]*$"


class Level(Strict):
    name_ko: str = Field(min_length=1)
    name_en: str = Field(min_length=1)


class Scale(Strict):
    """A level scale, e.g. 비상 1·2·3단계 or 관심·주의·경계·심각; a level is its position, 1 the lowest."""

    name_ko: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    levels: list[Level] = Field(min_length=1, max_length=9)


class Hazard(Strict):
    id: str = Field(pattern=ID_PATTERN)
    name_ko: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    scale: str
    domains: list[str] = Field(default_factory=list)
    """Catalog domains: every alert of their indicators concerns the hazard."""
    indicators: list[str] = Field(default_factory=list)
    """Catalog indicators whose alerts concern the hazard (beside those of its domains)."""
    messages: list[str] = Field(default_factory=list)
    """Words that mark a disaster text or CAP item as about the hazard; none: every message in the area."""
    dashboards: list[str] = Field(default_factory=list)
    """The dashboards (file names in dashboards/) the wall shows while the hazard is declared."""


class HazardsFile(Strict):
    scales: dict[str, Scale]
    hazards: list[Hazard] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> HazardsFile:
        seen: set[str] = set()
        for h in self.hazards:
            if h.id in seen:
                raise ValueError(f"hazard id {h.id!r} is given twice")
            seen.add(h.id)
        return self


@dataclass(frozen=True)
class Hazards:
    """The validated hazards of a site (none when it has no hazards file)."""

    by_id: dict[str, Hazard] = field(default_factory=dict)
    scales: dict[str, Scale] = field(default_factory=dict)

    def scale_of(self, hazard: str) -> Scale:
        return self.scales[self.by_id[hazard].scale]

    def level_names(self, hazard: str, level: int) -> tuple[str, str]:
        """(Korean, English) name of a level of the hazard's scale."""
        lv = self.scale_of(hazard).levels[level - 1]
        return lv.name_ko, lv.name_en

    def parse_level(self, hazard: str, value: int | str) -> int:
        """A level given as its number (1 = lowest) or its Korean or English name; ValueError saying which exist."""
        levels = self.scale_of(hazard).levels
        text = str(value).strip()
        if text.isdigit() and 1 <= int(text) <= len(levels):
            return int(text)
        for n, lv in enumerate(levels, 1):
            if text in (lv.name_ko, lv.name_en) or text.lower() == lv.name_en.lower():
                return n
        names = ", ".join(f"{n} {lv.name_ko}" for n, lv in enumerate(levels, 1))
        raise ValueError(f"not a level of {self.by_id[hazard].id}'s scale ({names})")


def load_hazards(seeds: Path, catalog: Catalog, dashboards: Iterable[str]) -> Hazards:
    """The site's hazards from `seeds/hazards.yaml` (none when the file is absent); every problem names file:line,
    field and value: unknown keys, a scale no hazard file defines, a domain or indicator not in the catalog, a
    dashboard not in dashboards/."""
    path = seeds / FILE
    if not path.is_file():
        return Hazards()
    data, pos = read_yaml(path)
    if data is None:
        raise ConfigError.single("file is empty", file=path)
    loaded = validate(HazardsFile, data, file=path, pos=pos)
    boards = set(dashboards)
    problems: list[Problem] = []

    def wrong(loc: tuple[str | int, ...], dotted: str, value: str, message: str) -> None:
        problems.append(Problem(message, str(path), pos.line_of(loc), dotted, value, True))

    for i, h in enumerate(loaded.hazards):
        if h.scale not in loaded.scales:
            wrong(("hazards", i, "scale"), f"hazards[{i}].scale", h.scale,
                  f"unknown scale; scales: {', '.join(loaded.scales)}")
        refs = (("domains", h.domains, catalog.domains, "domain"),
                ("indicators", h.indicators, catalog.indicators, "indicator"),
                ("dashboards", h.dashboards, boards, "dashboard"))
        for key, given, known, what in refs:
            for j, ref in enumerate(given):
                if ref not in known:
                    hint = f"{what}s: {', '.join(sorted(known))}" if known else f"the site has no {what}s"
                    wrong(("hazards", i, key, j), f"hazards[{i}].{key}[{j}]", ref, f"unknown {what}; {hint}")
    if problems:
        raise ConfigError(problems)
    return Hazards({h.id: h for h in loaded.hazards}, dict(loaded.scales))


def site_hazards(seeds: Path, dashboards_dir: Path, catalog: Catalog) -> Hazards:
    """`load_hazards` with the dashboards of the site's dashboards/ folder."""
    names = [p.stem for p in dashboards_dir.glob("*.yaml")] if dashboards_dir.is_dir() else []
    return load_hazards(seeds, catalog, names)
