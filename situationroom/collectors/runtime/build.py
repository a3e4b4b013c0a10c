"""Building a collector's kind with its params, and the texts the runtime shows about a collector."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from situationroom.catalog import Catalog
from situationroom.collectors import registry
from situationroom.collectors.base import CollectError, CollectorContext, CollectorKind
from situationroom.collectors.definition import LoadedCollector, locate
from situationroom.collectors.plugin_loader import line_in
from situationroom.errors import ConfigError
from situationroom.settings import Settings


def build_kind(loaded: LoadedCollector, catalog: Catalog, settings: Settings, *,
               set_state: Callable[..., None] | None = None, dry_run: bool = False) -> CollectorKind[Any]:
    """The collector's kind built with its params, as the runner, a dry run and `collectors check` build it.

    Whatever goes wrong is a ConfigError naming the file, with every secret masked: an unknown kind,
    the kind refusing its params (at the line of the field it names), or any other exception from the
    kind's `__init__` (a plugin's bug), which would otherwise reach the operator as a traceback.
    """
    definition = loaded.definition
    kind = registry.get(definition.kind)
    if kind is None:
        raise ConfigError.single(f"unknown collector kind {definition.kind!r}", file=loaded.path, field="kind")
    assert loaded.params is not None
    schedule = definition.schedule
    ctx = CollectorContext(loaded.id, catalog, settings.site, logging.getLogger(f"situationroom.collector.{loaded.id}"),
                           schedule.interval if schedule is not None else None, settings, redact=loaded.redact,
                           dry_run=dry_run)
    if set_state is not None:
        ctx.set_state = set_state
    try:
        return kind(loaded.params, ctx)
    except ConfigError as exc:
        locate(exc, loaded.path)
        for p in exc.problems:
            p.message = loaded.redact(p.message)
            if isinstance(p.value, str):
                p.value = loaded.redact(p.value)
        raise
    except Exception as exc:  # a kind that crashes on its params is that file's problem
        origin = registry.origin(definition.kind)
        line = line_in(exc, origin) if origin else None
        where = f" (at {Path(origin).name}:{line})" if origin and line else ""
        raise ConfigError.single(loaded.redact(f"the {definition.kind} kind failed to start: "
                                               f"{describe_error(exc, 0)}{where}"), file=loaded.path) from None


def clock_fields(instance: CollectorKind[Any]) -> dict[str, Any]:
    """The simulated clock of a kind that has one (the simulator), for the health record the wall reads."""
    clock = getattr(instance, "clock", None)
    value = clock() if callable(clock) else None
    return {"clock": value} if value is not None else {}


def describe_schedule(item: LoadedCollector) -> str:
    s = item.definition.schedule
    if s is None:
        return "live"
    return f"every {s.interval:g}s" if s.interval is not None else f"cron {s.cron}"


async def hook(method: Callable[[], Any]) -> None:
    """Call a kind's hook (starting, delivered), which a plugin may have written as a plain def."""
    if inspect.iscoroutinefunction(method):
        await method()
    else:
        await asyncio.to_thread(method)


def describe_error(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"timed out after {timeout:g}s"
    text = str(exc) or exc.__class__.__name__
    if isinstance(exc, CollectError):  # subclasses too (publicdata's SourceRefused, KeyRefused)
        return text[:500]  # the source's own words, already saying what went wrong
    return f"{exc.__class__.__name__}: {text}"[:500]

