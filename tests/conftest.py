"""Fixtures only: real Redis servers (the embedded one always, the service one when it answers and its database is
the suite's: tests/redis_support.py), the sites' catalogs, and a real headless Chromium for the page tests
(tests/browser.py says how it is started). Helpers a test imports live in tests/*_support.py."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from situationroom.catalog import Catalog, load_catalog
from situationroom.embedded import EmbeddedRedis
from situationroom.history.store import HistoryStore
from situationroom.redisconn import AsyncClient, async_client
from tests.api_support import serve_mini
from tests.browser import chromium
from tests.cluster_support import ClusterServers
from tests.cluster_support import tools as cluster_tools
from tests.redis_support import SERVICE_URL, NotTheSuites, answers, empty_url
from tests.sentinel_support import SentinelServers
from tests.servers_support import S3Server, Served
from tests.site_support import MINI, REPO

if TYPE_CHECKING:
    from playwright.sync_api import Browser


@pytest.fixture(scope="session")
def embedded_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    """One embedded Valkey server for the whole run (started the way `situationroom up` starts it)."""
    server = EmbeddedRedis(tmp_path_factory.mktemp("embedded-redis"))
    server.start()
    empty_url(server.url)  # new, so empty: marked as the suite's
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterServers]:
    """One Redis Cluster (3 masters, 3 replicas) from the machine's redis-server for the whole run."""
    if cluster_tools() is None:
        pytest.skip("no redis-server/redis-cli on this machine for a Redis Cluster (.ci/run installs them)")
    cluster = ClusterServers(tmp_path_factory.mktemp("redis-cluster")).start()
    yield cluster
    cluster.stop()


@pytest.fixture
def sentinels(tmp_path: Path) -> Iterator[SentinelServers]:
    """A master, two replicas and three Sentinels of its own (a test may kill the master)."""
    if cluster_tools() is None:
        pytest.skip("no redis-server on this machine for Sentinel (.ci/run installs it)")
    servers = SentinelServers(tmp_path / "sentinel").start()
    yield servers
    servers.stop()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A test runs on the cluster when its module is marked `cluster` (verified there), or for every test when
    # SITUATIONROOM_TEST_CLUSTER=all: how the rest of the suite is brought to the cluster.
    if os.environ.get("SITUATIONROOM_TEST_CLUSTER") == "all":
        return
    kept, dropped = [], []
    for item in items:
        spec = getattr(item, "callspec", None)
        on_cluster = spec is not None and spec.params.get("redis_url") == "cluster"
        (dropped if on_cluster and item.get_closest_marker("cluster") is None else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(params=["embedded", "service", "cluster"])
def redis_url(request: pytest.FixtureRequest) -> str:
    """URL of an empty Redis: the embedded server, the service at 127.0.0.1:6379 when it answers and the
    database there is empty or the suite's own (tests/redis_support.py), and the suite's Redis Cluster for tests
    marked `cluster`."""
    if request.param == "cluster":
        cluster: ClusterServers = request.getfixturevalue("redis_cluster")
        cluster.empty()
        return cluster.url
    if request.param == "embedded":
        url = request.getfixturevalue("embedded_redis").url
        empty_url(url)
        return url
    if not answers(SERVICE_URL):
        pytest.skip("no Redis service answers at 127.0.0.1:6379 (the embedded server is still tested)")
    try:
        empty_url(SERVICE_URL)
    except NotTheSuites as refused:
        pytest.skip(str(refused))
    return SERVICE_URL


@pytest.fixture
def embedded_url(embedded_redis: EmbeddedRedis) -> str:
    """The embedded server only, emptied: for tests whose subject is not the Redis version."""
    empty_url(embedded_redis.url)
    return embedded_redis.url


@pytest.fixture
async def aclient(redis_url: str) -> AsyncIterator[AsyncClient]:
    client = async_client(redis_url)
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


@pytest.fixture
def api(redis_url: str) -> Iterator[Served]:
    """The mini site's HTTP API served by a real uvicorn server on a free port."""
    yield from serve_mini(redis_url)


@pytest.fixture
def http(api: Served) -> Iterator[httpx.Client]:
    """A client of the `api` fixture's server."""
    with httpx.Client(base_url=api.url, timeout=10) as client:
        yield client


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A local S3-compatible object store (moto's server) for the whole run."""
    server = S3Server(tmp_path_factory.mktemp("moto") / "moto.log").start()
    yield server
    server.stop()


@pytest.fixture
def s3(s3_server: S3Server) -> Iterator[S3Server]:
    """The local object store, with this process's environment holding the credentials and region it takes (a
    patch of its own, which a test's `monkeypatch.undo()` leaves alone)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in S3Server.ENV.items():
            patch.setenv(name, value)
        yield s3_server


@pytest.fixture(params=["local", "s3"])
def history_store(request: pytest.FixtureRequest, tmp_path: Path) -> HistoryStore:
    """An empty history store: in a folder, then in a new bucket of the local object store."""
    if request.param == "local":
        return HistoryStore.local(tmp_path / "history")
    s3: S3Server = request.getfixturevalue("s3")
    return HistoryStore.s3(s3.bucket() + "/city", s3.endpoint)
