"""The shared `params.map` of the generic kinds: records (dicts) → samples, with JMESPath, units and times."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

import jmespath
import jmespath.exceptions
import jmespath.parser
import orjson
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, RootModel, field_validator, model_validator

from situationroom.catalog import Catalog
from situationroom.collectors.base import CollectResult
from situationroom.errors import ConfigError, Problem
from situationroom.samples import Rejection, Sample, parse_ts

MISSING_AT_SOURCE = "missing at source"
"""The rejection reason of a value the source itself marks as not measured ("-", blank, -999...), in every
kind: the generic ones through `map.missing`, the public-data kinds by their sources' own markers."""
DEFAULT_MISSING: tuple[Any, ...] = ("-", "", None)

_PLAIN_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_JMESPATH_SYNTAX = re.compile(r"[\[\]{}|&!@`'\"*=<>]|^\s*\.|\.\s*$")


def compile_path(expr: str) -> jmespath.parser.ParsedResult:
    """A JMESPath expression compiled once; a syntax error is a ValueError pydantic reports on the field."""
    try:
        return jmespath.compile(expr)
    except jmespath.exceptions.JMESPathError as exc:
        # The library's message spans lines with a caret drawing; the first line says what is wrong.
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise ValueError(f"not a JMESPath expression: {first}") from None


def field_name(expr: str) -> str | None:
    """The record key an expression names when it is a plain field: `pm10Value`, or a column header that is not
    JMESPath (`측정소명`, `점유율(%)`, `PM10 (㎍/㎥)`), which is then taken literally; None for real expressions."""
    if _PLAIN_FIELD.match(expr):
        return expr
    try:
        jmespath.compile(expr)
        return None
    except jmespath.exceptions.JMESPathError:
        return None if _JMESPATH_SYNTAX.search(expr) else expr


def compile_field(expr: str) -> jmespath.parser.ParsedResult:
    """Like compile_path, but a column header that is not JMESPath (Korean, with spaces) is a field name."""
    name = field_name(expr)
    if name is not None and not _PLAIN_FIELD.match(name):
        return jmespath.compile(orjson.dumps(name).decode())  # a quoted identifier: "측정소명"
    return compile_path(expr)


def search(path: jmespath.parser.ParsedResult, record: Any) -> Any:
    """Evaluate a compiled expression; a type error inside a function (e.g. join over a number) gives None."""
    try:
        return path.search(record)
    except jmespath.exceptions.JMESPathError:
        return None


# --- units -------------------------------------------------------------------------------------------------

# Catalog units written the Korean or typographic way, rewritten for pint.
_SYMBOLS = (
    ("㎍", "ug"), ("㎎", "mg"), ("㎏", "kg"), ("㎥", "m**3"), ("㎡", "m**2"), ("㎦", "km**3"), ("㎢", "km**2"),
    ("㎜", "mm"), ("㎝", "cm"), ("㎞", "km"), ("㎧", "m/s"), ("㎐", "Hz"), ("㎾", "kW"), ("㎽", "mW"),
    ("℃", "degC"), ("°C", "degC"), ("℉", "degF"), ("°F", "degF"), ("µ", "u"), ("μ", "u"),
    ("³", "**3"), ("²", "**2"), ("%", "percent"), ("°", "degree"),
)
_WORDS = {"deg": "degree", "kt": "knot", "kts": "knot", "ppm": "ppm", "ppb": "ppb"}
NOT_PHYSICAL = frozenset({"M", "MMI", "level", "index", "grade", "count"})
"""Catalog units pint would misread (M is molar to pint, not a magnitude) or that count things, not measure."""


class UnitProblem(ValueError):
    """A unit pint cannot convert (unknown, not physical, or of another dimension)."""


_registry: Any = None


def _ureg() -> Any:
    global _registry
    if _registry is None:
        import pint  # slow to build (about 0.4 s), so only when a mapping converts units

        _registry = pint.UnitRegistry()
    return _registry


def pint_unit(unit: str) -> str:
    """A unit as pint spells it (㎍/㎥ → ug/m**3, ℃ → degC); UnitProblem when it is not a physical unit."""
    text = unit.strip()
    if not text or text in NOT_PHYSICAL:
        raise UnitProblem(f"{unit!r} is not a physical unit")
    for old, new in _SYMBOLS:
        text = text.replace(old, new)
    text = _WORDS.get(text, text)
    try:
        _ureg().parse_units(text)
    except Exception:  # pint raises several unrelated types (UndefinedUnitError, DefinitionSyntaxError, ...)
        raise UnitProblem(f"{unit!r} is not a physical unit pint knows") from None
    return text


