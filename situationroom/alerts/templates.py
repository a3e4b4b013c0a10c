"""Alert message templates: the placeholders a rule may use, numbers printed with the indicator's decimals,
checking a template, and the default message of each rule kind."""

from __future__ import annotations

import string
from typing import Any

TEMPLATE_FIELDS = frozenset({
    "rule", "name", "indicator", "indicator_name", "entity", "entity_name", "district", "district_name",
    "value", "unit", "threshold", "severity", "since", "change", "window", "after", "baseline", "z",
    "source", "direction"})
"""Placeholders a message template may use ({value}, {entity_name}...); names are in the template's language."""
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


def template_problem(text: str) -> str | None:
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


def default_template(kind: str, lang: str) -> str:
    """The message of a rule that has none of its own: what, where, how bad and since when."""
    if lang == "ko":
        return {
            "threshold": "[{severity}] {entity_name} {indicator_name} {value}{unit} — 기준 {threshold}{unit} "
                         "{direction} ({since}부터)",
            "rate": "[{severity}] {entity_name} {indicator_name} {window} 동안 {change}{unit} 변화, 현재 {value}{unit} "
                    "({since}부터)",
            "absence": "[{severity}] {entity_name} {indicator_name}: {after} 동안 데이터 없음 ({since}부터)",
            "anomaly": "[{severity}] {entity_name} {indicator_name} {value}{unit} — 평소({baseline}{unit})와 "
                       "크게 다름 ({since}부터)",
            "source": "[{severity}] 데이터 수집 중단: {source} ({since}부터) — 이 출처의 다른 경보는 보류됩니다",
        }[kind]
    return {
        "threshold": "[{severity}] {indicator_name} at {entity_name}: {value} {unit}, {direction} {threshold} {unit} "
                     "(since {since})",
        "rate": "[{severity}] {indicator_name} at {entity_name} changed by {change} {unit} in {window}, now {value} "
                "{unit} (since {since})",
        "absence": "[{severity}] No {indicator_name} data from {entity_name} for {after} (since {since})",
        "anomaly": "[{severity}] {indicator_name} at {entity_name}: {value} {unit}, far from its usual "
                   "{baseline} {unit} (since {since})",
        "source": "[{severity}] Data source down: {source} (since {since}); its other alerts are held back",
    }[kind]
