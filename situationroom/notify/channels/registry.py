"""The registry of channel kinds: every module in this package registers its kind on import."""

from __future__ import annotations

import importlib
import pkgutil

from situationroom.notify.channels.base import Channel

_kinds: dict[str, type[Channel]] = {}
_loaded = False
_NOT_KINDS = {"base", "registry", "config"}


def register(cls: type[Channel]) -> type[Channel]:
    """Class decorator: make a channel kind available under its `kind`."""
    if cls.send is Channel.send:
        raise TypeError(f"channel kind {cls.__name__} must implement send()")
    _kinds[cls.kind] = cls
    return cls


def _load() -> None:
    global _loaded
    if _loaded:
        return
    from situationroom.notify import channels

    for mod in pkgutil.iter_modules(channels.__path__):
        if mod.name not in _NOT_KINDS and not mod.ispkg:
            importlib.import_module(f"{channels.__name__}.{mod.name}")
    _loaded = True


def get(kind: str) -> type[Channel] | None:
    _load()
    return _kinds.get(kind)


def kinds() -> list[str]:
    _load()
    return sorted(_kinds)
