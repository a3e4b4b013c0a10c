"""The alert role: reads the update stream through a consumer group, runs the engine, writes state and notifications."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis

from situationroom import audit, updates
from situationroom import drill as drill_mod
from situationroom.aio import wait_event
from situationroom.alerts import inputs, store
from situationroom.alerts.changes import Changes
from situationroom.alerts.engine import Engine
from situationroom.alerts.lock import RoleLock
from situationroom.alerts.measure import Fetch
from situationroom.alerts.rules import RuleFiles
from situationroom.alerts.ruleset import RuleSet
from situationroom.catalog import Catalog
from situationroom.clock import now_ms
from situationroom.collectors import health
from situationroom.history.query import HistoryQuery
from situationroom.history.store import store_for
from situationroom.outage import run_stream_reader
from situationroom.settings import Settings

log = logging.getLogger(__name__)

READ_COUNT = 1000


class AlertRole:
    """Evaluates every update against the rules; state, notifications and the `a` updates are written with the
    acknowledgement of the updates they came from in ordered steps (`store.commit`), so a restart at any point
    neither sends a notification twice nor loses one, on one server or a Redis Cluster."""

    def __init__(self, client: aioredis.Redis, catalog: Catalog, settings: Settings, *,
                 owner: str | None = None, clock: Callable[[], int] | None = None,
                 history: HistoryQuery | None = None) -> None:
        self.client = client
        # Anomaly baselines are hours of past days: the history store has them (docs/alerts.md).
        self.baselines = inputs.BaselineReader(history or HistoryQuery(store_for(settings)))
        self.group = store.update_group(client)
        self.catalog = catalog
        self.settings = settings
        self.rule_files = RuleFiles(catalog, settings)
        # Real and exercise data are evaluated by engines of their own: they never share an alert, a
        # notification group or a down source (docs/exercise.md).
        self.engines = {x: Engine(catalog, RuleSet(), source_grace=settings.alert_source_grace, exercise=x)
                        for x in (False, True)}
        self.owner = owner or f"{store.CONSUMER}-{id(self):x}-{time.time():.0f}"
        self.lock = RoleLock(client, self.owner)
        self.clock = clock or now_ms
        """Wall-clock ms: min_interval, repeats, escalation, group waits and silences follow it."""
        self.processed = 0
        self.notifications = 0
        self._next_prune = 0.0
        self._acks: dict[str, dict[str, Any]] = {}
        self._silences: dict[str, dict[str, Any]] = {}
        self._handover_left = False

    @property
    def engine(self) -> Engine:
        """The engine of real data."""
        return self.engines[False]

    # -- start ----------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Load rules and state, catch up with what happened while no alert role ran."""
        self.rule_files.load()
        for engine in self.engines.values():
            engine.set_rules(self.rule_files.rules)
        await self.publish_rules()
        await self._ensure_group()
        alerts = await store.read_stored(self.client)
        outbox = await store.read_outbox(self.client)
        for x, engine in self.engines.items():
            engine.load({fp: a for fp, a in alerts.items() if a.exercise == x},
                        [i for i in outbox if i.group.startswith("exercise/") == x])
        await self._refresh_inputs()
        # A commit whose hand-over a crash cut off: its state is written, so finish it (which acknowledges its
        # entries) before the pending entries are looked at.
        await store.finish_handovers(self.client, group=self.group, updates_maxlen=self.settings.updates_maxlen)
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
        await self._evaluate(await inputs.live_states(self.client, list(self.catalog.indicators)), [])

    async def publish_rules(self) -> None:
        summaries = {rid: rule.summary() for rid, rule in self.rule_files.rules.rules.items()}
        await store.publish_rules(self.client, summaries, self.rule_files.errors())

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
            fetch = await self._fetch(engine, mine) if mine else Fetch()
            engine.evaluate(mine, now, fetch)
            if engine.about_to_notify(now):
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
        """What both engines changed, to be committed together."""
        real, exercise = (engine.take() for engine in self.engines.values())
        real.merge(exercise)
        return real

    async def _fetch(self, engine: Engine, states: list[dict[str, Any]]) -> Fetch:
        fetch = await inputs.fetch(self.client, self.baselines, engine.reads_for(states), engine.exercise)
        for key, base in fetch.baselines.items():
            engine.remember_baseline(key, base)
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
        self._acks, self._silences = await store.read_acks_and_silences(self.client)
        all_health = await health.read_all(self.client)
        running = await drill_mod.read_current(self.client)
        self.engines[True].drill_source = running.collector if running is not None else None
        for engine in self.engines.values():
            engine.set_inputs(self._acks, self._silences, all_health)

    async def _prune_silences(self, now: int) -> None:
        await store.prune_silences(self.client, self._silences, now / 1000, self.settings.alert_retention)
        alerts = {fp: a for engine in self.engines.values() for fp, a in engine.alerts.items()}
        await store.forget_acks(self.client, [fp for fp, ack in self._acks.items()
                                              if fp not in alerts or alerts[fp].episode != ack.get("episode")])

    async def commit(self, changes: Changes, ids: list[bytes]) -> None:
        """Write what changed, hand the notifications and the `a` updates over, and acknowledge the entries
        (`store.commit`: a crash part way is finished at the next start)."""
        if self._handover_left:
            # The last commit's state is written but Redis failed during its hand-over: finish it first, even
            # when nothing changed since (its notifications would otherwise wait for the next change).
            await store.finish_handovers(self.client, group=self.group, updates_maxlen=self.settings.updates_maxlen)
            self._handover_left = False
        if not changes and not ids:
            return
        try:
            await store.commit(self.client, changes, group=self.group, ids=ids,
                               updates_maxlen=self.settings.updates_maxlen)
        except Exception:
            self._handover_left = True
            raise
        self.notifications += len(changes.notifications)
        for n in changes.notifications:
            log.info("notification %s: %s, %d alert(s)", n["key"], n["kind"], len(n["alerts"]))

    # -- running --------------------------------------------------------------------------------------

    async def _lock(self, stop: asyncio.Event) -> bool:
        """Become the active alert role; wait as a standby while another one holds the lock."""
        waiting = False
        while not stop.is_set():
            if await self.lock.take():
                if waiting:
                    log.info("alert role %s took over", self.owner)
                return True
            if not waiting:
                log.info("another alert role is active; %s waits as a standby", self.owner)
                waiting = True
            await wait_event(stop, 1.0)
        return False

    async def run(self, stop: asyncio.Event) -> None:
        if not await self._lock(stop):
            return
        await self.start()
        log.info("alert role evaluating %d rules", len(self.rule_files.rules.rules))

        async def reloaded(rules: RuleSet) -> None:
            for engine in self.engines.values():
                engine.set_rules(rules)
            await self.publish_rules()
            log.info("alert rules reloaded: %d rules", len(rules.rules))
            await audit.record(self.client, "rules.reload", actor=audit.Actor.system("file watcher"), target="rules",
                               detail={"files": self.rule_files.changed_files, "rules": len(rules.rules),
                                       "valid": self.rule_files.error is None},
                               maxlen=self.settings.audit_maxlen)

        watcher = asyncio.create_task(self.rule_files.watch(reloaded, stop), name="alert-rules-watcher")
        tick = self.settings.alert_tick
        next_tick = 0.0

        async def once() -> bool:
            nonlocal next_tick
            now = time.monotonic()
            if now >= next_tick:
                if not await self.lock.keep():
                    # Run out with nobody taking over (Redis away longer than the lock, a failover): take it again
                    # and go on from what Redis holds, as at a start. Taken by another role: that one is active.
                    if not await self.lock.take():
                        log.error("alert role %s lost its lock; stopping evaluation", self.owner)
                        return False
                    log.warning("alert role %s took its lock again after it ran out", self.owner)
                    await self.start()
                await self.tick()
                next_tick = now + tick
            block = max(1, int(min(self.settings.block_ms, (next_tick - time.monotonic()) * 1000)))
            await self.step(block)
            return True

        async def regroup() -> None:
            await self._ensure_group()
            await self.evaluate_snapshot()

        try:
            # After an outage, start again from what Redis holds: a failover may have lost the last commits (their
            # notifications too), which the in-memory state would otherwise take as done.
            await run_stream_reader("alert role", once, stop, regroup=regroup, log=log, recover=self.start)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watcher
            await self.lock.release()

