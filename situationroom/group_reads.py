"""Consumer groups: creating one, and reads over several streams that work on one Redis and on a Redis Cluster alike."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from redis.exceptions import ResponseError

from situationroom.redisconn import AsyncClient, is_cluster


async def create_group(client: AsyncClient, stream: str, group: str, *, start: str) -> None:
    """Create consumer group `group` on `stream` (and the stream with it) reading from `start` ("0": every entry, "$":
    new ones only), unless it exists."""
    try:
        await client.xgroup_create(stream, group, id=start, mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


Reply = list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]]
"""XREADGROUP's reply: per stream, its entries (id, fields)."""


class GroupReader:
    """XREADGROUP for one consumer over many streams.

    On one server a single call names every stream. A cluster refuses that (the sample partitions live in
    different slots, CROSSSLOT), so there each stream is read on its own: first one pipelined read per stream
    without blocking (one round trip per node); only when none of them has anything, one blocking read per stream
    goes out and the call returns as soon as any answers. Those still waiting stay in flight for the next call
    (cancelling one would cost its connection), and what they are handed meanwhile comes with that call.
    """

    def __init__(self, client: AsyncClient, group: str, consumer: str) -> None:
        self.client = client
        self.group = group
        self.consumer = consumer
        self._waiting: dict[str, asyncio.Task[Any]] = {}

    async def read(self, streams: dict[str, str], count: int, block: int | None) -> Reply:
        """Entries of `streams` (stream → last id, ">" for new ones), at most `count` of each stream (XREADGROUP's
        COUNT bounds each stream, on one server as on a cluster); `block` ms to wait for new ones, None not to."""
        if not is_cluster(self.client):
            return await self.client.xreadgroup(self.group, self.consumer, streams, count=count, block=block) or []
        out = self._answered()
        pipe = self.client.pipeline(transaction=False)
        for stream, last in streams.items():
            pipe.xreadgroup(self.group, self.consumer, {stream: last}, count=count)
        out += [part for reply in await pipe.execute() for part in reply or []]
        if out or block is None or any(last != ">" for last in streams.values()):
            return out
        for stream in streams:
            if stream not in self._waiting:
                self._waiting[stream] = asyncio.create_task(
                    self.client.xreadgroup(self.group, self.consumer, {stream: ">"}, count=count, block=block))
        await asyncio.wait(self._waiting.values(), return_when=asyncio.FIRST_COMPLETED)
        return self._answered()

    def _answered(self) -> Reply:
        """What the blocking reads that have answered were handed; the first error among them is raised (what
        the others were handed stays pending under this consumer, taken up again at restart or by another
        consumer once idle, as after any failed batch)."""
        out: Reply = []
        failed: BaseException | None = None
        for stream, task in list(self._waiting.items()):
            if not task.done():
                continue
            del self._waiting[stream]
            if task.exception() is not None:
                failed = failed or task.exception()
            else:
                out += task.result() or []
        if failed is not None:
            raise failed
        return out

    async def close(self) -> None:
        """Stop the reads still waiting (at shutdown); an entry one of them was handed stays pending."""
        for task in self._waiting.values():
            task.cancel()
        for task in self._waiting.values():
            with contextlib.suppress(BaseException):
                await task
        self._waiting.clear()
