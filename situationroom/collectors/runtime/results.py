"""What a run produced, checked before it is written: samples as numbers against the catalog, messages, rejections."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import numbers
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from situationroom import messages as messages_mod
from situationroom import samples as samples_mod
from situationroom.catalog import Catalog
from situationroom.collectors.base import CollectorKind, CollectResult
from situationroom.messages import Message
from situationroom.samples import Rejection, Sample
from situationroom.settings import Settings


@dataclass
class Checked:
    """A collect result checked against the catalog: what would be written, and what is rejected."""

    samples: list[Sample]
    rejected: list[tuple[Rejection, object]]
    messages: list[Message]


def check_result(result: CollectResult, catalog: Catalog, settings: Settings, *, source: str,
                 redact: Callable[[str], str] | None = None, exercise: bool = False) -> Checked:
    """Validate samples and messages; rejections carry their reason (and never a secret). An exercise
    collector's samples and messages are marked as exercise data, whatever the kind set."""
    now = time.time()
    good: list[Sample] = []
    bad: list[tuple[Rejection, object]] = [(r, None) for r in result.rejected]
    for s in result.samples:
        if not isinstance(s, Sample):
            bad.append((Rejection("sample", "collector returned something that is not a Sample",
                                  repr(s)[:200]), None))
            continue
        if not s.source or (exercise and not s.exercise):
            s = dataclasses.replace(s, source=s.source or source, exercise=s.exercise or exercise)
        numeric = _numeric(s)
        if isinstance(numeric, Rejection):  # the stream and the aggregator only know floats
            bad.append((numeric, jsonable({"indicator": s.indicator, "entity": s.entity, "ts": s.ts,
                                            "value": s.value})))
            continue
        s = numeric
        problem = samples_mod.check(s, catalog, now=now, max_age=settings.late_limit)
        if problem is None:
            good.append(s)
        else:
            bad.append((problem, {"indicator": s.indicator, "entity": s.entity, "ts": s.ts, "value": s.value}))
    messages: list[Message] = []
    for m in result.messages:
        problem = messages_mod.check(m, catalog) if isinstance(m, Message) else \
            ("message", "collector returned something that is not a Message")
        if problem is None:
            messages.append(dataclasses.replace(m, exercise=True) if exercise and not m.exercise else m)
        else:
            bad.append((Rejection(problem[0], problem[1], getattr(m, problem[0], repr(m)[:200])),
                        m.as_dict() if isinstance(m, Message) else None))
    if redact is not None:
        bad = [(_masked_rejection(r, redact), item) for r, item in bad]
    return Checked(good, bad, messages)


def _as_float(value: object) -> float:
    """A number of any numeric type (int, float, Decimal, Fraction, numpy's) as a float.

    A bool or a string is refused although float() takes them: `True` is no measurement, and a
    string means the kind forgot to parse its source (a mapping of the generic kinds says how).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real | Decimal):
        raise TypeError(f"must be a number, not {type(value).__name__}")
    return float(value)


def _numeric(s: Sample) -> Sample | Rejection:
    """The sample with its value, ts and interval as floats, or the rejection of the first that is not a number."""
    try:
        value = _as_float(s.value)
    except (TypeError, ValueError, OverflowError) as exc:
        return Rejection("value", str(exc), repr(s.value)[:200])
    try:
        ts = _as_float(s.ts)
    except (TypeError, ValueError, OverflowError) as exc:
        return Rejection("ts", f"event time {exc} (epoch seconds)", repr(s.ts)[:200])
    interval = s.interval
    if interval is not None:
        try:
            interval = _as_float(interval)
        except (TypeError, ValueError, OverflowError) as exc:
            return Rejection("interval", f"{exc} (seconds)", repr(s.interval)[:200])
    if value is s.value and ts is s.ts and interval is s.interval:
        return s
    return dataclasses.replace(s, value=value, ts=ts, interval=interval)


def _masked_rejection(r: Rejection, redact: Callable[[str], str]) -> Rejection:
    value = redact(r.value) if isinstance(r.value, str) else r.value
    reason = redact(r.reason)
    if value is r.value and reason == r.reason:
        return r
    return Rejection(r.field, reason, value, r.index)


def as_result(produced: Sequence[Sample] | CollectResult | None) -> CollectResult:
    if isinstance(produced, CollectResult):
        return produced
    return CollectResult(list(produced or []))


async def collect(instance: CollectorKind[Any], now: float) -> CollectResult:
    """One call of the kind's `collect(now)`, as a CollectResult."""
    if inspect.iscoroutinefunction(instance.collect):
        return as_result(await instance.collect(now))
    # A plugin written synchronously runs in a thread, so it cannot block the other collectors.
    return as_result(await asyncio.to_thread(instance.collect, now))  # type: ignore[arg-type]


def jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return repr(value)

