"""Opening Redis connections (async for the hot path, sync for the CLI) from one URL."""

from __future__ import annotations

import redis
import redis.asyncio as aioredis


def async_client(url: str, *, max_connections: int = 64) -> aioredis.Redis:
    return aioredis.Redis.from_url(
        url, max_connections=max_connections, health_check_interval=30, socket_keepalive=True,
    )


def sync_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=10)


def describe(url: str) -> str:
    """A URL fit for logs: the password, if any, replaced."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0] if ":" in creds else ""
        return f"{scheme}://{user}:***@{host}"
    return url
