"""The incidents follower: reads the update stream (alerts, messages) and the audit log (silences) through consumer
groups and records in each open incident's timeline what concerns it, as it happens; the alert role's own path is
left as it was."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

import orjson
import redis.asyncio as aioredis

from situationroom import audit, keys, updates
from situationroom.aio import wait_event
from situationroom.catalog import Catalog
from situationroom.incidents import gather
from situationroom.incidents import store as incident_store
from situationroom.incidents.hazards import Hazards
from situationroom.incidents.store import Incident
from situationroom.outage import run_stream_reader

log = logging.getLogger(__name__)

CONSUMER = "incidents"
READ_COUNT = 2000
BLOCK_MS = 1000
PACE_S = 0.25
"""Least time from one read to the next while the streams are not behind. A timeline need not follow within
milliseconds; read batch by batch as entries came, the follower cost the alert role's process nearly as much CPU
as the alert evaluation itself under a heavy sample load, and slowed it."""



class Follower:
    """Each batch's timeline entries, what the incidents have now seen of each alert and which stream entries they
    came from go in one transaction (one slot, `{incidents}`); the batch is acknowledged after it (the streams are
    other slots). A restart neither loses an entry (unacknowledged ones are read again) nor records one twice (one
    read again that was recorded is skipped)."""

    def __init__(self, client: aioredis.Redis, catalog: Catalog, hazards: Hazards) -> None:
        self.client = client
        self.catalog = catalog
        self.hazards = hazards
        self.group = updates.Group(client, keys.INCIDENT_GROUP, CONSUMER)
        self._pending = {"updates": True, "audit": True}
        self.recorded = 0

    async def start(self) -> None:
        await self.group.create()
        await audit.create_group(self.client, keys.INCIDENT_GROUP)

    async def step(self, block: int | None = None) -> int:
        """Read and record one batch of each stream (waiting up to `block` ms for updates when the audit log has
        nothing new), then acknowledge it; how many entries the fuller of the two batches had (0: both empty)."""
        read = await self.record(block)
        if read is None:
            return 0
        await self.acknowledge(*read)
        return max(len(read[0]), len(read[1]))

    async def record(self, block: int | None = None) -> tuple[list[bytes], list[bytes]] | None:
        """The first part of a step: read a batch of each stream and record it; the ids read of each (to
        acknowledge), or None when both were empty."""
        again = self._pending["audit"] or self._pending["updates"]
        audit_ids, audit_entries = await self._read_audit()
        batch = await self._read_updates(None if audit_ids else block)
        if not batch.ids and not audit_ids:
            return None
        opened = [i for i in await incident_store.read_open(self.client) if i.hazard in self.hazards.by_id]
        seen = await incident_store.read_seen(self.client, [i.id for i in opened]) if opened else {}
        items = sorted([(audit.entry_order(u.id), f"u:{u.id}", u) for u in batch.updates
                        if u.kind is not updates.Kind.STATE]
                       + [(audit.entry_order(e["id"]), f"a:{e['id']}", e) for e in audit_entries], key=lambda x: x[0])
        if again and opened and items:
            # Read again after a restart: what was recorded before the crash is skipped.
            done = await incident_store.recorded(self.client, [source for _, source, _ in items])
            items = [x for x in items if x[1] not in done]
        entries: dict[str, list[dict[str, Any]]] = {}
        changed: dict[str, dict[str, str]] = {}
        sources: list[str] = []
        # Both streams' ids come from the one Redis clock: merged by id, the timeline keeps the order things happened.
        for _, source, item in items:
            before = sum(len(found) for found in entries.values())
            if isinstance(item, dict):
                if item["action"] == "silence.create":
                    self._silence(opened, item, entries)
            elif item.kind is updates.Kind.ALERT and item.data is not None:
                self._alert(opened, item.data, seen, entries, changed)
            elif item.kind is updates.Kind.MESSAGE:
                self._message(opened, orjson.loads(item.body), entries)
            if sum(len(found) for found in entries.values()) > before:
                sources.append(source)
        if entries or changed:
            pipe = self.client.pipeline(transaction=True)
            for incident_id, found in entries.items():
                incident_store.queue_entries(pipe, incident_id, found)
                self.recorded += len(found)
            for incident_id, digests in changed.items():
                incident_store.queue_seen(pipe, incident_id, digests)
            incident_store.queue_recorded(pipe, sources)
            await pipe.execute()
        return batch.ids, audit_ids

    async def acknowledge(self, update_ids: list[bytes], audit_ids: list[bytes]) -> None:
        """The second part of a step: acknowledge what `record` read (two streams, two slots)."""
        acks = self.client.pipeline(transaction=False)
        self.group.ack(acks, update_ids)
        audit.ack_group(acks, keys.INCIDENT_GROUP, audit_ids)
        await acks.execute()

    async def _read_updates(self, block: int | None) -> updates.Batch:
        # After a restart, first what this consumer read but did not get to record.
        if self._pending["updates"]:
            batch = await self.group.read(pending=True, count=READ_COUNT, block=None, states=False)
            if batch.ids:
                return batch
            self._pending["updates"] = False
        return await self.group.read(pending=False, count=READ_COUNT, block=block, states=False)

    async def _read_audit(self) -> tuple[list[bytes], list[dict[str, Any]]]:
        if self._pending["audit"]:
            found = await audit.read_group(self.client, keys.INCIDENT_GROUP, CONSUMER, pending=True,
                                           count=READ_COUNT, block=None)
            if found[0]:
                return found
            self._pending["audit"] = False
        return await audit.read_group(self.client, keys.INCIDENT_GROUP, CONSUMER, pending=False, count=READ_COUNT,
                                      block=None)

    def _alert(self, opened: list[Incident], alert: dict[str, Any], seen: dict[str, dict[str, str]],
               entries: dict[str, list[dict[str, Any]]], changed: dict[str, dict[str, str]]) -> None:
        fp = str(alert["fingerprint"])
        for inc in opened:
            if inc.exercise != bool(alert.get("exercise")):
                continue  # exercise incidents gather a drill's alerts, real ones real alerts
            if not gather.concerns_alert(self.hazards.by_id[inc.hazard], inc.area, self.catalog, alert):
                continue
            found, digest = gather.alert_entries(alert, seen.get(inc.id, {}).get(fp))
            if digest is None:
                continue
            seen.setdefault(inc.id, {})[fp] = digest
            changed.setdefault(inc.id, {})[fp] = digest
            entries.setdefault(inc.id, []).extend(found)

    def _message(self, opened: list[Incident], message: Mapping[str, Any],
                 entries: dict[str, list[dict[str, Any]]]) -> None:
        for inc in opened:
            if inc.exercise == bool(message.get("x")) and gather.concerns_message(
                    self.hazards.by_id[inc.hazard], inc.area, self.catalog, message):
                entries.setdefault(inc.id, []).append(gather.message_entry(message))

    def _silence(self, opened: list[Incident], entry: Mapping[str, Any],
                 entries: dict[str, list[dict[str, Any]]]) -> None:
        matchers = (entry.get("detail") or {}).get("matchers") or {}
        kinds = gather.silence_kinds(matchers)
        for inc in opened:
            if inc.exercise in kinds and gather.concerns_silence(self.hazards.by_id[inc.hazard], inc.area,
                                                                 self.catalog, matchers):
                entries.setdefault(inc.id, []).append(gather.silence_entry(entry))

    async def run(self, stop: asyncio.Event) -> None:
        """Follow until `stop`, through Redis outages and lost groups."""
        await self.start()

        async def once() -> bool:
            started = time.monotonic()
            if 0 < await self.step(BLOCK_MS) < READ_COUNT:  # a full batch: behind, so read on at once
                await wait_event(stop, PACE_S - (time.monotonic() - started))
            return True

        await run_stream_reader("incidents follower", once, stop, regroup=self.start, log=log)
