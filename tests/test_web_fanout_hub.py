"""The fan-out's shared reader: it starts and stops, even when a cancellation is lost, and tells the pages when it
cannot read Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from situationroom.bench.redis_cluster import LocalServer
from situationroom.catalog import Catalog
from situationroom.redisconn import async_client
from situationroom.web.fanout import Fanout
from tests.cluster_support import tools as cluster_tools
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


async def test_the_pages_are_told_when_redis_is_away_and_when_it_is_back(tmp_path: Path,
                                                                          mini_catalog: Catalog) -> None:
    """Its Redis killed, the reader says so to every page (once), and again once it reads; the connections stay."""
    if cluster_tools() is None:
        pytest.skip("no redis-server on this machine (.ci/run installs it)")
    server = LocalServer(tmp_path / "redis").start()
    client = async_client(server.url)
    fanout = Fanout(client, mini_catalog, settings_for(server.url, block_ms=200))
    told: list[dict] = []
    fanout.send_control = lambda frame, topic=None: told.append(frame) or 0  # type: ignore[method-assign]
    try:
        await fanout.start()
        await _until(lambda: fanout.store_ok and not told)
        server.proc.kill()  # type: ignore[union-attr]
        await _until(lambda: not fanout.store_ok)
        assert [f["type"] for f in told] == ["store"] and told[0]["ok"] is False and told[0]["since"] > 0
        server.start()
        await _until(lambda: fanout.store_ok)
        assert told[1:] == [{"type": "store", "ok": True}]
        assert fanout.running
    finally:
        await fanout.stop()
        await client.aclose()
        server.stop()


async def _until(holds: Callable[[], object], within: float = 15) -> None:
    deadline = time.monotonic() + within
    while True:
        if holds():
            return
        assert time.monotonic() < deadline, "not within the time"
        await asyncio.sleep(0.05)
