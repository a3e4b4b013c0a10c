"""Roles as separate processes: two `situationroom run aggregate` share the load and agree with one."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from pathlib import Path

import httpx
import orjson
import pytest
import redis

from situationroom import keys
from situationroom.aggregator import Aggregator
from situationroom.catalog import load_catalog
from situationroom.redisconn import async_client, sync_client
from situationroom.samples import Sample
from situationroom.streams import StreamWriter, ensure_groups
from tests.api_support import make_token
from tests.redis_support import empty_url
from tests.servers_support import Command, cli, free_port, wait_for
from tests.site_support import MINI, settings_for

CATALOG = load_catalog(MINI / "seeds")


def _samples(base: float) -> list[Sample]:
    """Three minutes of every series of the mini site, shuffled: out of order across and within series."""
    rng = random.Random(11)
    out = []
    for ind in CATALOG.indicators.values():
        lo, hi = ind.range or (0.0, 100.0)
        for ent in CATALOG.entities_of(ind.id):
            for k in range(180):
                out.append(Sample(ind.id, ent, base + k, round(rng.uniform(lo, min(hi, lo + 400)), 2), "test"))
    rng.shuffle(out)
    return out


async def _write(url: str, samples: list[Sample]) -> None:
    client = async_client(url)
    settings = settings_for(url, site=MINI)
    await ensure_groups(client, settings.partitions)
    await StreamWriter(client, partitions=settings.partitions, retention=settings.stream_retention,
                       deadletter_maxlen=settings.deadletter_maxlen, batch_size=100).write(samples)
    await client.aclose()


def _live(url: str) -> dict[str, dict[str, dict]]:
    """Every series' live state, without `ps` (the status before the current one), which depends on
    the order the batches happened to be applied in, not on the data."""
    client = sync_client(url)
    try:
        out: dict[str, dict[str, dict]] = {}
        for ind in CATALOG.indicators:
            out[ind] = {}
            for entity, raw in client.hgetall(keys.live(ind)).items():
                state = orjson.loads(raw)
                state.pop("ps", None)
                out[ind][entity.decode()] = state
        return out
    finally:
        client.close()


def _wait_aggregated(url: str, n: int, timeout: float = 60) -> None:
    client = sync_client(url)
    deadline = time.monotonic() + timeout
    try:
        while int(client.hget(keys.counters(), "samples_aggregated") or 0) < n:
            assert time.monotonic() < deadline, "the aggregators did not apply every sample in time"
            time.sleep(0.05)
    finally:
        client.close()


async def _one_aggregator(url: str, n: int) -> None:
    client = async_client(url)
    aggregator = Aggregator(client, CATALOG, settings_for(url, site=MINI), consumer="alone")
    done = 0
    while done < n:
        done += await aggregator.step(block=100)
    await client.aclose()


def _consumers(url: str) -> dict[str, tuple[bool, int]]:
    """Each consumer of the aggregators' group, over every partition: whether it was ever handed entries (XINFO
    CONSUMERS `inactive` stays -1 until a read gives it some; Redis 7.2 and later) and how many it holds
    unacknowledged."""
    client = sync_client(url)
    try:
        out: dict[str, tuple[bool, int]] = {}
        for p in range(8):
            for c in client.xinfo_consumers(keys.samples(p), keys.AGGREGATOR_GROUP):
                handed, pending = out.get(c["name"].decode(), (False, 0))
                out[c["name"].decode()] = (handed or c["inactive"] >= 0, pending + c["pending"])
        return out
    finally:
        client.close()


def test_two_aggregator_processes_share_the_partitions_and_agree_with_one(embedded_url: str, tmp_path: Path) -> None:
    # The newest samples are a minute ahead of now, so no series turns stale during the test.
    samples = _samples(time.time() - 120)
    env = {"REDIS_URL": embedded_url, "SITUATIONROOM_SITE": str(MINI), "SITUATIONROOM_BATCH_SIZE": "50"}
    procs = [Command("run", "aggregate", env=env, log=tmp_path / f"aggregate-{n}.log").start() for n in range(2)]
    try:
        # Both join the group (their first read) before any sample exists: on a busy machine one process
        # could otherwise start after the other had already applied everything.
        client = sync_client(embedded_url)
        deadline = time.monotonic() + 60
        consumers: set[bytes] = set()
        while len(consumers) < 2:
            assert time.monotonic() < deadline, f"both aggregator processes joined the consumer group: {consumers}"
            assert all(proc.running() for proc in procs), "an aggregator process ended"
            time.sleep(0.1)
            with contextlib.suppress(redis.ResponseError):  # the group does not exist yet
                consumers = {c["name"] for p in range(8)
                             for c in client.xinfo_consumers(keys.samples(p), keys.AGGREGATOR_GROUP)}
        client.close()
        asyncio.run(_write(embedded_url, samples))
        _wait_aggregated(embedded_url, len(samples))
        shared = _live(embedded_url)
    finally:
        for proc in procs:
            proc.ctrl_c()  # both at once, then wait for both
        codes = [proc.stop() for proc in procs]
    outputs = [proc.output for proc in procs]
    assert codes == [0, 0], outputs
    assert all("Traceback" not in out for out in outputs), outputs
    # Both did part of the work: each was handed samples and acknowledged every one it was handed.
    worked = _consumers(embedded_url)
    assert len(worked) == 2 and all(handed and pending == 0 for handed, pending in worked.values()), worked

    empty_url(embedded_url)
    asyncio.run(_write(embedded_url, samples))
    asyncio.run(_one_aggregator(embedded_url, len(samples)))
    alone = _live(embedded_url)

    every_series = sum(len(CATALOG.entities_of(i)) for i in CATALOG.indicators)
    assert sum(len(series) for series in alone.values()) == every_series
    assert shared == alone


def _get_json(url: str) -> dict | None:
    """The JSON at `url`, or None while nothing answers there yet."""
    try:
        resp = httpx.get(url, timeout=5)
    except httpx.TransportError:
        return None
    return resp.json() if resp.status_code == 200 else None


@pytest.mark.cluster
@pytest.mark.parametrize("redis_url", ["cluster"], indirect=True)
def test_web_and_aggregate_processes_on_a_redis_cluster_serve_a_pushed_sample(redis_url: str,
                                                                               tmp_path: Path) -> None:
    """`situationroom run web` and `run aggregate`, each its own process given the cluster's URL on the command
    line: a sample pushed to the web API is aggregated and read back from the API, and both stop cleanly."""
    port = free_port()
    given = ["--site", str(MINI), "--redis-url", redis_url]
    web = Command("run", "web", *given, "--port", str(port), log=tmp_path / "web.log").start()
    aggregate = Command("run", "aggregate", *given, log=tmp_path / "aggregate.log").start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _get_json(f"{base}/healthz") is not None or not web.running(), 60, "the web role to answer")
        assert web.running(), web.output
        token = make_token(redis_url, "ingest")
        now = time.time()
        sample = {"indicator": "air.pm10", "entity": "daesong", "ts": now, "value": 95.5}
        pushed = httpx.post(f"{base}/api/v1/samples", headers={"Authorization": f"Bearer {token}"}, timeout=10,
                            json={"samples": [sample]})
        assert pushed.json() == {"accepted": 1, "rejected": []}, pushed.text

        def daesong() -> dict | None:
            one = _get_json(f"{base}/api/v1/indicators/air.pm10") or {"entities": []}
            return next((e for e in one["entities"] if e["id"] == "daesong" and e.get("value") is not None), None)

        seen = wait_for(daesong, 60, "the pushed sample in the live API")
        assert seen["value"] == 95.5 and seen["status"] == "warning"
        assert seen["ts"] == pytest.approx(now, abs=0.001)
    finally:
        codes = [web.stop(), aggregate.stop()]
    outputs = web.output + aggregate.output
    assert codes == [0, 0], outputs
    assert "Traceback" not in outputs and "redis+cluster://127.0.0.1" in web.output, outputs


def test_a_cluster_url_nothing_answers_at_is_a_clear_error() -> None:
    port = free_port()  # nothing listens there
    done = cli("run", "web", "--site", str(MINI), "--redis-url", f"redis+cluster://127.0.0.1:{port}")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"no Redis Cluster at redis+cluster://127.0.0.1:{port}" in done.stderr
