"""What one series costs in Redis at the default retention: its raw samples, its 1-minute buckets and its share of the
indicator's live hash and due set, after a run long enough to fill every retention (docs/history.md, "Redis keeps what
is hot"). Operators size Redis by it; hours, days and years are the history store's."""

from __future__ import annotations

import time

import pytest
import redis.asyncio as aioredis

from situationroom import keys
from situationroom.aggregator import Aggregator
from situationroom.catalog import Catalog
from situationroom.samples import Sample
from situationroom.streams import StreamWriter, ensure_groups
from tests.history_support import drain
from tests.site_support import settings_for

pytestmark = pytest.mark.cluster  # also run on the suite's Redis Cluster

BUDGET = 60 * 1024
"""Bytes one series sampled every minute may take in Redis at the default retention."""
INDICATOR = "air.pm10"


async def _usage(client: aioredis.Redis, key: str) -> int:
    # SAMPLES 0: every element counted, not an estimate from a few.
    return int(await client.execute_command("MEMORY", "USAGE", key, "SAMPLES", "0") or 0)


async def test_a_series_sampled_every_minute_takes_at_most_60_kb(aclient: aioredis.Redis, redis_url: str,
                                                                 site_catalog: Catalog) -> None:
    settings = settings_for(redis_url, partitions=2)
    await ensure_groups(aclient, settings.partitions)
    writer = StreamWriter(aclient, partitions=settings.partitions, retention=settings.stream_retention,
                          deadletter_maxlen=settings.deadletter_maxlen, batch_size=settings.batch_size)
    aggregator = Aggregator(aclient, site_catalog, settings, consumer="agg")
    entities = site_catalog.entities_of(INDICATOR)
    minutes = int(settings.history_1m_retention // 60) + 30  # past the retention: trimming has to keep up
    now = time.time() // 60 * 60
    for m in range(minutes, -1, -1):  # a minute at a time, every station, as a live run delivers them
        t = now - m * 60
        await writer.write([Sample(INDICATOR, e, t, 20.0 + (m * 7 + k) % 53 + 0.1 * k, "airkorea", 60)
                            for k, e in enumerate(entities)])
        await drain(lambda: aggregator.step(None))

    shared = await _usage(aclient, keys.live(INDICATOR)) + await _usage(aclient, keys.due(INDICATOR))
    own = [await _usage(aclient, keys.raw(INDICATOR, e)) + await _usage(aclient, keys.history(INDICATOR, e, "1m"))
           for e in entities]
    per_series = max(own) + shared / len(entities)
    print(f"\nRedis memory of one series sampled every minute ({redis_url.rsplit('/', 1)[0]}): "
          f"{per_series / 1024:.1f} KB (raw + 1-minute buckets {max(own) / 1024:.1f} KB, "
          f"share of the live hash and due set {shared / len(entities) / 1024:.1f} KB)")
    # The retention is full: an hour of raw samples and the configured hours of minute buckets, no more.
    assert await aclient.zcard(keys.raw(INDICATOR, entities[0])) == 61
    assert await aclient.zcard(keys.history(INDICATOR, entities[0], "1m")) == settings.history_1m_retention // 60 + 1
    assert per_series <= BUDGET, f"one series takes {per_series / 1024:.1f} KB of Redis, more than 60 KB"
