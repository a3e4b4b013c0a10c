"""The alert records in Redis, and the only code that reads or writes them: the alerts hash, acknowledgements,
each alert's history and deliveries, the outbox, silences, the published rules and the notifications the alert
role adds (keys in keys.py, docs/alerts.md)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import redis
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from situationroom import counters, keys, updates
from situationroom.alerts import silences as silences_mod
from situationroom.alerts.changes import Changes
from situationroom.alerts.dispatch import Intent
from situationroom.alerts.state import HISTORY, Alert
from situationroom.clock import now_ms
from situationroom.counters import Counter

CONSUMER = "alert"
"""The alert role's consumer on the update stream. One active alert role at a time (its lock), so the name is
fixed: a restart finds its own pending entries under it."""
NOTIFY_MAXLEN = 100_000
"""Entries kept in the notifications stream (the notify role acknowledges them long before)."""
DELIVERIES = 200
"""Delivery events shown with an alert (the notify role keeps as many)."""


def update_group(client: aioredis.Redis) -> updates.Group:
    """The alert role's consumer group on the update stream; `commit` acknowledges its entries."""
    return updates.Group(client, keys.ALERT_GROUP, CONSUMER)


def _decoded(raw: dict[bytes, bytes]) -> dict[str, Any]:
    return {k.decode(): orjson.loads(v) for k, v in raw.items()}


# -- alerts --------------------------------------------------------------------------------------------


async def read_stored(client: aioredis.Redis) -> dict[str, Alert]:
    """Every alert as the alert role wrote it (acknowledgements not merged: the engine adopts them itself)."""
    raw = await client.hgetall(keys.alerts())
    return {k.decode(): Alert.decode(v) for k, v in raw.items()}


async def read_alerts(client: aioredis.Redis) -> list[Alert]:
    """Every alert, with the acknowledgements the alert role has not adopted yet."""
    pipe = client.pipeline(transaction=True)
    queue_active_alerts(pipe)
    stored, acks = await pipe.execute()
    return [_with_ack(raw, acks.get(fp)) for fp, raw in stored.items()]


def _with_ack(raw: bytes, ack: bytes | None) -> Alert:
    alert = Alert.decode(raw)
    alert.adopt_ack(orjson.loads(ack) if ack is not None else None)
    return alert


async def read_alert(client: aioredis.Redis, fingerprint: str) -> Alert | None:
    """One alert, with its acknowledgement merged, or None."""
    pipe = client.pipeline(transaction=True)
    pipe.hget(keys.alerts(), fingerprint)
    pipe.hget(keys.alert_acks(), fingerprint)
    raw, ack = await pipe.execute()
    return _with_ack(raw, ack) if raw is not None else None


@dataclass(frozen=True)
class AlertDetail:
    """One alert with its history and the notify role's delivery events, newest first."""

    alert: Alert
    history: list[dict[str, Any]]
    deliveries: list[dict[str, Any]]


async def read_detail(client: aioredis.Redis, fingerprint: str) -> AlertDetail | None:
    pipe = client.pipeline(transaction=False)
    pipe.hget(keys.alerts(), fingerprint)
    pipe.hget(keys.alert_acks(), fingerprint)
    pipe.lrange(keys.alert_history(fingerprint), 0, HISTORY - 1)
    pipe.lrange(keys.alert_deliveries(fingerprint), 0, DELIVERIES - 1)
    raw, ack, history, deliveries = await pipe.execute()
    if raw is None:
        return None
    return AlertDetail(_with_ack(raw, ack), [orjson.loads(h) for h in history],
                       [orjson.loads(d) for d in deliveries])


async def read_history(client: aioredis.Redis, fingerprint: str, limit: int = HISTORY) -> list[dict[str, Any]]:
    """The alert's changes, newest first."""
    return [orjson.loads(x) for x in await client.lrange(keys.alert_history(fingerprint), 0, limit - 1)]


