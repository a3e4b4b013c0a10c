"""The delivery log of each alert (docs/alerts.md): every sent, retried, dead, quiet or skipped delivery."""

from __future__ import annotations

from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from situationroom import keys

KEEP = 200
TTL_S = 30 * 86400


def add(pipe: Pipeline, fingerprints: list[str], event: dict[str, Any]) -> None:
    """Queue one event on the log of every alert it concerns (the caller executes the pipeline)."""
    body = orjson.dumps(event)
    for fp in dict.fromkeys(fingerprints):
        key = keys.alert_deliveries(fp)
        pipe.lpush(key, body)
        pipe.ltrim(key, 0, KEEP - 1)
        pipe.expire(key, TTL_S)


async def read_deliveries(client: aioredis.Redis, fingerprint: str, limit: int = KEEP) -> list[dict[str, Any]]:
    """An alert's delivery events, newest first."""
    return [orjson.loads(raw) for raw in await client.lrange(keys.alert_deliveries(fingerprint), 0, limit - 1)]
