"""history/status.py: files, bytes, rows and dates per dataset and domain from the store's listing and the files'
footers; the historians' lag and pending entries per stream and their last write, from Redis."""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow.fs as pafs
import pytest
import redis.asyncio as aioredis

from situationroom import keys
from situationroom.catalog import Catalog
from situationroom.history import layout, status
from situationroom.history.sink import HistorySink
from situationroom.history.store import HistoryStore
from situationroom.samples import Sample
from situationroom.settings import Settings
from situationroom.streams import StreamWriter, ensure_groups
from tests.history_support import write_batch
from tests.site_support import MINI, settings_for

pytestmark = pytest.mark.cluster  # also run on the suite's Redis Cluster

DAY = 86_400.0
T0 = 1_780_000_000.0 - 1_780_000_000.0 % DAY


def test_files_bytes_rows_and_dates_per_dataset_and_domain(history_store: HistoryStore,
                                                          mini_catalog: Catalog) -> None:
    assert status.datasets(history_store) == []
    pm10 = [Sample("air.pm10", "daesong", T0 + d * DAY + k, 1.0, "a") for d in range(3) for k in range(10)]
    write_batch(history_store, mini_catalog, pm10, "1")
    write_batch(history_store, mini_catalog, pm10[:5], "2")  # written twice: counted twice until compaction
    write_batch(history_store, mini_catalog, [Sample("weather.visibility", "pohang", T0, 9.0, "a")], "3")
    write_batch(history_store, mini_catalog, [Sample("air.pm10", "daesong", T0, 1.0, "a", exercise=True)], "4")
    found = {(d.dataset, d.domain): d for d in status.datasets(history_store)}
    assert list(found) == [(layout.EXERCISE, "environment"), (layout.SAMPLES, "environment"),
                           (layout.SAMPLES, "weather")]
    env = found[(layout.SAMPLES, "environment")]
    assert (env.files, env.rows, env.oldest, env.newest) == (
        4, 35, layout.date_of(int(T0 * 1000)), layout.date_of(int((T0 + 2 * DAY) * 1000)))
    infos = history_store.fs.get_file_info(pafs.FileSelector(f"{history_store.root}/samples/date={env.oldest}",
                                                             recursive=True))
    assert env.bytes > sum(i.size for i in infos if i.type == pafs.FileType.File) > 0
    assert found[(layout.SAMPLES, "weather")].rows == 1
    assert status.datasets(history_store, rows=False)[1].rows is None


async def test_lag_pending_and_last_write_of_the_historians(aclient: aioredis.Redis, redis_url: str,
                                                            mini_catalog: Catalog, tmp_path: Path) -> None:
    # Reads of about ten samples: one entry, as each entry below carries a batch of ten.
    settings: Settings = settings_for(redis_url, site=MINI, history_dir=tmp_path, partitions=2,
                                      history_flush_rows=10)
    before = await status.group(aclient, settings.partitions)
    assert before.streams == [] and before.lag is None and before.last_flush is None
    await ensure_groups(aclient, settings.partitions, keys.HISTORY_GROUP)
    now = time.time()
    samples = [Sample("air.pm10", "daesong", now - 100 + k, 1.0, "a") for k in range(30)]
    await StreamWriter(aclient, partitions=2, retention=86400, deadletter_maxlen=settings.deadletter_maxlen,
                       batch_size=10).write(samples)
    group = await status.group(aclient, settings.partitions)
    stream = keys.samples(keys.partition_of("air.pm10", 2))
    # Lag and pending count entries (three batches of ten), not samples.
    assert {s.stream: (s.lag, s.pending) for s in group.streams} == {
        stream: (3, 0), keys.samples(1 - keys.partition_of("air.pm10", 2)): (0, 0)}
    sink = HistorySink(aclient, mini_catalog, settings, consumer="h1")
    await sink.read(">", 10)  # one batch read, not yet written
    group = await status.group(aclient, settings.partitions)
    assert (group.lag, group.pending, group.last_flush) == (2, 1, None)
    await sink.flush()
    group = await status.group(aclient, settings.partitions)
    assert (group.lag, group.pending) == (2, 0)
    since = group.seconds_since_flush()
    assert since is not None and 0 <= since < 5
    as_json = status.as_json(sink.store, status.datasets(sink.store), group)
    assert as_json["historians"]["lag"] == 2 and as_json["datasets"][0]["rows"] == 10


def test_the_oldest_sample_of_each_indicator_from_the_oldest_dates_only(history_store: HistoryStore,
                                                                       mini_catalog: Catalog) -> None:
    wanted = {"environment": ["air.pm10"], "weather": ["weather.visibility"], "disaster": ["river.level"]}
    assert status.first_samples(history_store, wanted) == {}
    # The oldest PM10 is in the second file of its date; visibility begins a day later than PM10.
    write_batch(history_store, mini_catalog, [Sample("air.pm10", "daesong", T0 + 900, 1.0, "a"),
                                              Sample("air.pm10", "daesong", T0 + 2 * DAY, 1.0, "a")], "1")
    write_batch(history_store, mini_catalog, [Sample("air.pm10", "yeonil", T0 + 30, 1.0, "a")], "2")
    write_batch(history_store, mini_catalog, [Sample("weather.visibility", "pohang", T0 + DAY + 7, 9.0, "a")], "3")
    write_batch(history_store, mini_catalog, [Sample("air.pm10", "daesong", T0 - DAY, 1.0, "a", exercise=True)], "4")
    assert status.first_samples(history_store, wanted) == {"air.pm10": T0 + 30, "weather.visibility": T0 + DAY + 7}
    assert status.first_samples(history_store, wanted, layout.EXERCISE) == {"air.pm10": T0 - DAY}
