"""The shared counters (`sr:counters`) behind /metrics: every name with what it counts, incremented and read here."""

from __future__ import annotations

import enum

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from situationroom import keys


class Counter(enum.StrEnum):
    """A monotonically increasing count, exported to Prometheus as `situationroom_<name>`."""

    SAMPLES_IN = "samples_in"
    SAMPLES_REJECTED = "samples_rejected"
    SAMPLES_AGGREGATED = "samples_aggregated"
    SAMPLES_DUPLICATE = "samples_duplicate"
    UPDATES_PUBLISHED = "updates_published"
    MESSAGES_PUBLISHED = "messages_published"
    ALERT_NOTIFICATIONS = "alert_notifications"
    NOTIFY_SENT = "notify_sent"
    NOTIFY_RETRIES = "notify_retries"
    NOTIFY_DEAD = "notify_dead"
    NOTIFY_QUIET = "notify_quiet"
    NOTIFY_SKIPPED = "notify_skipped"

    @property
    def help(self) -> str:
        return HELP[self]


HELP: dict[Counter, str] = {
    Counter.SAMPLES_IN: "Samples written to the sample streams (collectors and push ingest)",
    Counter.SAMPLES_REJECTED: "Samples rejected to the dead-letter stream",
    Counter.SAMPLES_AGGREGATED: "Samples applied to live state by the aggregators",
    Counter.SAMPLES_DUPLICATE: "Samples ignored as duplicates (same series and event time)",
    Counter.UPDATES_PUBLISHED: "Changes published to the update stream",
    Counter.MESSAGES_PUBLISHED: "Text messages (disaster texts, CAP alerts) published, each once",
    Counter.ALERT_NOTIFICATIONS: "Notifications the alert role handed to the notify role",
    Counter.NOTIFY_SENT: "Deliveries a channel accepted",
    Counter.NOTIFY_RETRIES: "Deliveries that failed and will be tried again",
    Counter.NOTIFY_DEAD: "Deliveries given up after their last attempt (in the notify dead-letter stream)",
    Counter.NOTIFY_QUIET: "Deliveries left to in-app by a recipient's quiet hours",
    Counter.NOTIFY_SKIPPED: ("Deliveries not made: no such channel, a channel that cannot send or takes no "
                             "exercises, or no contact for it"),
}


def add(pipe: Pipeline, counter: Counter, n: int = 1) -> None:
    """Queue an increment on a pipeline, in the same round trip as the work it counts."""
    if n:
        pipe.hincrby(keys.counters(), counter.value, n)


async def increment(client: aioredis.Redis, counter: Counter, n: int = 1) -> None:
    """Increment in a round trip of its own."""
    if n:
        await client.hincrby(keys.counters(), counter.value, n)


async def read(client: aioredis.Redis) -> dict[Counter, int]:
    """Every counter's value (0 for one never incremented)."""
    raw = await client.hgetall(keys.counters())
    got = {k.decode() if isinstance(k, bytes) else k: int(v) for k, v in raw.items()}
    return {c: got.get(c.value, 0) for c in Counter}


async def value(client: aioredis.Redis, counter: Counter) -> int:
    """One counter's value."""
    return int(await client.hget(keys.counters(), counter.value) or 0)
