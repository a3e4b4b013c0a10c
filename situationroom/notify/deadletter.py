"""The notify dead-letter stream (`sr:{notify}:deadletter`): deliveries and notifications given up on, with why;
the only code that writes or reads it."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from situationroom import keys

MAXLEN = 10_000
"""Entries kept; an operator reads the newest on /ops and in `GET /api/v1/notify/deadletter`."""
PAYLOAD = "item"
"""The field holding what was given up on (a notification or a delivery job), left out of what readers list."""


def add_malformed(pipe: Pipeline, entry_id: bytes | str, reason: str, raw: bytes | str, at: int) -> None:
    """Queue a notification entry that could not be read (it is acknowledged, so it is kept here)."""
    pipe.xadd(keys.notify_deadletter(), {"reason": reason, "entry": entry_id, PAYLOAD: raw, "at": at},
              maxlen=MAXLEN, approximate=True)


def add_dead(pipe: Pipeline, *, key: str, reason: str, attempts: int, channel: str, recipient: str,
             notification: str, job: bytes | str, at: int) -> None:
    """Queue a delivery that failed its last attempt."""
    pipe.xadd(keys.notify_deadletter(),
              {"key": key, "reason": reason, "attempts": attempts, "channel": channel, "recipient": recipient,
               "notification": notification, PAYLOAD: job, "at": at}, maxlen=MAXLEN, approximate=True)


async def newest(client: aioredis.Redis, limit: int) -> list[dict[str, Any]]:
    """The newest entries first, each with its `id` and every field but the payload."""
    out = []
    for entry_id, fields in await client.xrevrange(keys.notify_deadletter(), count=limit):
        row: dict[str, Any] = {k.decode(): v.decode() for k, v in fields.items() if k != PAYLOAD.encode()}
        row["id"] = entry_id.decode()
        out.append(row)
    return out
