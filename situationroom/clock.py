"""Wall-clock time in the one unit the shared records use (integer milliseconds since the epoch), and times as
people give them."""

from __future__ import annotations

import math
import time
from datetime import datetime
from zoneinfo import ZoneInfo


def now_ms() -> int:
    """Now, in milliseconds since the epoch, as stream ids, alert times and acks carry it."""
    return int(time.time() * 1000)


WHEN_HELP = "epoch seconds or ISO 8601 (2026-12-05T09:30, city time unless a zone is given)"


def parse_when(text: str, tz: ZoneInfo) -> float:
    """Epoch seconds from epoch seconds or an ISO 8601 time (without a zone: `tz`, the city's); ValueError saying
    what a time may be."""
    value = _number(text)
    if value is not None:
        if not math.isfinite(value):
            raise ValueError("a time is a finite number of epoch seconds")
        return value
    try:
        t = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"a time is {WHEN_HELP}") from None
    return (t if t.tzinfo else t.replace(tzinfo=tz)).timestamp()


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
