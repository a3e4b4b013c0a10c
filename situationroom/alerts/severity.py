"""Korea's crisis levels (관심 · 주의 · 경계 · 심각) as alert severities, with their English and CAP names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer


@dataclass(frozen=True, slots=True)
class Level:
    level: int
    ko: str
    en: str
    """English as the issue asks: 경계 and 심각 are both critical (심각 marked severe in `name`)."""
    name: str
    """The level's name in files and the API besides the Korean one: info, warning, critical, severe."""
    cap: str
    colour: str


LEVELS: tuple[Level, ...] = (
    Level(1, "관심", "info", "info", "Minor", "blue"),
    Level(2, "주의", "warning", "warning", "Moderate", "yellow"),
    Level(3, "경계", "critical", "critical", "Severe", "orange"),
    Level(4, "심각", "critical", "severe", "Extreme", "red"),
)
BY_LEVEL: dict[int, Level] = {lv.level: lv for lv in LEVELS}
_BY_NAME: dict[str, int] = {}
for _lv in LEVELS:
    _BY_NAME[_lv.ko] = _BY_NAME[_lv.name] = _lv.level
HELP = "관심/info, 주의/warning, 경계/critical or 심각/severe"


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