def read_histories_sync(client: redis.Redis, *, exercise: bool) -> list[tuple[Alert, list[dict[str, Any]]]]:
    """Every stored alert of the kind (exercise or real) with its history, oldest event first: a synchronous
    client, for the command line's drill report."""
    alerts = [a for a in (Alert.decode(v) for v in client.hvals(keys.alerts())) if a.exercise == exercise]
    pipe = client.pipeline(transaction=False)
    for a in alerts:
        pipe.lrange(keys.alert_history(a.fingerprint), 0, HISTORY - 1)
    return [(a, sorted((orjson.loads(e) for e in raw), key=lambda e: e.get("at", 0)))
            for a, raw in zip(alerts, pipe.execute(), strict=True)]


def queue_active_alerts(pipe: Pipeline) -> None:
    """Queue the reads `active_alerts` takes (two replies), in the caller's transaction."""
    pipe.hgetall(keys.alerts())
    pipe.hgetall(keys.alert_acks())


def active_alerts(stored: dict[bytes, bytes], acks: dict[bytes, bytes]) -> list[bytes]:
    """The pending and firing alerts as the update stream's `a` entries carry them, worst and oldest first,
    from the two replies of `queue_active_alerts`."""
    out = []
    for fp, raw in stored.items():
        alert = _with_ack(raw, acks.get(fp))
        if alert.active:
            out.append((-alert.level, alert.since, alert))
    out.sort(key=lambda x: (x[0], x[1]))
    return [orjson.dumps({"type": "alert", **a.public()}) for *_, a in out]


# -- acknowledgements ----------------------------------------------------------------------------------


async def acknowledge(client: aioredis.Redis, alert: Alert, by: str | None, comment: str | None, *,
                      updates_maxlen: int) -> dict[str, Any]:
    """Record an acknowledgement of the alert's current episode and publish the acknowledged alert on the
    update stream, in one transaction, so every wall and staff page shows it at once. The alert role adopts
    it at its next tick (no more repeats or escalation). Returns the acknowledgement as stored."""
    ack = {"by": by, "at": now_ms(), "comment": comment, "episode": alert.episode}
    alert.acked = {k: ack[k] for k in ("by", "at", "comment")}
    alert.updated = ack["at"]
    pipe = client.pipeline(transaction=True)
    pipe.hset(keys.alert_acks(), alert.fingerprint, orjson.dumps(ack))
    pipe.lpush(keys.alert_history(alert.fingerprint), orjson.dumps(
        {"at": ack["at"], "event": "acknowledged", "by": by, "comment": comment, "episode": alert.episode}))
    pipe.ltrim(keys.alert_history(alert.fingerprint), 0, HISTORY - 1)
    updates.add_alert(pipe, alert.public(), updates_maxlen)
    await pipe.execute()
    return ack


async def read_acks_and_silences(client: aioredis.Redis) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Acknowledgements (fingerprint -> {by, at, comment, episode}) and silences (id -> silence), read together."""
    pipe = client.pipeline(transaction=False)
    pipe.hgetall(keys.alert_acks())
    pipe.hgetall(keys.silences())
    acks, silences = await pipe.execute()
    return _decoded(acks), _decoded(silences)


async def forget_acks(client: aioredis.Redis, fingerprints: Sequence[str]) -> None:
    """Drop acknowledgements of episodes that are over or of alerts that are gone."""
    if fingerprints:
        await client.hdel(keys.alert_acks(), *fingerprints)


# -- silences ------------------------------------------------------------------------------------------


async def read_silences(client: aioredis.Redis) -> dict[str, dict[str, Any]]:
    return _decoded(await client.hgetall(keys.silences()))


async def add_silence(client: aioredis.Redis, silence: dict[str, Any]) -> None:
    await client.hset(keys.silences(), silence["id"], orjson.dumps(silence))


async def expire_silence(client: aioredis.Redis, silence_id: str, now: float | None = None) -> dict[str, Any] | None:
    """End a silence now (kept, as expired, for the record); None when there is no such silence."""
    raw = await client.hget(keys.silences(), silence_id)
    if raw is None:
        return None
    silence = silences_mod.ended(orjson.loads(raw), time.time() if now is None else now)
    await client.hset(keys.silences(), silence_id, orjson.dumps(silence))
    return silence


async def prune_silences(client: aioredis.Redis, silences: dict[str, dict[str, Any]], now: float,
                         keep: float) -> list[str]:
    """Remove the silences that ended more than `keep` seconds ago; returns their ids."""
    old = silences_mod.prune(silences, now, keep)
    if old:
        await client.hdel(keys.silences(), *old)
    return old


# -- the rules the role runs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PublishedRules:
    """What the running alert role published: each rule's summary, and the problems of the rule files."""

    rules: dict[str, dict[str, Any]]
    errors: list[dict[str, Any]]


