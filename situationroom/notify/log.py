"""The delivery logs (docs/alerts.md, docs/briefings.md): every sent, retried, dead, quiet or skipped delivery, on the
log of each alert it concerns, of the incident (`incident:<id>`) or of the briefing (`briefing:<id>`)."""

from __future__ import annotations

from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from situationroom import keys

KEEP = 200
TTL_S = 30 * 86400


def briefing_subject(briefing_id: str) -> str:
    """The log a briefing's deliveries go on."""
    return f"briefing:{briefing_id}"


def subjects(notification: dict[str, Any], alerts: list[dict[str, Any]]) -> list[str]:
    """The logs an event of this notification goes on: each of its alerts' (an incident is written as one), and the
    briefing's for a briefing."""
    out = [str(a["fingerprint"]) for a in alerts if isinstance(a, dict) and a.get("fingerprint")]
    briefing = notification.get("briefing")
    if isinstance(briefing, dict) and briefing.get("id"):
        out.append(briefing_subject(str(briefing["id"])))
    return out


def add(pipe: Pipeline, fingerprints: list[str], event: dict[str, Any], ttl_s: float = TTL_S) -> None:
    """Queue one event on the log of every alert it concerns (the caller executes the pipeline)."""
    body = orjson.dumps(event)
    for fp in dict.fromkeys(fingerprints):
        key = keys.alert_deliveries(fp)
        pipe.lpush(key, body)
        pipe.ltrim(key, 0, KEEP - 1)
        pipe.expire(key, int(ttl_s))


async def read_deliveries(client: aioredis.Redis, fingerprint: str, limit: int = KEEP) -> list[dict[str, Any]]:
    """An alert's delivery events, newest first."""
    return [orjson.loads(raw) for raw in await client.lrange(keys.alert_deliveries(fingerprint), 0, limit - 1)]


async def read_many(client: aioredis.Redis, fingerprints: list[str]) -> list[list[dict[str, Any]]]:
    """Several logs in one round trip, each newest first."""
    pipe = client.pipeline(transaction=False)
    for fp in fingerprints:
        pipe.lrange(keys.alert_deliveries(fp), 0, KEEP - 1)
    return [[orjson.loads(raw) for raw in found] for found in await pipe.execute()] if fingerprints else []
