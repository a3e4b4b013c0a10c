"""A series' past as one answer: the history store before the seam, Redis from it, no gap and no overlap.

The seam is a point in event time. Samples before it are read from the Parquet store, samples at or after it from
Redis, so no sample is counted twice and none falls between. It is chosen where both sides are complete
(docs/history.md, "The seam"): Redis holds every sample it accepted from `late_limit` behind a series' newest
sample (older ones it refuses as too late, while the store takes them), and the store holds every sample that
arrived before the historians' oldest unacknowledged entry."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import redis.asyncio as aioredis

from situationroom import keys, live, streams
from situationroom.history import layout
from situationroom.history.query import HistoryQuery
from situationroom.settings import Settings

RESOLUTIONS = ("raw", "1m", "1h", "1d")
AGGREGATES = ("mean", "min", "max", "sum", "count", "last")
MINUTE_MS = 60_000
NEVER = 2**62
"""A seam after any event time: everything comes from the store."""


@dataclass(frozen=True, slots=True)
class Ask:
    """What a reader asks of the past: one indicator, some entities, a range of event time, a resolution."""

    indicator: str
    entities: tuple[str, ...]
    start_ms: int
    end_ms: int
    """Inclusive. Buckets are those that start in [start, end], the one already running at start included."""
    resolution: str
    combined: bool = False
    """Every entity's samples together, per bucket (for an aggregate across entities), instead of per entity."""
    exercise: bool = False


@dataclass(slots=True)
class Acc:
    """One bucket being put together from both sides (count, sum, min, max and the newest sample)."""

    start: int
    count: int
    sum: float
    min: float
    max: float
    last_ms: int
    last: float | None

    @property
    def mean(self) -> float:
        return self.sum / self.count

    def merge(self, other: Acc) -> None:
        self.count += other.count
        self.sum += other.sum
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        if other.last is not None and (self.last is None or other.last_ms >= self.last_ms):
            self.last_ms, self.last = other.last_ms, other.last

    def value(self, aggregate: str) -> float:
        """The bucket's value for one of AGGREGATES."""
        if aggregate == "mean":
            return self.mean
        if aggregate == "last":
            return self.last if self.last is not None else float("nan")
        return float(getattr(self, aggregate))


@dataclass(frozen=True, slots=True)
class Past:
    """The answer: the seam, and raw samples or buckets per entity (under None when `combined`)."""

    seam_ms: int
    raw: dict[str, list[tuple[int, float]]]
    buckets: dict[str | None, list[Acc]]


class Buckets:
    """Where each bucket of a resolution starts: UTC minutes and hours, and the city's local days."""

    def __init__(self, resolution: str, timezone: str) -> None:
        self.resolution = resolution
        self.zone = ZoneInfo(timezone)
        self.step = {"raw": 1, "1m": MINUTE_MS, "1h": layout.HOUR_MS, "1d": layout.HOUR_MS}[resolution]
        """The length of a bucket (a local day is made of hours)."""
        self.cut = 1 if resolution == "raw" else MINUTE_MS
        """How finely both sides can be cut: the seam falls on a multiple of it. Redis's side is made of its 1-minute
        buckets at every resolution, and a bucket cut by the seam is merged from both sides, so a minute is enough:
        a coarser seam would leave samples of up to an hour that Redis accepted late, before the seam and not yet
        in the store, out of the answer."""
        self._days: dict[int, int] = {}

    def start_of(self, ms: int) -> int:
        """The start of the bucket holding event time `ms`."""
        if self.resolution != "1d":
            return ms - ms % self.step
        hour = ms - ms % layout.HOUR_MS
        day = self._days.get(hour)
        if day is None:
            local = datetime.fromtimestamp(hour / 1000, self.zone)
            midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
            day = self._days[hour] = int(midnight.timestamp() * 1000)
        return day

    def after(self, ms: int) -> int:
        """The start of the bucket after the one holding `ms`."""
        if self.resolution != "1d":
            return self.start_of(ms) + self.step
        return self.start_of(self.start_of(ms) + 30 * layout.HOUR_MS)  # 30 h: past any day, DST ones too

    def store_resolution(self) -> str:
        """The store's buckets this resolution is made of: local days from UTC hours (whole-hour offsets)."""
        return "1h" if self.resolution == "1d" else self.resolution


