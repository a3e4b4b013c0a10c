"""The alert records in Redis, and the only code that reads or writes them: the alerts hash, acknowledgements,
each alert's history and deliveries, the outbox, silences, the published rules and the notifications the alert
role adds (keys in keys.py, docs/alerts.md)."""

from __future__ import annotations

import os
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
from situationroom.lua import PipelinedScript, source

CONSUMER = "alert"
"""The alert role's consumer on the update stream. One active alert role at a time (its lock), so the name is
fixed: a restart finds its own pending entries under it."""
NOTIFY_MAXLEN = 100_000
"""Entries kept in the notifications stream (the notify role acknowledges them long before)."""
HANDED_KEEP_MS = 7 * 86400 * 1000
"""How long a notification's key is remembered as handed over (as long as the notify role remembers a delivery)."""
_HAND_OVER = source("hand_over.lua")
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
    """Record an acknowledgement of the alert's current episode (one transaction with its history) and publish the
    acknowledged alert on the update stream, so every wall and staff page shows it at once. The alert role adopts
    it at its next tick (no more repeats or escalation). Returns the acknowledgement as stored."""
    ack = {"by": by, "at": now_ms(), "comment": comment, "episode": alert.episode}
    alert.acked = {k: ack[k] for k in ("by", "at", "comment")}
    alert.updated = ack["at"]
    pipe = client.pipeline(transaction=True)
    pipe.hset(keys.alert_acks(), alert.fingerprint, orjson.dumps(ack))
    pipe.lpush(keys.alert_history(alert.fingerprint), orjson.dumps(
        {"at": ack["at"], "event": "acknowledged", "by": by, "comment": comment, "episode": alert.episode}))
    pipe.ltrim(keys.alert_history(alert.fingerprint), 0, HISTORY - 1)
    await pipe.execute()
    # The update stream is another slot: published right after. Were this lost, the alert role adopting the
    # acknowledgement at its next tick publishes the acknowledged alert itself.
    await updates.publish_alert(client, alert.public(), updates_maxlen)
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
                 updates_maxlen: int) -> int:
    """Write what changed and hand the notifications and the `a` updates over, acknowledging the update-stream
    entries they came from; returns how many notifications were added to the notifications stream.

    The notifications stream and the update stream are other Redis Cluster slots than the alerts, so this is not
    one transaction but ordered steps (docs/alerts.md): first one MULTI writes the alerts, their history, the
    outbox and a hand-over record of what the other slots get; then the hand-over is carried out; then its
    record is deleted. A crash before the MULTI leaves the entries pending (evaluated again at restart); a crash
    after it leaves the record, which `finish_handovers` carries out again at restart: each notification once
    (its idempotency key), an `a` update perhaps twice (the same alert state again), the acknowledgement
    repeated (harmless)."""
    ids = list(ids)
    if not changes:
        if ids:
            pipe = client.pipeline(transaction=False)
            group.ack(pipe, ids)
            await pipe.execute()
        return 0
    record = {"n": changes.notifications, "a": [a.public() for a in changes.alerts.values()],
              "ids": [i.decode() if isinstance(i, bytes) else i for i in ids]}
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
    pipe.hset(keys.alert_handover(), _token(), orjson.dumps(record))
    # Read in the same transaction: a hand-over an earlier commit could not finish goes first, in order.
    pipe.hgetall(keys.alert_handover())
    outstanding = (await pipe.execute())[-1]
    return await _hand_over(client, outstanding, group=group, updates_maxlen=updates_maxlen)


_last_token = [0]


def _token() -> str:
    """A hand-over record's field: ordered as the commits were (ns since the epoch, never the same twice in a
    process; the process id keeps an old and a new role apart)."""
    _last_token[0] = max(time.time_ns(), _last_token[0] + 1)
    return f"{_last_token[0]:020d}-{os.getpid()}"


async def finish_handovers(client: aioredis.Redis, *, group: updates.Group, updates_maxlen: int) -> int:
    """Carry out the hand-overs a crashed or cut-off alert role left (at its start, before anything else);
    returns how many notifications that added."""
    return await _hand_over(client, await client.hgetall(keys.alert_handover()), group=group,
                            updates_maxlen=updates_maxlen)


async def _hand_over(client: aioredis.Redis, records: dict[bytes, bytes], *, group: updates.Group,
                     updates_maxlen: int) -> int:
    if not records:
        return 0
    tokens = sorted(records)
    calls = []
    now = now_ms()
    pipe = client.pipeline(transaction=False)
    for token in tokens:
        record = orjson.loads(records[token])
        for n in record["n"]:
            calls.append(([keys.notifications(), keys.notify_handed()],
                          [n["key"], orjson.dumps(n), NOTIFY_MAXLEN, now, HANDED_KEEP_MS]))
        for a in record["a"]:
            updates.add_alert(pipe, a, updates_maxlen)
        group.ack(pipe, [i.encode() for i in record["ids"]])
    # The notifications first, in the order they were made: one slot, so one node keeps that order.
    added = sum(await PipelinedScript(client, _HAND_OVER).run(calls)) if calls else 0
    if len(pipe):
        await pipe.execute()
    done = client.pipeline(transaction=False)
    done.hdel(keys.alert_handover(), *tokens)
    counters.add(done, Counter.ALERT_NOTIFICATIONS, added)
    await done.execute()
    return added
