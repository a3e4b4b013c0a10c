"""The incident records in Redis, and the only code that reads or writes them: the incidents, the open index, each
incident's timeline and what it has seen of each alert (keys in keys.py, docs/incidents.md)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from situationroom import keys
from situationroom.clock import now_ms
from situationroom.errors import Refused

ENTRY = "e"
"""Field of a timeline entry: its JSON."""


@dataclass
class Incident:
    """One declaration of a situation level for a hazard and an area, open until its level ends."""

    id: str
    hazard: str
    area: str
    level: int
    exercise: bool
    opened: int
    """Epoch ms of the declaration."""
    opened_by: str
    reason: str
    drill: str | None = None
    """The drill that ran when it was declared (exercise incidents)."""
    state: str = "open"
    closed: int | None = None
    closed_by: str | None = None
    closed_reason: str | None = None
    updated: int = 0

    @property
    def open_key(self) -> str:
        return open_key(self.hazard, self.area, self.exercise)

    @property
    def is_open(self) -> bool:
        return self.state == "open"

    def encode(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def decode(cls, raw: bytes | str) -> Incident:
        data = orjson.loads(raw)
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})


def open_key(hazard: str, area: str, exercise: bool) -> str:
    # Real and exercise incidents never share a slot: a drill's declaration does not block a real one.
    return f"{hazard}|{area}|{'x' if exercise else 'r'}"


async def new_id(client: aioredis.Redis, hazard: str, at_ms: int, tz: ZoneInfo) -> str:
    """`<city date>-<hazard>-<n>`, n counting every incident the site declared: readable and never reused."""
    n = await client.incr(keys.incident_seq())
    return f"{datetime.fromtimestamp(at_ms / 1000, tz):%Y%m%d}-{hazard}-{n}"


async def open_incident(client: aioredis.Redis, incident: Incident, entries: Iterable[Mapping[str, Any]],
                        seen: Mapping[str, str]) -> Incident:
    """Record a new incident with its first timeline entries (the declaration, the alerts already firing) and what
    it has seen of them; 409 naming the open incident when the hazard and area already have one."""
    if not await client.hsetnx(keys.incidents_open(), incident.open_key, incident.id):
        current = await client.hget(keys.incidents_open(), incident.open_key)
        other = current.decode() if current else "?"
        raise Refused(409, f"{incident.hazard} in {incident.area} already has an open incident ({other}); raise, lower "
                           f"or end its level with POST /api/v1/incidents/{other}/level or /end", "hazard",
                      incident.hazard)
    incident.updated = incident.opened
    pipe = client.pipeline(transaction=True)
    pipe.hset(keys.incidents(), incident.id, incident.encode())
    queue_entries(pipe, incident.id, entries)
    queue_seen(pipe, incident.id, seen)
    await pipe.execute()
    return incident


async def change(client: aioredis.Redis, incident_id: str,
                 apply: Callable[[Incident], Mapping[str, Any]]) -> tuple[Incident, dict[str, Any]]:
    """Change an open incident with `apply` (which changes it in place and returns the timeline entry saying so, or
    raises Refused) and record both at once; a concurrent change makes it read and try again."""
    async with client.pipeline(transaction=True) as pipe:
        while True:
            try:
                await pipe.watch(keys.incidents())
                raw = await pipe.hget(keys.incidents(), incident_id)
                if raw is None:
                    raise Refused(404, "no such incident", "id", incident_id)
                incident = Incident.decode(raw)
                if not incident.is_open:
                    raise Refused(409, "the incident is closed; declare a new one", "id", incident_id)
                entry = dict(apply(incident))
                incident.updated = entry["at"]
                pipe.multi()
                pipe.hset(keys.incidents(), incident.id, incident.encode())
                queue_entries(pipe, incident.id, [entry])
                if not incident.is_open:
                    pipe.hdel(keys.incidents_open(), incident.open_key)
                await pipe.execute()
                return incident, entry
            except WatchError:
                continue


async def read(client: aioredis.Redis, incident_id: str) -> Incident | None:
    raw = await client.hget(keys.incidents(), incident_id)
    return Incident.decode(raw) if raw is not None else None


async def read_all(client: aioredis.Redis) -> list[Incident]:
    """Every incident, open and closed, newest first."""
    found = [Incident.decode(v) for v in (await client.hgetall(keys.incidents())).values()]
    return sorted(found, key=lambda i: i.opened, reverse=True)


async def read_open(client: aioredis.Redis) -> list[Incident]:
    """The open incidents (the open index names them)."""
    ids = list((await client.hgetall(keys.incidents_open())).values())
    if not ids:
        return []
    return [Incident.decode(raw) for raw in await client.hmget(keys.incidents(), ids) if raw is not None]


# -- the timeline --------------------------------------------------------------------------------------


def queue_entries(pipe: Pipeline, incident_id: str, entries: Iterable[Mapping[str, Any]]) -> None:
    """Queue timeline entries, in order, on the caller's pipeline."""
    for entry in entries:
        pipe.xadd(keys.incident_timeline(incident_id), {ENTRY: orjson.dumps(dict(entry))})


def queue_seen(pipe: Pipeline, incident_id: str, seen: Mapping[str, str]) -> None:
    """Queue what the timeline now says of each alert (fingerprint -> digest)."""
    if seen:
        pipe.hset(keys.incident_seen(incident_id), mapping=dict(seen))


RECORDED_KEEP_MS = 7 * 86400 * 1000
"""How long the follower remembers which stream entries it recorded (a follower down longer than this that had read
entries without acknowledging them could record one of them twice)."""


def queue_recorded(pipe: Pipeline, sources: Iterable[str]) -> None:
    """Queue the stream entries ("u:<id>", "a:<id>") the follower recorded something of, forgetting old ones."""
    found = list(sources)
    if found:
        now = now_ms()
        pipe.zadd(keys.incident_recorded(), dict.fromkeys(found, now))
        pipe.zremrangebyscore(keys.incident_recorded(), "-inf", f"({now - RECORDED_KEEP_MS}")


async def recorded(client: aioredis.Redis, sources: list[str]) -> set[str]:
    """Those of the stream entries that were already recorded."""
    if not sources:
        return set()
    scores = await client.zmscore(keys.incident_recorded(), sources)
    return {s for s, score in zip(sources, scores, strict=True) if score is not None}


async def read_seen(client: aioredis.Redis, incident_ids: Iterable[str]) -> dict[str, dict[str, str]]:
    """Per incident, what its timeline last said of each alert."""
    ids = list(incident_ids)
    pipe = client.pipeline(transaction=False)
    for i in ids:
        pipe.hgetall(keys.incident_seen(i))
    return {i: {k.decode(): v.decode() for k, v in raw.items()} for i, raw in zip(ids, await pipe.execute(),
                                                                                     strict=True)}


async def read_timeline(client: aioredis.Redis, incident_id: str) -> list[dict[str, Any]]:
    """The incident's timeline, oldest first; each entry with its `id` (the order it was recorded in)."""
    out = []
    for entry_id, fields in await client.xrange(keys.incident_timeline(incident_id)):
        entry = orjson.loads(fields[ENTRY.encode()])
        entry["id"] = entry_id.decode()
        out.append(entry)
    return out
