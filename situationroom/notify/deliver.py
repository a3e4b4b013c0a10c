"""The notify role: reads `sr:{notify}` in a consumer group, routes, delivers at least once, retries, dead-letters."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from situationroom import counters, keys
from situationroom.aio import wait_event
from situationroom.catalog import Catalog
from situationroom.clock import now_ms
from situationroom.counters import Counter
from situationroom.group_reads import create_group
from situationroom.notify import deadletter
from situationroom.notify import log as dlog
from situationroom.notify import subscriptions as subs_mod
from situationroom.notify.channels.base import Channel, ChannelContext, Delivery, DeliveryError
from situationroom.notify.channels.config import load_channels
from situationroom.notify.people import People, load_people
from situationroom.notify.routing import Planned, plan
from situationroom.outage import run_stream_reader
from situationroom.settings import Settings

log = logging.getLogger(__name__)

DONE_KEEP_MS = 7 * 86400 * 1000
"""How long a finished delivery key is remembered (a notification re-read after that would be sent again)."""
OUTCOME_COUNTERS = {"sent": Counter.NOTIFY_SENT, "dead": Counter.NOTIFY_DEAD, "retrying": Counter.NOTIFY_RETRIES,
                    "quiet": Counter.NOTIFY_QUIET, "skipped": Counter.NOTIFY_SKIPPED}
"""The counter each outcome of a delivery attempt increments."""

# Hand out due retries atomically: several notify processes may share one Redis. A claimed job's score
# moves to now + lease, so a process that dies mid-attempt gives it back when the lease runs out.
CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, k in ipairs(due) do
  redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), k)
  out[#out + 1] = k
  out[#out + 1] = redis.call('HGET', KEYS[2], k) or ''
end
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {out, nxt[2] or ''}
"""


