"""Wall-clock time in the one unit the shared records use: integer milliseconds since the epoch."""

from __future__ import annotations

import time


def now_ms() -> int:
    """Now, in milliseconds since the epoch, as stream ids, alert times and acks carry it."""
    return int(time.time() * 1000)
