"""The fan-out's shared reader: it starts and stops, even when a cancellation is lost."""

from __future__ import annotations

import asyncio

import pytest

from situationroom.catalog import Catalog
from situationroom.redisconn import async_client
from situationroom.web.fanout import Fanout
from tests.site_support import settings_for

pytestmark = pytest.mark.cluster


async def test_stop_ends_the_reader_even_when_a_cancellation_is_lost(redis_url: str, mini_catalog: Catalog) -> None:
    """Stopped the moment its reader has sent its first XREAD (where redis.asyncio on Python 3.11 can swallow
    the cancellation), the fan-out still ends within a read's block time, every time."""
    client = async_client(redis_url)
    fanout = Fanout(client, mini_catalog, settings_for(redis_url, block_ms=200))
    try:
        for _ in range(10):
            await fanout.start()
            await asyncio.sleep(0)  # the reader starts its XREAD
            async with asyncio.timeout(3):
                await fanout.stop()
            assert not fanout.running
    finally:
        await client.aclose()
