"""Consumer-group reads over several streams, on one server and on a Redis Cluster (where one XREADGROUP may only
name one slot's streams): every entry handed out once, and a blocking read answering as soon as any stream has
something."""

from __future__ import annotations

import asyncio
import time

import pytest

from situationroom.group_reads import GroupReader
from situationroom.redisconn import AsyncClient

pytestmark = pytest.mark.cluster
STREAMS = [f"sr-test:{{p{n}}}:s" for n in range(4)]  # four hash tags: more than one master on a cluster


async def _groups(client: AsyncClient) -> None:
    for stream in STREAMS:
        await client.xgroup_create(stream, "g", id="0", mkstream=True)


async def test_every_entry_of_every_stream_is_handed_out_once(aclient: AsyncClient) -> None:
    await _groups(aclient)
    for n, stream in enumerate(STREAMS):
        for k in range(5):
            await aclient.xadd(stream, {"v": f"{n}-{k}"})
    reader = GroupReader(aclient, "g", "c1")
    seen: list[bytes] = []
    while reply := await reader.read(dict.fromkeys(STREAMS, ">"), 3, None):
        seen += [fields[b"v"] for _, entries in reply for _, fields in entries]
    assert sorted(seen) == sorted(f"{n}-{k}".encode() for n in range(4) for k in range(5))
    # Read again from 0: the consumer's pending entries, all of them, as after a restart.
    pending = await reader.read(dict.fromkeys(STREAMS, "0"), 100, None)
    assert sum(len(entries) for _, entries in pending) == 20


async def test_a_blocking_read_answers_when_any_stream_gets_an_entry(aclient: AsyncClient) -> None:
    await _groups(aclient)
    reader = GroupReader(aclient, "g", "c1")
    try:
        async def later() -> None:
            await asyncio.sleep(0.3)
            await aclient.xadd(STREAMS[2], {"v": "late"})

        started = time.monotonic()
        writing = asyncio.create_task(later())
        reply = await reader.read(dict.fromkeys(STREAMS, ">"), 10, 20_000)
        await writing
        assert time.monotonic() - started < 10, "the read waited out its block instead of answering"
        assert [f[b"v"] for _, entries in reply for _, f in entries] == [b"late"]
        # An entry that reaches a stream whose read is still waiting comes with a later call, not lost.
        await aclient.xadd(STREAMS[0], {"v": "next"})
        got: list[bytes] = []
        deadline = time.monotonic() + 10
        while not got and time.monotonic() < deadline:
            reply = await reader.read(dict.fromkeys(STREAMS, ">"), 10, 200)
            got = [f[b"v"] for _, entries in reply for _, f in entries]
        assert got == [b"next"]
    finally:
        await reader.close()
