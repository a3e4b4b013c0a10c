"""Alert severities: the crisis levels (관심 · 주의 · 경계 · 심각) of the one status scale, by either name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

from situationroom import status


@dataclass(frozen=True, slots=True)
class Level:
    level: int
    ko: str
    en: str
    """The English word, one per level (info, warning, critical, severe)."""
    name: str
    """The level's name in files and the API besides the Korean one: info, warning, critical, severe."""
    cap: str
    colour: str


LEVELS: tuple[Level, ...] = tuple(Level(s.level or 0, s.ko, s.en, s.id, s.cap or "Unknown", s.colour)
                                  for s in status.LEVELS)
BY_LEVEL: dict[int, Level] = {lv.level: lv for lv in LEVELS}
_BY_NAME: dict[str, int] = {}
for _lv in LEVELS:
    _BY_NAME[_lv.ko] = _BY_NAME[_lv.name] = _lv.level
HELP = ", ".join(f"{lv.ko}/{lv.name}" for lv in LEVELS[:-1]) + f" or {LEVELS[-1].ko}/{LEVELS[-1].name}"


def parse(value: Any) -> int:
    """The level (1-4) of a severity written as 관심/주의/경계/심각, info/warning/critical/severe, or 1-4."""
    if isinstance(value, bool):
        raise ValueError(f"a severity is one of {HELP}")
    if isinstance(value, int) and value in BY_LEVEL:
        return value
    if isinstance(value, str) and value.strip().lower() in _BY_NAME:
        return _BY_NAME[value.strip().lower()]
    if isinstance(value, str) and value.strip() in _BY_NAME:
        return _BY_NAME[value.strip()]
    raise ValueError(f"a severity is one of {HELP}")


def ko(level: int) -> str:
    return BY_LEVEL[level].ko


Severity = Annotated[int, BeforeValidator(parse), PlainSerializer(ko, return_type=str)]
"""A severity field: accepts the Korean or English name, holds the level 1-4."""
