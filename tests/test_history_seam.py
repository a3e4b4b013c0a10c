"""history/seam.py: a series' past from the Parquet store before the seam and Redis from it, as one answer with no
gap and no overlap, at every resolution; late samples on either side; several entities together; a year at 1d."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pytest
import redis.asyncio as aioredis

from situationroom import keys
from situationroom.aggregator import Aggregator
from situationroom.catalog import Catalog
from situationroom.history import layout
from situationroom.history.layout import Partition
from situationroom.history.query import HistoryQuery
from situationroom.history.seam import NEVER, Ask, Buckets, Past, SeriesPast, choose_seam
from situationroom.history.sink import HistorySink
from situationroom.history.store import HistoryStore
from situationroom.samples import Sample
from situationroom.settings import Settings
from situationroom.streams import StreamWriter, ensure_groups
from tests.history_support import drain
from tests.site_support import MINI, settings_for

pytestmark = pytest.mark.cluster  # also run on the suite's Redis Cluster

HOUR = 3_600_000
KST_MIDNIGHT = 15 * HOUR
"""A KST (UTC+9) midnight is 15:00 UTC: epoch ms modulo a day."""


@dataclass
class City:
    """The pipeline under test: a stream writer, an aggregator (Redis), a history sink (the store)."""

    client: aioredis.Redis
    settings: Settings
    writer: StreamWriter
    aggregator: Aggregator
    sink: HistorySink
    past: SeriesPast

    async def send(self, samples: list[Sample], *, store: bool = True) -> None:
        """Write samples to the streams, let the aggregator apply them and, when `store`, the history role store
        them (read, write files, acknowledge)."""
        await self.writer.write(samples)
        await drain(lambda: self.aggregator.step(None))
        if store:
            await self.store()

    async def store(self) -> None:
        await drain(lambda: self.sink.read(">", 10))
        await self.sink.flush()


@pytest.fixture
async def city(aclient: aioredis.Redis, redis_url: str, mini_catalog: Catalog, tmp_path: Path
               ) -> AsyncIterator[City]:
    settings = settings_for(redis_url, site=MINI, partitions=2, late_limit="1h", history_dir=tmp_path)
    await ensure_groups(aclient, settings.partitions)
    await ensure_groups(aclient, settings.partitions, keys.HISTORY_GROUP)
    writer = StreamWriter(aclient, partitions=settings.partitions, retention=settings.stream_retention,
                          deadletter_maxlen=settings.deadletter_maxlen, batch_size=settings.batch_size)
    store = HistoryStore.local(tmp_path)
    query = HistoryQuery(store)
    yield City(aclient, settings, writer, Aggregator(aclient, mini_catalog, settings, consumer="agg"),
               HistorySink(aclient, mini_catalog, settings, store=store, consumer="h"),
               SeriesPast(aclient, query, settings, "Asia/Seoul"))
    query.close()


def _minutes(entity: str, start_ms: int, n: int, *, indicator: str = "river.level", offset: float = 0.0
             ) -> list[Sample]:
    return [Sample(indicator, entity, (start_ms + k * 60_000) / 1000, round(offset + (k % 37) * 0.25, 2), "hrfco")
            for k in range(n)]


def _store_only(city: City, ask: Ask) -> list[tuple]:
    """The reference: the same buckets from the store alone (it holds every sample once the sink stored them)."""
    b = Buckets(ask.resolution, "Asia/Seoul")
    out: dict[int, list] = {}
    for row in city.past.query.aggregate(ask.indicator, b.start_of(ask.start_ms), b.after(ask.end_ms),
                                         list(ask.entities), resolution=b.store_resolution(),  # type: ignore[arg-type]
                                         by_entity=False):
        day = b.start_of(row.start)
        acc = out.setdefault(day, [day, 0, 0.0, row.min, row.max, row.last])
        acc[1] += row.count
        acc[2] += row.sum
        acc[3], acc[4], acc[5] = min(acc[3], row.min), max(acc[4], row.max), row.last
    return [(a[0], a[1], pytest.approx(a[2]), a[3], a[4], a[5]) for s, a in sorted(out.items()) if s <= ask.end_ms]


def _answer(buckets: list) -> list[tuple]:
    return [(b.start, b.count, b.sum, b.min, b.max, b.last) for b in buckets]


@pytest.mark.parametrize("resolution", ["1m", "1h", "1d"])
async def test_both_sides_make_one_answer_with_no_gap_and_no_overlap(city: City, resolution: str) -> None:
    now = int(time.time() * 1000)
    start = now - now % 60_000 - 3 * HOUR
    await city.send(_minutes("chaeun", start, 181))  # every minute for three hours, up to now
    ask = Ask("river.level", ("chaeun",), start, now, resolution, combined=True)
    past = await city.past.read(ask)
    assert start < past.seam_ms < now, "both sides answer part of the range"
    assert past.seam_ms % 60_000 == 0, "the seam falls on a minute: a bucket it cuts is merged from both sides"
    got = _answer(past.buckets[None])
    assert sum(b[1] for b in got) == 181
    assert got == _store_only(city, ask)
    if resolution == "1d":
        assert all(b[0] % 86_400_000 == KST_MIDNIGHT for b in got), "days are Pohang's local days"
    # Per entity, the same buckets.
    per_entity = await city.past.read(Ask("river.level", ("chaeun",), start, now, resolution))
    assert _answer(per_entity.buckets["chaeun"]) == got


async def test_raw_samples_come_from_both_sides_once(city: City) -> None:
    now = int(time.time() * 1000)
    start = now - now % 60_000 - 3 * HOUR
    sent = _minutes("chaeun", start, 181)
    await city.send(sent)
    past = await city.past.read(Ask("river.level", ("chaeun",), start, now, "raw"))
    assert start < past.seam_ms <= now
    assert past.raw["chaeun"] == [(int(s.ts * 1000), s.value) for s in sent]
    # Samples Redis has and the store does not have yet are in the answer, from Redis.
    fresh = [Sample("river.level", "chaeun", now / 1000 + 1, 9.5, "hrfco")]
    await city.send(fresh, store=False)
    again = await city.past.read(Ask("river.level", ("chaeun",), start, now + 1000, "raw"))
    assert again.raw["chaeun"][-1] == (now + 1000, 9.5) and len(again.raw["chaeun"]) == 182


async def test_late_samples_on_either_side_of_the_seam(city: City) -> None:
    now = int(time.time() * 1000)
    start = now - now % 60_000 - 3 * HOUR
    await city.send(_minutes("chaeun", start, 181))
    ask = Ask("river.level", ("chaeun",), start, now, "1m", combined=True)
    seam = (await city.past.read(ask)).seam_ms

    # Older than the seam: Redis refuses it (too late), the store takes it: it shows once the store has it.
    old = seam - 20 * 60_000 + 30_000
    await city.send([Sample("river.level", "chaeun", old / 1000, 11.0, "hrfco")], store=False)
    before = {b.start: b for b in (await city.past.read(ask)).buckets[None]}
    assert before[old - 30_000].count == 1
    await city.store()
    after = {b.start: b for b in (await city.past.read(ask)).buckets[None]}
    assert after[old - 30_000].count == 2 and after[old - 30_000].max == 11.0

    # At or after the seam: Redis has it at once, and once the store has it too it is still counted once.
    recent = seam + 10 * 60_000 + 30_000
    await city.send([Sample("river.level", "chaeun", recent / 1000, 12.0, "hrfco")], store=False)
    now_counted = {b.start: b for b in (await city.past.read(ask)).buckets[None]}
    assert now_counted[recent - 30_000].count == 2
    await city.store()
    final = (await city.past.read(ask)).buckets[None]
    assert {b.start: b.count for b in final}[recent - 30_000] == 2
    assert sum(b.count for b in final) == 183
    assert _answer(final) == _store_only(city, ask)


async def test_several_entities_together_and_each_aggregate(city: City) -> None:
    now = int(time.time() * 1000)
    start = now - now % 60_000 - 3 * HOUR
    await city.send(_minutes("4711325000", start, 180, indicator="economy.spending", offset=100)
                    + _minutes("4711331000", start + 30_000, 180, indicator="economy.spending", offset=200))
    both = ("4711325000", "4711331000")
    past = await city.past.read(Ask("economy.spending", both, start, now, "1h", combined=True))
    per = await city.past.read(Ask("economy.spending", both, start, now, "1h"))
    assert start < past.seam_ms < now
    for bucket in past.buckets[None]:
        parts = [b for e in both for b in per.buckets[e] if b.start == bucket.start]
        assert bucket.value("count") == sum(p.count for p in parts)
        assert bucket.value("sum") == pytest.approx(sum(p.sum for p in parts))
        assert bucket.value("mean") == pytest.approx(sum(p.sum for p in parts) / sum(p.count for p in parts))
        assert bucket.value("min") == min(p.min for p in parts)
        assert bucket.value("max") == max(p.max for p in parts)
        # The second entity's samples come 30 s after the first one's: its last is every bucket's last.
        assert bucket.value("last") == parts[-1].last
    assert sum(b.count for b in past.buckets[None]) == 360


async def test_a_year_of_store_data_at_one_day(city: City, mini_catalog: Catalog) -> None:
    year_start = 1_735_657_200_000  # 2025-01-01 00:00 KST
    hours = 365 * 24
    by_date: dict[str, list[int]] = {}
    for h in range(hours):
        by_date.setdefault(layout.date_of(year_start + h * HOUR), []).append(year_start + h * HOUR)
    for date, stamps in by_date.items():  # a compacted year: one file a day, as the history role leaves it
        table = pa.table({"indicator": ["air.pm10"] * len(stamps), "entity": ["daesong"] * len(stamps),
                          "ts": pa.array(stamps, pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
                          "value": [float((ms - year_start) // HOUR % 24) for ms in stamps],
                          "source": ["airkorea"] * len(stamps)})
        city.past.query.store.write(Partition(layout.SAMPLES, date, "environment"), layout.day_name([date]), table)
    began = time.monotonic()
    past = await city.past.read(Ask("air.pm10", ("daesong",), year_start, year_start + hours * HOUR - 1, "1d"))
    took = time.monotonic() - began
    days = past.buckets["daesong"]
    assert past.seam_ms == NEVER, "Redis holds nothing of the series: the store answers it all"
    assert len(days) == 365 and {d.count for d in days} == {24}
    assert days[0].start == year_start and {d.start % 86_400_000 for d in days} == {KST_MIDNIGHT}
    assert {(d.min, d.max, d.last) for d in days} == {(0.0, 23.0, 23.0)}, "each local day runs 0 to 23"
    assert took < 2, took


def test_the_seam_is_where_both_sides_are_complete() -> None:
    h = HOUR
    # The store reaches past where Redis is complete: the seam is there.
    assert choose_seam([10 * h], 10 * h, late_ms=h, keep_ms=2 * h, step=60_000) == 9 * h
    # Several series: Redis must be complete for each one.
    assert choose_seam([10 * h, 8 * h], 10 * h, late_ms=h, keep_ms=2 * h, step=60_000) == 9 * h
    # The history role lags: the seam moves back to where the store ends, no earlier than what Redis holds.
    assert choose_seam([10 * h], 8 * h + 90_000, late_ms=h, keep_ms=5 * h, step=60_000) == 8 * h + 60_000
    assert choose_seam([10 * h], 2 * h, late_ms=h, keep_ms=5 * h, step=60_000) == 5 * h
    # No history role: Redis answers what it holds. No Redis data: the store answers it all.
    assert choose_seam([10 * h], None, late_ms=h, keep_ms=5 * h, step=60_000) == 5 * h
    assert choose_seam([], 10 * h, late_ms=h, keep_ms=5 * h, step=60_000) == NEVER


@pytest.mark.parametrize("resolution", ["1h", "1d"])
async def test_hours_and_days_merge_redis_minutes_with_the_store_late_samples_either_side(
        city: City, resolution: str) -> None:
    now = int(time.time() * 1000)
    start = now - now % 60_000 - 3 * HOUR
    await city.send(_minutes("chaeun", start, 150))
    # The last half hour is not in the store yet: Redis's 1-minute buckets answer it.
    await city.send(_minutes("chaeun", start + 150 * 60_000, 31, offset=0.5), store=False)
    ask = Ask("river.level", ("chaeun",), start, now, resolution, combined=True)
    b = Buckets(resolution, "Asia/Seoul")
    first = await city.past.read(ask)
    seam = first.seam_ms
    assert seam % 60_000 == 0 and start < seam <= now
    assert sum(x.count for x in first.buckets[None]) == 181, "no gap between the store and Redis"

    def counts(past: Past) -> dict[int, int]:
        return {x.start: x.count for x in past.buckets[None]}

    # Before the seam (Redis refuses it as too late, or holds it where it is not read): it counts once the store has it.
    old = seam - 20 * 60_000 + 30_000
    await city.send([Sample("river.level", "chaeun", old / 1000, 11.0, "hrfco")], store=False)
    before = await city.past.read(ask)
    assert counts(before) == counts(first) and before.seam_ms == seam
    await city.store()
    after = await city.past.read(ask)
    assert counts(after)[b.start_of(old)] == counts(first)[b.start_of(old)] + 1
    assert max(x.max for x in after.buckets[None] if x.start == b.start_of(old)) == 11.0

    # After the seam: counted at once from Redis's minutes, and still once when the store has it too.
    recent = seam + (now - seam) // 2
    recent += 1 if recent % 60_000 == 0 else 0  # not on a minute, where a sample already is
    await city.send([Sample("river.level", "chaeun", recent / 1000, 12.0, "hrfco")], store=False)
    fresh = await city.past.read(ask)
    assert counts(fresh)[b.start_of(recent)] == counts(after)[b.start_of(recent)] + 1
    await city.store()
    final = await city.past.read(ask)
    assert counts(final) == counts(fresh)
    assert sum(x.count for x in final.buckets[None]) == 183
    assert _answer(final.buckets[None]) == _store_only(city, ask)
    assert not await city.client.keys("*h1h*"), "Redis keeps no hours: they are made of its minutes"
