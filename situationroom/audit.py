"""The audit log: who changed what, when and from where; append-only, capped, in one Redis stream (docs/access.md)."""

from __future__ import annotations

import csv
import getpass
import io
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import redis
import redis.asyncio as aioredis

from situationroom import group_reads, keys

log = logging.getLogger(__name__)

ACTIONS: dict[str, str] = {
    "token.create": "a token was made (CLI)",
    "token.revoke": "a token was revoked (CLI)",
    "session.signin": "a browser signed in with a token",
    "session.signout": "a browser signed out",
    "auth.lockout": "an address made too many failed token checks and is refused for a while",
    "alert.ack": "an alert was acknowledged",
    "silence.create": "a silence was set",
    "silence.expire": "a silence was ended early",
    "subscription.create": "a subscription was added",
    "subscription.update": "a subscription was changed",
    "subscription.delete": "a subscription was deleted",
    "collector.pause": "a collector was paused",
    "collector.resume": "a collector was resumed",
    "collector.run": "a collector was asked to run now",
    "rules.reload": "the alert rules were reloaded after their files changed",
    "dashboards.reload": "a dashboard was reloaded after its file changed",
    "drill.start": "a drill was started: its scenario plays as exercise data (CLI)",
    "data.export": "history was exported as a file (indicators, period, format, rows sent)",
    "drill.stop": "a drill was stopped and its report written (CLI)",
    "incident.declare": "a situation level was declared for a hazard and area: an incident opened",
    "incident.level": "an incident's situation level was raised or lowered",
    "incident.end": "an incident's situation level was ended: the incident closed",
    "incident.note": "a note was added to an incident's timeline",
    "briefing.run": "a briefing was made on demand and sent to its audience (API or CLI)",
}
"""The actions recorded today, with what each means."""

FIELDS = ("at", "actor", "role", "staff", "action", "target", "address", "detail")
"""An entry's fields, in the order the CSV export has them."""
SCAN = 1000
"""Entries read per round trip when a filter skips some."""


@dataclass(frozen=True)
class Actor:
    """Who acts: a token's name and role (and its staff id), from which address. The CLI acts as the OS user
    from `cli`, the file watchers as `system`."""

    name: str
    role: str
    address: str
    staff: str | None = None

    @classmethod
    def of_token(cls, record: Mapping[str, Any] | None, address: str) -> Actor:
        if record is None:
            return cls("anonymous", "none", address)
        return cls(str(record.get("name") or "?"), str(record.get("role") or "?"), address, record.get("staff"))

    @classmethod
    def cli(cls) -> Actor:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
        return cls(user, "cli", "cli")

    @classmethod
    def system(cls, what: str) -> Actor:
        """A change no person made at that moment, e.g. `system("file watcher")`."""
        return cls("system", "system", what)


def _fields(action: str, actor: Actor, target: str, detail: Mapping[str, Any] | None) -> dict[str, Any]:
    return {"actor": actor.name, "role": actor.role, "staff": actor.staff or "", "action": action,
            "target": target, "address": actor.address,
            "detail": orjson.dumps(dict(detail or {}), option=orjson.OPT_NON_STR_KEYS, default=str)}


async def record(client: aioredis.Redis, action: str, *, actor: Actor, target: str = "",
                 detail: Mapping[str, Any] | None = None, maxlen: int) -> str:
    """Append one entry: `action` (e.g. `silence.create`, `drill.start`) done by `actor` to `target` (an id: the
    silence, alert fingerprint, collector, token name...), with `detail` (JSON-able: what exactly). `maxlen` is
    the setting `audit_maxlen`. Returns the entry id, whose milliseconds are the time it was recorded."""
    entry = await client.xadd(keys.audit(), _fields(action, actor, target, detail), maxlen=maxlen, approximate=True)
    return entry.decode() if isinstance(entry, bytes) else str(entry)


def record_sync(client: redis.Redis, action: str, *, actor: Actor, target: str = "",
                detail: Mapping[str, Any] | None = None, maxlen: int) -> str:
    """`record` for the CLI's synchronous client."""
    entry = client.xadd(keys.audit(), _fields(action, actor, target, detail), maxlen=maxlen, approximate=True)
    return entry.decode() if isinstance(entry, bytes) else str(entry)


def _decode(entry_id: bytes, fields: Mapping[bytes, bytes]) -> dict[str, Any]:
    f = {k.decode(): v.decode() for k, v in fields.items()}
    eid = entry_id.decode()
    try:
        detail = orjson.loads(f.get("detail") or "{}")
    except orjson.JSONDecodeError:
        detail = {"text": f.get("detail")}
    return {"id": eid, "at": int(eid.split("-")[0]) / 1000, "actor": f.get("actor", ""), "role": f.get("role", ""),
            "staff": f.get("staff") or None, "action": f.get("action", ""), "target": f.get("target", ""),
            "address": f.get("address", ""), "detail": detail}


