"""The aggregator: sample streams → live state, rolling windows, history, statuses and the update stream."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import defaultdict
from importlib import resources

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from situationroom import keys
from situationroom.catalog import Catalog
from situationroom.samples import Rejection, Sample
from situationroom.settings import Settings
from situationroom.streams import StreamWriter, decode, ensure_groups

log = logging.getLogger(__name__)

Entry = tuple[bytes, bytes, dict[bytes, bytes]]  # stream key, entry id, fields


def _script(name: str) -> str:
    return resources.files("situationroom.lua").joinpath(name).read_text(encoding="utf-8")


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
                                   deadletter_maxlen=settings.deadletter_maxlen)
        self._apply = client.register_script(_script("apply.lua"))
        self._mark_stale = client.register_script(_script("mark_stale.lua"))
        self._thresholds: dict[tuple[str, str], tuple[str, str, str]] = {}
        self.processed = 0

    def _threshold_args(self, indicator: str, entity: str) -> tuple[str, str, str]:
        cached = self._thresholds.get((indicator, entity))
        if cached is None:
            th = self.catalog.indicators[indicator].thresholds_for(entity)
            cached = ("above", "", "") if th is None else (
                th.direction,
                "" if th.warning is None else repr(th.warning),
                "" if th.critical is None else repr(th.critical),
            )
            self._thresholds[(indicator, entity)] = cached
        return cached

    async def process(self, entries: list[Entry], *, force: bool = False) -> int:
        """Apply a batch of stream entries, publish the changes, then acknowledge the entries."""
        if not entries:
            return 0
        by_series: dict[str, dict[str, list[Sample]]] = defaultdict(lambda: defaultdict(list))
        rejected: list[tuple[Rejection, object]] = []
        for _stream, _id, fields in entries:
            try:
                sample = decode(fields)
            except (KeyError, ValueError) as exc:
                raw = {k.decode(errors="replace"): v.decode(errors="replace") for k, v in fields.items()}
                rejected.append((Rejection("entry", f"malformed stream entry: {exc!r}", None), raw))
                continue
            problem = self.catalog.check_sample(sample.indicator, sample.entity, sample.value)
            if problem is not None:
                fld, reason = problem
                rejected.append((Rejection(fld, reason, getattr(sample, fld)), _as_item(sample)))
                continue
            by_series[sample.indicator][sample.entity].append(sample)

        pipe = self.client.pipeline(transaction=False)
        s = self.settings
        for indicator, entities in by_series.items():
            script_keys = [keys.live(indicator)]
            args: list[str | int | float] = [
                indicator, int(s.late_limit * 1000), int(s.history_1m_retention),
                int(s.history_1h_retention), self.catalog.indicators[indicator].interval,
                "1" if force else "0", len(entities),
            ]
            for entity, samples in entities.items():
                script_keys += [keys.raw(indicator, entity), keys.history(indicator, entity, "1m"),
                                keys.history(indicator, entity, "1h")]
                args += [entity, *self._threshold_args(indicator, entity), len(samples)]
                for smp in samples:
                    args += [round(smp.ts * 1000), repr(smp.value),
                             "" if smp.interval is None else repr(smp.interval)]
            self._apply(keys=script_keys, args=args, client=pipe)
        results = await pipe.execute() if by_series else []

        pipe = self.client.pipeline(transaction=False)
        accepted = dups = published = 0
        for (indicator, _), (changed, late, n_ok, n_dup) in zip(by_series.items(), results, strict=True):
            accepted += n_ok
            dups += n_dup
            for state in changed:
                pipe.xadd(keys.updates(), {"d": state}, maxlen=s.updates_maxlen, approximate=True)
                published += 1
            for entity, ts_ms, reason in late:
                ts = int(ts_ms) / 1000.0
                rejected.append((Rejection("ts", reason.decode(), ts),
                                 {"indicator": indicator, "entity": entity.decode(), "ts": ts}))
        if rejected:
            await self.writer.reject(rejected, source="aggregator")
        by_stream: dict[bytes, list[bytes]] = defaultdict(list)
        for stream, entry_id, _ in entries:
            by_stream[stream].append(entry_id)
        for stream, ids in by_stream.items():
            pipe.xack(stream, keys.AGGREGATOR_GROUP, *ids)
        pipe.hincrby(keys.counters(), "samples_aggregated", accepted)
        if dups:
            pipe.hincrby(keys.counters(), "samples_duplicate", dups)
        if published:
            pipe.hincrby(keys.counters(), "updates_published", published)
        await pipe.execute()
        self.processed += len(entries)
        return len(entries)

    async def _read(self, entry_id: str, block: int | None) -> list[Entry]:
        streams = dict.fromkeys(self.streams, entry_id)
        reply = await self.client.xreadgroup(keys.AGGREGATOR_GROUP, self.consumer, streams,
                                             count=self.settings.batch_size, block=block)
        out: list[Entry] = []
        for stream, messages in reply or []:
            for entry_id_, fields in messages:
                if fields:  # an entry trimmed while pending comes back with no fields
                    out.append((stream, entry_id_, fields))
                else:
                    await self.client.xack(stream, keys.AGGREGATOR_GROUP, entry_id_)
        return out

    async def recover_own(self) -> int:
        """Re-process entries delivered to this consumer name before a restart but not acknowledged."""
        total = 0
        while entries := await self._read("0", None):
            total += await self.process(entries, force=True)
        return total

    async def reclaim(self) -> int:
        """Take over entries another consumer left pending too long (it died mid-batch)."""
        total = 0
        idle_ms = int(self.settings.claim_idle * 1000)
        for stream in self.streams:
            start = "0-0"
            while True:
                reply = await self.client.xautoclaim(stream, keys.AGGREGATOR_GROUP, self.consumer,
                                                     idle_ms, start_id=start,
                                                     count=self.settings.batch_size)
                # Redis 6.2 answers [next, entries]; 7+ adds the deleted ids: never rely on the length.
                start, messages = reply[0], reply[1]
                entries = [(stream.encode(), i, f) for i, f in messages if f]
                if entries:
                    log.warning("reclaimed %d pending entries from %s", len(entries), stream)
                    total += await self.process(entries, force=True)
                if start in (b"0-0", "0-0"):
                    break
        return total

    async def sweep_stale(self) -> int:
        """Mark series stale that missed their interval; one aggregator at a time does it."""
        got = await self.client.set(keys.stale_lock(), self.consumer, nx=True,
                                    px=max(500, int(self.settings.stale_check_every * 900)))
        if not got:
            return 0
        pipe = self.client.pipeline(transaction=False)
        now_ms = int(time.time() * 1000)
        for indicator in self.catalog.indicators:
            self._mark_stale(keys=[keys.live(indicator)], args=[now_ms, self.settings.stale_grace],
                             client=pipe)
        results = await pipe.execute()
        pipe = self.client.pipeline(transaction=False)
        n = 0
        for changed in results:
            for state in changed:
                pipe.xadd(keys.updates(), {"d": state}, maxlen=self.settings.updates_maxlen,
                          approximate=True)
                n += 1
        if n:
            pipe.hincrby(keys.counters(), "updates_published", n)
            await pipe.execute()
        return n

    async def run(self, stop: asyncio.Event) -> None:
        await ensure_groups(self.client, self.settings.partitions)
        recovered = await self.recover_own()
        if recovered:
            log.info("re-processed %d entries left pending by this consumer", recovered)
        log.info("aggregator %s consuming %d partitions", self.consumer, len(self.streams))
        next_claim = 0.0
        next_sweep = 0.0
        failing = False
        while not stop.is_set():
            try:
                now = time.monotonic()
                if now >= next_claim:
                    await self.reclaim()
                    next_claim = now + self.settings.claim_idle / 2
                if now >= next_sweep:
                    await self.sweep_stale()
                    next_sweep = now + self.settings.stale_check_every
                block = int(min(self.settings.block_ms, self.settings.stale_check_every * 1000))
                entries = await self._read(">", block)
                await self.process(entries)
                if failing:
                    log.info("aggregator recovered")
                    failing = False
            except ResponseError as exc:
                if "NOGROUP" in str(exc):
                    await ensure_groups(self.client, self.settings.partitions)
                    continue
                raise
            except (ConnectionError, OSError, aioredis.ConnectionError, aioredis.TimeoutError) as exc:
                if not failing:
                    log.error("aggregator lost Redis: %s; retrying", exc)
                    failing = True
                await asyncio.sleep(1)


def _as_item(sample: Sample) -> dict:
    return {"indicator": sample.indicator, "entity": sample.entity, "ts": sample.ts, "value": sample.value}
