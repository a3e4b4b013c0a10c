"""Reading back what the tests wrote to the sample streams, whatever form their entries take."""

from __future__ import annotations

from collections.abc import Iterable

import redis
import redis.asyncio as aioredis

from situationroom import keys
from situationroom.sample_entries import entry_samples
from situationroom.samples import Sample


async def stream_samples(client: aioredis.Redis, *, partitions: int | Iterable[int] = 8) -> list[Sample]:
    """Every sample in the sample streams (all `partitions`, or the ones listed), in stream order."""
    numbers = range(partitions) if isinstance(partitions, int) else partitions
    return [sample for p in numbers for _, fields in await client.xrange(keys.samples(p))
            for _, sample in entry_samples(fields)]


def stream_samples_sync(client: redis.Redis, *, partitions: int | Iterable[int] = 8) -> list[Sample]:
    """`stream_samples` for a synchronous client."""
    numbers = range(partitions) if isinstance(partitions, int) else partitions
    return [sample for p in numbers for _, fields in client.xrange(keys.samples(p))
            for _, sample in entry_samples(fields)]
