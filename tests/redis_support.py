"""The Redis databases the tests may empty: the embedded server the suite starts itself, and the service database
(SITUATIONROOM_TEST_REDIS, else database 15 at 127.0.0.1:6379) only while it is empty or carries the suite's
marker, since on a developer's or operator's machine that database may hold real data.

Every emptying goes through `empty` (or `aempty`), which checks and empties in one script: a database the suite
did not create is never flushed, whatever a test asks."""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

import redis
import redis.asyncio as aioredis
from redis.cluster import RedisCluster

from situationroom.redisconn import is_cluster

SERVICE_URL = os.environ.get("SITUATIONROOM_TEST_REDIS", "redis://127.0.0.1:6379/15")
"""The machine's Redis service, used beside the embedded server when it answers and the database is the suite's."""
MARKER = "situationroom-test-suite"
"""The key the suite keeps in a database it has taken. Outside the product's `sr:` keys, so no product code reads
it, and written again with every emptying, so the next run knows the database is the suite's to empty."""
MARKED = "this database belongs to situationroom's tests, which empty it before each test"

# One script, so nothing can be written between the check and the flush. An empty database is taken; one that
# holds anything else but not the marker is left as it is, and its key count is returned.
_EMPTY = """
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('DBSIZE') == 0 then
  redis.call('FLUSHDB')
  redis.call('SET', KEYS[1], ARGV[1])
  return -1
end
return redis.call('DBSIZE')
"""


class NotTheSuites(Exception):
    """The database holds keys and not the suite's marker: someone else's data, which the tests leave alone."""


def shown(url: str) -> str:
    """The URL without its password, to name the database in a message."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _refuse(where: str, keys: int) -> NotTheSuites:
    return NotTheSuites(
        f"the Redis database {where} holds {keys} keys and not the test suite's marker key {MARKER!r}: the "
        "tests empty the database they use, so they leave this one alone (if nothing in it is needed, empty it "
        "yourself with FLUSHDB, or set SITUATIONROOM_TEST_REDIS to an empty database); the embedded server is "
        "still tested")


def _where(client: redis.Redis | aioredis.Redis) -> str:
    if is_cluster(client):
        return "the Redis Cluster"
    kwargs = client.connection_pool.connection_kwargs
    place = kwargs.get("path") or f"{kwargs.get('host')}:{kwargs.get('port')}"
    return f"{place} db {kwargs.get('db', 0)}"


def empty(client: redis.Redis) -> None:
    """Empty the client's database and mark it as the suite's, if it is empty or already the suite's; else raise
    NotTheSuites and touch nothing."""
    keys = int(client.eval(_EMPTY, 1, MARKER, MARKED))
    if keys >= 0:
        raise _refuse(_where(client), keys)


def empty_cluster(client: RedisCluster) -> None:
    """`empty` for a Redis Cluster: every master, when the cluster is empty or marked as the suite's (the one
    tests/cluster_support.py creates)."""
    if not client.exists(MARKER) and (keys := int(client.dbsize())):
        raise _refuse("the Redis Cluster", keys)
    client.flushall(target_nodes=RedisCluster.PRIMARIES)
    client.set(MARKER, MARKED)


async def aempty(client: aioredis.Redis) -> None:
    """`empty` for an asyncio client; on a cluster, every master, if the suite's marker is there (the suite made
    that cluster: tests/cluster_support.py)."""
    if is_cluster(client):
        if not await client.exists(MARKER):
            raise _refuse(_where(client), await client.dbsize())
        await client.flushall(target_nodes="primaries")
        await client.set(MARKER, MARKED)
        return
    keys = int(await client.eval(_EMPTY, 1, MARKER, MARKED))
    if keys >= 0:
        raise _refuse(_where(client), keys)


def empty_url(url: str) -> None:
    """`empty` the database at `url`, named by its URL (password hidden) when it is refused."""
    client = redis.Redis.from_url(url)
    try:
        keys = int(client.eval(_EMPTY, 1, MARKER, MARKED))
    finally:
        client.close()
    if keys >= 0:
        raise _refuse(shown(url), keys)


def answers(url: str) -> bool:
    """Whether a Redis answers at `url` within half a second."""
    try:
        client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError):
        return False
