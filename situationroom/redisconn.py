"""Opening Redis connections (async for the hot path, sync for the CLI) from one URL: a server, a cluster or a
Sentinel-watched master."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, TypeAlias
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode as AsyncClusterNode
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.cluster import ClusterNode, RedisCluster
from redis.sentinel import Sentinel

AsyncClient: TypeAlias = "aioredis.Redis | AsyncRedisCluster"
"""What the roles talk to: one server (or the master Sentinel points at), or a cluster."""
SyncClient: TypeAlias = "redis.Redis | RedisCluster"

CLUSTER = ("redis+cluster", "rediss+cluster")
SENTINEL = ("redis+sentinel", "rediss+sentinel")
PLAIN = ("redis", "rediss", "unix")
SOCKET_TIMEOUT = 10.0
CONNECT_TIMEOUT = 5.0


class RedisURLError(ValueError):
    """A Redis URL the product cannot use; the message names the part that is wrong."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where a Redis URL points: a plain URL redis-py reads itself, or the nodes of a cluster or of Sentinels."""

    kind: str  # "plain" | "cluster" | "sentinel"
    url: str
    nodes: tuple[tuple[str, int], ...] = ()
    master: str = ""
    db: int = 0
    username: str | None = None
    password: str | None = None
    tls: bool = False
    sentinel_password: str | None = None


def _nodes(netloc: str, url: str) -> tuple[tuple[str, int], ...]:
    hosts = netloc.rpartition("@")[2]
    out = []
    for part in hosts.split(","):
        host, sep, port = part.strip().rpartition(":")
        if not sep:
            host, port = port, "6379"
        host = host.strip("[]")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise RedisURLError(f"{describe(url)}: {part!r} is not host:port")
        out.append((host, int(port)))
    return tuple(out)


def parse(url: str) -> Target:
    """Read a Redis URL: redis://, rediss://, unix:// as redis-py does; redis+cluster://host:port[,host:port…]
    for a Redis Cluster (any of its nodes; the others are found from them); redis+sentinel://host:port[,…]/MASTER[/DB]
    for the master a set of Sentinels watches (?sentinel_password=… when the Sentinels ask for one)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in PLAIN:
        return Target("plain", url)
    if scheme not in CLUSTER + SENTINEL:
        known = ", ".join(f"{s}://" for s in PLAIN + CLUSTER[:1] + SENTINEL[:1])
        raise RedisURLError(f"{describe(url)}: the scheme {parts.scheme!r} is not one of {known}")
    user, _, secret = parts.netloc.rpartition("@")[0].partition(":")
    common = {"url": url, "nodes": _nodes(parts.netloc, url), "username": unquote(user) or None,
              "password": unquote(secret) or None, "tls": scheme.startswith("rediss")}
    query = parse_qs(parts.query)
    if scheme in CLUSTER:
        if parts.path.strip("/") not in ("", "0"):
            raise RedisURLError(f"{describe(url)}: a cluster has only database 0, not {parts.path.strip('/')!r}")
        if query:
            raise RedisURLError(f"{describe(url)}: unknown parameter {next(iter(query))!r}")
        return Target("cluster", **common)
    path = [p for p in parts.path.split("/") if p]
    if not path or len(path) > 2 or (len(path) == 2 and not path[1].isdigit()):
        raise RedisURLError(f"{describe(url)}: a Sentinel URL ends in /MASTER-NAME or /MASTER-NAME/DB, "
                            f"not {parts.path or 'nothing'!r}")
    unknown = set(query) - {"sentinel_password"}
    if unknown:
        raise RedisURLError(f"{describe(url)}: unknown parameter {sorted(unknown)[0]!r}")
    return Target("sentinel", master=unquote(path[0]), db=int(path[1]) if len(path) == 2 else 0,
                  sentinel_password=query.get("sentinel_password", [None])[0], **common)


def _auth(t: Target) -> dict[str, Any]:
    return {"username": t.username, "password": t.password, "ssl": t.tls}


def async_client(url: str, *, max_connections: int = 64) -> AsyncClient:
    t = parse(url)
    if t.kind == "cluster":
        return AsyncRedisCluster(startup_nodes=[AsyncClusterNode(h, p) for h, p in t.nodes],
                                 max_connections=max_connections, socket_timeout=SOCKET_TIMEOUT,
                                 socket_connect_timeout=CONNECT_TIMEOUT, **_auth(t))
    if t.kind == "sentinel":
        sentinels = AsyncSentinel(list(t.nodes), socket_timeout=CONNECT_TIMEOUT,
                                  sentinel_kwargs={"password": t.sentinel_password,
                                                   "socket_timeout": CONNECT_TIMEOUT})
        # The master's pool asks the Sentinels again on every new connection, so after a failover the roles'
        # next commands reach the promoted replica without a restart.
        return sentinels.master_for(t.master, db=t.db, socket_timeout=SOCKET_TIMEOUT,
                                    socket_connect_timeout=CONNECT_TIMEOUT, max_connections=max_connections,
                                    health_check_interval=30, **_auth(t))
    # A blocking pool makes a burst of requests wait for a free connection instead of failing
    # with "too many connections"; the timeout still turns a dead Redis into a clear error.
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=10, health_check_interval=30,
    )
    return aioredis.Redis.from_pool(pool)  # the client owns the pool: aclose() closes its connections


def sync_client(url: str) -> SyncClient:
    t = parse(url)
    if t.kind == "cluster":
        return RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in t.nodes], socket_timeout=SOCKET_TIMEOUT,
                            socket_connect_timeout=CONNECT_TIMEOUT, **_auth(t))
    if t.kind == "sentinel":
        sentinels = Sentinel(list(t.nodes), socket_timeout=CONNECT_TIMEOUT,
                             sentinel_kwargs={"password": t.sentinel_password, "socket_timeout": CONNECT_TIMEOUT})
        return sentinels.master_for(t.master, db=t.db, socket_timeout=SOCKET_TIMEOUT,
                                    socket_connect_timeout=CONNECT_TIMEOUT, **_auth(t))
    return redis.Redis.from_url(url, socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=CONNECT_TIMEOUT)


def is_cluster(client: object) -> bool:
    """Whether `client` talks to a Redis Cluster, where one command may only name keys of one slot."""
    return isinstance(client, AsyncRedisCluster | RedisCluster)


def describe(url: str) -> str:
    """A URL fit for logs and error messages: the password, if any, replaced."""
    parts = urlsplit(url)
    user, at, hosts = parts.netloc.rpartition("@")
    netloc = f"{user.partition(':')[0]}:***@{hosts}" if at and ":" in user else parts.netloc
    query = re.sub(r"(sentinel_password=)[^&]*", r"\1***", parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
