"""The registry of collector kinds: built-ins from `collectors.kinds`, plus installed entry points."""

from __future__ import annotations

import importlib
import pkgutil
from importlib.metadata import entry_points

from situationroom.collectors.base import CollectorKind

ENTRY_POINT_GROUP = "situationroom.collectors"

_kinds: dict[str, type[CollectorKind]] = {}
_loaded = False


def register(cls: type[CollectorKind]) -> type[CollectorKind]:
    """Class decorator: make a collector kind available under its `name`."""
    if cls.collect is CollectorKind.collect:
        raise TypeError(f"collector kind {cls.__name__} must implement collect()")
    _kinds[cls.name] = cls
    return cls


def _load() -> None:
    global _loaded
    if _loaded:
        return
    from situationroom.collectors import kinds

    for mod in pkgutil.iter_modules(kinds.__path__):
        importlib.import_module(f"{kinds.__name__}.{mod.name}")
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        cls = ep.load()
        if isinstance(cls, type) and issubclass(cls, CollectorKind):
            _kinds.setdefault(cls.name, cls)
    _loaded = True


def get(name: str) -> type[CollectorKind] | None:
    _load()
    return _kinds.get(name)


def names() -> list[str]:
    _load()
    return sorted(_kinds)
