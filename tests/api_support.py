"""The HTTP API tests' helpers: the mini site served by a real uvicorn server, a token of a role, and the
aggregator run until the streams are empty."""

from __future__ import annotations

from collections.abc import Iterator

from situationroom import tokens
from situationroom.aggregator import Aggregator
from situationroom.catalog import Catalog
from situationroom.redisconn import async_client, sync_client
from situationroom.settings import Settings
from situationroom.streams import ensure_groups
from tests.history_support import drain
from tests.servers_support import Served, serve
from tests.site_support import MINI, settings_for


def serve_mini(redis_url: str) -> Iterator[Served]:
    """The mini site's API on a free port (the `api` fixture of conftest.py)."""
    with serve(settings_for(redis_url, site=MINI, partitions=4, ingest_max_items=50)) as served:
        yield served


def make_token(url: str, role: str) -> str:
    client = sync_client(url)
    try:
        return tokens.create(client, role, f"test-{role}")
    finally:
        client.close()


async def aggregate(url: str, settings: Settings, catalog: Catalog) -> None:
    client = async_client(url)
    try:
        await ensure_groups(client, settings.partitions)
        agg = Aggregator(client, catalog, settings, consumer="test")
        await drain(lambda: agg.step(None))
    finally:
        await client.aclose()
