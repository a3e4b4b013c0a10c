"""Shared fixtures: real Redis servers (the embedded one always, the service one when it answers), and a real
headless Chromium for the page tests (tests/browser.py says how it is started)."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import redis
import redis.asyncio as aioredis

from situationroom.catalog import Catalog, load_catalog
from situationroom.embedded import EmbeddedRedis
from situationroom.settings import Settings
from tests.browser import chromium

if TYPE_CHECKING:
    from playwright.sync_api import Browser

REPO = Path(__file__).resolve().parent.parent
MINI = REPO / "tests" / "sites" / "mini"
"""A small self-contained test site (tests/sites/mini): 4 indicators, a few entities, 2 gu and 4 eup/myeon."""
SERVICE_URL = os.environ.get("SITUATIONROOM_TEST_REDIS", "redis://127.0.0.1:6379/15")
"""The machine's Redis 7.0 service; tests use database 15 (or this variable's URL) and flush it before each test."""


def _service_answers() -> bool:
    try:
        client = redis.Redis.from_url(SERVICE_URL, socket_timeout=0.5, socket_connect_timeout=0.5)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError):
        return False


@pytest.fixture(scope="session")
def embedded_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    """One embedded Valkey server for the whole run (started the way `situationroom up` starts it)."""
    server = EmbeddedRedis(tmp_path_factory.mktemp("embedded-redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["embedded", "service"])
def redis_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """URL of an empty Redis: the embedded server, then the service at 127.0.0.1:6379 when it answers."""
    if request.param == "embedded":
        url = request.getfixturevalue("embedded_redis").url
    else:
        if not _service_answers():
            pytest.skip("no Redis service answers at 127.0.0.1:6379 (the embedded server is still tested)")
        url = SERVICE_URL
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    yield url


@pytest.fixture
def embedded_url(embedded_redis: EmbeddedRedis) -> str:
    """The embedded server only, emptied: for tests whose subject is not the Redis version."""
    client = redis.Redis.from_url(embedded_redis.url)
    client.flushdb()
    client.close()
    return embedded_redis.url


@pytest.fixture
async def aclient(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def site_catalog() -> Catalog:
    """The catalog of the repository's own site (Pohang)."""
    return load_catalog(REPO / "seeds")


@pytest.fixture(scope="session")
def mini_catalog() -> Catalog:
    """The catalog of the small test site (tests/sites/mini), independent of the real seeds."""
    return load_catalog(MINI / "seeds")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, one per test module (a module that uses it is marked `needs_chromium`)."""
    with chromium() as launched:
        yield launched


def settings_for(redis_url: str, **overrides: object) -> Settings:
    """Settings for a test: the repository's site, the given Redis, small timings."""
    values: dict[str, object] = {"site": REPO, "redis_url": redis_url}
    values.update(overrides)
    return Settings(**values)


def free_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
