"""The in-app inboxes (`sr:inbox:<owner>`): the only code that writes or reads them.

An owner is a staff member or a department; an item is put in the inbox and announced on the update stream in
one round trip, so a staff page that reacts to the announcement by reading the inbox finds the item there."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from situationroom import keys, updates

FIELD = "n"
"""The one field of an inbox entry: the item's JSON."""


def put(pipe: Pipeline, item: dict[str, Any], *, keep: int, updates_maxlen: int) -> None:
    """Queue an item (`{"type": "inbox", "recipient": …, …}`) in its recipient's inbox, then its announcement."""
    body = orjson.dumps(item)
    pipe.xadd(keys.inbox(item["recipient"]), {FIELD: body}, maxlen=keep, approximate=True)
    updates.add_inbox(pipe, body, updates_maxlen)


async def read(client: aioredis.Redis, owners: Sequence[str], limit: int) -> list[dict[str, Any]]:
    """The newest items of the owners' inboxes together, newest first, at most `limit`; each says its `entry` id."""
    pipe = client.pipeline(transaction=False)
    for owner in owners:
        pipe.xrevrange(keys.inbox(owner), count=limit)
    items = []
    for entries in await pipe.execute():
        for entry_id, fields in entries:
            item = orjson.loads(fields[FIELD.encode()])
            item["entry"] = entry_id.decode()
            items.append(item)
    items.sort(key=lambda it: it.get("at", 0), reverse=True)
    return items[:limit]
