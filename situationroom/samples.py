"""A sample: one value of one indicator for one entity at one event time, and its validation."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from situationroom.catalog import Catalog

# Samples whose event time lies further ahead than this are a clock or parsing error at the source.
FUTURE_TOLERANCE_S = 300.0
# Bounds of an `interval` an item may state: faster than a second would keep a series from ever
# counting as stale, slower than a week would keep a dead source looking alive for weeks.
MIN_INTERVAL_S = 1.0
MAX_INTERVAL_S = 7 * 86400.0


@dataclass(frozen=True, slots=True)
class Sample:
    indicator: str
    entity: str
    ts: float
    """Event time, seconds since the epoch (UTC): when it was measured, not when it arrived."""
    value: float
    source: str = ""
    interval: float | None = None
    """How often this source delivers the series, when it differs from the catalog's interval
    (the simulator at 60x delivers an hourly indicator every minute); staleness follows it."""


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a sample was not accepted: which field, what was wrong, and the value given."""

    field: str
    reason: str
    value: Any
    index: int | None = None


def parse_ts(value: Any) -> float:
    """Event time from epoch seconds or an ISO 8601 string with a UTC offset."""
    if isinstance(value, bool):
        raise ValueError("expected epoch seconds or an ISO 8601 time with offset")
    if isinstance(value, str):
        try:  # epoch seconds sent as a string, as query parameters always are
            value = float(value.strip())
        except ValueError:
            pass
    if isinstance(value, int | float):
        try:
            ts = float(value)
        except OverflowError:
            raise ValueError("event time must be a finite number") from None
        if not math.isfinite(ts):
            raise ValueError("event time must be a finite number")
        if ts > 1e11:  # epoch milliseconds, a common integrator mistake we can tell apart safely
            ts /= 1000.0
        return ts
    if isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("expected epoch seconds or an ISO 8601 time with offset") from None
        if dt.tzinfo is None:
            raise ValueError("ISO time needs a UTC offset, e.g. 2026-09-06T05:00:00+09:00")
        return dt.timestamp()
    raise ValueError("expected epoch seconds or an ISO 8601 time with offset")


def check(sample: Sample, catalog: Catalog, *, now: float | None = None,
          max_age: float | None = None) -> Rejection | None:
    """Validate a sample against the catalog and the clock; None when it can be accepted."""
    problem = catalog.check_sample(sample.indicator, sample.entity, sample.value)
    if problem is not None:
        fld, reason = problem
        return Rejection(fld, reason, getattr(sample, fld))
    now = time.time() if now is None else now
    if not math.isfinite(sample.ts):
        return Rejection("ts", "event time must be a finite number", sample.ts)
    if sample.ts > now + FUTURE_TOLERANCE_S:
        return Rejection("ts", f"event time is more than {FUTURE_TOLERANCE_S:g}s in the future", sample.ts)
    if max_age is not None and sample.ts < now - max_age:
        return Rejection("ts", f"event time is older than the late-arrival limit ({max_age:g}s)", sample.ts)
    if sample.interval is not None and not (math.isfinite(sample.interval) and sample.interval > 0):
        return Rejection("interval", "interval must be a positive number of seconds", sample.interval)
    return None


def from_mapping(item: Any, *, source: str = "", index: int | None = None) -> Sample | Rejection:
    """Build a Sample from a JSON-like mapping (push ingest, plugins), naming the first bad field.

    With a `source` (push ingest: `push:<token name>`) that is the sample's source: an item may
    repeat it, but an item naming another source is rejected, so nobody stamps samples as a collector.
    """
    if not isinstance(item, dict):
        return Rejection("item", "expected an object with indicator, entity, ts and value", item, index)
    unknown = set(item) - {"indicator", "entity", "ts", "value", "source", "interval"}
    if unknown:
        name = sorted(unknown)[0]
        return Rejection(name, "unknown field", item[name], index)
    for name in ("indicator", "entity", "value"):
        if name not in item:
            return Rejection(name, "required field is missing", None, index)
    indicator, entity = item["indicator"], item["entity"]
    if not isinstance(indicator, str) or not indicator:
        return Rejection("indicator", "must be a non-empty string", indicator, index)
    if not isinstance(entity, str) or not entity:
        return Rejection("entity", "must be a non-empty string", entity, index)
    raw_value = item["value"]
    if isinstance(raw_value, bool) or not isinstance(raw_value, int | float | str):
        return Rejection("value", "must be a number", raw_value, index)
    try:
        value = float(raw_value)
    except (ValueError, OverflowError):
        return Rejection("value", "must be a number", raw_value, index)
    try:
        ts = parse_ts(item["ts"]) if "ts" in item else time.time()
    except ValueError as exc:
        return Rejection("ts", str(exc), item["ts"], index)
    interval = item.get("interval")
    if interval is not None:
        if isinstance(interval, bool) or not isinstance(interval, int | float):
            return Rejection("interval", "must be a number of seconds", interval, index)
        if not MIN_INTERVAL_S <= interval <= MAX_INTERVAL_S:
            return Rejection("interval", f"must be between {MIN_INTERVAL_S:g} and {MAX_INTERVAL_S:g} seconds "
                                         f"(1 s .. 7 d)", interval, index)
    src = item.get("source", source)
    if not isinstance(src, str):
        return Rejection("source", "must be a string", src, index)
    if source and src != source:
        return Rejection("source", f"is set by the token: leave it out or give {source!r}", src, index)
    return Sample(indicator, entity, ts, value, src or source,
                  float(interval) if interval is not None else None)
