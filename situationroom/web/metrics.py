"""Prometheus metrics read from Redis, so any web process reports the whole deployment, plus the websocket clients of
the process asked."""

from __future__ import annotations

import asyncio
import logging
import time

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from redis.exceptions import ResponseError

from situationroom import counters, keys
from situationroom.collectors import health
from situationroom.history import status as history_status
from situationroom.history.store import store_for
from situationroom.settings import Settings

log = logging.getLogger(__name__)


class _Static:
    def __init__(self, families: list) -> None:
        self.families = families

    def collect(self):
        return self.families


async def render(client: aioredis.Redis, settings: Settings, ws_clients: int | None = None) -> bytes:
    families: list = []
    if ws_clients is not None:
        # The one figure of this process alone: behind a proxy, how the walls are spread over the web processes.
        ws = GaugeMetricFamily("situationroom_ws_clients", "Websocket clients connected to this web process")
        ws.add_metric([], ws_clients)
        families.append(ws)
    for counter, n in (await counters.read(client)).items():
        c = CounterMetricFamily(f"situationroom_{counter.value}", counter.help)
        c.add_metric([], n)
        families.append(c)

    pending = GaugeMetricFamily("situationroom_aggregator_pending", "Entries delivered but not yet acknowledged",
                                labels=["stream"])
    lag = GaugeMetricFamily("situationroom_aggregator_lag", "Entries not yet delivered to the aggregators",
                            labels=["stream"])
    length = GaugeMetricFamily("situationroom_stream_length", "Entries in a stream", labels=["stream"])
    pipe = client.pipeline(transaction=False)
    streams = [*keys.all_samples(settings.partitions), keys.updates(), keys.deadletter()]
    for s in streams:
        pipe.xlen(s)
    for s in keys.all_samples(settings.partitions):
        pipe.xinfo_groups(s)
    results = await pipe.execute(raise_on_error=False)
    for s, n in zip(streams, results[: len(streams)], strict=True):
        length.add_metric([s], 0 if isinstance(n, ResponseError) else n)
    for s, groups in zip(keys.all_samples(settings.partitions), results[len(streams):], strict=True):
        if isinstance(groups, ResponseError):
            continue
        for g in groups:
            name = g.get("name") if isinstance(g.get("name"), str) else g.get("name", b"").decode()
            if name != keys.AGGREGATOR_GROUP:
                continue
            pending.add_metric([s], g.get("pending", 0))
            if g.get("lag") is not None:  # Redis 7+ only; 6.2 has no lag field
                lag.add_metric([s], g["lag"])
    families += [pending, lag, length]

    up = GaugeMetricFamily("situationroom_collector_ok", "1 when the collector's last run succeeded",
                           labels=["collector"])
    age = GaugeMetricFamily("situationroom_collector_last_success_age_seconds",
                            "Seconds since the collector's last successful run", labels=["collector"])
    fails = CounterMetricFamily("situationroom_collector_failures", "Failed collector runs", labels=["collector"])
    now = time.time()
    for cid, h in (await health.read_all(client)).items():
        up.add_metric([cid], 1 if h.get("state") == "ok" else 0)
        if h.get("last_success"):
            age.add_metric([cid], now - h["last_success"])
        fails.add_metric([cid], h.get("failures", 0))
    families += [up, age, fails]
    families += await _history(client, settings)

    registry = CollectorRegistry()
    registry.register(_Static(families))
    return generate_latest(registry)


async def _history(client: aioredis.Redis, settings: Settings) -> list:
    """The history store's files and bytes per dataset and domain (its listing only, no file read), the
    historians' lag and pending entries per stream and the seconds since their last write."""
    files = GaugeMetricFamily("situationroom_history_files", "Files of the history store",
                              labels=["dataset", "domain"])
    size = GaugeMetricFamily("situationroom_history_bytes", "Bytes of the history store's files",
                             labels=["dataset", "domain"])
    try:
        found = await asyncio.to_thread(history_status.datasets, store_for(settings), rows=False)
    except OSError as exc:  # the store unreachable must not take the rest of /metrics down
        log.warning("metrics: cannot list the history store: %s", exc)
        found = []
    for d in found:
        files.add_metric([d.dataset, d.domain], d.files)
        size.add_metric([d.dataset, d.domain], d.bytes)
    lag = GaugeMetricFamily("situationroom_history_lag", "Entries not yet read by the history role",
                            labels=["stream"])
    pending = GaugeMetricFamily("situationroom_history_pending",
                                "Entries read by the history role and not yet written to the store", labels=["stream"])
    group = await history_status.group(client, settings.partitions)
    for s in group.streams:
        if s.lag is not None:
            lag.add_metric([s.stream], s.lag)
        pending.add_metric([s.stream], s.pending)
    out = [files, size, lag, pending]
    since = group.seconds_since_flush()
    if since is not None:
        flushed = GaugeMetricFamily("situationroom_history_seconds_since_flush",
                                    "Seconds since the history role last wrote to the store")
        flushed.add_metric([], since)
        out.append(flushed)
    return out
