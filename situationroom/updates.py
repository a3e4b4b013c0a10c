"""The update stream (`sr:{updates}`), the bus every wall and the alert role read: the only code that writes or
reads its entries (docs/streams.md).

An entry has one field, named for what it carries: a series' new live state, a text message, or an
announcement (an alert that changed, an item put in someone's in-app inbox). Writers queue entries on their
own pipeline, so an entry goes out in the same round trip as the change it announces; readers get `Update`s.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from situationroom import keys
from situationroom.clock import now_ms
from situationroom.group_reads import create_group
from situationroom.lua import PipelinedScript, source
from situationroom.messages import RECENT, Message

log = logging.getLogger(__name__)

STATE = "d"
"""Field of a live-state entry: the state's JSON exactly as stored in its live hash."""
MESSAGE = "m"
"""Field of a text message entry (disaster text, CAP alert): the message's JSON."""
ANNOUNCEMENT = "a"
"""Field of an announcement: `{"type": "alert", …}` (an alert changed) or `{"type": "inbox", …}` (an in-app item)."""
FIELDS = (STATE, MESSAGE, ANNOUNCEMENT)

KEEP_MESSAGE_IDS = 30 * 86400.0
"""Seconds a published message id is remembered, so a re-run or a second collector never shows it twice."""


class Kind(enum.Enum):
    """What an update announces."""

    STATE = "state"
    MESSAGE = "message"
    ALERT = "alert"
    INBOX = "inbox"


@dataclass(frozen=True, slots=True)
class Update:
    """One entry of the update stream.

    `body` is the entry's JSON as published, so a frame can carry it without encoding it again; `data` is it
    parsed (None for a message, which readers pass on untouched)."""

    id: str
    kind: Kind
    body: bytes
    data: dict[str, Any] | None


# -- writing ----------------------------------------------------------------------------------------------


def add_state(pipe: Pipeline, state: bytes, maxlen: int) -> None:
    """Queue a series' changed live state (the JSON the aggregator stored in its live hash)."""
    pipe.xadd(keys.updates(), {STATE: state}, maxlen=maxlen, approximate=True)


def add_alert(pipe: Pipeline, alert: Mapping[str, Any], maxlen: int) -> None:
    """Queue an alert's change; `alert` is its public form (`Alert.public()`, acknowledgement merged in)."""
    pipe.xadd(keys.updates(), {ANNOUNCEMENT: orjson.dumps({"type": "alert", **alert})}, maxlen=maxlen,
              approximate=True)


def add_inbox(pipe: Pipeline, item: bytes, maxlen: int) -> None:
    """Queue the announcement of an in-app inbox item (`{"type": "inbox", …}`, already encoded)."""
    pipe.xadd(keys.updates(), {ANNOUNCEMENT: item}, maxlen=maxlen, approximate=True)


async def publish_state(client: aioredis.Redis, state: bytes, maxlen: int) -> None:
    """Publish a state on its own, as the aggregator would (`bench ws` stands in for it this way)."""
    await client.xadd(keys.updates(), {STATE: state}, maxlen=maxlen, approximate=True)


async def publish_alert(client: aioredis.Redis, alert: Mapping[str, Any], maxlen: int) -> None:
    """Publish an alert's change on its own (the API's acknowledgement, which walls show at once)."""
    async with client.pipeline(transaction=False) as pipe:
        add_alert(pipe, alert, maxlen)
        await pipe.execute()


class MessagePublisher:
    """Publishes text messages, each id once (`lua/publish_message.lua`), keeping the newest for snapshots."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._script = PipelinedScript(client, source("publish_message.lua"))

    async def publish(self, messages: Sequence[Message], *, maxlen: int, keep_ids: float = KEEP_MESSAGE_IDS) -> int:
        """Publish the messages not published before; returns how many were new."""
        if not messages:
            return 0
        script_keys = [keys.updates(), keys.recent_messages(), keys.message_ids()]
        now = now_ms()
        return sum(await self._script.run([(script_keys, [m.id, m.encode(), maxlen, now, int(keep_ids * 1000),
                                                          RECENT, MESSAGE]) for m in messages]))


async def recent_messages(client: aioredis.Redis) -> list[bytes]:
    """The newest published messages (JSON), newest first, for a wall's first picture."""
    return list(await client.lrange(keys.recent_messages(), 0, RECENT - 1))


def queue_recent_messages(pipe: Pipeline) -> None:
    """Queue the read of `recent_messages` on a pipeline (a snapshot reads them in one transaction with
    `queue_newest_id`: the list and the stream share a slot); the answer is the list of JSON bytes."""
    pipe.lrange(keys.recent_messages(), 0, RECENT - 1)