@lru_cache(maxsize=256)
def conversion(from_unit: str, to_unit: str) -> tuple[float, float]:
    """(scale, offset) turning a value in `from_unit` into `to_unit`; every pint conversion is affine."""
    src, dst = pint_unit(from_unit), pint_unit(to_unit)
    q = _ureg().Quantity
    try:
        zero = float(q(0.0, src).to(dst).magnitude)
        one = float(q(1.0, src).to(dst).magnitude)
    except Exception as exc:  # DimensionalityError, OffsetUnitCalculusError
        raise UnitProblem(f"cannot convert {from_unit} to {to_unit}: {str(exc).strip()}") from None
    return one - zero, zero


# --- times -------------------------------------------------------------------------------------------------

def _zone(tz: tzinfo | str) -> tzinfo:
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def parse_time(raw: Any, fmt: str | None, tz: tzinfo | str) -> float:
    """Epoch seconds from a source's time: epoch numbers, ISO 8601, or `fmt` (strptime).

    A time without an offset is the city's local time. `24:00` (AirKorea's midnight) is the next day's 00:00.
    """
    zone = _zone(tz)
    if raw is None or isinstance(raw, bool):
        raise ValueError("no time given")
    if isinstance(raw, date) and not isinstance(raw, datetime):  # a DATE column of a database
        raw = datetime(raw.year, raw.month, raw.day)
    if isinstance(raw, datetime):  # a TIMESTAMP column of a database
        dt = raw
    elif fmt is None:
        if isinstance(raw, int | float):
            return parse_ts(raw)
        text = str(raw).strip()
        try:
            return parse_ts(float(text))
        except ValueError:
            pass
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("expected epoch seconds or an ISO 8601 time (give ts_format for others)") from None
    else:
        text = str(int(raw)) if isinstance(raw, int | float) and float(raw).is_integer() else str(raw).strip()
        try:
            dt = datetime.strptime(text, fmt)
        except ValueError:
            dt = _midnight_as_24(text, fmt)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=zone)
    ts = dt.timestamp()
    if not math.isfinite(ts):
        raise ValueError("not a finite time")
    return ts


def _midnight_as_24(text: str, fmt: str) -> datetime:
    fixed = re.sub(r"(?<!\d)24(:?)00(?!\d)", r"00\g<1>00", text, count=1)
    if fixed != text:
        try:
            return datetime.strptime(fixed, fmt) + timedelta(days=1)
        except ValueError:
            pass
    raise ValueError(f"does not match ts_format {fmt!r}")


# --- the mapping -------------------------------------------------------------------------------------------

