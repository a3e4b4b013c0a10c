"""The registry of collector kinds: built-ins from `collectors.kinds`, installed entry points, site plugins."""

from __future__ import annotations

import importlib
import logging
import pkgutil
from importlib.metadata import entry_points
from typing import Any

from situationroom.collectors import kinds
from situationroom.collectors.base import CollectorKind
from situationroom.errors import Problem

ENTRY_POINT_GROUP = "situationroom.collectors"

log = logging.getLogger(__name__)

_kinds: dict[str, type[CollectorKind]] = {}
_origin: dict[str, str] = {}
"""kind name -> where it came from: `built-in`, `entry point NAME (DIST)` or a plugin file's path"""
_loaded = False
_current_origin = "built-in"
entry_point_problems: list[Problem] = []
"""Entry points of the group that failed to load (reported by `collectors check`, never a crash)."""


class KindConflict(Exception):
    """A kind name defined twice (a plugin reusing a built-in's name)."""


def register(cls: type[CollectorKind]) -> type[CollectorKind]:
    """Class decorator: make a collector kind available under its `name`."""
    if cls.live:
        if cls.run is CollectorKind.run:
            raise TypeError(f"live collector kind {cls.__name__} must implement run(emit, stop)")
    elif cls.collect is CollectorKind.collect:
        raise TypeError(f"collector kind {cls.__name__} must implement collect()")
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise TypeError(f"collector kind {cls.__name__} needs a `name`")
    before = _origin.get(name)
    if before is not None and before != _current_origin and _current_origin != "built-in":
        raise KindConflict(f"collector kind {name!r} is already defined by {before}")
    _kinds[name] = cls
    _origin[name] = _current_origin
    return cls


def origin(name: str) -> str | None:
    return _origin.get(name)


def kinds_from(source: str) -> list[str]:
    return sorted(n for n, o in _origin.items() if o == source)


def forget_origin(source: str) -> dict[str, type[CollectorKind]]:
    """Unregister every kind a plugin file defined (before reloading or after removing it)."""
    removed = {}
    for n in kinds_from(source):
        removed[n] = _kinds.pop(n)
        _origin.pop(n, None)
    return removed


class registering_from:
    """Context manager: kinds registered inside it are recorded as coming from `source`."""

    def __init__(self, source: str) -> None:
        self.source = source

    def __enter__(self) -> None:
        global _current_origin
        self._before = _current_origin
        _current_origin = self.source

    def __exit__(self, *exc: object) -> None:
        global _current_origin
        _current_origin = self._before


def _register_object(obj: Any) -> bool:
    """An entry point's target: a CollectorKind class, a `@collector_kind` function, or a module."""
    if isinstance(obj, type) and issubclass(obj, CollectorKind):
        register(obj)
        return True
    kind = getattr(obj, "__collector_kind__", None)
    if isinstance(kind, type) and issubclass(kind, CollectorKind):
        if kind.name not in _kinds:
            register(kind)
        return True
    return False


def load_entry_points() -> list[Problem]:
    """Register the kinds of installed packages (group `situationroom.collectors`); a broken one is a Problem."""
    problems: list[Problem] = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        source = f"entry point {ep.name} = {ep.value}" + (f" ({dist.name})" if dist is not None else "")
        try:
            with registering_from(source):
                obj = ep.load()
                if not _register_object(obj) and not kinds_from(source):
                    raise TypeError("it is not a CollectorKind class, a @collector_kind function or a module "
                                    "that defines one")
        except Exception as exc:  # an installed package must not stop the others from loading
            problems.append(Problem(f"{exc.__class__.__name__}: {exc}", source))
            log.error("collector %s failed to load: %s: %s", source, exc.__class__.__name__, exc)
    entry_point_problems[:] = problems
    return problems


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    broken: list[Problem] = []
    for mod in pkgutil.iter_modules(kinds.__path__):
        try:
            importlib.import_module(f"{kinds.__name__}.{mod.name}")
        except Exception as exc:  # one broken kind must not take the others (and the runtime) down
            broken.append(Problem(f"{exc.__class__.__name__}: {exc}", f"built-in kind {mod.name}"))
            log.error("collector kind module %s failed to load: %s: %s", mod.name, exc.__class__.__name__, exc)
    load_entry_points()
    entry_point_problems[:0] = broken


def get(name: str) -> type[CollectorKind] | None:
    _load()
    return _kinds.get(name)


def names() -> list[str]:
    _load()
    return sorted(_kinds)
