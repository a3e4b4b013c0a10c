"""The history role: every sample stream entry, through the historians' consumer group, into Parquet files.

At least once: entries are acknowledged only after the files holding them are in place, and a restarted role reads
what it (or a dead one) left pending again. Rows written twice that way are removed at read and at compaction
(docs/history.md), so a kill -9 at any moment neither loses nor doubles a sample in query results."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import redis.asyncio as aioredis

from situationroom import aio, keys
from situationroom.catalog import Catalog
from situationroom.group_reads import GroupReader
from situationroom.history import compact, retention, rollups, status
from situationroom.history.buffer import Buffer
from situationroom.history.store import HistoryStore, store_for
from situationroom.outage import RETRY, Outage, run_stream_reader
from situationroom.settings import Settings
from situationroom.streams import EntryBudget, claim_idle, ensure_groups

log = logging.getLogger(__name__)

WRITERS = min(4, os.cpu_count() or 1)
"""Files of a flush written at once."""


class HistorySink:
    """One consumer of the historians' group; several can run (each entry goes to one of them)."""

    def __init__(self, client: aioredis.Redis, catalog: Catalog, settings: Settings, *,
                 store: HistoryStore | None = None, consumer: str | None = None) -> None:
        self.client = client
        self.settings = settings
        self.store = store or store_for(settings)
        self.consumer = consumer or settings.consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.streams = keys.all_samples(settings.partitions)
        self.buffer = Buffer(catalog)
        # A read of up to a flush's worth of samples (at most 100,000: a reply of a few MB), however many entries
        # carry them.
        self._entries = EntryBudget(min(settings.history_flush_rows, 100_000))
        self._reader = GroupReader(client, keys.HISTORY_GROUP, self.consumer)
        self.retention = retention.load_retention(settings.seeds, catalog)
        self._unacked: dict[bytes, list[bytes]] = {}
        """Entries whose files are written but whose XACK has not gone through yet (Redis was lost meanwhile)."""
        self.files_written = 0
        self.rows_written = 0
        self._disk = Outage(log, "history: writing files again")

    # ------------------------------------------------------------------ reading

    async def read(self, entry_id: str = ">", block: int | None = None,
                   after: dict[str, str] | None = None) -> int:
        """Read one batch into the buffer (new entries, or with `after` this consumer's pending ones after those
        ids); returns how many entries the reply held."""
        streams = after if after is not None else dict.fromkeys(self.streams, entry_id)
        reply = await self._reader.read(streams, self._entries.count(), block)
        seen = 0
        for stream, messages in reply or []:
            self._entries.saw(fields for _, fields in messages if fields)
            for entry_id_, fields in messages:
                seen += 1
                if after is not None:
                    after[stream.decode()] = entry_id_.decode()
                # An entry trimmed while pending comes back empty: nothing to store, acknowledged with the rest.
                self.buffer.add(stream, entry_id_, fields or {})
        return seen

    async def recover_own(self) -> int:
        """Buffer again the entries read under this consumer's name before a restart and never acknowledged."""
        after = dict.fromkeys(self.streams, "0")
        total = 0
        while n := await self.read(after=after):
            total += n
            if self.buffer.rows >= self.settings.history_flush_rows:
                await self.flush()
        return total

    async def reclaim(self) -> int:
        """Take over the entries another historian left pending longer than `claim_idle` (it died)."""
        total = 0
        idle_ms = int(self.settings.claim_idle * 1000)
        for stream in self.streams:
            async for taken in claim_idle(self.client, stream, keys.HISTORY_GROUP, self.consumer, idle_ms,
                                          self._entries.count()):
                for entry_id, fields in taken:
                    if not self.buffer.holds(stream.encode(), entry_id):
                        self.buffer.add(stream.encode(), entry_id, fields)
                        total += 1
                if self.buffer.rows >= self.settings.history_flush_rows:
                    await self.flush()
        if total:
            log.warning("history: took over %d entries another historian left pending", total)
        return total

    # ------------------------------------------------------------------ writing

    def due(self) -> bool:
        """Whether the buffer should be written now: full enough, or its oldest entry old enough."""
        return len(self.buffer) > 0 and (self.buffer.rows >= self.settings.history_flush_rows
                                         or self.buffer.age() >= self.settings.history_flush_every)

    async def flush(self) -> int:
        """Write the buffer's files, then acknowledge its entries; returns the rows written. OSError when the files
        cannot be written: the buffer is kept and nothing is acknowledged."""
        rows = await self._write_buffer()
        await self._ack_unacked()
        return rows

    async def _write_buffer(self) -> int:
        if not len(self.buffer):
            return 0
        await self._ack_unacked()  # a batch written earlier first: `_unacked` holds one batch at a time
        # Making the files' tables and writing them are CPU and disk work: off the event loop the web role shares
        # in `up` (the role reads nothing more meanwhile, so the buffer stays as it is).
        files = await asyncio.to_thread(self.buffer.files)
        rows = sum(f.table.num_rows for f in files)

        def write() -> None:
            # Files of one flush are independent, and writing one (encoding, zstd, fsync) mostly runs outside the
            # GIL: side by side they take the cores there are.
            with ThreadPoolExecutor(max_workers=WRITERS) as pool:
                # list(): waits for every file, and raises the first error.
                list(pool.map(lambda f: self.store.write(f.partition, f.name, f.table), files))

        await asyncio.to_thread(write)
        self.files_written += len(files)
        self.rows_written += rows
        self._unacked = dict(self.buffer.entries)
        self.buffer.clear()
        return rows

    async def _ack_unacked(self) -> None:
        if not self._unacked:
            return
        pipe = self.client.pipeline(transaction=False)
        for stream, ids in self._unacked.items():
            for start in range(0, len(ids), 10_000):
                pipe.xack(stream, keys.HISTORY_GROUP, *ids[start:start + 10_000])
        await pipe.execute()
        self._unacked = {}
        await status.record_flush(self.client)

    async def flush_writing(self, stop: asyncio.Event) -> bool:
        """Flush, saying once that files cannot be written (a full or read-only disk) and once that they can
        again; returns whether the buffer was written. Redis errors go to the caller (the stream reader's loop)."""
        try:
            await self._write_buffer()
        except OSError as exc:
            self._disk.failed("history cannot write files under %s: %s; retrying", self.store.url, exc)
            await aio.wait_event(stop, RETRY)
            return False
        self._disk.reached()
        await self._ack_unacked()
        return True

    # ------------------------------------------------------------------ the role

    async def maintain(self) -> int:
        """Off the event loop: merge the closed hours and days (compact.py), roll up the closed periods
        (rollups.py), then drop the days past their retention (retention.py); returns the files merged away."""
        def work() -> int:
            quiet = self.settings.history_compact_after
            merged = compact.compact_closed(self.store, quiet)
            rollups.roll_closed(self.store, quiet)
            retention.enforce(self.store, self.retention, time.time())
            return merged

        return await asyncio.to_thread(work)

    async def run(self, stop: asyncio.Event) -> None:
        async def regroup() -> None:
            await ensure_groups(self.client, self.settings.partitions, keys.HISTORY_GROUP)

        await regroup()
        recovered = await self.recover_own()
        if recovered:
            log.info("history: reading again %d entries left pending by this consumer", recovered)
        log.info("history %s writing %s from %d partitions", self.consumer, self.store.url, len(self.streams))
        timers: dict[str, float] = defaultdict(float)
        compacting: asyncio.Task[int] | None = None

        async def once() -> bool:
            nonlocal compacting
            now = time.monotonic()
            if now >= timers["claim"]:
                await self.reclaim()
                timers["claim"] = now + self.settings.claim_idle / 2
            if compacting is not None and compacting.done():
                exc = compacting.exception()
                if exc is not None:
                    log.error("history: compaction or retention failed: %s", exc)
                compacting = None
            if compacting is None and now >= timers["compact"]:
                compacting = asyncio.create_task(self.maintain())
                timers["compact"] = now + max(10.0, self.settings.history_compact_after / 5)
            if self.due() and not await self.flush_writing(stop):
                return True
            if self.buffer.rows < self.settings.history_flush_rows:
                wait = self.settings.history_flush_every - self.buffer.age() if len(self.buffer) else 1e9
                block = max(1, int(min(self.settings.block_ms, wait * 1000)))
                await self.read(">", block)
            return True

        try:
            await run_stream_reader("history", once, stop, log=log, regroup=regroup)
        finally:
            await self._reader.close()
            if compacting is not None:
                await asyncio.gather(compacting, return_exceptions=True)
            # What is buffered is written on a clean stop; were this to fail, the entries stay pending for the next
            # start.
            try:
                await self.flush()
            except Exception as exc:  # stopping: the next start reads them again
                log.warning("history: %d entries left for the next start: %s", len(self.buffer), exc)