def backoff(attempt: int, base: float, cap: float) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): base, 2·base, 4·base… up to cap, ±10 %."""
    return min(cap, base * 2 ** (attempt - 1)) * random.uniform(0.9, 1.1)


@dataclass
class Outcome:
    status: str
    note: str | None = None
    error: str | None = None


class Notifier:
    """One notify process: a consumer in the `notifiers` group, a retrier, a reclaimer of dead consumers' entries."""

    def __init__(self, client: aioredis.Redis, catalog: Catalog, settings: Settings, *,
                 people: People | None = None, channels: dict[str, Channel] | None = None,
                 consumer: str | None = None, clock: Any = time.time) -> None:
        self.client = client
        self.catalog = catalog
        self.settings = settings
        self.ctx = ChannelContext(client, catalog, settings)
        self.people = people or load_people(settings.seeds)
        if channels is None:
            channels = load_channels(settings.channels_file, self.ctx) if settings.channels_file.is_file() else {}
        self.channels = channels
        self.consumer = consumer or settings.consumer or f"{socket.gethostname()}-{os.getpid()}-notify"
        self.clock = clock
        self.slots = asyncio.Semaphore(settings.notify_concurrency)
        self.inflight: set[bytes] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.wake = asyncio.Event()
        self.failing: dict[str, str] = {}
        """channel id -> last error, while a channel fails (logged on the change only)"""
        self.claim = client.register_script(CLAIM)
        self.lease_ms = int(max(c.config.timeout for c in self.channels.values()) * 3000 + 30_000) \
            if self.channels else 60_000

    # ------------------------------------------------------------------------------------------ setup

    async def setup(self) -> None:
        if not self.people.staff:
            log.warning("no departments.yaml / staff.yaml in %s: nobody to notify", self.settings.seeds)
        await self._group()
        await subs_mod.seed_once(self.client, self.settings.seeds / "subscriptions.yaml", self.people, self.catalog,
                                 set(self.channels))
        for channel in self.channels.values():
            await channel.start()
            if channel.disabled:
                log.warning("channel %s is disabled: %s", channel.id, channel.disabled)

    async def _group(self) -> None:
        await create_group(self.client, keys.notifications(), keys.NOTIFY_GROUP, start="0")

    async def close(self) -> None:
        for channel in self.channels.values():
            with contextlib.suppress(Exception):
                await channel.aclose()

    async def run(self, stop: asyncio.Event) -> None:
        await self.setup()
        loops: list[asyncio.Task[None]] = []
        stopper: asyncio.Task[Any] | None = None
        try:
            # Each loop rides out a Redis outage (a failover) by itself, as the other roles' readers do.
            loops = [asyncio.create_task(run_stream_reader(f"notify {name}", step, stop, regroup=self._group, log=log),
                                         name=f"notify-{name}")
                     for name, step in (("reader", self._reader(stop)), ("retrier", self._retrier(stop)),
                                        ("reclaimer", self._reclaimer(stop)))]
            stopper = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait([*loops, stopper], return_when=asyncio.FIRST_COMPLETED)
            stop.set()
            self.wake.set()
            # Let the deliveries under way finish (their results recorded) before the loops go.
            if self.tasks:
                await asyncio.wait(self.tasks, timeout=max(5.0, self.lease_ms / 3000))
            for t in loops:
                t.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
            stopper.cancel()
            for t in done:
                if t is not stopper and not t.cancelled() and t.exception() is not None:
                    raise t.exception()  # type: ignore[misc]
        finally:
            # Cancelled from outside (the process is going down hard): nothing more is read or acknowledged.
            left = [*loops, *self.tasks, *([stopper] if stopper else [])]
            for t in left:
                t.cancel()
            # Bounded: a delivery caught in a client library's own cleanup must not keep the role from ending.
            if left:
                _, stuck = await asyncio.wait(left, timeout=5)
                if stuck:
                    log.warning("notify: %d task(s) did not end within 5 s of being cancelled: %s", len(stuck),
                                ", ".join(sorted(t.get_name() for t in stuck)))
            await self.close()

    # ------------------------------------------------------------------------------------------ reading

    def _reader(self, stop: asyncio.Event) -> Callable[[], Awaitable[bool]]:
        backlog = True

        async def once() -> bool:
            nonlocal backlog
            if backlog:
                # Our own pending entries first (a restart): they were read but not acknowledged. (Those left by
                # a Redis outage later on are the reclaimer's.)
                reply = await self.client.xreadgroup(keys.NOTIFY_GROUP, self.consumer, {keys.notifications(): "0"},
                                                     count=self.settings.batch_size)
                entries = reply[0][1] if reply else []
                entries = [(i, f) for i, f in entries if i not in self.inflight]
                if entries:
                    await self.handle(entries)
                    await self._drain()
                    return not stop.is_set()
                backlog = False
            reply = await self.client.xreadgroup(keys.NOTIFY_GROUP, self.consumer, {keys.notifications(): ">"},
                                                 count=self.settings.batch_size, block=self.settings.block_ms)
            if reply:
                await self.handle(reply[0][1])
            return not stop.is_set()
        return once

    async def _drain(self) -> None:
        while self.tasks:
            await asyncio.wait(set(self.tasks))

    def _reclaimer(self, stop: asyncio.Event) -> Callable[[], Awaitable[bool]]:
        """Take over entries a dead consumer read and never acknowledged (or this one, cut off by an outage)."""
        every = max(0.5, self.settings.claim_idle / 2)
        idle_ms = int(self.settings.claim_idle * 1000)

        async def once() -> bool:
            if await wait_event(stop, every):
                return False
            reply = await self.client.xautoclaim(keys.notifications(), keys.NOTIFY_GROUP, self.consumer,
                                                 idle_ms, "0-0", count=self.settings.batch_size)
            entries = [(i, f) for i, f in reply[1] if i not in self.inflight and f] if reply else []
            if entries:
                await self.handle(entries)
            await self.client.zremrangebyscore(keys.notify_done(), "-inf", now_ms() - DONE_KEEP_MS)
            return not stop.is_set()
        return once

    async def handle(self, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
        """Route a batch of notification entries and start their deliveries (one round trip to look up state)."""
        raw_subs = await self.client.hgetall(keys.subscriptions())
        subscriptions = subs_mod.parse_all(raw_subs)
        now = self.clock()
        bad: list[tuple[bytes, str, bytes]] = []
        routed: list[tuple[bytes, dict[str, Any], list[Planned]]] = []
        for entry_id, fields in entries:
            raw = fields.get(b"n")
            try:
                n = orjson.loads(raw) if raw is not None else None
                if not isinstance(n, dict) or not n.get("key") or not isinstance(n.get("alerts"), list):
                    raise ValueError("needs key and alerts")
            except (orjson.JSONDecodeError, ValueError) as exc:
                bad.append((entry_id, f"malformed notification entry: {exc}", raw or b""))
                continue
            routed.append((entry_id, n, plan(n, subscriptions, self.people, self.channels, self.catalog, now)))
        pipe = self.client.pipeline(transaction=False)
        all_keys = [p.delivery.key for _, _, planned in routed for p in planned]
        if all_keys:
            pipe.zmscore(keys.notify_done(), all_keys)
            pipe.hmget(keys.notify_jobs(), all_keys)
        for _, n, planned in routed:
            if not planned:
                # Nobody subscribed: say so on the alerts' logs, or an empty log would look like a lost delivery.
                why = ("nobody in the audience (its departments have no staff, its staff are not in staff.yaml)"
                       if n.get("kind") == "briefing" else "no subscription (or escalation tier) matches")
                dlog.add(pipe, dlog.subjects(n, n["alerts"]),
                         {"at": now_ms(), "key": None, "notification": n.get("key"), "kind": n.get("kind"),
                          "tier": n.get("tier") or 0, "recipient": None, "channel": None, "status": "unrouted",
                          "attempt": 0, "note": None, "error": why}, self._log_ttl(n))
        for entry_id, reason, raw in bad:
            deadletter.add_malformed(pipe, entry_id, reason, raw, now_ms())
            pipe.xack(keys.notifications(), keys.NOTIFY_GROUP, entry_id)
        if bad:
            log.warning("%d malformed notification entries went to the dead-letter stream", len(bad))
        results = await pipe.execute()
        done_scores, jobs = (results[0], results[1]) if all_keys else ([], [])
        finished = {k for k, s, j in zip(all_keys, done_scores, jobs, strict=True) if s is not None or j is not None}
        for entry_id, _, planned in routed:
            todo = [p for p in planned if p.delivery.key not in finished]
            self.inflight.add(entry_id)
            self._spawn(self._entry(entry_id, todo))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        exc = None if task.cancelled() else task.exception()
        if isinstance(exc, RedisError | OSError):
            # Redis went away under it (a failover): the entry stays pending and its delivery not recorded as done,
            # so it is taken up again (and sent again, with its idempotency key, if it had gone out).
            log.warning("notify: a delivery could not be recorded: %s; it is taken up again later", exc)
        elif exc is not None:
            log.error("notify: a delivery task failed", exc_info=exc)

    async def _entry(self, entry_id: bytes, planned: list[Planned]) -> None:
        """Deliver everything of one entry (first attempts), then acknowledge it."""
        try:
            await asyncio.gather(*(self._first(p) for p in planned))
            await self.client.xack(keys.notifications(), keys.NOTIFY_GROUP, entry_id)
        finally:
            self.inflight.discard(entry_id)

    async def _first(self, p: Planned) -> None:
        if p.status != "send":
            await self._record(p.delivery, Outcome(p.status, error=p.reason), final=True)
            return
        await self._attempt(p.delivery)

    # ------------------------------------------------------------------------------------------ sending

    async def _attempt(self, d: Delivery) -> None:
        channel = self.channels.get(d.channel)
        if channel is None:
            await self._record(d, Outcome("skipped", error=f"no channel {d.channel!r} in the channel file"),
                               final=True)
            return
        async with self.slots:
            try:
                async with asyncio.timeout(channel.config.timeout * 2 + 5):
                    note = await channel.send(d)
            except DeliveryError as exc:
                await self._failed(d, str(exc), permanent=exc.permanent)
                return
            except TimeoutError:
                await self._failed(d, f"no answer within {channel.config.timeout * 2 + 5:g} s", permanent=False)
                return
            except RedisError:
                # A channel that writes to Redis (in-app) during an outage: not a bug of the channel. Nothing can be
                # recorded now either; the entry stays pending and is taken up again (`_ended` says so, in a line).
                raise
            except Exception as exc:  # a bug in a channel must not lose the delivery: retry it, say why
                log.exception("channel %s failed unexpectedly", d.channel)
                await self._failed(d, f"{exc.__class__.__name__}: {self.ctx.redact(str(exc))}", permanent=False)
                return
        if d.channel in self.failing:
            log.info("channel %s delivers again", d.channel)
            del self.failing[d.channel]
        await self._record(d, Outcome("sent", note=note), final=True)

    async def _failed(self, d: Delivery, error: str, *, permanent: bool) -> None:
        error = self.ctx.redact(error)
        if d.channel not in self.failing:
            log.warning("channel %s fails: %s", d.channel, error)
        self.failing[d.channel] = error
        if permanent or d.attempt >= self.settings.notify_attempts:
            why = error if not permanent else f"{error} (permanent: not retried)"
            await self._record(d, Outcome("dead", error=why), final=True)
            log.warning("delivery %s is dead after %d attempt(s): %s", d.key, d.attempt, why)
            return
        await self._record(d, Outcome("retrying", error=error), final=False)

    def _log_ttl(self, notification: dict[str, Any]) -> float:
        # A briefing's log is what /briefings shows of its deliveries: kept as long as the briefing is.
        if notification.get("kind") == "briefing":
            return max(dlog.TTL_S, self.settings.briefing_retention)
        return dlog.TTL_S

    def _job(self, d: Delivery) -> bytes:
        return orjson.dumps({"notification": d.notification, "alerts": d.alerts, "recipient": d.recipient.id,
                             "channel": d.channel, "address": d.address, "attempt": d.attempt})

    async def _record(self, d: Delivery, outcome: Outcome, *, final: bool) -> None:
        """Write what happened: the done/retry state and a dead letter in one transaction (one slot, `{notify}`),
        then the alerts' delivery logs and the counter, which live in other slots. The state goes first: a crash
        between the two can lose a log line or a count, never make a finished delivery go out again."""
        at = now_ms()
        event = {"at": at, "key": d.key, "notification": d.notification.get("key"), "kind": d.kind, "tier": d.tier,
                 "recipient": d.recipient.id, "channel": d.channel, "status": outcome.status, "attempt": d.attempt,
                 "note": outcome.note, "error": outcome.error}
        pipe = self.client.pipeline(transaction=True)
        if final:
            pipe.zadd(keys.notify_done(), {d.key: at})
            pipe.zrem(keys.notify_retry(), d.key)
            pipe.hdel(keys.notify_jobs(), d.key)
        else:
            delay = backoff(d.attempt, self.settings.notify_backoff, self.settings.notify_backoff_max)
            event["next"] = at + int(delay * 1000)
            pipe.hset(keys.notify_jobs(), d.key, self._job(d))
            pipe.zadd(keys.notify_retry(), {d.key: event["next"]})
        if outcome.status == "dead":
            deadletter.add_dead(pipe, key=d.key, reason=outcome.error or "", attempts=d.attempt, channel=d.channel,
                                recipient=d.recipient.id, notification=str(d.notification.get("key")),
                                job=self._job(d), at=at)
        await pipe.execute()
        told = self.client.pipeline(transaction=False)
        counters.add(told, OUTCOME_COUNTERS[outcome.status])
        dlog.add(told, dlog.subjects(d.notification, d.alerts), event, self._log_ttl(d.notification))
        await told.execute()
        if not final:
            self.wake.set()

    # ------------------------------------------------------------------------------------------ retries

    def _retrier(self, stop: asyncio.Event) -> Callable[[], Awaitable[bool]]:
        async def once() -> bool:
            self.wake.clear()
            claimed, nxt = await self.claim(keys=[keys.notify_retry(), keys.notify_jobs()],
                                            args=[now_ms(), self.lease_ms, 100])
            for i in range(0, len(claimed), 2):
                dkey, raw = claimed[i], claimed[i + 1]
                d = self._from_job(dkey, raw)
                if d is None:
                    await self.client.zrem(keys.notify_retry(), dkey)
                    continue
                self._spawn(self._attempt(d))
            wait = 1.0
            if nxt:
                wait = min(wait, max(0.0, (float(nxt) - now_ms()) / 1000))
            if claimed and len(claimed) >= 200:
                wait = 0
            await wait_event(self.wake, wait)
            return not stop.is_set()
        return once

    def _from_job(self, dkey: bytes, raw: bytes) -> Delivery | None:
        if not raw:
            return None
        job = orjson.loads(raw)
        who = self.people.recipient(job["recipient"])
        if who is None:
            return None
        return Delivery(dkey.decode(), job["notification"], job["alerts"], who, job["channel"],
                        int(job["attempt"]) + 1, job.get("address"))
