"""`situationroom history status`: the store's datasets and the history role's lag, as a table and as JSON."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from situationroom import keys
from situationroom.catalog import Catalog
from situationroom.history import layout
from situationroom.history.store import HistoryStore
from situationroom.redisconn import async_client
from situationroom.samples import Sample
from situationroom.streams import StreamWriter, ensure_groups
from tests.history_support import write_batch
from tests.servers_support import cli, free_port
from tests.site_support import MINI


def _env(redis_url: str, tmp_path: Path) -> dict[str, str]:
    return {"REDIS_URL": redis_url, "SITUATIONROOM_SITE": str(MINI),
            "SITUATIONROOM_HISTORY_DIR": str(tmp_path / "history"), "SITUATIONROOM_PARTITIONS": "2"}


async def _backlog(url: str, n: int) -> None:
    client = async_client(url)
    try:
        await ensure_groups(client, 2, keys.HISTORY_GROUP)
        samples = [Sample("air.pm10", "daesong", time.time() - 100 + k, 1.0, "a") for k in range(n)]
        # One entry per sample (a push of one at a time): the status counts entries, whatever each one carries.
        await StreamWriter(client, partitions=2, retention=86400, deadletter_maxlen=1000, batch_size=1).write(
            samples)
    finally:
        await client.aclose()


def test_status_as_json_and_as_a_table(embedded_url: str, tmp_path: Path, mini_catalog: Catalog) -> None:
    store = HistoryStore.local(tmp_path / "history")
    t0 = 1_780_000_000.0
    write_batch(store, mini_catalog, [Sample("air.pm10", "daesong", t0 + k, 1.0, "a") for k in range(7)], "1")
    asyncio.run(_backlog(embedded_url, 12))
    done = cli("history", "status", "--json", env=_env(embedded_url, tmp_path))
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert got["store"] == str(tmp_path / "history")
    (dataset,) = got["datasets"]
    assert dataset | {"bytes": 0} == {"dataset": "samples", "domain": "environment", "files": 1, "bytes": 0,
                                      "rows": 7, "oldest": layout.date_of(int(t0 * 1000)),
                                      "newest": layout.date_of(int(t0 * 1000))}
    assert dataset["bytes"] > 0
    assert got["historians"]["lag"] == 12 and got["historians"]["pending"] == 0
    assert got["historians"]["last_flush"] is None and len(got["historians"]["streams"]) == 2
    table = cli("history", "status", env=_env(embedded_url, tmp_path))
    assert table.returncode == 0, table.stderr
    assert "samples    environment         1" in table.stdout
    assert "historians: 12 entries not yet read, 0 read and not yet written; last write never" in table.stdout


def test_status_without_redis_shows_the_store(tmp_path: Path) -> None:
    done = cli("history", "status", env=_env(f"redis://127.0.0.1:{free_port()}/0", tmp_path))
    assert done.returncode == 0, done.stderr
    assert (f"history store: {tmp_path / 'history'}\n  empty\nhistorians: the site's Redis does not answer"
            in done.stdout)