def choose_seam(newest: Sequence[int], acknowledged: int | None, *, late_ms: int, keep_ms: int, step: int) -> int:
    """The seam for series whose newest samples (event ms) Redis holds, when the store has every sample that
    arrived before `acknowledged` (None: no history role). Redis is complete from `late_ms` behind each newest
    sample and still holds `keep_ms` behind it; the seam is the first multiple of `step` where Redis is complete,
    when the store reaches it; else where the store ends (Redis answers more), never before what Redis holds."""
    if not newest:
        return NEVER  # Redis holds nothing of these series
    held = _ceil(max(n - keep_ms for n in newest), step)
    complete = max(_ceil(max(n - late_ms for n in newest), step), held)
    if acknowledged is not None and acknowledged >= complete:
        return complete
    return held if acknowledged is None else max(acknowledged - acknowledged % step, held)


class SeriesPast:
    """Answers Asks over one Redis and one history store (the store is read off the event loop)."""

    def __init__(self, client: aioredis.Redis, query: HistoryQuery, settings: Settings, timezone: str) -> None:
        self.client = client
        self.query = query
        self.settings = settings
        self.timezone = timezone

    def keep_ms(self, resolution: str) -> int:
        """How far behind a series' newest sample Redis still holds it at a resolution (lua/apply.lua): raw samples,
        else the 1-minute buckets, which make its hours and days too."""
        s = self.settings
        if resolution == "raw":
            return int(max(s.late_limit, 3600) * 1000)
        return int(max(s.history_1m_retention, 3660) * 1000)

    async def seam(self, ask: Ask, step: int) -> int:
        newest = await live.newest_ms(self.client, ask.indicator, ask.entities, ask.exercise)
        acknowledged = await streams.acknowledged_until(self.client, self.settings.partitions, keys.HISTORY_GROUP)
        return choose_seam(newest, acknowledged, late_ms=int(self.settings.late_limit * 1000),
                           keep_ms=self.keep_ms(ask.resolution), step=step)

    async def read(self, ask: Ask) -> Past:
        buckets = Buckets(ask.resolution, self.timezone)
        seam = await self.seam(ask, buckets.cut)
        if ask.resolution == "raw":
            return Past(seam, await self._raw(ask, seam), {})
        first = buckets.start_of(ask.start_ms)
        end = buckets.after(ask.end_ms)  # exclusive: the end of the last bucket asked for
        out: dict[str | None, dict[int, Acc]] = {}
        if first < seam:
            found = await asyncio.to_thread(
                self.query.aggregate, ask.indicator, first, min(seam, end), list(ask.entities),
                resolution=buckets.store_resolution(), by_entity=not ask.combined,  # type: ignore[arg-type]
                exercise=ask.exercise)
            for b in found:
                # Store buckets come oldest first, and every one is older than the seam: its start orders its last.
                _add(out, b.entity, buckets.start_of(b.start),
                     Acc(b.start, b.count, b.sum, b.min, b.max, b.start, b.last))
        if seam < end:
            # Redis keeps 1-minute buckets only: they are merged into hours and local days here. The seam falls on a
            # whole hour for those, so no minute bucket straddles it.
            found_redis = await live.buckets(self.client, ask.indicator, ask.entities, max(seam, first), end - 1,
                                             ask.exercise)
            for entity, rows in found_redis.items():
                for r in rows:
                    _add(out, None if ask.combined else entity, buckets.start_of(r.start),
                         Acc(r.start, r.count, r.sum, r.min, r.max,
                             r.last_ms if r.last_ms is not None else r.start, r.last))
        return Past(seam, {}, {e: [b for start, b in sorted(by_start.items()) if first <= start <= ask.end_ms]
                               for e, by_start in out.items()})

    async def _raw(self, ask: Ask, seam: int) -> dict[str, list[tuple[int, float]]]:
        out: dict[str, list[tuple[int, float]]] = {e: [] for e in ask.entities}
        if ask.start_ms < seam:
            found = await asyncio.to_thread(self.query.samples, ask.indicator, ask.start_ms,
                                            min(seam, ask.end_ms + 1), list(ask.entities), exercise=ask.exercise)
            for p in found:
                out[p.entity].append((p.ts, p.value))
        if seam <= ask.end_ms:
            recent = await live.raw_samples(self.client, ask.indicator, ask.entities, max(seam, ask.start_ms),
                                            ask.end_ms, ask.exercise)
            for entity, points in recent.items():
                out[entity] += points
        return out


def _add(out: dict[str | None, dict[int, Acc]], entity: str | None, start: int, part: Acc) -> None:
    by_start = out.setdefault(entity, {})
    found = by_start.get(start)
    if found is None:
        by_start[start] = Acc(start, part.count, part.sum, part.min, part.max, part.last_ms, part.last)
    else:
        found.merge(part)


def _ceil(ms: int, step: int) -> int:
    return -(-ms // step) * step
