"""Failover without losing what was accepted: with ingest durability `replica`, every sample a writer confirmed
before the master was killed (SIGKILL, as a dead machine) is on the master Sentinel promotes, and writes and the
aggregator go on by themselves once it is promoted."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

import redis

from situationroom import keys
from situationroom.aggregator import Aggregator
from situationroom.catalog import Catalog
from situationroom.group_reads import GroupReader
from situationroom.redisconn import async_client
from situationroom.sample_entries import entry_samples
from situationroom.samples import Sample
from situationroom.streams import StreamWriter, ensure_groups
from tests.sentinel_support import SentinelServers
from tests.site_support import MINI, settings_for

PARTITIONS = 4


async def test_every_confirmed_sample_survives_the_masters_death(sentinels: SentinelServers) -> None:
    client = async_client(sentinels.url)
    writer = StreamWriter(client, partitions=PARTITIONS, retention=3600.0, deadletter_maxlen=1000, replicas=1,
                          replica_timeout=1.0)
    confirmed: list[float] = []
    refused = 0
    killed_at = resumed_at = 0.0
    try:
        await ensure_groups(client, PARTITIONS)
        n = 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            n += 1
            batch = [Sample(ind, "e1", 1_700_000_000 + n, float(n)) for ind in ("air.pm10", "river.level")]
            try:
                await writer.write(batch)
                confirmed.append(float(n))
                if killed_at and not resumed_at:
                    resumed_at = time.monotonic()
                    break
            except (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError):
                refused += 1  # not confirmed: a client would send it again
                await asyncio.sleep(0.05)
            if n == 50:
                sentinels.kill_master()
                killed_at = time.monotonic()
        assert resumed_at, "writes never succeeded again after the master died"
        # Everything confirmed is on the new master (read as the aggregators' group would).
        stored: set[float] = set()
        reader = GroupReader(client, "aggregators", "check")
        while reply := await reader.read(dict.fromkeys(keys.all_samples(PARTITIONS), ">"), 1000, None):
            for _, entries in reply:
                for _, fields in entries:
                    stored |= {s.value for _, s in entry_samples(fields)}
        lost = [v for v in confirmed if v not in stored]
        assert lost == [], f"{len(lost)} confirmed samples lost in the failover"
        print(f"writes resumed {resumed_at - killed_at:.1f} s after the master was killed; "
              f"{len(confirmed)} confirmed, {refused} refused meanwhile")
    finally:
        await client.aclose()


async def test_the_aggregator_goes_on_against_the_promoted_master_by_itself(sentinels: SentinelServers,
                                                                             mini_catalog: Catalog) -> None:
    settings = settings_for(sentinels.url, site=MINI, partitions=PARTITIONS, block_ms=100, claim_idle=0.5,
                            ingest_durability="replica")
    client = async_client(sentinels.url)
    stop = asyncio.Event()
    aggregator = Aggregator(client, mini_catalog, settings, consumer="agg")
    writer = StreamWriter.for_settings(client, settings)
    task = asyncio.create_task(aggregator.run(stop))
    try:
        await writer.write([Sample("river.level", "chaeun", time.time(), 1.5)])
        await _until(lambda: client.hget(keys.live("river.level"), "chaeun"), "the first sample applied")
        sentinels.kill_master()
        # The same role, not restarted: once a Sentinel has promoted a replica, a new sample reaches the live state.
        deadline = time.monotonic() + 60
        while True:
            try:
                await writer.write([Sample("river.level", "hyeongsan", time.time(), 2.5)])
                break
            except (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError):
                assert time.monotonic() < deadline, "writes never resumed"
                await asyncio.sleep(0.1)
        await _until(lambda: client.hget(keys.live("river.level"), "hyeongsan"), "the aggregator never resumed",
                     within=60)
        assert await client.hget(keys.live("river.level"), "chaeun") is not None, "the replica had the first state"
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await client.aclose()


async def _until(read: Callable[[], Awaitable[object]], what: str, within: float = 15) -> None:
    deadline = time.monotonic() + within
    while True:
        with contextlib.suppress(redis.ConnectionError, redis.TimeoutError):  # mid-failover
            if await read():
                return
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)
