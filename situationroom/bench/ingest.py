"""Benchmark of the ingest path: push ingest → streams → aggregator → live state, beside every raw XADD client."""

from __future__ import annotations

import asyncio
import bisect
import random
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import redis.asyncio as aioredis
from redis.utils import HIREDIS_AVAILABLE

from situationroom import counters, tokens, updates
from situationroom.bench import cpu_seconds, load, nodes, percentile, start_role, wait_http
from situationroom.bench.ingest_raw import BATCH, BATCHED, PER_SAMPLE, Baseline, measure, strongest
from situationroom.catalog import Catalog
from situationroom.counters import Counter
from situationroom.redisconn import async_client, sync_client
from situationroom.roles import run_async
from situationroom.settings import Settings


@dataclass
class IngestResult:
    samples: int
    path_per_s: float
    rate: float
    latency_samples: int
    sent_rate: float = 0.0
    """Samples per second the latency run actually sent: below `rate` when the machine could not take it."""
    latency_ms: dict[str, float] = field(default_factory=dict)
    series: int = 0
    hiredis: bool = HIREDIS_AVAILABLE
    baselines: list[Baseline] = field(default_factory=list)
    """Every raw client in both entry forms, measured in this run on this Redis."""
    raw_ceiling_per_s: float = 0.0
    """The strongest client writing an entry per sample: the ceiling the path's target is a share of."""
    raw_ceiling_client: str = ""
    share: float = 0.0
    raw_batched_ceiling_per_s: float = 0.0
    """The strongest client writing the entries ingest writes (a batch per partition): Redis doing nothing per
    sample, so the path's share of it is what the work per sample costs, reported beside the target's."""
    raw_batched_ceiling_client: str = ""
    share_batched: float = 0.0
    path_cpu_s: dict[str, float] = field(default_factory=dict)
    """CPU seconds each process spent during the path run: where its time goes (each Redis node of a cluster)."""
    path_commands: dict[str, int] = field(default_factory=dict)
    """Commands each Redis process served during the path run."""

    def as_dict(self) -> dict:
        return asdict(self)

    def lines(self) -> list[str]:
        """The result as the command prints it."""
        lat = self.latency_ms
        out = [f"series: {self.series}, samples: {self.samples}, hiredis: {'yes' if self.hiredis else 'NO'}"]
        out += [f"raw pipelined XADD, {b.client:<24} {b.entries:<10} {b.per_s:>10,.0f} samples/s  ({b.parser})"
                for b in self.baselines]
        out.append(f"push ingest → live state:      {self.path_per_s:>10,.0f} samples/s")
        out.append(f"  {self.share:.0%} of the raw ceiling, {self.raw_ceiling_per_s:,.0f}/s "
                   f"({self.raw_ceiling_client}, an entry per sample; target ≥ 35%)")
        out.append(f"  {self.share_batched:.1%} of the batched ceiling, {self.raw_batched_ceiling_per_s:,.0f}/s "
                   f"({self.raw_batched_ceiling_client}, the entries ingest writes)")
        short = " (short of the rate asked: not a test of the target)" if load.short(self.sent_rate, self.rate) else ""
        out.append(f"latency at {self.sent_rate:,.0f} samples/s sent of {self.rate:,.0f} asked{short} "
                   f"({self.latency_samples} samples): "
                   f"p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms, p99 {lat['p99']:.1f} ms, "
                   f"max {lat['max']:.1f} ms (target p99 ≤ 20 ms)")
        if self.path_cpu_s:
            out.append("CPU during the path run: " + ", ".join(f"{name} {cpu:.2f} s"
                                                            for name, cpu in self.path_cpu_s.items()))
        if len(self.path_commands) > 1:
            out.append("commands during the path run: " + ", ".join(f"{name} {n:,}"
                                                                 for name, n in self.path_commands.items()))
        return out


def catalog_series(catalog: Catalog) -> list[tuple[str, str, float, float]]:
    """Every (indicator, entity) of the catalog with a value range to draw plausible values from."""
    out = []
    for ind in catalog.indicators.values():
        lo, hi = ind.range if ind.range else (0.0, 100.0)
        for ent in catalog.entities_of(ind.id):
            out.append((ind.id, ent, lo, hi))
    return out