# -- reading ----------------------------------------------------------------------------------------------


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


def decode(entries: Iterable[tuple[bytes | str, Mapping[bytes, bytes]]], *, states: bool = True) -> list[Update]:
    """Entries as Redis returns them (XRANGE, XREAD, XREADGROUP) to updates, in order.

    An entry that is not a well-formed update is logged and skipped: one bad writer must not stop the walls.
    An entry whose fields are gone (trimmed while pending in a group) is skipped silently. With `states` False,
    live states are passed on unparsed (`data` None), for a reader that looks only at alerts and messages: they
    are nearly every entry, and parsing them was most of such a reader's work."""
    out: list[Update] = []
    for raw_id, fields in entries:
        if not fields:
            continue
        eid = _text(raw_id)
        body = fields.get(STATE.encode())
        if body is not None and not states:
            out.append(Update(eid, Kind.STATE, body, None))
            continue
        if body is not None:
            try:
                state = orjson.loads(body)
                state["i"], state["e"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                log.warning("update %s: not a live state, skipped", eid)
                continue
            out.append(Update(eid, Kind.STATE, body, state))
            continue
        body = fields.get(MESSAGE.encode())
        if body is not None:
            out.append(Update(eid, Kind.MESSAGE, body, None))
            continue
        body = fields.get(ANNOUNCEMENT.encode())
        if body is None:
            log.warning("update %s: none of the fields %s, skipped", eid, "/".join(FIELDS))
            continue
        try:
            item = orjson.loads(body)
            kind = Kind.ALERT if item.get("type") == "alert" else Kind.INBOX
            if kind is Kind.ALERT:
                item["fingerprint"]
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            log.warning("update %s: not an alert or inbox item, skipped", eid)
            continue
        out.append(Update(eid, kind, body, item))
    return out


async def newest_id(client: aioredis.Redis) -> str | None:
    """Id of the newest entry, or None while the stream is empty."""
    return newest_id_of(await client.xrevrange(keys.updates(), count=1))


def queue_newest_id(pipe: Pipeline) -> None:
    """Queue the read of `newest_id` on a pipeline; `newest_id_of` turns its answer into the id."""
    pipe.xrevrange(keys.updates(), count=1)


def newest_id_of(reply: Sequence[Any]) -> str | None:
    """The id in the answer to `queue_newest_id`, or None while the stream is empty."""
    return _text(reply[0][0]) if reply else None


@dataclass(frozen=True, slots=True)
class Batch:
    """What one read returned: every entry id (to acknowledge or to continue after) and the updates among them."""

    ids: list[bytes]
    updates: list[Update]

    @property
    def first(self) -> str | None:
        return _text(self.ids[0]) if self.ids else None

    @property
    def last(self) -> str | None:
        return _text(self.ids[-1]) if self.ids else None


def _batch(reply: Any, *, states: bool = True) -> Batch:
    entries = reply[0][1] if reply else []
    return Batch([e[0] for e in entries], decode(entries, states=states))


async def read_after(client: aioredis.Redis, after: str, *, count: int, block: int | None) -> Batch:
    """Entries after id `after` (XREAD: every reader sees every entry), waiting up to `block` ms for one."""
    return _batch(await client.xread({keys.updates(): after}, count=count, block=block))


async def read_from(client: aioredis.Redis, start: str, *, count: int, states: bool = True) -> Batch:
    """Entries from id `start` on, including it (XRANGE; "(<id>" for after it), without waiting (live states left
    unparsed unless `states`, see `decode`)."""
    entries = await client.xrange(keys.updates(), min=start, max="+", count=count)
    return Batch([e[0] for e in entries], decode(entries, states=states))


class Group:
    """A consumer group on the update stream: a role that must see each entry once and resume after a restart."""

    def __init__(self, client: aioredis.Redis, name: str, consumer: str) -> None:
        self.client = client
        self.name = name
        self.consumer = consumer

    async def create(self) -> None:
        """Create the group at the stream's end (new entries only), unless it exists."""
        await create_group(self.client, keys.updates(), self.name, start="$")

    async def read(self, *, pending: bool, count: int, block: int | None, states: bool = True) -> Batch:
        """The next entries, or with `pending` this consumer's entries read but not yet acknowledged (live states
        left unparsed unless `states`, see `decode`)."""
        return _batch(await self.client.xreadgroup(self.name, self.consumer, {keys.updates(): "0" if pending else ">"},
                                                   count=count, block=block), states=states)

    def ack(self, pipe: Pipeline, ids: Sequence[bytes]) -> None:
        """Queue the acknowledgement of entries, after the writes that act on them in the same pipeline."""
        if ids:
            pipe.xack(keys.updates(), self.name, *ids)
