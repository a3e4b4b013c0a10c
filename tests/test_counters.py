"""The shared counters: incremented in the writer's own round trip, read as a whole, and every one of them exported
on /metrics with what it counts."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from situationroom import counters
from situationroom.counters import Counter
from situationroom.web import metrics
from tests.site_support import settings_for

pytestmark = pytest.mark.cluster


async def test_increments_add_up_and_a_counter_never_incremented_reads_zero(aclient: aioredis.Redis) -> None:
    async with aclient.pipeline(transaction=False) as pipe:
        counters.add(pipe, Counter.SAMPLES_IN, 60)
        counters.add(pipe, Counter.SAMPLES_IN, 0)  # nothing to count: no command at all
        counters.add(pipe, Counter.NOTIFY_SENT)
        assert len(pipe) == 2
        await pipe.execute()
    await counters.increment(aclient, Counter.SAMPLES_IN, 5)
    got = await counters.read(aclient)
    assert got[Counter.SAMPLES_IN] == 65 and got[Counter.NOTIFY_SENT] == 1
    assert got[Counter.NOTIFY_DEAD] == 0 and set(got) == set(Counter)
    assert await counters.value(aclient, Counter.SAMPLES_IN) == 65


async def test_metrics_export_every_counter_with_its_help(aclient: aioredis.Redis, redis_url: str) -> None:
    await counters.increment(aclient, Counter.NOTIFY_DEAD, 3)
    text = (await metrics.render(aclient, settings_for(redis_url))).decode()
    for counter in Counter:
        assert f"# HELP situationroom_{counter.value}_total {counter.help}" in text
    assert "situationroom_notify_dead_total 3.0" in text