def _wanted(e: dict[str, Any], action: str | None, actor: str | None) -> bool:
    if action is not None:
        # `silence` matches silence.create and silence.expire; `silence.create` only itself.
        if e["action"] != action and not e["action"].startswith(action.rstrip(".") + "."):
            return False
    return actor is None or actor in (e["actor"], e["staff"])


async def read(client: aioredis.Redis, *, action: str | None = None, actor: str | None = None,
               since: float | None = None, until: float | None = None, limit: int = 200,
               before: str | None = None) -> list[dict[str, Any]]:
    """Entries newest first, at most `limit`: of an action (or its family: `silence`), of an actor (token name or
    staff id), recorded in [since, until] (epoch seconds). `before` (an entry id) continues a previous page."""
    high, low = "+", "-"
    if until is not None:
        if until < 0:
            return []
        high = str(min(int(until * 1000), MAX_MS))
    if since is not None:
        low = str(min(max(int(since * 1000), 0), MAX_MS))
    if before:
        older = _previous(before)
        if older is None:
            return []
        high = older if high == "+" else min(older, high, key=entry_order)
    if high != "+" and low != "-" and entry_order(low) > entry_order(high):
        return []
    out: list[dict[str, Any]] = []
    while len(out) < limit:
        batch = await client.xrevrange(keys.audit(), max=high, min=low, count=SCAN if (action or actor) else limit)
        if not batch:
            break
        for entry_id, fields in batch:
            e = _decode(entry_id, fields)
            if _wanted(e, action, actor):
                out.append(e)
                if len(out) >= limit:
                    break
        high = f"({batch[-1][0].decode()}"
    return out


async def create_group(client: aioredis.Redis, group: str) -> None:
    """A consumer group on the log at its end (what is recorded from now on), unless it exists: a role that follows
    what people do (the incidents follower) reads each entry once and resumes after a restart."""
    await group_reads.create_group(client, keys.audit(), group, start="$")


async def read_group(client: aioredis.Redis, group: str, consumer: str, *, pending: bool, count: int,
                     block: int | None) -> tuple[list[bytes], list[dict[str, Any]]]:
    """The next entries for the group (with `pending`: this consumer's read but unacknowledged ones): their ids, to
    acknowledge, and the entries as `read` gives them."""
    reply = await client.xreadgroup(group, consumer, {keys.audit(): "0" if pending else ">"}, count=count, block=block)
    entries = reply[0][1] if reply else []
    return [e[0] for e in entries], [_decode(eid, fields) for eid, fields in entries if fields]


def ack_group(pipe: Any, group: str, ids: list[bytes]) -> None:
    """Queue the acknowledgement of entries a group read, after the writes that act on them."""
    if ids:
        pipe.xack(keys.audit(), group, *ids)


MAX_MS = 2**64 - 1
"""The largest millisecond part of a stream id."""


def entry_order(entry_id: str) -> tuple[int, int]:
    """The order of a stream entry id ("ms-seq", of this log or any Redis stream), as numbers."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _previous(entry_id: str) -> str | None:
    """The id just before `entry_id` (XREVRANGE's end is inclusive), or None when nothing can be older."""
    ms, seq = entry_order(entry_id)
    if ms > MAX_MS:
        return f"{MAX_MS}-{MAX_MS}"
    if seq > 0:
        return f"{ms}-{min(seq, MAX_MS + 1) - 1}"
    return f"{ms - 1}-{MAX_MS}" if ms > 0 else None


def to_csv(entries: Iterable[dict[str, Any]], tz: ZoneInfo) -> str:
    """The entries as CSV (UTF-8 with a byte-order mark, so spreadsheet programs read Hangul right)."""
    buf, out = csv_writer()
    out.writerow(["time", "id", *FIELDS[1:]])
    for e in entries:
        when = datetime.fromtimestamp(e["at"], tz).isoformat(timespec="seconds")
        row = [when, e["id"], e["actor"], e["role"], e["staff"] or "", e["action"], e["target"], e["address"],
               orjson.dumps(e["detail"]).decode()]
        out.writerow([csv_cell(v) for v in row])
    return buf.getvalue()


def csv_writer() -> tuple[io.StringIO, Any]:
    """A CSV writer into a buffer that starts with the byte-order mark spreadsheet programs need for Hangul."""
    buf = io.StringIO()
    buf.write("\ufeff")
    return buf, csv.writer(buf)


def csv_cell(value: str) -> str:
    # A cell a spreadsheet would run as a formula (a token name such as "=HYPERLINK(...)") is kept as text.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
