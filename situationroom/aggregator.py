"""The aggregator: sample streams → live state, rolling windows, history, statuses and the update stream."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import defaultdict
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from situationroom import counters, keys, updates
from situationroom.catalog import Catalog
from situationroom.clock import now_ms
from situationroom.counters import Counter
from situationroom.group_reads import GroupReader
from situationroom.lua import Call, PipelinedScript, source
from situationroom.outage import run_stream_reader
from situationroom.sample_entries import MalformedEntry, entry_samples
from situationroom.samples import Rejection, Sample
from situationroom.settings import Settings
from situationroom.status import LEVEL_NAMES
from situationroom.streams import EntryBudget, StreamWriter, claim_idle, ensure_groups

log = logging.getLogger(__name__)

Entry = tuple[bytes, bytes, dict[bytes, bytes]]  # stream key, entry id, fields


@dataclass
class Applied:
    """What applying a batch did: states to publish, samples to dead-letter, counts."""

    changed: list[bytes] = field(default_factory=list)
    rejected: list[tuple[Rejection, object]] = field(default_factory=list)
    accepted: int = 0
    duplicates: int = 0
    samples: int = 0
    """Samples the entries carried (a malformed entry counts as one)."""


class Aggregator:
    """One consumer of the aggregators' group. Any number can run against one Redis.

    Entries are acknowledged only after the state they produce is written and published, so an
    aggregator that dies mid-batch loses nothing: its pending entries are reclaimed by another.
    """

    def __init__(self, client: aioredis.Redis, catalog: Catalog, settings: Settings,
                 consumer: str | None = None) -> None:
        self.client = client
        self.catalog = catalog
        self.settings = settings
        self.consumer = consumer or settings.consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.streams = keys.all_samples(settings.partitions)
        self.writer = StreamWriter(client, partitions=settings.partitions,
                                   retention=settings.stream_retention,
                                   deadletter_maxlen=settings.deadletter_maxlen,
                                   deadletter_max_bytes=settings.deadletter_max_bytes)
        self._apply = PipelinedScript(client, source("apply.lua"))
        self._mark_stale = PipelinedScript(client, source("mark_stale.lua"))
        self._restatus = PipelinedScript(client, source("restatus.lua"))
        self._thresholds: dict[tuple[str, str], tuple[str, ...]] = {}
        self._entries = EntryBudget(settings.batch_size)
        self._reader = GroupReader(client, keys.AGGREGATOR_GROUP, self.consumer)
        self.processed = 0

    def _threshold_args(self, indicator: str, entity: str) -> tuple[str, ...]:
        """direction, then the 관심, 주의, 경계 and 심각 thresholds ("" where not given) of one series."""
        cached = self._thresholds.get((indicator, entity))
        if cached is None:
            th = self.catalog.indicators[indicator].thresholds_for(entity)
            if th is None:
                cached = ("above", "", "", "", "")
            else:
                cached = (th.direction, *("" if (v := getattr(th, name)) is None else repr(v) for name in LEVEL_NAMES))
            self._thresholds[(indicator, entity)] = cached
        return cached

    async def process(self, entries: list[Entry], *, force: bool = False) -> int:
        """Apply a batch of stream entries, publish the changes, then acknowledge the entries; returns how many
        samples they carried.

        `force` (for re-delivered entries) republishes the state of every series touched, since
        the aggregator that first applied them may have died before publishing.
        """
        if not entries:
            return 0
        applied = await self.apply(entries, force=force)
        await self.publish_and_ack(entries, applied)
        return applied.samples

    async def apply(self, entries: list[Entry], *, force: bool = False) -> Applied:
        """Write the live state, windows and history of a batch (first half of `process`)."""
        # Per series: (event ms, value and interval as the script reads them, sample).
        # Real and exercise samples of an indicator go to separate series (and script calls).
        by_series: dict[tuple[str, bool], dict[str, list[tuple[int, bytes, bytes, Sample]]]] = defaultdict(
            lambda: defaultdict(list))
        out = Applied()
        for _stream, _id, fields in entries:
            try:
                samples = entry_samples(fields)
            except MalformedEntry as exc:
                raw = {k.decode(errors="replace"): v.decode(errors="replace") for k, v in fields.items()}
                out.rejected.append((Rejection("entry", str(exc), None), raw))
                out.samples += 1
                continue
            out.samples += len(samples)
            for ms, sample in samples:
                problem = self.catalog.check_sample(sample.indicator, sample.entity, sample.value)
                if problem is not None:
                    fld, reason = problem
                    out.rejected.append((Rejection(fld, reason, getattr(sample, fld)), _as_item(sample)))
                    continue
                by_series[(sample.indicator, sample.exercise)][sample.entity].append(
                    (ms, b"%r" % sample.value, b"" if sample.interval is None else b"%g" % sample.interval, sample))
        if not by_series:
            return out

        s = self.settings
        now = now_ms()
        calls: list[Call] = []
        for (indicator, exercise), entities in by_series.items():
            script_keys = [keys.live(indicator, exercise), keys.due(indicator, exercise)]
            args: list[str | int | float | bytes] = [
                indicator, int(s.late_limit * 1000), int(s.history_1m_retention),
                self.catalog.indicators[indicator].interval,
                "1" if force else "0", now, s.stale_grace, len(entities), "1" if exercise else "0",
            ]
            for entity, series in entities.items():
                script_keys += [keys.raw(indicator, entity, exercise), keys.history(indicator, entity, "1m", exercise),
                                keys.history(indicator, entity, "1s", exercise)]
                # Event-time order, so status changes inside one batch are seen as they happened.
                series.sort(key=lambda row: row[0])
                # One argument per series ("ms,value,interval;" each): packing the samples costs
                # far less than encoding three arguments per sample.
                packed = b"".join(b"%d,%s,%s;" % (ms, v, n) for ms, v, n, _ in series)
                # The newest sample's source goes into the live state (`s`): alerting needs to know whose
                # silence a stale series is.
                args += [entity, *self._threshold_args(indicator, entity), series[-1][3].source, packed]
            calls.append((script_keys, args))
        results = await self._apply.run(calls, raise_on_error=False)

        for ((indicator, _exercise), entities), result in zip(by_series.items(), results, strict=True):
            if isinstance(result, Exception):
                if _transient(result):
                    # Nothing is acknowledged: the entries stay pending and are retried.
                    raise result
                # A deterministic failure would fail forever; keep the samples with the reason.
                log.error("aggregating %s failed: %s", indicator, result)
                for series in entities.values():
                    for *_, smp in series:
                        out.rejected.append((Rejection("entry", f"aggregator script failed: {result}", None),
                                             _as_item(smp)))
                continue
            changed, late, n_ok, n_dup = result
            out.accepted += n_ok
            out.duplicates += n_dup
            out.changed.extend(changed)
            for entity, ts_ms, reason in late:
                ts = int(ts_ms) / 1000.0
                out.rejected.append((Rejection("ts", reason.decode(), ts),
                                     {"indicator": indicator, "entity": entity.decode(), "ts": ts}))
        return out

    async def publish_and_ack(self, entries: list[Entry], applied: Applied) -> None:
        """Publish the changed states, dead-letter the rejected samples, then acknowledge the entries."""
        s = self.settings
        if applied.rejected:
            await self.writer.reject(applied.rejected, source="aggregator")
        pipe = self.client.pipeline(transaction=False)
        for state in applied.changed:
            updates.add_state(pipe, state, s.updates_maxlen)
        by_stream: dict[bytes, list[bytes]] = defaultdict(list)
        for stream, entry_id, _ in entries:
            by_stream[stream].append(entry_id)
        # Queued after the XADDs: an entry is acknowledged only once its change is published.
        for stream, ids in by_stream.items():
            pipe.xack(stream, keys.AGGREGATOR_GROUP, *ids)
        if applied.accepted:
            counters.add(pipe, Counter.SAMPLES_AGGREGATED, applied.accepted)
        if applied.duplicates:
            counters.add(pipe, Counter.SAMPLES_DUPLICATE, applied.duplicates)
        if applied.changed:
            counters.add(pipe, Counter.UPDATES_PUBLISHED, len(applied.changed))
        await pipe.execute()
        self.processed += applied.samples

    async def _read(self, entry_id: str, block: int | None) -> list[Entry]:
        return (await self._read_counted(entry_id, block))[0]

    async def _read_counted(self, entry_id: str, block: int | None) -> tuple[list[Entry], int]:
        """Entries with their fields, and how many the reply held (trimmed ones are acknowledged)."""
        reply = await self._reader.read(dict.fromkeys(self.streams, entry_id), self._entries.count(), block)
        out: list[Entry] = []
        gone: dict[bytes, list[bytes]] = defaultdict(list)
        for stream, messages in reply or []:
            for entry_id_, fields in messages:
                if fields:
                    out.append((stream, entry_id_, fields))
                else:  # trimmed while pending: nothing left to apply
                    gone[stream].append(entry_id_)
        if gone:
            pipe = self.client.pipeline(transaction=False)
            for stream, ids in gone.items():
                pipe.xack(stream, keys.AGGREGATOR_GROUP, *ids)
            await pipe.execute()
        self._entries.saw(fields for _, _, fields in out)
        return out, len(out) + sum(len(ids) for ids in gone.values())

    async def step(self, block: int | None = None) -> int:
        """Read one batch of new entries (waiting up to `block` ms) and apply it; returns how many samples it held."""
        return await self.process(await self._read(">", block))

    async def recover_own(self) -> int:
        """Re-process entries delivered to this consumer name before a restart but not acknowledged."""
        total = 0
        while True:
            # Reading from 0 returns this consumer's pending entries; processing acknowledges them.
            entries, seen = await self._read_counted("0", None)
            if not seen:
                return total
            total += await self.process(entries, force=True)

    async def reclaim(self) -> int:
        """Take over entries another consumer left pending too long (it died mid-batch)."""
        total = 0
        idle_ms = int(self.settings.claim_idle * 1000)
        for stream in self.streams:
            async for taken in claim_idle(self.client, stream, keys.AGGREGATOR_GROUP, self.consumer, idle_ms,
                                          self._entries.count()):
                log.warning("reclaimed %d pending entries from %s", len(taken), stream)
                total += await self.process([(stream.encode(), i, f) for i, f in taken], force=True)
        return total

    async def restatus(self) -> int:
        """Judge every live state again against the catalog's thresholds (at start: a state written under
        other thresholds, or before the scale had 관심, 심각 and 기준 없음, is put right at once); returns
        how many changed, each published like any other change."""
        calls = []
        for ind in self.catalog.indicators:
            args: list[str | int] = [len(self.catalog.entities_of(ind))]
            for ent in self.catalog.entities_of(ind):
                args += [ent, *self._threshold_args(ind, ent)]
            calls += [([keys.live(ind, x)], args) for x in (False, True)]
        n = await self._publish_changed(await self._restatus.run(calls))
        if n:
            log.info("%d live states judged again against the catalog's thresholds", n)
        return n

    async def drop_retired(self) -> int:
        """Delete what earlier versions kept in Redis and this one no longer reads (the 1-hour bucket sets, now the
        history store's); returns how many keys went."""
        pipe = self.client.pipeline(transaction=False)
        for ind in self.catalog.indicators:
            for ent in self.catalog.entities_of(ind):
                for x in (False, True):
                    # DEL, not UNLINK: a cluster client's pipeline runs UNLINK at once instead of queuing it.
                    pipe.delete(keys.retired_hourly(ind, ent, x))
        n = sum(await pipe.execute())
        if n:
            log.info("deleted %d 1-hour bucket sets: hours and days come from the history store now", n)
        return n

    async def _publish_changed(self, results: list[list[bytes]]) -> int:
        """Publish the states a script changed (one list per call); returns how many."""
        pipe = self.client.pipeline(transaction=False)
        n = 0
        for changed in results:
            for state in changed:
                updates.add_state(pipe, state, self.settings.updates_maxlen)
                n += 1
        if n:
            counters.add(pipe, Counter.UPDATES_PUBLISHED, n)
            await pipe.execute()
        return n

    async def sweep_stale(self) -> int:
        """Mark series stale that missed their interval; one aggregator at a time does it."""
        got = await self.client.set(keys.stale_lock(), self.consumer, nx=True,
                                    px=max(500, int(self.settings.stale_check_every * 900)))
        if not got:
            return 0
        now = now_ms()
        results = await self._mark_stale.run([([keys.live(i, x), keys.due(i, x)], [now, self.settings.stale_grace])
                                              for i in self.catalog.indicators for x in (False, True)])
        return await self._publish_changed(results)

    async def run(self, stop: asyncio.Event) -> None:
        await ensure_groups(self.client, self.settings.partitions)
        await self.restatus()
        await self.drop_retired()
        recovered = await self.recover_own()
        if recovered:
            log.info("re-processed %d entries left pending by this consumer", recovered)
        log.info("aggregator %s consuming %d partitions", self.consumer, len(self.streams))
        next_claim = next_sweep = 0.0

        async def once() -> bool:
            nonlocal next_claim, next_sweep
            now = time.monotonic()
            if now >= next_claim:
                await self.reclaim()
                next_claim = now + self.settings.claim_idle / 2
            if now >= next_sweep:
                await self.sweep_stale()
                next_sweep = now + self.settings.stale_check_every
            block = int(min(self.settings.block_ms, self.settings.stale_check_every * 1000))
            await self.process(await self._read(">", block))
            return True

        try:
            await run_stream_reader("aggregator", once, stop, log=log, recover=self.recover_own,
                                    regroup=lambda: ensure_groups(self.client, self.settings.partitions))
        finally:
            await self._reader.close()

def _transient(exc: Exception) -> bool:
    """Errors that go away by themselves (memory, a busy or loading server, connections)."""
    if isinstance(exc, RedisConnectionError | RedisTimeoutError | OSError):
        return True
    text = str(exc)
    return text.startswith(("OOM", "BUSY", "LOADING", "MASTERDOWN", "READONLY", "TRYAGAIN", "CLUSTERDOWN"))


def _as_item(sample: Sample) -> dict:
    item: dict = {"indicator": sample.indicator, "entity": sample.entity, "ts": sample.ts, "value": sample.value}
    if sample.exercise:
        item["exercise"] = True
    return item
