"""Durations written the way operators write them in config files: 30s, 5m, 1h, 2d, 1h30m."""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> float:
    """Seconds from `90`, `90.5`, `"30s"`, `"1h30m"`, or a timedelta. Raises ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("a duration such as 30s, 5m or 1h is expected")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if not text:
            raise ValueError("a duration such as 30s, 5m or 1h is expected")
        try:
            seconds = float(text)
        except ValueError:
            pos, seconds = 0, 0.0
            for m in _PART.finditer(text):
                if m.start() != pos:
                    break
                seconds += float(m.group(1)) * _UNITS[m.group(2)]
                pos = m.end()
            if pos != len(text):
                raise ValueError("a duration such as 30s, 5m or 1h is expected") from None
    else:
        raise ValueError("a duration such as 30s, 5m or 1h is expected")
    if not math.isfinite(seconds):
        raise ValueError("a duration must be a finite number of seconds")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


def format_duration(seconds: float) -> str:
    if seconds and seconds % 86400 == 0:
        return f"{int(seconds // 86400)}d"
    if seconds and seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    if seconds and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"


def iso8601(seconds: float) -> str:
    """The ISO 8601 duration (P1D, PT1H30M, PT10S) data catalogues use, e.g. for dcat:temporalResolution."""
    whole = round(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    time_part = "".join(f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (secs, "S")) if n)
    out = "P" + (f"{days}D" if days else "") + (f"T{time_part}" if time_part else "")
    return out if out != "P" else "PT0S"


Duration = Annotated[
    float, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)
]
"""A duration field: accepts 30s / 5m / 1h / seconds, holds seconds as a float."""
