"""The one status scale: Korea's crisis levels 관심 · 주의 · 경계 · 심각 with 정상, 기준 없음, 지연 and 자료 없음.

Every place that shows how things stand — the live state's `st`, the wall, the API, alerts, notifications,
/staff and CAP — takes its names, words, colours and order from here (docs/streams.md, docs/alerts.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class Status:
    id: str
    """The value of a live state's `st` (and of `status` in the API)."""
    rank: int
    """Order for "the worst of": a higher rank wins."""
    level: int | None
    """The crisis level 1-4 (관심-심각) the alert severities share; 0 for 정상, None off the scale."""
    ko: str
    en: str
    colour: str
    """Fill on maps, bars and borders; one hue per status, the usual Korean crisis colours for the levels."""
    ink: str
    """Text on `colour`."""
    icon: str
    """The symbol the pages draw with the word (colour is never the only cue)."""
    mark: str
    """The same symbol as a character, for text inside charts (map labels, ranking values)."""
    cap: str | None = None
    """CAP 1.2 <severity> of the level."""


# Lowest first. 정상 outranks 기준 없음 (a domain with a judged series reads 정상, not "no threshold"), and 지연
# sits below 관심: a late value must not hide a level that is in force elsewhere.
SCALE: tuple[Status, ...] = (
    Status("unknown", 0, None, "자료 없음", "no data", "#1f2937", "#e5e7eb", "unknown", ""),
    Status("none", 1, None, "기준 없음", "no threshold", "#64748b", "#ffffff", "none", "–"),
    Status("normal", 2, 0, "정상", "normal", "#16a34a", "#ffffff", "normal", "√"),
    Status("stale", 3, None, "지연", "stale", "#94a3b8", "#0f172a", "stale", ""),
    # Characters every Hangul font has (KS X 1001): ● ▲ ◆ ■ for the four levels.
    Status("info", 4, 1, "관심", "info", "#3b82f6", "#ffffff", "info", "●", "Minor"),
    Status("warning", 5, 2, "주의", "warning", "#eab308", "#1a1300", "warning", "▲", "Moderate"),
    Status("critical", 6, 3, "경계", "critical", "#f97316", "#1a0a00", "critical", "◆", "Severe"),
    Status("severe", 7, 4, "심각", "severe", "#dc2626", "#ffffff", "severe", "■", "Extreme"),
)
BY_ID: dict[str, Status] = {s.id: s for s in SCALE}
ORDER: dict[str, int] = {s.id: s.rank for s in SCALE}
LEVELS: tuple[Status, ...] = tuple(s for s in SCALE if s.level)
"""관심, 주의, 경계, 심각: the levels a threshold, an alert or a subscription names."""
BY_LEVEL: dict[int, Status] = {s.level: s for s in SCALE if s.level is not None}
LEVEL_NAMES: tuple[str, ...] = tuple(s.id for s in LEVELS)
"""info, warning, critical, severe: the catalog's threshold keys and the levels' names in files and the API."""

StatusId = Literal["unknown", "none", "normal", "stale", "info", "warning", "critical", "severe"]
LevelName = Literal["info", "warning", "critical", "severe"]


def of(status_id: str | None) -> Status:
    """The status a live state's `st` names; an unknown value reads as 자료 없음."""
    return BY_ID.get(status_id or "", BY_ID["unknown"])


def worst(statuses: list[str]) -> str:
    return max(statuses, key=lambda s: ORDER.get(s, 0)) if statuses else "unknown"


def css() -> str:
    """The scale's colours as CSS custom properties (`--st-<id>`, `--st-<id>-ink`), for every page's <style>."""
    return ":root{" + "".join(f"--st-{s.id}:{s.colour};--st-{s.id}-ink:{s.ink};" for s in SCALE) + "}"


def table() -> list[dict[str, object]]:
    """The scale as the pages read it (lowest first): id, rank, level, words, colours, icon and mark."""
    return [{"id": s.id, "rank": s.rank, "level": s.level, "ko": s.ko, "en": s.en, "colour": s.colour,
             "ink": s.ink, "icon": s.icon, "mark": s.mark} for s in SCALE]
