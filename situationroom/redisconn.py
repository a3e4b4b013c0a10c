"""Opening Redis connections (async for the hot path, sync for the CLI) from one URL."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import redis
import redis.asyncio as aioredis


def async_client(url: str, *, max_connections: int = 64) -> aioredis.Redis:
    # A blocking pool makes a burst of requests wait for a free connection instead of failing
    # with "too many connections"; the timeout still turns a dead Redis into a clear error.
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=10, health_check_interval=30,
    )
    return aioredis.Redis.from_pool(pool)  # the client owns the pool: aclose() closes its connections


def sync_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)


def describe(url: str) -> str:
    """A URL fit for logs and error messages: the password, if any, replaced."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, f"{user}:***@{host}", parts.path, parts.query, parts.fragment))
