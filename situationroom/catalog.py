"""The indicator catalog of a site: domains, entities (city, districts, stations, roads) and indicators."""

from __future__ import annotations

import csv
import itertools
import math
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from situationroom import status
from situationroom.configfile import Strict, read_yaml, validate
from situationroom.durations import Duration
from situationroom.errors import ConfigError, Problem
from situationroom.licences import LICENCES, Audience, LicenceId, Restriction
from situationroom.status import LEVEL_NAMES, StatusId

ID_PATTERN = r"^[a-z0-9][a-z0-9_.\-]*$"

Status = StatusId
STATUS_ORDER: dict[str, int] = status.ORDER


class City(Strict):
    id: str = Field(pattern=ID_PATTERN)
    name_ko: str
    name_en: str
    timezone: str = "Asia/Seoul"


class Domain(Strict):
    id: str = Field(pattern=ID_PATTERN)
    name_ko: str
    name_en: str
    icon: str | None = None


class EntityKind(Strict):
    """A kind of entity (`dong`, `airkorea`, `road`...), named for legends and filters."""

    id: str = Field(pattern=ID_PATTERN)
    name_ko: str
    name_en: str


class Label(Strict):
    """What a coded value means (0 = 없음 none, 1 = 주의보 advisory...), in both languages."""

    ko: str
    en: str


class Entity(Strict):
    """Something an indicator is measured for: the city, a gu, a dong, a station, a road..."""

    id: str = Field(pattern=ID_PATTERN)
    kind: str = Field(pattern=ID_PATTERN)
    name_ko: str
    name_en: str
    district: str | None = None
    """Code of the 행정동 (or gu) the entity lies in; how the map rolls a station up to a district."""
    source_id: str | None = None
    """The identifier a public source uses for it (AirKorea station name, HRFCO wlobscd...)."""
    lat: float | None = None
    lon: float | None = None
    parent: str | None = None
    """The entity this one belongs to in the administrative tree: a dong's gu, a gu's city."""
    address_ko: str | None = None
    note: str | None = None


class Thresholds(Strict):
    """Where each crisis level begins, which way is bad, and what the figures rest on.

    The levels are the one status scale's (situationroom/status.py): `info` 관심, `warning` 주의,
    `critical` 경계, `severe` 심각. A value past none of them is 정상; give at least one.
    """

    direction: Literal["above", "below"] = "above"
    info: float | None = None
    warning: float | None = None
    critical: float | None = None
    severe: float | None = None
    source: str | None = None
    """What the figures rest on (the official criterion and who publishes it), or why they are the site's own."""

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        given = self.levels()
        if not given:
            raise ValueError(f"give at least one level ({', '.join(LEVEL_NAMES)})")
        for (lo_name, lo), (hi_name, hi) in itertools.pairwise(given):
            worse = hi >= lo if self.direction == "above" else hi <= lo
            if not worse:
                raise ValueError(f"{hi_name} ({hi}) must be beyond {lo_name} ({lo}) when direction is {self.direction}")
        return self

    def levels(self) -> list[tuple[str, float]]:
        """(level name, threshold) of the levels given, lowest level first."""
        return [(name, v) for name in LEVEL_NAMES if (v := getattr(self, name)) is not None]

    def status_of(self, value: float) -> Status:
        sign = 1 if self.direction == "above" else -1
        for name, threshold in reversed(self.levels()):
            if sign * (value - threshold) >= 0:
                return name  # type: ignore[return-value]
        return "normal"


