"""Redis URLs: one server, a Redis Cluster (redis+cluster://) and a Sentinel-watched master (redis+sentinel://),
and a URL the product cannot use named with the part that is wrong, its password hidden."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis
from pydantic import ValidationError

from situationroom import redisconn
from situationroom.settings import Settings
from tests.cluster_support import ClusterServers
from tests.sentinel_support import SentinelServers

pytestmark = pytest.mark.cluster


@pytest.mark.parametrize(("url", "kind", "nodes"), [
    ("redis://127.0.0.1:6379/2", "plain", ()),
    ("redis+cluster://10.0.0.1:7000,10.0.0.2:7001", "cluster", (("10.0.0.1", 7000), ("10.0.0.2", 7001))),
    ("redis+sentinel://s1:26379,s2/mymaster/3", "sentinel", (("s1", 26379), ("s2", 6379))),
])
def test_each_kind_of_url_is_read(url: str, kind: str, nodes: tuple[tuple[str, int], ...]) -> None:
    target = redisconn.parse(url)
    assert (target.kind, target.nodes) == (kind, nodes)


def test_a_sentinel_url_names_the_master_database_and_secrets() -> None:
    t = redisconn.parse("redis+sentinel://app:pw@s1:26379/city-main/2?sentinel_password=s3cret")
    assert (t.master, t.db, t.username, t.password, t.sentinel_password) == ("city-main", 2, "app", "pw", "s3cret")
    shown = redisconn.describe(t.url)
    assert "pw" not in shown and "s3cret" not in shown and "city-main" in shown


@pytest.mark.parametrize(("url", "says"), [
    ("mysql://db:3306", "the scheme 'mysql' is not one of redis://"),
    ("redis+cluster://:pw@10.0.0.1:7000/4", "a cluster has only database 0, not '4'"),
    ("redis+cluster://10.0.0.1:port", "'10.0.0.1:port' is not host:port"),
    ("redis+sentinel://s1:26379", "ends in /MASTER-NAME or /MASTER-NAME/DB"),
    ("redis+sentinel://s1:26379/main?timeout=3", "unknown parameter 'timeout'"),
])
def test_a_url_that_cannot_be_used_says_which_part(url: str, says: str) -> None:
    with pytest.raises(redisconn.RedisURLError, match=says.replace("(", r"\(")) as raised:
        redisconn.parse(url)
    assert ":pw@" not in str(raised.value)
    # Settings refuse it the same way, naming the setting.
    with pytest.raises(ValidationError) as refused:
        Settings(REDIS_URL=url)
    assert "REDIS_URL" in str(refused.value) and says in str(refused.value)


async def test_a_cluster_url_reaches_every_master(redis_cluster: ClusterServers) -> None:
    client = redisconn.async_client(redis_cluster.url)
    try:
        assert redisconn.is_cluster(client)
        # Keys of different slots land on different masters, each read back through the one client.
        for tag in ("p0", "p1", "p2", "p3", "p4", "p5"):
            await client.set(f"sr-test:{{{tag}}}", tag)
        assert [await client.get(f"sr-test:{{{t}}}") for t in ("p0", "p5")] == [b"p0", b"p5"]
        owners = {redis_cluster.client().keyslot(f"sr-test:{{{t}}}") // 5462 for t in ("p0", "p1", "p2", "p3")}
        assert len(owners) > 1
    finally:
        await client.aclose()
    sync = redisconn.sync_client(redis_cluster.url)
    assert redisconn.is_cluster(sync) and sync.get("sr-test:{p1}") == b"p1"
    sync.close()


async def test_a_sentinel_url_follows_the_master_through_a_failover(sentinels: SentinelServers) -> None:
    client = redisconn.async_client(sentinels.url)
    try:
        await client.set("sr-test:before", "1")
        assert await client.wait(1, 2000) >= 1  # replicated before the master dies (asynchronous otherwise)
        old = sentinels.kill_master()
        new = sentinels.wait_new_master(old)
        assert new != old
        # The same client, without being told: its next connections ask the Sentinels for the master again.
        deadline = time.monotonic() + 30
        while True:
            try:
                await client.set("sr-test:after", "2")
                break
            except (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError):
                assert time.monotonic() < deadline, "writes did not reach the new master"
                await asyncio.sleep(0.2)
        assert await client.get("sr-test:after") == b"2"
        # What the old master had replicated is on the new one.
        assert await client.get("sr-test:before") == b"1"
    finally:
        await client.aclose()
