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
import hashlib
import importlib.util
import inspect
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from situationroom.collectors import registry
from situationroom.collectors.base import CollectError, CollectorContext, CollectorKind, CollectResult, Params
from situationroom.collectors.registry import register
from situationroom.errors import ConfigError
from situationroom.messages import Message
from situationroom.samples import Rejection, Sample

__all__ = [
    "CollectError",
    "CollectResult",
    "CollectorKind",
    "Context",
    "Message",
    "Params",
    "Rejection",
    "Sample",
    "collector_kind",
    "dry_run",
    "load_plugin",
    "register",
]

Context = CollectorContext

F = TypeVar("F", bound=Callable[..., Any])


def collector_kind(name: str, *, params: type[Params] = Params) -> Callable[[F], F]:
    """Decorator: `fn(params, ctx, now)` becomes the collector kind `name` with the `params` model."""
    if not isinstance(params, type) or not issubclass(params, Params):
        raise TypeError("params= must be a subclass of situationroom.collectors.plugin.Params")

    def decorate(fn: F) -> F:
        if inspect.iscoroutinefunction(fn):
            async def collect(self: CollectorKind, now: float) -> Any:
                return await fn(self.params, self.context, now)
        else:
            def collect(self: CollectorKind, now: float) -> Any:  # type: ignore[misc]
                return fn(self.params, self.context, now)
        cls = type(f"Plugin_{fn.__name__}", (CollectorKind,), {
            "name": name, "Params": params, "collect": collect, "__module__": fn.__module__,
            "__doc__": fn.__doc__,
        })
        register(cls)
        fn.__collector_kind__ = cls  # type: ignore[attr-defined]
        return fn

    return decorate


def module_name(path: Path) -> str:
    # Unique per file, so two sites (or a test's copy) never share a module.
    digest = hashlib.blake2b(str(path.resolve()).encode(), digest_size=4).hexdigest()
    stem = "".join(c if c.isalnum() else "_" for c in path.stem)
    return f"situationroom_site_collectors.{stem}_{digest}"


def load_plugin(path: Path) -> list[str]:
    """Import one plugin file; returns the kind names it defines.

    Whatever goes wrong (a syntax error, a failing import, an exception at import, a kind name
    already taken) is a ConfigError naming the file and line, never an exception of another type.
    Loading a file again replaces the kinds it defined before.
    """
    source = str(path)
    name = module_name(path)
    try:
        code = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError.single(f"cannot read: {exc}", file=path) from None
    try:
        compiled = compile(code, source, "exec")
    except SyntaxError as exc:
        raise ConfigError.single(f"Python syntax: {exc.msg}", file=path, line=exc.lineno) from None
    # A new version that fails leaves the last good one registered (its collectors keep running).
    previous = registry.forget_origin(source)
    previous_module = sys.modules.pop(name, None)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    # In sys.modules while it runs: pydantic and dataclasses resolve the module's annotations there.
    sys.modules[name] = module
    try:
        with registry.registering_from(source):
            exec(compiled, module.__dict__)
    except Exception as exc:
        _restore(source, name, previous, previous_module)
        line = _line_in(exc, source)
        raise ConfigError.single(f"{exc.__class__.__name__}: {exc}", file=path, line=line) from None
    names = registry.kinds_from(source)
    if not names:
        _restore(source, name, previous, previous_module)
        raise ConfigError.single("defines no collector kind (decorate a function with @collector_kind(...) "
                                 "or a CollectorKind subclass with @register)", file=path)
    return names


def _restore(source: str, name: str, previous: dict[str, type[CollectorKind]], module: Any) -> None:
    registry.forget_origin(source)
    sys.modules.pop(name, None)
    if module is not None:
        sys.modules[name] = module
    with registry.registering_from(source):
        for cls in previous.values():
            register(cls)


def _line_in(exc: BaseException, filename: str) -> int | None:
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == filename:
            line = frame.lineno
    return line


def plugin_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.py") if not p.name.startswith("_"))


def dry_run(site: Path | str, collector: str, *, seconds: float = 5.0) -> Any:
    """Run one collector of a site once, touching nothing (no Redis): what it would write.

    Returns a `runtime.DryRun` (samples accepted, rejections with reasons, messages, error).
    For the tests of a plugin (the scaffold of `situationroom collectors new --python` uses it).
    """
    from situationroom.collectors.runtime import dry_run as _dry_run

    return asyncio.run(_dry_run(Path(site), collector, seconds=seconds))