class MapItem(BaseModel):
    """One indicator taken from each record: where its value, entity and time are, and how to convert it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    indicator: str
    """A catalog indicator id."""
    value: str
    """JMESPath over one record; a plain field name or a column header (`측정값`, `PM10 (㎍/㎥)`) works as is."""
    entity: str | None = None
    """A fixed catalog entity id, or:"""
    entity_from: str | None = None
    """JMESPath giving the source's id of the entity (for mqtt also `topic`, `topic_segments[1]`)."""
    entity_match: str | None = None
    """Regex applied to what entity_from gives; its first group (or the whole match) is the source's id."""
    entities: dict[str, str] | None = None
    """Source id → catalog entity id; anything else is rejected. Without it, the source id may be a
    catalog entity id or an entity's `source_id` (among the entities measured for the indicator)."""
    unmapped: Literal["reject", "skip"] = "reject"
    """What a record of an entity that is not mapped becomes: a rejection (a dead letter), or nothing
    (a province-wide feed of which the city uses a few stations)."""
    where: str | None = None
    """JMESPath; the record is used for this indicator only when it is true (long tables: `itemCode == 'PM10'`)."""
    ts_from: str | None = None
    """JMESPath giving the event time; default: the run's time."""
    ts_format: str | None = None
    """strptime format for ts_from; without it epoch seconds/ms and ISO 8601 are understood."""
    scale: float = 1.0
    offset: float = 0.0
    from_unit: str | None = None
    """The source's unit, converted by pint to the catalog indicator's unit (instead of scale/offset)."""
    missing: list[Any] = Field(default_factory=lambda: list(DEFAULT_MISSING))
    """Values meaning "no value at the source" (AirKorea's "-", a -999 sentinel); rejected as missing."""

    _value: Any = PrivateAttr(default=None)
    _value_key: str | None = PrivateAttr(default=None)
    _entity_from: Any = PrivateAttr(default=None)
    _entity_match: Any = PrivateAttr(default=None)
    _where: Any = PrivateAttr(default=None)
    _ts_from: Any = PrivateAttr(default=None)

    @field_validator("value", "entity_from", "ts_from")
    @classmethod
    def _field(cls, v: str | None) -> str | None:
        if v is not None:
            compile_field(v)
        return v

    @field_validator("where")
    @classmethod
    def _jmespath(cls, v: str | None) -> str | None:
        if v is not None:
            compile_path(v)
        return v

    @field_validator("entity_match")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return v

    @field_validator("entities", mode="before")
    @classmethod
    def _keys_as_text(cls, v: Any) -> Any:
        # YAML reads `2101690: hrfco-2101690` with an int key; the source's id is matched as text.
        if isinstance(v, dict):
            return {_source_text(k): val for k, val in v.items()}
        return v

    @field_validator("scale", "offset")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("must be a finite number")
        return v

    @field_validator("ts_format")
    @classmethod
    def _format(cls, v: str | None) -> str | None:
        if v is not None and "%" not in v:
            raise ValueError("a strptime format has %-directives, e.g. '%Y-%m-%d %H:%M'")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> MapItem:
        if (self.entity is None) == (self.entity_from is None):
            raise ValueError("give exactly one of entity (a fixed catalog entity) or entity_from (a JMESPath)")
        if self.entity is not None and (self.entities is not None or self.entity_match is not None
                                        or "unmapped" in self.model_fields_set):
            raise ValueError("entities, entity_match and unmapped go with entity_from, not with a fixed entity")
        if self.ts_format is not None and self.ts_from is None:
            raise ValueError("ts_format needs ts_from (where the time is)")
        if self.from_unit is not None and (self.scale != 1.0 or self.offset != 0.0):
            raise ValueError("give either from_unit or scale/offset, not both")
        if self.from_unit is not None:
            try:
                pint_unit(self.from_unit)
            except UnitProblem as exc:
                raise ValueError(str(exc)) from None
        self._value = compile_field(self.value)
        self._value_key = field_name(self.value)
        self._entity_from = compile_field(self.entity_from) if self.entity_from else None
        self._entity_match = re.compile(self.entity_match) if self.entity_match else None
        self._where = compile_path(self.where) if self.where else None
        self._ts_from = compile_field(self.ts_from) if self.ts_from else None
        return self

    def linear(self, catalog: Catalog) -> tuple[float, float]:
        """(scale, offset) to apply to a source value; UnitProblem when from_unit cannot be converted."""
        if self.from_unit is None:
            return self.scale, self.offset
        return conversion(self.from_unit, catalog.indicators[self.indicator].unit)


