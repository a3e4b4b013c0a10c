"""What the comparison tests share: a copy of the Pohang site with a dashboard that compares, and a history store
holding generated samples of last week and of a named event, with the values each sample was given."""

from __future__ import annotations

import asyncio
import math
import shutil
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from situationroom.aggregator import Aggregator
from situationroom.catalog import Catalog, load_catalog
from situationroom.events import load_events
from situationroom.history.past import write_past
from situationroom.history.store import HistoryStore
from situationroom.redisconn import async_client
from situationroom.samples import Sample
from situationroom.settings import Settings
from situationroom.streams import StreamWriter, ensure_groups
from tests.history_support import drain
from tests.site_support import REPO

BOARD = """\
title_ko: 비교 시험
title_en: Compare test
grid: {columns: 4, rows: 3}
pages:
  - title_ko: 비교
    title_en: Compare
    panels:
      - {kind: kpi, at: [1, 1, 2, 1], indicator: river.level, entity: hrfco-2101690, compare: last_week}
      - {kind: kpi, at: [3, 1, 2, 1], indicator: river.level, entity: hrfco-2403617, compare: yesterday}
      - {kind: timeseries, at: [1, 2, 4, 1], indicator: river.level, entities: [hrfco-2101690, hrfco-2403617],
         window: 1h, compare: last_week}
      - {kind: timeseries, at: [1, 3, 2, 1], indicator: river.level, entities: [hrfco-2101690], window: 6h,
         compare: {event: hinnamnor-2022}}
      - {kind: timeseries, at: [3, 3, 2, 1], indicator: river.level, entities: [hrfco-2101690], window: 1h}
"""
WEEK = 7 * 86_400
STEP = 300
"""Generated samples are five minutes apart."""


def level(entity: str, t: float) -> float:
    """The generated river level of a gauge at `t`: a slow wave, different per gauge, two decimals."""
    phase = 0.0 if entity == "hrfco-2101690" else 1.3
    return round(1.5 + math.sin(t / 5400 + phase), 2)


@dataclass
class CompareSite:
    root: Path
    settings: Settings
    catalog: Catalog
    now: float
    last_week: dict[str, dict[int, float]] = field(default_factory=dict)
    """entity -> sample second -> value, of the real samples around the same time last week."""
    event: dict[int, float] = field(default_factory=dict)
    """Sample second -> value of the gauge's exercise samples over the event (hrfco-2101690)."""


def compare_site(root: Path, redis_url: str, now: float) -> CompareSite:
    """The Pohang site's seeds with BOARD as dashboards/cmp.yaml and no collector; its history holds real samples of
    two gauges over [now - 1 week - 7 h, now - 1 week + 1 h) and exercise samples of one over Hinnamnor's dates."""
    shutil.copytree(REPO / "seeds", root / "seeds")
    (root / "collectors").mkdir()
    (root / "dashboards").mkdir()
    (root / "dashboards" / "cmp.yaml").write_text(BOARD, encoding="utf-8")
    settings = Settings(site=root, redis_url=redis_url, history_dir=root / "history")
    catalog = load_catalog(root / "seeds")
    site = CompareSite(root, settings, catalog, now)
    domains = {i.id: i.domain for i in catalog.indicators.values()}
    store = HistoryStore.local(root / "history")
    rows: dict[str, list[object]] = {"indicator": [], "entity": [], "ts": [], "value": [], "source": []}

    def add(entity: str, t: int, value: float, source: str) -> None:
        rows["indicator"].append("river.level")
        rows["entity"].append(entity)
        rows["ts"].append(t * 1000)
        rows["value"].append(value)
        rows["source"].append(source)

    first = int(now - WEEK - 7 * 3600) // STEP * STEP
    for entity in ("hrfco-2101690", "hrfco-2403617"):
        site.last_week[entity] = {}
        for t in range(first, int(now - WEEK + 3600), STEP):
            site.last_week[entity][t] = level(entity, t)
            add(entity, t, level(entity, t), "hrfco-hyeongsan")
    write_past(store, pa.table(rows), False, domains, now=now)
    for name in rows:
        rows[name] = []
    event = load_events(root / "seeds").get("hinnamnor-2022")
    assert event is not None
    for t in range(int(event.start_s), int(event.end_s), STEP):
        site.event[t] = round(0.6 + 3.0 * math.exp(-(((t - event.start_s) / 3600 - 13.5) / 3) ** 2), 2)
        add("hrfco-2101690", t, site.event[t], "sim-safety@typhoon-hinnamnor")
    write_past(store, pa.table(rows), True, domains, now=now)
    return site


def deliver(site: CompareSite, samples: list[Sample]) -> None:
    """Samples through the streams and an aggregator into the live state, as a collector's would arrive."""

    async def run() -> None:
        client = async_client(site.settings.redis_url or "")
        try:
            await ensure_groups(client, site.settings.partitions)
            writer = StreamWriter(client, partitions=site.settings.partitions,
                                  retention=site.settings.stream_retention,
                                  deadletter_maxlen=site.settings.deadletter_maxlen,
                                  batch_size=site.settings.batch_size)
            await writer.write(samples)
            aggregator = Aggregator(client, site.catalog, site.settings, consumer="test")
            await drain(lambda: aggregator.step(None))
        finally:
            await client.aclose()

    in_thread(run)


def replay_clock(redis_url: str, start: float, anchor: float, *, speed: float = 1.0,
                 collector: str = "sim-safety") -> None:
    """Say in Redis, as a replaying simulator does, that exercise data of a simulated clock is delivered: simulated
    time = start + (real - anchor) × speed."""
    from situationroom.collectors import health

    async def run() -> None:
        client = async_client(redis_url)
        try:
            await health.record(client, collector, {"state": "ok", "exercise": True, "clock": {
                "scenario": "typhoon-hinnamnor", "speed": speed, "start": start, "anchor": anchor,
                "duration": 108000.0, "loop": False}})
        finally:
            await client.aclose()

    in_thread(run)


def in_thread(run: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a coroutine to its end in a thread of its own: the caller may hold a running event loop (Playwright's
    sync API does)."""
    worker = threading.Thread(target=asyncio.run, args=(run(),))
    worker.start()
    worker.join(30)
