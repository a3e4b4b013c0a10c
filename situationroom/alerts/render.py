"""Rendering: an alert's message in Korean and English from its rule's template (or the kind's default)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from situationroom import exercise as exercise_mod
from situationroom.alerts.ruleset import RateSpec, Rule
from situationroom.alerts.severity import BY_LEVEL
from situationroom.alerts.state import Alert
from situationroom.alerts.templates import Num, default_template, render
from situationroom.catalog import Catalog

DIRECTION_WORDS = {"ko": {"above": "이상", "below": "이하"}, "en": {"above": "at or above", "below": "at or below"}}


class Messages:
    """Writes `message_ko` and `message_en` of an alert, with the catalog's names and the city's time zone."""

    def __init__(self, catalog: Catalog, tz: ZoneInfo) -> None:
        self.catalog = catalog
        self.tz = tz

    def render(self, rule: Rule, a: Alert, info: dict[str, Any]) -> None:
        for lang in ("ko", "en"):
            template = getattr(rule.spec, f"message_{lang}") or default_template(rule.kind, lang)
            try:
                text = render(template, self.values(rule, a, info, lang))
            except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
                text = f"{a.name_ko if lang == 'ko' else a.name_en}: {a.value} ({exc})"
            if a.exercise:
                # First, so no reader of a message, a subject or a text can take a drill for the real thing.
                text = exercise_mod.tagged(text, lang)
            setattr(a, f"message_{lang}", text)

    def values(self, rule: Rule, a: Alert, info: dict[str, Any], lang: str) -> dict[str, Any]:
        """What the template's placeholders stand for, in the template's language."""
        ind = self.catalog.indicators.get(a.indicator or "")
        dec = ind.decimals if ind else 1
        ent = self.catalog.entities.get(a.entity)
        district = self.catalog.entities.get(a.district or "") if a.district else None
        lv = BY_LEVEL.get(a.level)
        direction, _ = rule.levels(self.catalog, a.entity) if rule.kind != "source" else ("above", ())
        since = datetime.fromtimestamp((a.fired or a.since or 0) / 1000, self.tz).strftime("%m-%d %H:%M")
        out: dict[str, Any] = {
            "rule": rule.id, "name": rule.name_ko if lang == "ko" else rule.name_en,
            "indicator": a.indicator or "", "entity": a.entity,
            "indicator_name": (ind.name_ko if lang == "ko" else ind.name_en) if ind else "",
            "entity_name": (ent.name_ko if lang == "ko" else ent.name_en) if ent else a.entity,
            "district": a.district or "",
            "district_name": (district.name_ko if lang == "ko" else district.name_en) if district else "",
            "value": Num(a.value, dec) if a.value is not None else "?",
            "threshold": Num(a.threshold, dec) if a.threshold is not None else "?",
            "unit": (ind.unit if lang == "ko" else ind.unit_en) if ind else "",
            "severity": (lv.ko if lang == "ko" else lv.name) if lv else "",
            "since": since, "source": a.source or a.entity, "direction": DIRECTION_WORDS[lang].get(direction, ""),
            "window": "", "after": "", "change": "?", "baseline": "?", "z": "?",
        }
        spec = rule.spec
        if isinstance(spec, RateSpec):
            out["window"] = minutes(spec.window, lang)
            if "change" in info:
                out["change"] = Num(info["change"], dec)
        if "after" in info:
            out["after"] = minutes(info["after"], lang)
        if "baseline" in info:
            out["baseline"] = Num(info["baseline"], dec)
            out["z"] = Num(info["z"], 1)
        return out


def minutes(seconds: float, lang: str) -> str:
    """A duration as a message says it: minutes, or whole hours from two hours on."""
    whole = round(seconds / 60)
    if whole >= 120 and whole % 60 == 0:
        return f"{whole // 60}시간" if lang == "ko" else f"{whole // 60} h"
    return f"{whole}분" if lang == "ko" else f"{whole} min"