async def publish_rules(client: aioredis.Redis, summaries: dict[str, dict[str, Any]],
                        errors: list[dict[str, Any]]) -> None:
    pipe = client.pipeline(transaction=True)
    pipe.delete(keys.alert_rules())
    mapping = {rid: orjson.dumps(summary) for rid, summary in summaries.items()}
    mapping["_errors"] = orjson.dumps(errors)
    pipe.hset(keys.alert_rules(), mapping=mapping)
    await pipe.execute()


async def read_published_rules(client: aioredis.Redis) -> PublishedRules | None:
    """The rules of the running alert role, or None when no alert role has run on this Redis yet."""
    raw = await client.hgetall(keys.alert_rules())
    if not raw:
        return None
    errors = orjson.loads(raw.pop(b"_errors", b"[]"))
    return PublishedRules({k.decode(): orjson.loads(v) for k, v in raw.items()}, errors)


# -- the alert role's writes ---------------------------------------------------------------------------


async def read_outbox(client: aioredis.Redis) -> list[Intent]:
    """Notifications waiting for their group wait, as the last commit left them."""
    return [Intent.decode(orjson.loads(v)) for v in (await client.hgetall(keys.alert_outbox())).values()]


async def commit(client: aioredis.Redis, changes: Changes, *, group: updates.Group, ids: Iterable[bytes],
                 updates_maxlen: int) -> None:
    """Write what changed, the notifications and the `a` updates, and acknowledge the update-stream entries
    they came from: one transaction, all or nothing."""
    pipe = client.pipeline(transaction=True)
    written = {**changes.quiet, **changes.alerts}
    if written:
        pipe.hset(keys.alerts(), mapping={fp: a.encode() for fp, a in written.items()})
    if changes.removed:
        pipe.hdel(keys.alerts(), *changes.removed)
        for fp in changes.removed:
            pipe.delete(keys.alert_history(fp))
    by_fp: dict[str, list[bytes]] = {}
    for fp, event in changes.history:
        by_fp.setdefault(fp, []).append(orjson.dumps(event))
    for fp, events in by_fp.items():
        pipe.lpush(keys.alert_history(fp), *events)
        pipe.ltrim(keys.alert_history(fp), 0, HISTORY - 1)
    if changes.outbox_set:
        pipe.hset(keys.alert_outbox(), mapping={i: orjson.dumps(x.encode()) for i, x in changes.outbox_set.items()})
    if changes.outbox_del:
        pipe.hdel(keys.alert_outbox(), *changes.outbox_del)
    for n in changes.notifications:
        pipe.xadd(keys.notifications(), {"n": orjson.dumps(n)}, maxlen=NOTIFY_MAXLEN, approximate=True)
    for a in changes.alerts.values():
        updates.add_alert(pipe, a.public(), updates_maxlen)
    group.ack(pipe, list(ids))
    if changes.notifications:
        counters.add(pipe, Counter.ALERT_NOTIFICATIONS, len(changes.notifications))
    await pipe.execute()