def backlog_samples(series: list[tuple[str, str, float, float]], n: int, rng: random.Random) -> list[dict]:
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


async def _wait_aggregated(client: aioredis.Redis, target: int) -> None:
    while await counters.value(client, Counter.SAMPLES_AGGREGATED) < target:  # noqa: ASYNC110 - polls Redis
        await asyncio.sleep(0.005)


async def path_throughput(base: str, url: str, token: str, items: list[dict], concurrency: int = 4) -> float:
    """Samples per second from the first POST until the aggregator has applied all of them."""
    bodies = [orjson.dumps({"samples": items[k:k + BATCH]}) for k in range(0, len(items), BATCH)]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    client = async_client(url)
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
                  seconds: float, rng: random.Random) -> tuple[list[float], float]:
    """Push at `rate` samples/s in 10 ms batches; for each sample, the time until the update stream
    shows its series at (or past) its event time — i.e. until it is in the live state; and the rate sent."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    client = async_client(url)
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

        def next_batch() -> list[dict[str, Any]]:
            nonlocal k
            batch = []
            sent = time.perf_counter()
            for _ in range(per_batch):
                ind, ent, lo, hi = series[k % len(series)]
                # Event time is the time of sending, as for a live source (1 ms apart within a series).
                ts_ms = last_ms[(ind, ent)] = max(int(time.time() * 1000), last_ms.get((ind, ent), 0) + 1)
                k += 1
                batch.append({"indicator": ind, "entity": ent, "ts": ts_ms / 1000,
                              "value": round(rng.uniform(lo, hi), 2)})
                pending[(ind, ent)].append((ts_ms, sent))
            return batch

        start = time.perf_counter()
        sent_s = await load.push_on_clock(http, next_batch, lambda: time.perf_counter() - start >= seconds)
    sending = False
    await asyncio.wait_for(read_task, timeout=30)
    await client.aclose()
    return latencies, k / sent_s if sent_s else 0.0


def run(settings: Settings, catalog: Catalog, url: str, *, samples: int, rate: float, seconds: float,
        port: int, log: Path | None) -> IngestResult:
    rng = random.Random(7)
    series = catalog_series(catalog)
    items = backlog_samples(series, samples, rng)
    baselines = measure(url, items, settings.partitions)
    ceiling, batched_ceiling = strongest(baselines, PER_SAMPLE), strongest(baselines, BATCHED)

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
        items = backlog_samples(series, samples, rng)
        pids = {"web": web.proc.pid, "aggregate": aggregate.proc.pid}
        before = {name: cpu_seconds(pid) for name, pid in pids.items()} | {"bench client": time.process_time()}
        redis_before = nodes.spent(url)
        path = run_async(path_throughput(base, url, token, items))
        redis_spent = nodes.delta(nodes.spent(url), redis_before)
        after = {name: cpu_seconds(pid) for name, pid in pids.items()} | {"bench client": time.process_time()}
        lat, sent_rate = run_async(latency(base, url, token, series, rate, seconds, rng))
    finally:
        web.stop()
        aggregate.stop()
    return IngestResult(
        samples=samples, path_per_s=path, rate=rate, sent_rate=sent_rate, latency_samples=len(lat), series=len(series),
        baselines=baselines, raw_ceiling_per_s=ceiling.per_s, raw_ceiling_client=ceiling.client,
        share=path / ceiling.per_s, raw_batched_ceiling_per_s=batched_ceiling.per_s,
        raw_batched_ceiling_client=batched_ceiling.client, share_batched=path / batched_ceiling.per_s,
        path_cpu_s={name: after[name] - before[name] for name in after} | {n: r.cpu_s for n, r in redis_spent.items()},
        path_commands={n: r.commands for n, r in redis_spent.items()},
        latency_ms={"p50": percentile(lat, 50), "p95": percentile(lat, 95), "p99": percentile(lat, 99),
                    "max": max(lat) if lat else float("nan")},
    )
