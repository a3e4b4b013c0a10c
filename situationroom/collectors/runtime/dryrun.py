"""`collectors run NAME --dry-run`: one run of a collector here, without Redis, showing what it would write."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from situationroom.catalog import Catalog, load_catalog
from situationroom.collectors.base import CollectResult
from situationroom.collectors.definition import hint_failed_plugins, load_collector, load_plugins
from situationroom.collectors.runtime.build import build_kind, describe_error
from situationroom.collectors.runtime.results import as_result, check_result, collect, jsonable
from situationroom.errors import ConfigError
from situationroom.messages import Message
from situationroom.samples import Rejection, Sample
from situationroom.settings import Settings


@dataclass
class DryRun:
    """What one run of a collector would write: nothing is written."""

    collector: str
    kind: str
    samples: list[Sample]
    rejected: list[tuple[Rejection, object]]
    messages: list[Message]
    error: str | None
    duration: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "collector": self.collector, "kind": self.kind, "error": self.error,
            "duration_ms": round(self.duration * 1000),
            "samples": [{"indicator": s.indicator, "entity": s.entity, "ts": s.ts, "value": s.value,
                         "source": s.source} for s in self.samples],
            "rejected": [{"field": r.field, "reason": r.reason, "value": jsonable(r.value), "item": jsonable(item)}
                         for r, item in self.rejected],
            "messages": [m.as_dict() for m in self.messages],
        }


async def dry_run(site: Path, collector: str, *, seconds: float = 5.0, settings: Settings | None = None,
                  catalog: Catalog | None = None) -> DryRun:
    """Run one collector once (a live one for `seconds`) without Redis: samples it would write, rejections.

    A missing environment variable is an error even for a disabled collector (it is being tried).
    Raises ConfigError for a missing or invalid file.
    """
    settings = settings or Settings(site=site)
    catalog = catalog or load_catalog(settings.seeds)
    folder = settings.collectors_dir
    path = folder / f"{collector}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []
        raise ConfigError.single(f"no collector {collector!r} (no {collector}.yaml); collectors: "
                                 f"{', '.join(known) or 'none'}", file=folder)
    _, plugin_problems = load_plugins(folder)
    try:
        loaded = load_collector(path, require_env=True)
    except ConfigError as exc:
        hint_failed_plugins(exc.problems, plugin_problems)
        raise
    instance = build_kind(loaded, catalog, settings, dry_run=True)
    out: list[CollectResult] = []
    started = time.monotonic()
    error = None
    try:
        if instance.live:
            stop = asyncio.Event()

            async def emit(result: CollectResult | Sequence[Sample]) -> None:
                out.append(as_result(result))

            task = asyncio.create_task(instance.run(emit, stop))
            await asyncio.wait({task}, timeout=seconds)
            stop.set()
            async with asyncio.timeout(5):
                await task
        else:
            async with asyncio.timeout(loaded.definition.timeout):
                out.append(await collect(instance, time.time()))
    except Exception as exc:  # reported like a failing run
        error = loaded.redact(describe_error(exc, loaded.definition.timeout))
    finally:
        with contextlib.suppress(Exception):
            await instance.close()
    merged = CollectResult([s for r in out for s in r.samples], [x for r in out for x in r.rejected],
                           [m for r in out for m in r.messages])
    checked = check_result(merged, catalog, settings, source=loaded.id, redact=loaded.redact,
                           exercise=loaded.exercise)
    return DryRun(loaded.id, loaded.definition.kind, checked.samples, checked.rejected, checked.messages, error,
                  time.monotonic() - started)
