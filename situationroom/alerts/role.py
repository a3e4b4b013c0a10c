"""The alert role: reads the update stream through a consumer group, runs the engine, writes state and notifications."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from situationroom import audit, counters, keys, updates
from situationroom import drill as drill_mod
from situationroom.aio import wait_event
from situationroom.alerts import silences as silences_mod
from situationroom.alerts import state as state_mod
from situationroom.alerts.engine import Changes, Engine, Fetch, Intent
from situationroom.alerts.rules import RuleSet, RuleStore
from situationroom.catalog import Catalog
from situationroom.collectors import health
from situationroom.counters import Counter
from situationroom.settings import Settings

log = logging.getLogger(__name__)

READ_COUNT = 1000
NOTIFY_MAXLEN = 100_000
"""Entries kept in the notifications stream (the notify role acknowledges them long before)."""
LOCK_MS = 10_000
CONSUMER = "alert"
"""One active alert role at a time (the lock), so its consumer name is fixed: a restart finds its own
pending entries under it."""

_REFRESH = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


class AlertRole:
    """Evaluates every update against the rules; state, notifications and the `a` updates are written in one
    transaction together with the acknowledgement of the updates they came from, so a restart at any point
    neither sends a notification twice nor loses one."""

    def __init__(self, client: aioredis.Redis, catalog: Catalog, settings: Settings, *,
                 owner: str | None = None, clock: Callable[[], int] | None = None) -> None:
        self.client = client
        self.group = updates.Group(client, keys.ALERT_GROUP, CONSUMER)
        self.catalog = catalog
        self.settings = settings
        self.store = RuleStore(catalog, settings)
        # Real and exercise data are evaluated by engines of their own: they never share an alert, a
        # notification group or a down source (docs/exercise.md).
        self.engines = {x: Engine(catalog, RuleSet(), source_grace=settings.alert_source_grace, exercise=x)
                        for x in (False, True)}
        self.owner = owner or f"{CONSUMER}-{id(self):x}-{time.time():.0f}"
        self._refresh = client.register_script(_REFRESH)
        self.clock = clock or state_mod.now_ms
        """Wall-clock ms: min_interval, repeats, escalation, group waits and silences follow it."""
        self.processed = 0
        self.notifications = 0
        self._next_prune = 0.0

    @property
    def engine(self) -> Engine:
        """The engine of real data."""
        return self.engines[False]

    # -- start ----------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Load rules and state, catch up with what happened while no alert role ran."""
        self.store.load()
        for engine in self.engines.values():
            engine.set_rules(self.store.rules)
        await self.publish_rules()
        await self._ensure_group()
        alerts = await state_mod.load_all(self.client)
        outbox = [Intent.decode(orjson.loads(v)) for v in (await self.client.hgetall(keys.alert_outbox())).values()]
        for x, engine in self.engines.items():
            engine.load({fp: a for fp, a in alerts.items() if a.exercise == x},
                        [i for i in outbox if i.group.startswith("exercise/") == x])
        await self._refresh_inputs()
        # Entries read before a restart but not acknowledged: nothing of them was written, so do them again.
        while await self.step(pending=True):
            pass
        while await self.step(block=None):
            pass
        await self.evaluate_snapshot()

    async def _ensure_group(self) -> None:
        # From now on: the snapshot of the live state at start covers everything before.
        await self.group.create()

    async def evaluate_snapshot(self) -> None:
        """Evaluate the current live state of every series (at start, and after the update stream was cut)."""
        indicators = list(self.catalog.indicators)
        pipe = self.client.pipeline(transaction=False)
        for ind in indicators:
            for x in (False, True):
                pipe.hgetall(keys.live(ind, x))
        states: list[dict[str, Any]] = []
        for raw in await pipe.execute():
            states.extend(orjson.loads(v) for v in raw.values())
        await self._evaluate(states, [])

    async def publish_rules(self) -> None:
        rules = self.store.rules
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(keys.alert_rules())
        mapping = {rid: orjson.dumps(rule.summary()) for rid, rule in rules.rules.items()}
        mapping["_errors"] = orjson.dumps(self.store.errors())
        pipe.hset(keys.alert_rules(), mapping=mapping)
        await pipe.execute()

    # -- one step -------------------------------------------------------------------------------------

    async def step(self, block: int | None = None, *, pending: bool = False) -> int:
        """Read one batch of updates (own pending ones with `pending`), evaluate it and commit; returns how
        many entries were read."""
        batch = await self.group.read(pending=pending, count=READ_COUNT, block=block)
        if not batch.ids:
            return 0
        # Messages and announcements (our own alert changes among them) pass; only states are evaluated.
        states = [u.data for u in batch.updates if u.kind is updates.Kind.STATE and u.data is not None]
        await self._evaluate(states, batch.ids)
        self.processed += len(batch.ids)
        return len(batch.ids)

    async def _evaluate(self, states: list[dict[str, Any]], ids: list[bytes]) -> None:
        by_mode: dict[bool, list[dict[str, Any]]] = {False: [], True: []}
        for d in states:
            by_mode[bool(d.get("x"))].append(d)
        now = self.clock()
        refreshed = False
        for x, engine in self.engines.items():
            mine = by_mode[x]
            fetch = await self._fetch(engine, engine.plan(mine)) if mine else Fetch()
            engine.evaluate(mine, now, fetch)
            if engine.changes.notifications or any(i.due <= now for i in engine.outbox.values()):
                # About to notify: make sure a silence or acknowledgement made a moment ago is honoured.
                if not refreshed:
                    await self._refresh_inputs()
                    refreshed = True
                for a in list(engine.changes.alerts.values()):
                    if a.active:
                        engine.refresh_suppression(a, now)
            engine.flush(now)
        await self.commit(self._take(), ids)

    def _take(self) -> Changes:
        """What both engines changed, to be written in one transaction."""
        real, exercise = (engine.take() for engine in self.engines.values())
        real.alerts.update(exercise.alerts)
        real.quiet.update(exercise.quiet)
        real.history.extend(exercise.history)
        real.notifications.extend(exercise.notifications)
        real.outbox_set.update(exercise.outbox_set)
        real.outbox_del |= exercise.outbox_del
        real.removed |= exercise.removed
        return real

    async def _fetch(self, engine: Engine, plan: list[tuple[str, tuple[Any, ...]]]) -> Fetch:
        fetch = Fetch()
        if not plan:
            return fetch
        x = engine.exercise
        pipe = self.client.pipeline(transaction=False)
        for kind, key in plan:
            if kind == "rate":
                ind, ent, t, window = key
                pipe.zrangebyscore(keys.raw(ind, ent, x), f"({t - int(window * 1000)}", t, start=0, num=1)
            else:
                ind, ent, hour, days = key
                pipe.zrangebyscore(keys.history(ind, ent, "1h", x), (hour - days * 24) * 3600, (hour - 1) * 3600)
        for (kind, key), result in zip(plan, await pipe.execute(), strict=True):
            if kind == "rate":
                if result:
                    ms, value = result[0].decode().split(":", 1)
                    fetch.rate_first[key] = (int(ms), float(value))  # type: ignore[index]
                else:
                    fetch.rate_first[key] = None  # type: ignore[index]
            else:
                base = _baseline(result, key[2])
                fetch.baselines[key] = base  # type: ignore[index]
                engine.remember_baseline(key, base)  # type: ignore[arg-type]
        return fetch

    async def tick(self) -> None:
        await self._refresh_inputs()
        now = self.clock()
        for engine in self.engines.values():
            engine.tick(now)
        if time.monotonic() >= self._next_prune:
            self._next_prune = time.monotonic() + 60
            for engine in self.engines.values():
                engine.prune(now, self.settings.alert_retention)
            await self._prune_silences(now)
        await self.commit(self._take(), [])

    async def _refresh_inputs(self) -> None:
        """Acknowledgements and silences (written by the API) and collector health."""
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(keys.alert_acks())
        pipe.hgetall(keys.silences())
        acks, sil = await pipe.execute()
        all_health = await health.read_all(self.client)
        running = await drill_mod.read_current(self.client)
        self.engines[True].drill_source = running.collector if running is not None else None
        for engine in self.engines.values():
            engine.acks = {k.decode(): orjson.loads(v) for k, v in acks.items()}
            engine.silences = {k.decode(): orjson.loads(v) for k, v in sil.items()}
            engine.health = all_health

    async def _prune_silences(self, now: int) -> None:
        old = silences_mod.prune(self.engine.silences, now / 1000, self.settings.alert_retention)
        if old:
            await self.client.hdel(keys.silences(), *old)
        alerts = {fp: a for engine in self.engines.values() for fp, a in engine.alerts.items()}
        gone = [fp for fp, ack in self.engine.acks.items()
                if fp not in alerts or alerts[fp].episode != ack.get("episode")]
        if gone:
            await self.client.hdel(keys.alert_acks(), *gone)

    async def commit(self, changes: Changes, ids: list[bytes]) -> None:
        """Write what changed, the notifications and the `a` updates, and acknowledge the entries: all or nothing."""
        if not changes and not ids:
            return
        s = self.settings
        pipe = self.client.pipeline(transaction=True)
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
            pipe.ltrim(keys.alert_history(fp), 0, state_mod.HISTORY - 1)
        if changes.outbox_set:
            pipe.hset(keys.alert_outbox(), mapping={i: orjson.dumps(x.encode()) for i, x in changes.outbox_set.items()})
        if changes.outbox_del:
            pipe.hdel(keys.alert_outbox(), *changes.outbox_del)
        for n in changes.notifications:
            pipe.xadd(keys.notifications(), {"n": orjson.dumps(n)}, maxlen=NOTIFY_MAXLEN, approximate=True)
        for a in changes.alerts.values():
            updates.add_alert(pipe, a.public(), s.updates_maxlen)
        self.group.ack(pipe, ids)
        if changes.notifications:
            counters.add(pipe, Counter.ALERT_NOTIFICATIONS, len(changes.notifications))
        await pipe.execute()
        self.notifications += len(changes.notifications)
        for n in changes.notifications:
            log.info("notification %s: %s, %d alert(s)", n["key"], n["kind"], len(n["alerts"]))

    # -- running --------------------------------------------------------------------------------------

    async def _lock(self, stop: asyncio.Event) -> bool:
        """Become the active alert role; wait as a standby while another one holds the lock."""
        waiting = False
        while not stop.is_set():
            if await self.client.set(keys.alert_lock(), self.owner, nx=True, px=LOCK_MS):
                if waiting:
                    log.info("alert role %s took over", self.owner)
                return True
            if not waiting:
                log.info("another alert role is active; %s waits as a standby", self.owner)
                waiting = True
            await wait_event(stop, 1.0)
        return False

    async def _keep_lock(self) -> bool:
        return bool(await self._refresh(keys=[keys.alert_lock()], args=[self.owner, LOCK_MS]))

    async def _release(self) -> None:
        with contextlib.suppress(Exception):
            if await self.client.get(keys.alert_lock()) == self.owner.encode():
                await self.client.delete(keys.alert_lock())

    async def run(self, stop: asyncio.Event) -> None:
        if not await self._lock(stop):
            return
        await self.start()
        log.info("alert role evaluating %d rules", len(self.store.rules.rules))

        async def reloaded(rules: RuleSet) -> None:
            for engine in self.engines.values():
                engine.set_rules(rules)
            await self.publish_rules()
            log.info("alert rules reloaded: %d rules", len(rules.rules))
            await audit.record(self.client, "rules.reload", actor=audit.Actor.system("file watcher"), target="rules",
                               detail={"files": self.store.changed_files, "rules": len(rules.rules),
                                       "valid": self.store.error is None},
                               maxlen=self.settings.audit_maxlen)

        watcher = asyncio.create_task(self.store.watch(reloaded, stop), name="alert-rules-watcher")
        tick = self.settings.alert_tick
        next_tick = 0.0
        failing = False
        try:
            while not stop.is_set():
                try:
                    now = time.monotonic()
                    if now >= next_tick:
                        if not await self._keep_lock():
                            log.error("alert role %s lost its lock; stopping evaluation", self.owner)
                            return
                        await self.tick()
                        next_tick = now + tick
                    block = max(1, int(min(self.settings.block_ms, (next_tick - time.monotonic()) * 1000)))
                    await self.step(block)
                    if failing:
                        log.info("alert role recovered")
                        failing = False
                except ResponseError as exc:
                    if "NOGROUP" in str(exc) or "UNBLOCKED" in str(exc):
                        await self._ensure_group()
                        await self.evaluate_snapshot()
                        continue
                    if not failing:
                        log.error("alert role: Redis refused a command: %s; retrying", exc)
                        failing = True
                    await asyncio.sleep(1)
                except (OSError, RedisConnectionError, RedisTimeoutError) as exc:
                    if not failing:
                        log.error("alert role lost Redis: %s; retrying", exc)
                        failing = True
                    await asyncio.sleep(1)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watcher
            await self._release()


def _baseline(members: list[bytes], hour: int) -> tuple[float, float, int] | None:
    """Mean and spread of the hourly means at the same hour of day in the history read."""
    means = []
    for m in members:
        b, count, total, _mn, _mx = m.decode().split(":")
        start, n = int(float(b)), int(count)
        if n and (start // 3600) % 24 == hour % 24:
            means.append(float(total) / n)
    if not means:
        return None
    mean = sum(means) / len(means)
    spread = (sum((x - mean) ** 2 for x in means) / len(means)) ** 0.5
    return mean, spread, len(means)
