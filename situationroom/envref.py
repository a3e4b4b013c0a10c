"""`${NAME}` references to environment variables in config files, so secrets stay out of the files and the logs."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
MASK = "***"
# Shorter values (a port, "25", "yes") would mask ordinary words in messages without hiding anything.
MIN_SECRET = 6


@dataclass
class Expansion:
    """What expanding a document found: the variables it lacks, and the values it put in (to redact)."""

    missing: dict[str, str] = field(default_factory=dict)
    """variable name -> dotted field that refers to it"""
    values: set[str] = field(default_factory=set)
    raw: dict[tuple[str | int, ...], str] = field(default_factory=dict)
    """location -> the text as written, so an error shows `${SMTP_PASSWORD}` rather than its value"""
    missing_at: set[tuple[str | int, ...]] = field(default_factory=set)
    """locations whose text refers to a variable that is not set"""


def expand(data: Any, env: Mapping[str, str] | None = None, loc: tuple[str | int, ...] = (),
           found: Expansion | None = None) -> tuple[Any, Expansion]:
    """A copy of `data` with every `${NAME}` / `${NAME:-default}` in its strings replaced.

    An unset variable without a default is recorded in `missing` (the caller decides whether that
    disables something or is an error) and leaves an empty string.
    """
    env = os.environ if env is None else env
    found = found if found is not None else Expansion()
    if isinstance(data, dict):
        return {k: expand(v, env, (*loc, k), found)[0] for k, v in data.items()}, found
    if isinstance(data, list):
        return [expand(v, env, (*loc, i), found)[0] for i, v in enumerate(data)], found
    if not isinstance(data, str) or "${" not in data:
        return data, found
    found.raw[loc] = data

    def sub(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        value = env.get(name)
        if value is None or value == "":
            if default is not None:
                return default
            found.missing.setdefault(name, ".".join(str(p) for p in loc))
            found.missing_at.add(loc)
            return ""
        if len(value) >= MIN_SECRET:
            found.values.add(value)
        return value

    return REF.sub(sub, data), found


class Redactor:
    """Replaces every secret value (what came from the environment) in a text with ***."""

    def __init__(self, values: set[str] | None = None) -> None:
        # Longest first, so a secret containing another is masked whole.
        self.values = sorted(values or (), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for v in self.values:
            if v in text:
                text = text.replace(v, MASK)
        return text
