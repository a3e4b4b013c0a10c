"""Benchmark of the ingest path: push ingest → streams → aggregator → live state, beside raw XADD."""

from __future__ import annotations

import asyncio
import bisect
import random
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
import orjson
import redis.asyncio as aioredis

from situationroom import counters, keys, tokens, updates
from situationroom.bench import percentile, start_role, wait_http
from situationroom.catalog import Catalog
from situationroom.counters import Counter
from situationroom.redisconn import sync_client
from situationroom.roles import run_async
from situationroom.sample_entries import encode, encode_batch
from situationroom.samples import Sample
from situationroom.settings import Settings

BATCH = 1000


@dataclass
class IngestResult:
    samples: int
    raw_xadd_per_s: float
    """One entry per sample: the ceiling the path's target is a share of."""
    path_per_s: float
    ratio: float
    rate: float
    latency_samples: int
    latency_ms: dict[str, float] = field(default_factory=dict)
    series: int = 0
    raw_xadd_batched_per_s: float = 0.0
    """The entries ingest writes (a batch per partition): what Redis takes when nothing is done per sample."""

    def as_dict(self) -> dict:
        return asdict(self)


def _series(catalog: Catalog) -> list[tuple[str, str, float, float]]:
    """Every (indicator, entity) of the catalog with a value range to draw plausible values from."""
    out = []
    for ind in catalog.indicators.values():
        lo, hi = ind.range if ind.range else (0.0, 100.0)
        for ent in catalog.entities_of(ind.id):
            out.append((ind.id, ent, lo, hi))
    return out


