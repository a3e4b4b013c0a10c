"""Writing samples into the partitioned Redis streams, and rejected ones into the dead-letter stream."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from situationroom import counters, keys, updates
from situationroom.counters import Counter
from situationroom.echo import cut, json_text, size_of
from situationroom.messages import Message
from situationroom.redisconn import is_cluster
from situationroom.sample_entries import encode_batch
from situationroom.samples import Rejection, Sample
from situationroom.settings import Settings

DEADLETTER_LIMITS = {"source": 128, "field": 128, "reason": 512, "value": 1024, "item": 1024}
"""Bytes kept of each dead-letter field; a longer one is cut, with its full length in `<field>_bytes`."""
DEADLETTER_ENTRY_BYTES = sum(DEADLETTER_LIMITS.values()) + 256
"""The largest dead-letter entry: every field at its limit, plus `at`, `index`, the lengths and field names."""


def deadletter_cap(maxlen: int, max_bytes: int | None) -> int:
    """Entries the dead-letter stream keeps: `maxlen`, fewer when that many of the largest entries would
    exceed `max_bytes`, so a flood of oversized rejections cannot fill Redis (never fewer than 100)."""
    if max_bytes is None:
        return maxlen
    return max(100, min(maxlen, max_bytes // DEADLETTER_ENTRY_BYTES))


class EntryBudget:
    """How many entries to ask a stream read for so that each stream's part of the reply holds about `samples`
    samples (COUNT bounds each stream of a multi-stream read, not the reply): an entry carries one
    sample (a trickle of pushes, an older entry) or a whole batch (a collector's run), so a fixed count of entries
    would bound neither a batch's work nor the time Redis spends on one script call."""

    def __init__(self, samples: int) -> None:
        self.samples = samples
        self.per_entry = 100.0
        """Samples per entry lately (a moving average); a first read assumes a collector's batch."""

    def count(self) -> int:
        return max(1, min(self.samples, int(self.samples / self.per_entry)))

    def saw(self, entries: Iterable[dict[bytes, bytes]]) -> None:
        """Learn from the entries a read returned."""
        sizes = [int(c) if (c := f.get(b"c", b"1")).isdigit() else 1 for f in entries]
        if sizes:
            self.per_entry = max(1.0, 0.5 * self.per_entry + 0.5 * sum(sizes) / len(sizes))


class NotReplicated(RedisTimeoutError):
    """No replica confirmed a write in time (ingest durability `replica`): the samples are on the master but would
    be lost with it, so the writer says so instead of confirming; sending them again is harmless (a repeated
    sample is counted as a duplicate and applied once)."""


class StreamWriter:
    """Pipelined, batched XADD of samples to their partitions, trimmed by age; with `replicas`, each round trip
    ends with WAIT on every master written to, and a write counts only once that many replicas hold it."""

    def __init__(self, client: aioredis.Redis, *, partitions: int, retention: float,
                 deadletter_maxlen: int, deadletter_max_bytes: int | None = None, batch_size: int = 1000,
                 replicas: int = 0, replica_timeout: float = 1.0) -> None:
        self.client = client
        self.replicas = replicas
        self.replica_timeout_ms = max(1, int(replica_timeout * 1000))
        self.partitions = partitions
        self.retention = retention
        self.deadletter_maxlen = deadletter_cap(deadletter_maxlen, deadletter_max_bytes)
        self.batch_size = batch_size
        self._stream_of: dict[str, str] = {}
        self._messages: updates.MessagePublisher | None = None

    @classmethod
    def for_settings(cls, client: aioredis.Redis, settings: Settings) -> StreamWriter:
        """The writer of pushed and collected samples, with the site's ingest durability."""
        return cls(client, partitions=settings.partitions, retention=settings.stream_retention,
                   deadletter_maxlen=settings.deadletter_maxlen, deadletter_max_bytes=settings.deadletter_max_bytes,
                   batch_size=settings.batch_size, replicas=1 if settings.ingest_durability == "replica" else 0,
                   replica_timeout=settings.ingest_durability_timeout)

    def stream_of(self, indicator: str) -> str:
        key = self._stream_of.get(indicator)
        if key is None:
            key = self._stream_of[indicator] = keys.samples(keys.partition_of(indicator, self.partitions))
        return key

    async def write(self, samples: Sequence[Sample]) -> int:
        """Append samples; returns how many were written. One round trip per `batch_size` samples, which become one
        entry per partition they fall in."""
        minid = f"{int((time.time() - self.retention) * 1000)}-0"
        written = 0
        for start in range(0, len(samples), self.batch_size):
            chunk = samples[start:start + self.batch_size]
            by_stream: dict[str, list[Sample]] = {}
            for s in chunk:
                by_stream.setdefault(self.stream_of(s.indicator), []).append(s)
            pipe = self.client.pipeline(transaction=False)
            for stream, batch in by_stream.items():
                pipe.xadd(stream, encode_batch(batch), minid=minid, approximate=True)
            counters.add(pipe, Counter.SAMPLES_IN, len(chunk))
            if self.replicas:
                await self._wait_for_replicas(pipe, by_stream)
            replies = await pipe.execute()
            if self.replicas:
                confirmed = min(replies[len(by_stream) + 1:])
                if confirmed < self.replicas:
                    raise NotReplicated(
                        f"{written + len(chunk)} samples written, but {confirmed} of the {self.replicas} replicas "
                        f"asked for confirmed them within {self.replica_timeout_ms} ms (ingest durability "
                        f"'replica'); send them again")
            written += len(chunk)
        return written

    async def _wait_for_replicas(self, pipe: Any, streams: Iterable[str]) -> None:
        # WAIT counts the writes of its own connection, so it goes in the same pipeline: on one server at its end;
        # on a cluster once for every master written to, which the cluster pipeline sends on that master's
        # connection after its XADDs.
        if is_cluster(self.client):
            await self.client.initialize()  # the slot map, read once at the client's first command
            nodes = {n.name: n for n in (self.client.get_node_from_key(s) for s in streams)}
            for node in nodes.values():
                pipe.execute_command("WAIT", self.replicas, self.replica_timeout_ms, target_nodes=node)
        else:
            pipe.execute_command("WAIT", self.replicas, self.replica_timeout_ms)

    async def publish_messages(self, messages: Sequence[Message], *, updates_maxlen: int) -> int:
        """Publish text messages to the update stream, each id once; returns how many were new."""
        if not messages:
            return 0
        if self._messages is None:
            self._messages = updates.MessagePublisher(self.client)
        new = await self._messages.publish(messages, maxlen=updates_maxlen)
        if new:
            await counters.increment(self.client, Counter.MESSAGES_PUBLISHED, new)
        return new

    async def reject(self, items: Iterable[tuple[Rejection, object]], *, source: str) -> int:
        """Record rejected items in the dead-letter stream with the reason; nothing is dropped silently.

        Each entry is bounded (DEADLETTER_LIMITS) and holds the rejected value once: in `value`, while
        `item` has the rest of the item."""
        pipe = self.client.pipeline(transaction=False)
        n = 0
        now_ms = str(int(time.time() * 1000))
        for r, item in items:
            entry = deadletter_entry(r, item, source)
            entry["at"] = now_ms
            pipe.xadd(keys.deadletter(), entry, maxlen=self.deadletter_maxlen, approximate=True)
            n += 1
        if n:
            counters.add(pipe, Counter.SAMPLES_REJECTED, n)
            await pipe.execute()
        return n


def deadletter_entry(r: Rejection, item: object, source: str) -> dict[str, str]:
    """The fields of one dead-letter entry (docs/streams.md) but `at`, each cut to its limit."""
    rest = item
    if r.field == "item":
        rest = None  # the value is the item
    elif isinstance(item, dict) and r.field in item:
        rest = {k: v for k, v in item.items() if k != r.field}
    entry: dict[str, str] = {}
    for name, text in (("source", source), ("field", r.field), ("reason", r.reason)):
        entry[name] = cut(text, DEADLETTER_LIMITS[name])
        if size_of(text) > DEADLETTER_LIMITS[name]:
            entry[f"{name}_bytes"] = str(size_of(text))
    text, size = json_text(r.value, DEADLETTER_LIMITS["value"])
    entry["value"] = text
    if size > DEADLETTER_LIMITS["value"]:
        entry["value_bytes"] = str(size)
    entry["item"] = ""
    if rest is not None:
        text, size = json_text(rest, DEADLETTER_LIMITS["item"])
        entry["item"] = text
        if size > DEADLETTER_LIMITS["item"]:
            entry["item_bytes"] = str(size)
    if r.index is not None:
        entry["index"] = str(r.index)
    return entry


async def ensure_groups(client: aioredis.Redis, partitions: int, group: str = keys.AGGREGATOR_GROUP) -> None:
    """Create a consumer group (the aggregators' unless told) on every sample stream (idempotent)."""
    pipe = client.pipeline(transaction=False)
    for key in keys.all_samples(partitions):
        pipe.xgroup_create(key, group, id="0", mkstream=True)
    for result in await pipe.execute(raise_on_error=False):
        if isinstance(result, ResponseError) and "BUSYGROUP" not in str(result):
            raise result


async def claim_idle(client: aioredis.Redis, stream: str, group: str, consumer: str, idle_ms: int,
                     count: int) -> AsyncIterator[list[tuple[bytes, dict[bytes, bytes]]]]:
    """Take over, batch by batch, the entries of `stream` another consumer of `group` left pending longer than
    `idle_ms` (it died mid-batch). Entries trimmed while pending are acknowledged and not given."""
    start: bytes | str = "0-0"
    while True:
        reply = await client.xautoclaim(stream, group, consumer, idle_ms, start_id=start, count=count)
        # Redis 6.2 answers [next, entries]; 7+ adds the deleted ids: never rely on the length.
        start, messages = reply[0], reply[1]
        gone = [i for i, f in messages if not f and i is not None]
        if gone:  # 6.2 hands back entries trimmed while pending; 7+ drops them itself
            await client.xack(stream, group, *gone)
        taken = [(i, f) for i, f in messages if f]
        if taken:
            yield taken
        if start in (b"0-0", "0-0"):
            return


@dataclass(frozen=True, slots=True)
class _Position:
    """Where a consumer group stands on one sample stream."""

    stream: str
    pending: int
    delivered: str
    """The id of the last entry handed to one of its consumers."""
    unread: bool
    """Whether entries came after that one."""


async def _positions(client: aioredis.Redis, partitions: int, group: str) -> tuple[int, list[_Position]] | None:
    """Redis' clock (epoch ms) and the group's position on every sample stream; None when the group is missing on
    some stream (its role never ran)."""
    streams = keys.all_samples(partitions)
    # TIME on its own: a cluster client refuses it in a pipeline (it names no key to route by).
    seconds, micros = await client.time()
    pipe = client.pipeline(transaction=False)
    for stream in streams:
        pipe.xinfo_groups(stream)
        pipe.xinfo_stream(stream)
    replies = await pipe.execute(raise_on_error=False)
    out = []
    for n, stream in enumerate(streams):
        groups, info = replies[2 * n], replies[2 * n + 1]
        if isinstance(groups, Exception) or isinstance(info, Exception):
            return None
        found = next((g for g in groups if _text(g["name"]) == group), None)
        if found is None:
            return None
        delivered = _text(found["last-delivered-id"])
        out.append(_Position(stream, int(found["pending"]), delivered, delivered != _text(info["last-generated-id"])))
    return seconds * 1000 + micros // 1000, out


async def acknowledged_until(client: aioredis.Redis, partitions: int, group: str) -> int | None:
    """A time (Redis' clock, epoch ms) before which the group has acknowledged every entry of every sample stream:
    the oldest entry still pending, or not yet read, bounds it; a stream the group has read to its end bounds it
    by now. None when the group is missing on some stream (its role never ran)."""
    found = await _positions(client, partitions, group)
    if found is None:
        return None
    until, positions = found
    pending_in: list[str] = []
    for at in positions:
        if at.pending:
            pending_in.append(at.stream)
        elif at.unread:
            # Entries after the last one delivered are not read yet.
            until = min(until, _entry_ms(at.delivered))
    if pending_in:
        pipe = client.pipeline(transaction=False)
        for stream in pending_in:
            pipe.xpending(stream, group)
        for summary in await pipe.execute():
            # Acknowledged between the two reads: nothing is pending there any more.
            if summary["min"] is not None:
                until = min(until, _entry_ms(summary["min"]))
    return until


async def unread_age(client: aioredis.Redis, partitions: int, group: str) -> float | None:
    """Seconds (Redis' clock) since the oldest entry of any sample stream that the group has not been handed yet was
    written: how far behind its readers are, whatever number of samples an entry carries. 0 when they are handed
    everything; None when the group is missing on some stream (its role never ran)."""
    found = await _positions(client, partitions, group)
    if found is None:
        return None
    now, positions = found
    behind = [at for at in positions if at.unread]
    if not behind:
        return 0.0
    pipe = client.pipeline(transaction=False)
    for at in behind:
        pipe.xrange(at.stream, min=f"({at.delivered}", count=1)
    firsts = [reply[0][0] for reply in await pipe.execute() if reply]
    return max(0.0, (now - min(_entry_ms(i) for i in firsts)) / 1000) if firsts else 0.0


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _entry_ms(entry_id: bytes | str) -> int:
    return int(_text(entry_id).split("-", 1)[0])
