"""A role that loses Redis says so once and says once that it is back, whatever the number of retries between; the
stream readers' loop creates a lost consumer group again and carries on."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from situationroom import outage
from situationroom.outage import Outage, run_stream_reader

pytestmark = pytest.mark.cluster  # also run on the suite's Redis Cluster

log = logging.getLogger("test.outage")


def test_an_outage_is_logged_when_it_starts_and_when_it_ends(caplog: pytest.LogCaptureFixture) -> None:
    watch = Outage(log, "reader recovered")
    with caplog.at_level(logging.INFO, logger="test.outage"):
        watch.reached()  # nothing was wrong: nothing to say
        for n in range(5):
            watch.failed("reader lost Redis: attempt %d", n)
        watch.reached()
        watch.reached()
        watch.failed("reader lost Redis: attempt %d", 9, level=logging.WARNING)
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.ERROR, "reader lost Redis: attempt 0"), (logging.INFO, "reader recovered"),
        (logging.WARNING, "reader lost Redis: attempt 9")]


async def test_a_lost_consumer_group_is_created_again(aclient: aioredis.Redis) -> None:
    # A real NOGROUP: the stream and its group were deleted under the reader (FLUSHDB, an operator).
    stop = asyncio.Event()
    read: list[int] = []

    async def regroup() -> None:
        await aclient.xgroup_create("outage-test", "readers", id="0", mkstream=True)
        await aclient.xadd("outage-test", {"n": "1"})

    async def once() -> bool:
        reply = await aclient.xreadgroup("readers", "me", {"outage-test": ">"}, count=10)
        read.extend(len(entries) for _, entries in reply)
        return not read

    await asyncio.wait_for(run_stream_reader("test reader", once, stop, regroup=regroup, log=log), 10)
    assert read == [1]


async def test_a_reader_that_loses_redis_retries_and_says_so_once(
        aclient: aioredis.Redis, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outage, "RETRY", 0.05)
    with socket.socket() as s:  # a port nothing listens on: connecting fails for real
        s.bind(("127.0.0.1", 0))
        gone = s.getsockname()[1]
    away = aioredis.Redis(host="127.0.0.1", port=gone, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
    tries = 0

    async def once() -> bool:
        nonlocal tries
        tries += 1
        await (away if tries <= 4 else aclient).ping()
        return tries < 6

    with caplog.at_level(logging.INFO, logger="test.outage"):
        await asyncio.wait_for(run_stream_reader("test reader", once, asyncio.Event(), regroup=asyncio.sleep,
                                                 log=log), 10)
    await away.aclose()
    messages = [r.getMessage() for r in caplog.records]
    assert tries == 6
    assert len(messages) == 2 and messages[0].startswith("test reader lost Redis: ")
    assert messages[1] == "test reader recovered"