def _samples(series: list[tuple[str, str, float, float]], n: int, rng: random.Random) -> list[dict]:
    """n samples over the series in turn, their event times spread over the last 50 minutes as a
    real backlog would be (none late, none a duplicate)."""
    per_series = -(-n // len(series))
    step = min(1.0, 3000.0 / per_series)
    t0 = time.time() - 3000.0
    out = []
    for k in range(n):
        ind, ent, lo, hi = series[k % len(series)]
        ts = t0 + (k // len(series)) * step
        out.append({"indicator": ind, "entity": ent, "ts": round(ts, 3), "value": round(rng.uniform(lo, hi), 2)})
    return out


async def raw_xadd(url: str, items: list[dict], partitions: int, *, batched: bool = False) -> float:
    """Samples/s of pipelined XADD (`BATCH` samples per round trip) of the items into the partition streams, the
    entries encoded before the clock starts: one entry per sample (the older entry form: what a plain client writing
    samples to streams does, the ceiling the targets were set against), or with `batched` the entries ingest writes
    now (a batch as one entry per partition)."""
    client = aioredis.Redis.from_url(url)
    try:
        rounds: list[list[tuple[str, Mapping[str, bytes | str]]]] = []
        for k in range(0, len(items), BATCH):
            by_stream: dict[str, list[Sample]] = {}
            for i in items[k:k + BATCH]:
                by_stream.setdefault(keys.samples(keys.partition_of(i["indicator"], partitions)), []).append(
                    Sample(i["indicator"], i["entity"], i["ts"], i["value"], "bench"))
            if batched:
                rounds.append([(stream, encode_batch(batch)) for stream, batch in by_stream.items()])
            else:
                rounds.append([(stream, encode(s)) for stream, batch in by_stream.items() for s in batch])
        start = time.perf_counter()
        for entries in rounds:
            pipe = client.pipeline(transaction=False)
            for stream, f in entries:
                pipe.xadd(stream, f)
            await pipe.execute()
        elapsed = time.perf_counter() - start
        await client.flushdb()
        return len(items) / elapsed
    finally:
        await client.aclose()


async def _wait_aggregated(client: aioredis.Redis, target: int) -> None:
    while await counters.value(client, Counter.SAMPLES_AGGREGATED) < target:  # noqa: ASYNC110 - polls Redis
        await asyncio.sleep(0.005)


async def path_throughput(base: str, url: str, token: str, items: list[dict], concurrency: int = 4) -> float:
    """Samples per second from the first POST until the aggregator has applied all of them."""
    bodies = [orjson.dumps({"samples": items[k:k + BATCH]}) for k in range(0, len(items), BATCH)]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    client = aioredis.Redis.from_url(url)
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:

        async def sender() -> None:
            while not queue.empty():
                body = queue.get_nowait()
                response = await http.post("/api/v1/samples", content=body)
                if response.status_code != 200 or response.json()["rejected"]:
                    raise RuntimeError(f"ingest answered {response.status_code}: {response.text[:300]}")

        start = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        try:
            async with asyncio.timeout(300):
                await _wait_aggregated(client, len(items))
        except TimeoutError:
            raise RuntimeError(f"the aggregator did not apply {len(items)} samples within 300 s") from None
        elapsed = time.perf_counter() - start
    await client.aclose()
    return len(items) / elapsed


async def latency(base: str, url: str, token: str, series: list[tuple[str, str, float, float]], rate: float,
                  seconds: float, rng: random.Random) -> list[float]:
    """Push at `rate` samples/s in 10 ms batches; for each sample, the time until the update stream
    shows its series at (or past) its event time — i.e. until it is in the live state."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    client = aioredis.Redis.from_url(url)
    pending: dict[tuple[str, str], list[tuple[int, float]]] = defaultdict(list)
    latencies: list[float] = []
    last_id = await updates.newest_id(client) or "0-0"
    sending = True

    async def reader() -> None:
        nonlocal last_id
        while sending or any(pending.values()):
            batch = await updates.read_after(client, last_id, count=1000, block=200)
            now = time.perf_counter()
            last_id = batch.last or last_id
            for update in batch.updates:
                state = update.data
                if update.kind is not updates.Kind.STATE or state is None:
                    continue
                waiting = pending.get((state["i"], state["e"]))
                if not waiting:
                    continue
                cut = bisect.bisect_right(waiting, (state["t"], float("inf")))
                latencies.extend((now - sent) * 1000 for _, sent in waiting[:cut])
                del waiting[:cut]
            if not sending and not batch.ids:
                break

    per_batch = max(1, round(rate / 100))
    last_ms: dict[tuple[str, str], int] = {}
    k = 0
    read_task = asyncio.create_task(reader())
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
        start = time.perf_counter()
        tick = start
        while time.perf_counter() - start < seconds:
            batch = []
            for _ in range(per_batch):
                ind, ent, lo, hi = series[k % len(series)]
                # Event time is the time of sending, as for a live source (1 ms apart within a series).
                ts_ms = last_ms[(ind, ent)] = max(int(time.time() * 1000), last_ms.get((ind, ent), 0) + 1)
                k += 1
                value = round(rng.uniform(lo, hi), 2)
                batch.append({"indicator": ind, "entity": ent, "ts": ts_ms / 1000, "value": value})
            body = orjson.dumps({"samples": batch})
            sent = time.perf_counter()
            for item in batch:
                waiting = pending[(item["indicator"], item["entity"])]
                waiting.append((round(item["ts"] * 1000), sent))
            response = await http.post("/api/v1/samples", content=body)
            if response.status_code != 200:
                raise RuntimeError(f"ingest answered {response.status_code}: {response.text[:300]}")
            tick += 0.01
            await asyncio.sleep(max(0.0, tick - time.perf_counter()))
    sending = False
    await asyncio.wait_for(read_task, timeout=30)
    await client.aclose()
    return latencies


def run(settings: Settings, catalog: Catalog, url: str, *, samples: int, rate: float, seconds: float,
        port: int, log: Path | None) -> IngestResult:
    rng = random.Random(7)
    series = _series(catalog)
    items = _samples(series, samples, rng)
    raw = run_async(raw_xadd(url, items, settings.partitions))
    raw_batched = run_async(raw_xadd(url, items, settings.partitions, batched=True))

    sync = sync_client(url)
    token = tokens.create(sync, "ingest", "bench")
    sync.close()
    base = f"http://127.0.0.1:{port}"
    env = {"SITUATIONROOM_PARTITIONS": str(settings.partitions)}
    web = start_role("web", site=settings.site, redis_url=url, port=port, extra_env=env, log=log)
    aggregate = start_role("aggregate", site=settings.site, redis_url=url, extra_env=env, log=log)
    try:
        wait_http(f"{base}/healthz", web)
        # Fresh timestamps, so the path run is not mistaken for late or duplicate data.
        items = _samples(series, samples, rng)
        path = run_async(path_throughput(base, url, token, items))
        lat = run_async(latency(base, url, token, series, rate, seconds, rng))
    finally:
        web.stop()
        aggregate.stop()
    return IngestResult(
        samples=samples, raw_xadd_per_s=raw, path_per_s=path, ratio=path / raw, rate=rate,
        latency_samples=len(lat), series=len(series), raw_xadd_batched_per_s=raw_batched,
        latency_ms={"p50": percentile(lat, 50), "p95": percentile(lat, 95), "p99": percentile(lat, 99),
                    "max": max(lat) if lat else float("nan")},
    )
