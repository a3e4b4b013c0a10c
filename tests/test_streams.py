"""Sample streams against real Redis: key names and hash tags, fields, partitioning, trimming, dead letters."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest
import redis.asyncio as aioredis
from redis.crc import key_slot

from situationroom import keys
from situationroom.group_reads import GroupReader
from situationroom.redisconn import is_cluster
from situationroom.samples import Rejection, Sample
from situationroom.streams import (
    DEADLETTER_ENTRY_BYTES,
    DEADLETTER_LIMITS,
    EntryBudget,
    NotReplicated,
    StreamWriter,
    deadletter_cap,
    ensure_groups,
    unread_age,
)
from tests.stream_support import stream_samples

pytestmark = pytest.mark.cluster  # also run on the suite's Redis Cluster


def _writer(client: aioredis.Redis, **overrides: float) -> StreamWriter:
    values = {"partitions": 8, "retention": 3600.0, "deadletter_maxlen": 1000, "batch_size": 1000}
    values.update(overrides)
    return StreamWriter(client, partitions=int(values["partitions"]), retention=values["retention"],
                        deadletter_maxlen=int(values["deadletter_maxlen"]), batch_size=int(values["batch_size"]))


def test_key_names_and_hash_tags() -> None:
    assert keys.samples(3) == "sr:samples:{p3}"
    assert keys.updates() == "sr:{updates}" and keys.deadletter() == "sr:{deadletter}"
    # Every key the aggregator's script touches for one indicator lies in one Cluster slot.
    ind = "air.pm10"
    slots = {key_slot(k.encode()) for k in (keys.live(ind), keys.raw(ind, "a"), keys.raw(ind, "b"),
                                            keys.history(ind, "a", "1m"), keys.history(ind, "b", "1m"))}
    assert len(slots) == 1
    assert key_slot(keys.live("air.pm10").encode()) != key_slot(keys.live("river.level").encode())
    # The partitions spread over different slots, so a Cluster shares the stream load.
    assert len({key_slot(keys.samples(p).encode()) for p in range(8)}) == 8


def test_partitioning_is_stable_and_spread() -> None:
    assert keys.partition_of("air.pm10", 8) == keys.partition_of("air.pm10", 8)
    assert 0 <= keys.partition_of("x.y", 5) < 5
    used = {keys.partition_of(f"domain.indicator_{n}", 8) for n in range(100)}
    assert used == set(range(8))


async def test_write_goes_to_the_indicators_partition(aclient: aioredis.Redis) -> None:
    writer = _writer(aclient, batch_size=7)
    now = float(int(time.time()))  # whole seconds: the entries keep event times to the millisecond
    samples = [Sample(ind, "e1", now + k, float(k), "test") for k in range(20)
               for ind in ("air.pm10", "river.level", "weather.visibility")]
    assert await writer.write(samples) == 60
    used = {keys.partition_of(ind, 8) for ind in ("air.pm10", "river.level", "weather.visibility")}
    entries = 0
    for p in range(8):
        for sample in await stream_samples(aclient, partitions=[p]):
            assert keys.partition_of(sample.indicator, 8) == p
        entries += await aclient.xlen(keys.samples(p))
    # One entry per batch of 7 and partition it touches: never one per sample.
    assert len(used) <= entries <= len(used) * -(-60 // 7)
    assert sorted(await stream_samples(aclient), key=repr) == sorted(samples, key=repr)
    # Within a partition the order of one series is kept.
    values = [s.value for s in await stream_samples(aclient) if s.indicator == "river.level"]
    assert values == [float(k) for k in range(20)]
    assert await aclient.hget(keys.counters(), "samples_in") == b"60"


def test_a_read_asks_for_as_many_entries_as_make_a_batch_of_samples() -> None:
    budget = EntryBudget(1000)
    first = budget.count()
    assert 1 <= first <= 1000
    budget.saw([{b"c": b"500"}] * 4)
    budget.saw([{b"c": b"500"}] * 4)
    assert budget.count() <= 4  # entries of 500 samples: a couple of them make the batch
    for _ in range(20):
        budget.saw([{b"i": b"air.pm10"}] * 10)  # one-sample entries of the older form
    assert budget.count() >= 900
    budget.saw([{b"c": b"not a number"}])  # a malformed entry counts as one sample, and the read goes on
    assert budget.count() >= 1


async def test_trimming_by_age(aclient: aioredis.Redis) -> None:
    writer = _writer(aclient, partitions=1, retention=0.2, batch_size=1)  # one entry per sample
    old = [Sample("a.b", "e", time.time(), float(k)) for k in range(350)]
    await writer.write(old)
    assert await aclient.xlen(keys.samples(0)) == 350
    await asyncio.sleep(0.3)
    await writer.write([Sample("a.b", "e", time.time(), 1.0)])
    # MINID ~ trims whole stream nodes (100 entries each by default) older than the retention.
    remaining = await aclient.xlen(keys.samples(0))
    assert remaining <= 101
    first_id = (await aclient.xrange(keys.samples(0), count=1))[0][0]
    assert int(first_id.split(b"-")[0]) >= int((time.time() - 1.0) * 1000) - 1000


async def test_deadletter_keeps_the_reason(aclient: aioredis.Redis) -> None:
    writer = _writer(aclient, deadletter_maxlen=100)
    item = {"indicator": "air.pm10", "entity": "nowhere", "value": 3}
    n = await writer.reject([(Rejection("entity", "entity is not measured for air.pm10", "nowhere", 4), item),
                             (Rejection("value", "must be a number", {"x": 1}), None)], source="push:test")
    assert n == 2
    entries = await aclient.xrange(keys.deadletter())
    first = {k.decode(): v.decode() for k, v in entries[0][1].items()}
    assert first["source"] == "push:test" and first["field"] == "entity" and first["index"] == "4"
    assert first["reason"] == "entity is not measured for air.pm10"
    # The rejected value is kept once, in `value`; `item` has the rest of the item.
    assert first["value"] == '"nowhere"' and orjson.loads(first["item"]) == {"indicator": "air.pm10", "value": 3}
    assert abs(int(first["at"]) - time.time() * 1000) < 60_000
    second = {k.decode(): v.decode() for k, v in entries[1][1].items()}
    assert second["value"] == '{"x":1}' and second["item"] == "" and "index" not in second
    assert await aclient.hget(keys.counters(), "samples_rejected") == b"2"
    assert await writer.reject([], source="x") == 0


async def test_deadletter_is_capped(aclient: aioredis.Redis) -> None:
    writer = _writer(aclient, deadletter_maxlen=100)
    await writer.reject([(Rejection("value", "bad", k), None) for k in range(1000)], source="t")
    assert 100 <= await aclient.xlen(keys.deadletter()) < 300


async def test_deadletter_entries_are_bounded(aclient: aioredis.Redis) -> None:
    writer = _writer(aclient, deadletter_maxlen=100)
    huge = "x" * 9_900_000
    deep: list = []
    for _ in range(600):  # deeper than orjson writes (254 levels)
        deep = [deep]
    rejections = [
        (Rejection("value", "must be a number", huge, 0), {"indicator": "air.pm10", "entity": "e", "value": huge}),
        (Rejection("k" * 5000, "unknown field", 1, 1), {"k" * 5000: 1, "pad": "y" * 5000}),
        (Rejection("item", "expected an object", deep, 2), deep),
    ]
    assert await writer.reject(rejections, source="push:test") == 3
    entries = [{k.decode(): v.decode() for k, v in f.items()} for _, f in await aclient.xrange(keys.deadletter())]
    first, second, third = entries
    # The 9.9 MB value is kept once, cut, with its length; the item without it is small.
    assert first["value"].startswith('"xxx') and len(first["value"].encode()) <= DEADLETTER_LIMITS["value"] + 3
    assert first["value_bytes"] == str(len(huge) + 2)
    assert orjson.loads(first["item"]) == {"indicator": "air.pm10", "entity": "e"} and "item_bytes" not in first
    assert len(second["field"].encode()) <= DEADLETTER_LIMITS["field"] + 3 and second["field_bytes"] == "5000"
    assert second["item_bytes"] == str(len(orjson.dumps({"pad": "y" * 5000})))
    # A value JSON cannot hold is stored as its repr, cut; the item is the value, so `item` is empty.
    assert third["value"].startswith("[[[") and third["item"] == "" and "value_bytes" in third
    for entry in entries:
        assert sum(len(k) + len(v.encode()) for k, v in entry.items()) <= DEADLETTER_ENTRY_BYTES


def test_deadletter_cap_in_bytes() -> None:
    assert deadletter_cap(100_000, None) == 100_000
    assert deadletter_cap(100_000, 64 * 2**20) == 64 * 2**20 // DEADLETTER_ENTRY_BYTES
    assert deadletter_cap(1000, 64 * 2**20) == 1000
    assert deadletter_cap(100_000, 1) == 100


async def test_ensure_groups_is_idempotent(aclient: aioredis.Redis) -> None:
    await ensure_groups(aclient, 4)
    await ensure_groups(aclient, 4)
    for p in range(4):
        groups = await aclient.xinfo_groups(keys.samples(p))
        assert [g["name"] for g in groups] == [keys.AGGREGATOR_GROUP.encode()]


async def test_ensure_groups_reports_a_wrong_key_type(aclient: aioredis.Redis) -> None:
    await aclient.set(keys.samples(0), "not a stream")
    with pytest.raises(Exception, match="WRONGTYPE"):
        await ensure_groups(aclient, 2)


async def test_unread_age_says_how_long_the_oldest_entry_not_handed_out_has_waited(aclient: aioredis.Redis) -> None:
    assert await unread_age(aclient, 2, "readers") is None  # no group yet: its role never ran
    await ensure_groups(aclient, 2, "readers")
    assert await unread_age(aclient, 2, "readers") == 0.0
    writer = _writer(aclient, partitions=2)
    await writer.write([Sample("air.pm10", "e1", time.time(), 1.0), Sample("river.level", "e1", time.time(), 2.0)])
    await asyncio.sleep(0.3)
    await writer.write([Sample("air.pm10", "e1", time.time(), 3.0)])
    assert 0.3 <= await unread_age(aclient, 2, "readers") < 5  # the first batch's entries, whatever they carry
    await GroupReader(aclient, "readers", "r1").read(dict.fromkeys(keys.all_samples(2), ">"), 100, None)
    assert await unread_age(aclient, 2, "readers") == 0.0  # handed out; pending is another matter


async def test_with_replica_durability_a_write_counts_once_a_replica_holds_it(aclient: aioredis.Redis) -> None:
    writer = StreamWriter(aclient, partitions=4, retention=3600.0, deadletter_maxlen=1000, replicas=1,
                          replica_timeout=0.3)
    samples = [Sample(ind, "e1", time.time(), 1.0) for ind in ("air.pm10", "river.level", "rain.hourly", "aqi")]
    if is_cluster(aclient):  # three masters, each with a replica: WAIT on every master written to
        assert await writer.write(samples) == 4
    else:  # a server without replicas: written, but not confirmed
        with pytest.raises(NotReplicated, match="0 of the 1 replicas asked for confirmed them within 300 ms"):
            await writer.write(samples)
    # Either way the samples are in the streams: a repeat after a 503 is a duplicate, never a loss.
    assert await aclient.xlen(writer.stream_of("air.pm10")) == 1
