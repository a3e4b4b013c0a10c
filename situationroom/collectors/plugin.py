"""The small API for Python collectors an operator writes: `@collector_kind` over one function.

A plugin is a `.py` file in the site's `collectors/` folder (or a module of an installed package
named by an entry point in the group `situationroom.collectors`)::

    import httpx

    from situationroom.collectors.plugin import CollectError, Context, Params, Sample, collector_kind

    class ParkingParams(Params):
        url: str
        lot: str = "jukdo-market"

    @collector_kind("pohang-parking", params=ParkingParams)
    async def collect(params: ParkingParams, ctx: Context, now: float) -> list[Sample]:
        async with httpx.AsyncClient(timeout=10) as http:
            body = (await http.get(params.url)).json()
        if body.get("status") != "OK":
            raise CollectError(f"the parking system answered status {body.get('status')!r}")
        return [Sample("traffic.parking_free", params.lot, now, body["free"])]

and a collector file uses it like any kind (`kind: pohang-parking` in `collectors/parking.yaml`).
The function gets its validated params, the context (catalog, site folder, logger, `redact`) and
the run's time; it returns samples, or a `CollectResult` with rejections and messages too. A plain
`def` works as well (it runs in a thread). A class subclassing `CollectorKind` decorated with
`@register` is the longer form, for kinds that keep connections between runs (`close()`) or live kinds.

Files whose name starts with `_` are not loaded. The folder is not put on `sys.path` (a plugin
named `csv.py` must not shadow the standard library): share code between plugins as a package.
"""

from __future__ import annotations

import asyncio
import inspect
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from situationroom.collectors.base import CollectError, CollectorContext, CollectorKind, CollectResult, P, Params
from situationroom.collectors.registry import register
from situationroom.collectors.runtime import dryrun
from situationroom.errors import ConfigError
from situationroom.messages import Message
from situationroom.samples import Rejection, Sample

__all__ = [
    "CollectError",
    "CollectResult",
    "CollectorKind",
    "ConfigError",
    "Context",
    "Message",
    "Params",
    "Rejection",
    "Sample",
    "collector_kind",
    "dry_run",
    "register",
]

Context = CollectorContext

F = TypeVar("F", bound=Callable[..., Any])


def collector_kind(name: str, *, params: type[P] = Params) -> Callable[[F], F]:  # type: ignore[assignment]
    """Decorator: `fn(params, ctx, now)` becomes the collector kind `name`, a `CollectorKind[params]`."""
    if not isinstance(params, type) or not issubclass(params, Params):
        raise TypeError("params= must be a subclass of situationroom.collectors.plugin.Params")

    def decorate(fn: F) -> F:
        if inspect.iscoroutinefunction(fn):
            async def collect(self: CollectorKind[P], now: float) -> Any:
                return await fn(self.params, self.context, now)
        else:
            def collect(self: CollectorKind[P], now: float) -> Any:  # type: ignore[misc]
                return fn(self.params, self.context, now)
        namespace = {"name": name, "Params": params, "collect": collect, "__module__": fn.__module__,
                     "__doc__": fn.__doc__}
        cls = types.new_class(f"Plugin_{fn.__name__}", (CollectorKind[params],),  # type: ignore[valid-type]
                              exec_body=lambda ns: ns.update(namespace))
        register(cls)
        fn.__collector_kind__ = cls  # type: ignore[attr-defined]
        return fn

    return decorate


def dry_run(site: Path | str, collector: str, *, seconds: float = 5.0) -> dryrun.DryRun:
    """Run one collector of a site once, touching nothing (no Redis): what it would write.

    Returns a `DryRun` (samples accepted, rejections with reasons, messages, error).
    For the tests of a plugin (the scaffold of `situationroom collectors new --python` uses it).
    """
    return asyncio.run(dryrun.dry_run(Path(site), collector, seconds=seconds))
