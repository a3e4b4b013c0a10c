"""The demo's named events as exercise history: an event of seeds/events.yaml with a `scenario` gets that recorded
scenario written into the exercise dataset at the event's own dates, by every simulator collector of the site, so a
chart can compare the present with it (`compare: {event: hinnamnor-2022}`). Written once: hours the dataset already
holds for a collector's recording are skipped, and rows are never written twice (history/past.py). The source of
each row names the collector and the scenario (`sim-weather@typhoon-hinnamnor`), and the legend says it is exercise
data (events.py)."""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import threading
import time
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from situationroom.settings import Settings

log = logging.getLogger(__name__)

HOUR = 3600


@dataclass(frozen=True, slots=True)
class Recorded:
    """What writing one event's recording did: the event, the collectors that wrote it, the rows written."""

    event: str
    collectors: int
    written: int
    seconds: float


def record_events(settings: Settings) -> list[Recorded]:
    """Write the recording of every event of the site that names a scenario, for every enabled simulator collector
    (each built as the collect role builds it, the scenario and speed 1 in place of its own). An event whose
    recording is in the store already writes nothing."""
    from situationroom.backfill import _catalog, _simulator, held_hours
    from situationroom.collectors.definition import load_collectors
    from situationroom.collectors.kinds.simulator.backfill import recorded_samples
    from situationroom.collectors.kinds.simulator.load import load_baseline, load_scenario
    from situationroom.events import load_events
    from situationroom.history.past import write_past
    from situationroom.history.store import store_for

    events = [e for e in load_events(settings.seeds) if e.scenario is not None]
    if not events:
        return []
    loaded, _ = load_collectors(settings.collectors_dir)
    paths = [(item.id, item.path) for item in loaded
             if item.definition.kind == "simulator" and item.definition.enabled and item.params is not None]
    catalog = _catalog(settings.seeds)
    domains = {i.id: i.domain for i in catalog.indicators.values()}
    store = store_for(settings)
    out = []
    for event in events:
        began = time.monotonic()
        assert event.scenario is not None
        scenario = load_scenario(settings.seeds, event.scenario, catalog, load_baseline(settings.seeds, catalog))
        first, end = math.floor(event.start_s), math.ceil(event.end_s)
        written = 0
        for collector_id, path in paths:
            simulator = _simulator(settings, path)
            source = f"{collector_id}@{event.scenario}"
            mine = sorted({domains[i] for i in simulator.indicators})
            held = held_hours(store, source, mine, first // HOUR * HOUR, end)
            table = recorded_samples(simulator, scenario, first, end, source)
            if held:
                hours = pc.divide(table["ts"], HOUR * 1000)
                table = table.filter(pc.invert(pc.is_in(hours, value_set=pa.array(sorted(h // HOUR for h in held),
                                                                                   pa.int64()))))
            written += write_past(store, table, True, domains).written if table.num_rows else 0
        out.append(Recorded(event.id, len(paths), written, time.monotonic() - began))
        log.debug("event %s: %d rows of exercise history written", event.id, written)
    return out


def record_apart(settings: Settings, stop: threading.Event | None = None) -> list[Recorded]:
    """`record_events` in a process of its own: generating the values is pure Python, which in a thread would hold
    the GIL the roles of a running `situationroom up` need (their Redis connections time out). `stop` ends it early
    (what was written stays; the next start writes the rest). The process runs at a lower priority."""
    with multiprocessing.get_context("spawn").Pool(1, initializer=_worker_start) as pool:
        result = pool.apply_async(record_events, (settings,))
        while True:
            if stop is not None and stop.is_set():
                pool.terminate()
                return []
            try:
                return result.get(timeout=0.5)
            except multiprocessing.TimeoutError:
                continue


def _worker_start() -> None:
    from situationroom.backfill import _worker_start as backfill_worker

    backfill_worker()
    # An extra beside the roles: on a busy machine the roles (and Redis) come first.
    os.nice(10)


def summary_line(done: Recorded, names: dict[str, str]) -> str:
    """What writing an event's recording did, on one line."""
    name = names.get(done.event, done.event)
    if not done.written:
        return f"{name}: its recorded scenario is in the exercise history already"
    return (f"{name}: the recorded scenario written as exercise history at its own dates, {done.written:,} samples "
            f"of {done.collectors} simulators in {done.seconds:.1f} s")