def _source_text(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def _is_missing(value: Any, markers: list[Any]) -> bool:
    for m in markers:
        if m is None:
            if value is None:
                return True
        elif isinstance(value, str) and isinstance(m, str):
            if value.strip() == m.strip():
                return True
        elif isinstance(value, str) and isinstance(m, int | float) and not isinstance(m, bool):
            try:
                if float(value.strip()) == m:
                    return True
            except ValueError:
                pass
        elif type(value) is not bool and value == m:
            return True
    return False


def to_number(value: Any) -> float:
    """A source value as a float: numbers (Decimal too), numeric text (`"1,234.5"`, `" 12 "`); ValueError otherwise.

    The one reading of a value for every kind, so a value reads the same through `map` and through a
    public-data kind. None, blank and non-finite values are ValueErrors: a caller that tells "missing" from
    "not a number" checks its markers first.
    """
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(value, int | float | Decimal):  # Decimal: a database's NUMERIC column
        try:
            out = float(value)
        except (InvalidOperation, ValueError):
            raise ValueError("not a number") from None
    elif isinstance(value, str):
        try:
            out = float(value.strip().replace(",", ""))
        except ValueError:
            raise ValueError("not a number") from None
    else:
        raise ValueError("not a number")
    if not math.isfinite(out):
        raise ValueError("not a finite number")
    return out


class Mapping(RootModel[list[MapItem]]):
    """`params.map`: every item is applied to every record."""

    root: list[MapItem] = Field(min_length=1)

    def check_catalog(self, catalog: Catalog, *, field: str = "params.map") -> None:
        """Raise ConfigError when an indicator, entity or unit does not fit the catalog (all problems at once)."""
        problems: list[Problem] = []

        def problem(msg: str, where: str, value: Any) -> None:
            problems.append(Problem(msg, None, None, where, value, True))

        for i, item in enumerate(self.root):
            at = f"{field}[{i}]"
            ind = catalog.indicators.get(item.indicator)
            if ind is None:
                problem("unknown indicator (not in the catalog)", f"{at}.indicator", item.indicator)
                continue
            measured = catalog.entity_sets.get(item.indicator, frozenset())
            if item.entity is not None:
                if item.entity not in catalog.entities:
                    problem("unknown entity (not in the catalog)", f"{at}.entity", item.entity)
                elif item.entity not in measured:
                    problem(f"{item.indicator} is not measured for this entity", f"{at}.entity", item.entity)
            for key, target in (item.entities or {}).items():
                if target not in catalog.entities:
                    problem("unknown entity (not in the catalog)", f"{at}.entities.{key}", target)
                elif target not in measured:
                    problem(f"{item.indicator} is not measured for this entity", f"{at}.entities.{key}", target)
            if item.from_unit is not None:
                try:
                    pint_unit(ind.unit)
                except UnitProblem:
                    problem(f"the catalog unit of {item.indicator} ({ind.unit}) is not a physical unit, so "
                            "from_unit cannot convert to it; use scale and offset", f"{at}.from_unit",
                            item.from_unit)
                    continue
                try:
                    conversion(item.from_unit, ind.unit)
                except UnitProblem as exc:
                    problem(str(exc), f"{at}.from_unit", item.from_unit)
        if problems:
            raise ConfigError(problems)

    def apply(self, records: Iterable[Any], *, now: float, source: str, catalog: Catalog,
              tz: tzinfo | str) -> CollectResult:
        """Samples from records; what cannot be used becomes a Rejection naming the source field and value."""
        zone = _zone(tz)
        linear = [item.linear(catalog) for item in self.root]
        by_source_id = [self._source_ids(item, catalog) for item in self.root]
        samples: list[Sample] = []
        rejected: list[Rejection] = []
        for index, record in enumerate(records):
            seen: set[tuple[str, str]] = set()

            def reject(fld: str, reason: str, value: Any, _seen: set = seen, _index: int = index) -> None:
                key = (fld, repr(value))
                if key not in _seen:  # two indicators of one record share its entity: one rejection
                    _seen.add(key)
                    rejected.append(Rejection(fld, reason, value, _index))

            if not isinstance(record, dict):
                reject("record", "expected an object (a JSON object, a row with a header)", _short(record))
                continue
            for item, (a, b), ids in zip(self.root, linear, by_source_id, strict=True):
                if item._where is not None and not search(item._where, record):
                    continue
                entity = self._entity(item, record, ids, reject)
                if entity is None:
                    continue
                raw = search(item._value, record)
                if raw is None and item._value_key is not None and item._value_key not in record:
                    reject(item.value, f"field not in the record ({item.indicator})", None)
                    continue
                if _is_missing(raw, item.missing):
                    reject(item.value, f"{MISSING_AT_SOURCE} ({item.indicator} {entity})", raw)
                    continue
                try:
                    value = to_number(raw) * a + b
                except ValueError as exc:
                    reject(item.value, f"{exc} ({item.indicator} {entity})", _short(raw))
                    continue
                if item._ts_from is not None:
                    raw_ts = search(item._ts_from, record)
                    try:
                        ts = parse_time(raw_ts, item.ts_format, zone)
                    except (ValueError, OverflowError) as exc:
                        reject(item.ts_from or "ts", f"{exc} ({item.indicator} {entity})", _short(raw_ts))
                        continue
                else:
                    ts = now
                samples.append(Sample(item.indicator, entity, ts, value, source))
        return CollectResult(samples, rejected)

    @staticmethod
    def _source_ids(item: MapItem, catalog: Catalog) -> dict[str, str]:
        if item.entity_from is None or item.entities is not None:
            return {}
        measured = catalog.entities_of(item.indicator)
        ids = {e: e for e in measured}
        for e in measured:
            sid = catalog.entities[e].source_id
            if sid is not None:
                ids.setdefault(sid, e)
        return ids

    @staticmethod
    def _entity(item: MapItem, record: dict, ids: dict[str, str], reject: Any) -> str | None:
        if item.entity is not None:
            return item.entity
        assert item._entity_from is not None and item.entity_from is not None
        raw = search(item._entity_from, record)
        if raw is None or isinstance(raw, dict | list | bool):
            reject(item.entity_from, f"no entity id in the record ({item.indicator})", _short(raw))
            return None
        sid = _source_text(raw)
        if item._entity_match is not None:
            m = item._entity_match.search(sid)
            if m is None:
                reject(item.entity_from, f"does not match entity_match {item.entity_match!r}", sid)
                return None
            sid = m.group(1) if m.groups() else m.group(0)
        table = item.entities if item.entities is not None else ids
        entity = table.get(sid)
        if entity is None and item.unmapped == "reject":
            where = "in params.map[].entities" if item.entities is not None else \
                f"to an entity of {item.indicator} (a catalog id or source_id)"
            reject(item.entity_from, f"source id not mapped {where}", sid)
        return entity


def _short(value: Any, limit: int = 200) -> Any:
    """Keep dead letters small: a long value is cut."""
    if isinstance(value, str | int | float | bool) or value is None:
        return value if not isinstance(value, str) or len(value) <= limit else value[:limit] + "…"
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"
