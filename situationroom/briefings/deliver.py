"""Handing a made briefing to the notify role: one entry on the notifications stream naming its audience, and what
each delivery came to, read back from the delivery log the notify role writes (docs/notifications.md)."""

from __future__ import annotations

from typing import Any

import orjson
import redis.asyncio as aioredis

from situationroom import exercise, keys
from situationroom.alerts.store import NOTIFY_MAXLEN
from situationroom.briefings.definition import Briefing
from situationroom.notify import log as dlog


def notification(briefing: Briefing, record: dict[str, Any]) -> dict[str, Any]:
    """What the notify role routes and the channels say: the audience, the title (tagged when it holds exercise data),
    the period and the link. The PDF stays in the archive: the e-mail channel reads it there by the briefing's id."""
    x = bool(record["exercise"])
    return {"key": key_of(record), "kind": "briefing", "exercise": x, "tier": 0, "alerts": [],
            "audience": briefing.spec.audience.model_dump(),
            "briefing": {"id": record["id"], "name": record["name"],
                         "title_ko": exercise.tagged(record["title_ko"], "ko") if x else record["title_ko"],
                         "title_en": exercise.tagged(record["title_en"], "en") if x else record["title_en"],
                         "from": record["from"], "to": record["to"], "link": f"/briefings/{record['id']}"}}


def key_of(record: dict[str, Any]) -> str:
    # With when it was made: a briefing made again for the same period is a new notification, sent again.
    return f"briefing/{record['id']}/{record['made']}"


async def queue(client: aioredis.Redis, briefing: Briefing, record: dict[str, Any]) -> None:
    """Put the briefing on the notifications stream, where the notify role picks it up."""
    n = notification(briefing, record)
    await client.xadd(keys.notifications(), {"n": orjson.dumps(n)}, maxlen=NOTIFY_MAXLEN, approximate=True)


def outcomes(events: list[dict[str, Any]], record: dict[str, Any]) -> list[dict[str, Any]]:
    """Each delivery of this making of the briefing, as its latest event says (sent, retrying, dead, skipped), one per
    recipient and channel; `events` newest first, as the log keeps them."""
    latest: dict[tuple[Any, Any], dict[str, Any]] = {}
    for e in events:
        if e.get("notification") == key_of(record):
            latest.setdefault((e.get("recipient"), e.get("channel")), e)
    return [{k: e.get(k) for k in ("recipient", "channel", "status", "attempt", "at", "next", "note", "error")}
            for e in sorted(latest.values(), key=lambda e: (str(e.get("recipient")), str(e.get("channel"))))]


async def with_deliveries(client: aioredis.Redis, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records with their `deliveries` from the notify role's log (empty until it took the briefing)."""
    logs = await dlog.read_many(client, [dlog.briefing_subject(r["id"]) for r in records])
    return [{**r, "deliveries": outcomes(events, r)} for r, events in zip(records, logs, strict=True)]