class Indicator(Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")
    name_ko: str
    name_en: str
    unit: str
    unit_en: str = ""
    """The unit on English pages (건 → calls, 백만원 → M KRW); defaults to `unit` when it reads in both."""
    domain: str
    entities: list[str] = Field(min_length=1)
    """Entity kinds (`dong`, `airkorea`...) or single entity ids this indicator is measured for."""
    thresholds: Thresholds | None = None
    thresholds_by_entity: dict[str, Thresholds] = Field(default_factory=dict)
    interval: Duration
    """How often the source publishes a new value; no value within it makes the series stale."""
    source: str
    range: tuple[float, float] | None = None
    """Physically possible values; anything outside is rejected to the dead-letter stream."""
    decimals: int = Field(default=1, ge=0, le=6)
    labels: dict[int, Label] = Field(default_factory=dict)
    """Meaning of coded values (advisory levels); empty for ordinary measurements."""
    description_ko: str | None = None
    description_en: str | None = None
    public: bool = False
    """Open to citizens: shown without any token on the public pages (air, weather, rivers, disaster texts)."""
    restricted: Restriction | None = None
    """Readable only by the staff of these departments, operators and admins (docs/access.md)."""
    licence: LicenceId
    """Terms of reuse (LICENCES); when not given, 공공누리 제1유형 for a public indicator, else internal data."""

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: object) -> object:
        if not isinstance(data, dict):
            return data
        if "unit_en" not in data and isinstance(data.get("unit"), str):
            data = {**data, "unit_en": data["unit"]}
        if "licence" not in data:
            # Open data from a public source is reused under 공공누리 제1유형; anything else stays in the city.
            data = {**data, "licence": "kogl-1" if data.get("public") is True else "internal"}
        return data

    @field_validator("restricted")
    @classmethod
    def _not_public(cls, v: Restriction | None, info: ValidationInfo) -> Restriction | None:
        if v is not None and info.data.get("public"):
            raise ValueError("an indicator is either public or restricted, not both")
        return v

    @field_validator("licence")
    @classmethod
    def _licence_fits_access(cls, v: str, info: ValidationInfo) -> str:
        licence = LICENCES[v]
        if info.data.get("public") and not licence.open:
            raise ValueError(f"a public indicator needs an open licence (kogl-1..kogl-4), not {v}")
        if info.data.get("restricted") is not None and licence.open:
            raise ValueError(f"a restricted indicator cannot carry an open licence ({v}): use internal or third-party")
        return v

    @property
    def audience(self) -> Audience:
        """Who may see the figures: citizens, any official, or the listed departments (with operators, admins)."""
        if self.public:
            return "public"
        return "departments" if self.restricted is not None else "officials"

    @field_validator("interval")
    @classmethod
    def _positive(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("interval must be positive")
        return v

    def thresholds_for(self, entity: str) -> Thresholds | None:
        return self.thresholds_by_entity.get(entity, self.thresholds)


class CatalogFile(Strict):
    city: City
    domains: list[Domain] = Field(min_length=1)
    entity_kinds: list[EntityKind] = Field(default_factory=list)
    """When given, every entity's kind must be one of these (gu, dong and city included)."""
    indicators: list[Indicator] = Field(min_length=1)


class EntitiesFile(Strict):
    entities: list[Entity]


class Catalog:
    """The validated catalog with lookups; built once at start, read everywhere."""

    def __init__(self, city: City, domains: list[Domain], entities: list[Entity],
                 indicators: list[Indicator], entity_kinds: list[EntityKind] | None = None,
                 department_refs: list[tuple[str, str, int | None, str]] | None = None) -> None:
        self.city = city
        self.department_refs = department_refs or []
        """(department id, file, line, field) of every department a restricted indicator names, checked against
        the site's departments by whoever loads them (situationroom.notify.people)."""
        self.domains = {d.id: d for d in domains}
        self.entity_kinds = {k.id: k for k in entity_kinds or []}
        self.entities = {e.id: e for e in entities}
        self.indicators = {i.id: i for i in indicators}
        self._entities_of: dict[str, tuple[str, ...]] = {}
        for ind in indicators:
            ids: list[str] = []
            for ref in ind.entities:
                if ref in self.entities:
                    ids.append(ref)
                else:
                    ids.extend(e.id for e in entities if e.kind == ref)
            self._entities_of[ind.id] = tuple(dict.fromkeys(ids))

    def department_problems(self, known: set[str]) -> list[Problem]:
        """Each department a restricted indicator names that is not one of `known` (the site's departments)."""
        hint = f"departments: {', '.join(sorted(known))}" if known else "the site has no seeds/departments.yaml"
        return [Problem(f"unknown department; {hint}", file, line, fld, dep, True)
                for dep, file, line, fld in self.department_refs if dep not in known]

    def entities_of(self, indicator: str) -> tuple[str, ...]:
        return self._entities_of.get(indicator, ())

    def entities_of_kind(self, kind: str) -> list[Entity]:
        return [e for e in self.entities.values() if e.kind == kind]

    def gu_of(self, entity: str) -> str | None:
        """The gu an entity lies in (through its district), or None for city-wide ones."""
        e = self.entities.get(entity)
        for _ in range(4):  # station -> dong -> gu at most; a bounded walk cannot loop on bad data
            if e is None:
                return None
            if e.kind == "gu":
                return e.id
            nxt = e.parent or (e.district if e.district != e.id else None)
            e = self.entities.get(nxt) if nxt else None
        return None

    @cached_property
    def entity_sets(self) -> dict[str, frozenset[str]]:
        return {k: frozenset(v) for k, v in self._entities_of.items()}

    def check_sample(self, indicator: str, entity: str, value: float) -> tuple[str, str] | None:
        """Why a sample cannot be accepted, as (field, reason), or None when it is fine."""
        ind = self.indicators.get(indicator)
        if ind is None:
            return "indicator", "unknown indicator (not in the catalog)"
        if entity not in self.entity_sets[indicator]:
            return "entity", f"entity is not measured for {indicator}"
        if not math.isfinite(value):
            return "value", "value must be a finite number"
        if ind.range is not None and not (ind.range[0] <= value <= ind.range[1]):
            return "value", f"outside the possible range {ind.range[0]:g}..{ind.range[1]:g} {ind.unit}"
        return None

    def status_of(self, indicator: str, entity: str, value: float) -> Status:
        ind = self.indicators[indicator]
        th = ind.thresholds_for(entity)
        # Without thresholds nothing says the value is all right: 기준 없음, never a green 정상.
        return th.status_of(value) if th else "none"


def _load_districts(path: Path) -> list[Entity]:
    """Districts (gu and 행정동) from the CSV of administrative codes."""
    out: dict[str, Entity] = {}
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            for n, row in enumerate(csv.DictReader(fh), start=2):
                try:
                    gu_code = row["gu_code"]
                    if gu_code not in out:
                        out[gu_code] = Entity(id=gu_code, kind="gu", name_ko=row["gu_ko"], name_en=row["gu"])
                    out[row["code"]] = Entity(
                        id=row["code"], kind="dong", name_ko=row["name_ko"], name_en=row["name_en"],
                        district=row["code"], lat=float(row["label_lat"]), lon=float(row["label_lon"]),
                        parent=gu_code,
                    )
                except (KeyError, ValueError) as exc:
                    raise ConfigError.single(f"bad row: {exc}", file=path, line=n) from None
    except OSError as exc:
        raise ConfigError.single(f"cannot read: {exc.strerror}", file=path) from None
    gus = [e for e in out.values() if e.kind == "gu"]
    dongs = [e for e in out.values() if e.kind == "dong"]
    return gus + dongs


def load_catalog(seeds: Path) -> Catalog:
    """Load `catalog.yaml`, `entities.yaml` and `districts.csv` from a site's seeds folder.

    Every problem is collected and raised as one ConfigError naming file, line and field.
    """
    cat_path, ent_path = seeds / "catalog.yaml", seeds / "entities.yaml"
    data, pos = read_yaml(cat_path)
    catalog_file = validate(CatalogFile, data, file=cat_path, pos=pos)
    edata, epos = read_yaml(ent_path)
    entities_file = validate(EntitiesFile, edata or {"entities": []}, file=ent_path, pos=epos)
    districts = _load_districts(seeds / "districts.csv") if (seeds / "districts.csv").exists() else []

    problems: list[Problem] = []
    entities: dict[str, Entity] = {}
    city = catalog_file.city
    if not any(e.id == city.id for e in entities_file.entities):
        # The city itself is an entity, so city-wide values have somewhere to live.
        entities[city.id] = Entity(id=city.id, kind="city", name_ko=city.name_ko, name_en=city.name_en)
    for e in districts:
        entities[e.id] = e.model_copy(update={"parent": city.id}) if e.kind == "gu" else e
    for i, e in enumerate(entities_file.entities):
        if e.id in entities:
            problems.append(Problem("duplicate entity id", str(ent_path), epos.line_of(("entities", i, "id")),
                                    f"entities[{i}].id", e.id, True))
        entities[e.id] = e
    kinds = {e.kind for e in entities.values()}
    declared = {k.id for k in catalog_file.entity_kinds}
    if declared:
        kinds = declared
        for i, e in enumerate(entities_file.entities):
            if e.kind not in declared:
                problems.append(Problem(f"unknown entity kind; declared in catalog.yaml entity_kinds: "
                                        f"{', '.join(sorted(declared))}", str(ent_path),
                                        epos.line_of(("entities", i, "kind")), f"entities[{i}].kind", e.kind, True))
        for k in ("city", "gu", "dong"):
            if k not in declared and any(e.kind == k for e in entities.values()):
                problems.append(Problem(f"entity kind {k!r} is used (by the city or the districts) but not declared",
                                        str(cat_path), pos.line_of(("entity_kinds",)), "entity_kinds", k, True))
    for i, e in enumerate(entities_file.entities):
        if e.district is not None and e.district not in entities:
            problems.append(Problem("unknown district code", str(ent_path),
                                    epos.line_of(("entities", i, "district")), f"entities[{i}].district",
                                    e.district, True))

    domain_ids = {d.id for d in catalog_file.domains}
    seen: set[str] = set()
    department_refs: list[tuple[str, str, int | None, str]] = []
    for i, ind in enumerate(catalog_file.indicators):
        where = ("indicators", i)

        def problem(msg: str, fld: str, value: object, _where: tuple = where, _id: str = ind.id) -> None:
            problems.append(Problem(f"{msg} (indicator {_id})", str(cat_path), pos.line_of((*_where, fld)),
                                    f"indicators[{_where[1]}].{fld}", value, True))

        if ind.id in seen:
            problem("duplicate indicator id", "id", ind.id)
        seen.add(ind.id)
        if ind.domain not in domain_ids:
            problem(f"unknown domain; known: {', '.join(sorted(domain_ids))}", "domain", ind.domain)
        for ref in ind.entities:
            if ref not in kinds and ref not in entities:
                problem(f"neither an entity kind ({', '.join(sorted(kinds))}) nor an entity id",
                        "entities", ref)
        for ent in ind.thresholds_by_entity:
            if ent not in entities:
                problem("unknown entity", "thresholds_by_entity", ent)
        for j, dep in enumerate(ind.restricted.departments if ind.restricted else []):
            loc = (*where, "restricted", "departments", j)
            department_refs.append((dep, str(cat_path), pos.line_of(loc),
                                    f"indicators[{i}].restricted.departments[{j}]"))
    if problems:
        raise ConfigError(problems)
    return Catalog(catalog_file.city, catalog_file.domains, list(entities.values()), catalog_file.indicators,
                   catalog_file.entity_kinds, department_refs)
