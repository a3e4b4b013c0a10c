"""Raw pipelined XADD baselines of `bench ingest`: every client, both entry forms, on the same Redis."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from redis.utils import HIREDIS_AVAILABLE

from situationroom import keys
from situationroom.redisconn import AsyncClient, SyncClient, async_client, is_cluster, sync_client
from situationroom.roles import run_async
from situationroom.sample_entries import encode, encode_batch
from situationroom.samples import Sample

BATCH = 1000
"""Samples per round trip, for the baselines and for the path's requests alike."""

ASYNCIO = "redis.asyncio"
SYNC = "redis-py sync" + (" + hiredis" if HIREDIS_AVAILABLE else " (no hiredis)")
PER_SAMPLE = "per-sample"
"""One entry per sample: the older entry form, what a plain client storing samples in streams writes."""
BATCHED = "batched"
"""One entry per partition per batch: the entries ingest writes now (docs/streams.md)."""

Round = list[tuple[str, Mapping[str, bytes | str]]]


@dataclass(frozen=True)
class Baseline:
    """Samples/s one raw client wrote in one entry form."""

    client: str
    entries: str
    per_s: float
    parser: str = ""
    """The reply parser the client's connection used (`_HiredisParser` / `_AsyncHiredisParser` with hiredis)."""


def rounds(items: Sequence[dict], partitions: int, *, batched: bool) -> list[Round]:
    """The items as pipelines of `BATCH` samples into their partition streams, encoded before any clock starts."""
    out: list[Round] = []
    for k in range(0, len(items), BATCH):
        by_stream: dict[str, list[Sample]] = {}
        for i in items[k:k + BATCH]:
            by_stream.setdefault(keys.samples(keys.partition_of(i["indicator"], partitions)), []).append(
                Sample(i["indicator"], i["entity"], i["ts"], i["value"], "bench"))
        if batched:
            out.append([(stream, encode_batch(batch)) for stream, batch in by_stream.items()])
        else:
            out.append([(stream, encode(s)) for stream, batch in by_stream.items() for s in batch])
    return out


async def _async_parser(client: AsyncClient) -> str:
    # The connection's own parser, not HIREDIS_AVAILABLE: proof the timed client parsed with hiredis.
    if is_cluster(client):
        node = client.get_default_node()
        conn = node.acquire_connection()
        parser = type(conn._parser).__name__
        node.release(conn)
        return parser
    conn = await client.connection_pool.get_connection()
    parser = type(conn._parser).__name__
    await client.connection_pool.release(conn)
    return parser


def _sync_parser(client: SyncClient) -> str:
    pool = (client.get_default_node().redis_connection if is_cluster(client) else client).connection_pool
    conn = pool.get_connection()
    parser = type(conn._parser).__name__
    pool.release(conn)
    return parser


async def _asyncio_seconds(url: str, pipelines: list[Round]) -> tuple[float, str]:
    client = async_client(url)
    try:
        start = time.perf_counter()
        for entries in pipelines:
            pipe = client.pipeline(transaction=False)
            for stream, fields in entries:
                pipe.xadd(stream, fields)
            await pipe.execute()
        elapsed = time.perf_counter() - start
        await client.flushdb()
        return elapsed, await _async_parser(client)
    finally:
        await client.aclose()


def _sync_seconds(url: str, pipelines: list[Round]) -> tuple[float, str]:
    # Called outside any event loop, so no loop's bookkeeping is on the clock: the plain blocking client alone.
    client = sync_client(url)
    try:
        start = time.perf_counter()
        for entries in pipelines:
            pipe = client.pipeline(transaction=False)
            for stream, fields in entries:
                pipe.xadd(stream, fields)
            pipe.execute()
        elapsed = time.perf_counter() - start
        client.flushdb()
        return elapsed, _sync_parser(client)
    finally:
        client.close()


def measure(url: str, items: Sequence[dict], partitions: int) -> list[Baseline]:
    """Every raw client writing the items in both entry forms, one after the other on the same Redis (which
    is flushed after each, so every run starts on empty streams)."""
    out = []
    for entries in (PER_SAMPLE, BATCHED):
        pipelines = rounds(items, partitions, batched=entries == BATCHED)
        for client, (seconds, parser) in ((ASYNCIO, run_async(_asyncio_seconds(url, pipelines))),
                                          (SYNC, _sync_seconds(url, pipelines))):
            out.append(Baseline(client, entries, len(items) / seconds, parser))
    return out


def strongest(baselines: Sequence[Baseline], entries: str) -> Baseline:
    """The fastest client writing `entries`: the ceiling a share is taken of."""
    return max((b for b in baselines if b.entries == entries), key=lambda b: b.per_s)
