"""The update stream: what each writer publishes, readers get back as typed updates, in order, once; a bad entry
is skipped without stopping the readers; the alert role's group resumes with what it had not acknowledged."""

from __future__ import annotations

import logging

import orjson
import pytest
import redis.asyncio as aioredis

from situationroom import keys, updates
from situationroom.messages import Message
from situationroom.updates import Kind

pytestmark = pytest.mark.cluster  # also run on the suite's Redis Cluster

MAXLEN = 1000

STATE = {"i": "air.pm10", "e": "jukdo", "v": 41.0, "t": 1_800_000_000_000, "st": "normal", "ps": "normal"}
ALERT = {"fingerprint": "pm10-high/jukdo", "rule": "pm10-high", "entity": "jukdo", "status": "firing"}


def _message(mid: str) -> Message:
    return Message(id=mid, ts=1_800_000_000.0, source="cbs", kind="disaster_text", severity="critical",
                   entities=("jukdo",), text_ko="[포항시] 대피하십시오", text_en="[Pohang] Evacuate")


async def test_every_writer_is_read_back_as_its_kind_in_order(aclient: aioredis.Redis) -> None:
    async with aclient.pipeline(transaction=False) as pipe:
        updates.add_state(pipe, orjson.dumps(STATE), MAXLEN)
        updates.add_alert(pipe, ALERT, MAXLEN)
        updates.add_inbox(pipe, orjson.dumps({"type": "inbox", "recipient": "kim", "id": "n1"}), MAXLEN)
        await pipe.execute()
    assert await updates.MessagePublisher(aclient).publish([_message("m1")], maxlen=MAXLEN) == 1

    batch = await updates.read_from(aclient, "0", count=100)
    assert [u.kind for u in batch.updates] == [Kind.STATE, Kind.ALERT, Kind.INBOX, Kind.MESSAGE]
    state, alert, inbox, message = batch.updates
    # A state is carried as the bytes the aggregator stored: a frame passes them on without encoding again.
    assert state.body == orjson.dumps(STATE) and state.data == STATE
    assert alert.data == {"type": "alert", **ALERT}
    assert inbox.data is not None and inbox.data["recipient"] == "kim"
    assert orjson.loads(message.body)["text_ko"] == "[포항시] 대피하십시오" and message.data is None
    assert batch.last == batch.updates[-1].id == await updates.newest_id(aclient)


async def test_a_message_is_published_once_whoever_sends_it_again(aclient: aioredis.Redis) -> None:
    # The Lua script writes the entry with the field name it is given (updates.MESSAGE), so readers find it.
    first, second = updates.MessagePublisher(aclient), updates.MessagePublisher(aclient)
    assert await first.publish([_message("m1"), _message("m2")], maxlen=MAXLEN) == 2
    assert await second.publish([_message("m2"), _message("m3")], maxlen=MAXLEN) == 1
    batch = await updates.read_from(aclient, "0", count=100)
    assert [orjson.loads(u.body)["id"] for u in batch.updates] == ["m1", "m2", "m3"]
    assert all(u.kind is Kind.MESSAGE for u in batch.updates)
    assert [orjson.loads(m)["id"] for m in await updates.recent_messages(aclient)] == ["m3", "m2", "m1"]


async def test_a_bad_entry_is_skipped_and_named_without_stopping_the_readers(
        aclient: aioredis.Redis, caplog: pytest.LogCaptureFixture) -> None:
    await aclient.xadd(keys.updates(), {updates.STATE: b"not json"})
    await aclient.xadd(keys.updates(), {updates.STATE: b'{"v": 1}'})  # a state that names no series
    await aclient.xadd(keys.updates(), {updates.ANNOUNCEMENT: b'{"type": "alert"}'})  # no fingerprint
    await aclient.xadd(keys.updates(), {"z": b"?"})
    async with aclient.pipeline(transaction=False) as pipe:
        updates.add_state(pipe, orjson.dumps(STATE), MAXLEN)
        await pipe.execute()
    with caplog.at_level(logging.WARNING, logger="situationroom.updates"):
        batch = await updates.read_after(aclient, "0", count=100, block=None)
    assert len(batch.ids) == 5, "every id is returned, so a reader continues after the bad ones"
    assert [u.data for u in batch.updates] == [STATE]
    assert len(caplog.records) == 4
    assert "not a live state" in caplog.records[0].getMessage()
    assert "none of the fields d/m/a" in caplog.records[3].getMessage()


async def test_a_group_sees_each_entry_once_and_gets_back_what_it_did_not_acknowledge(
        aclient: aioredis.Redis) -> None:
    group = updates.Group(aclient, keys.ALERT_GROUP, "alert")
    await group.create()
    await group.create()  # a restart finds the group there
    async with aclient.pipeline(transaction=False) as pipe:
        for v in (1.0, 2.0, 3.0):
            updates.add_state(pipe, orjson.dumps({**STATE, "v": v}), MAXLEN)
        await pipe.execute()
    read = await group.read(pending=False, count=2, block=None)
    assert [u.data["v"] for u in read.updates if u.data] == [1.0, 2.0]
    async with aclient.pipeline(transaction=False) as pipe:
        group.ack(pipe, read.ids[:1])
        await pipe.execute()
    # After a crash: the entry read but not acknowledged comes again, then the new ones.
    pending = await group.read(pending=True, count=10, block=None)
    assert [u.data["v"] for u in pending.updates if u.data] == [2.0]
    rest = await group.read(pending=False, count=10, block=None)
    assert [u.data["v"] for u in rest.updates if u.data] == [3.0]


async def test_a_snapshot_reads_the_newest_id_and_recent_messages_in_one_transaction(aclient: aioredis.Redis) -> None:
    async with aclient.pipeline(transaction=True) as pipe:
        updates.queue_newest_id(pipe)
        updates.queue_recent_messages(pipe)
        newest, recent = await pipe.execute()
    assert updates.newest_id_of(newest) is None and recent == []
    await updates.MessagePublisher(aclient).publish([_message("m1"), _message("m2")], maxlen=MAXLEN)
    async with aclient.pipeline(transaction=True) as pipe:
        updates.queue_newest_id(pipe)
        updates.queue_recent_messages(pipe)
        newest, recent = await pipe.execute()
    batch = await updates.read_from(aclient, "0", count=100)
    assert updates.newest_id_of(newest) == batch.last == await updates.newest_id(aclient)
    assert batch.first == batch.updates[0].id != batch.last
    assert recent == await updates.recent_messages(aclient)
    assert [orjson.loads(m)["id"] for m in recent] == ["m2", "m1"]
