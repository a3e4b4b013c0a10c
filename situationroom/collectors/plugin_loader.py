"""Imports a site's plugin files (`collectors/*.py`) into the registry; a failure is a ConfigError with file:line."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import traceback
from pathlib import Path
from typing import Any

from situationroom.collectors import registry
from situationroom.collectors.base import CollectorKind
from situationroom.collectors.registry import register
from situationroom.errors import ConfigError


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
        line = line_in(exc, source)
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


def line_in(exc: BaseException, filename: str) -> int | None:
    """The last line of `filename` in the exception's traceback (where a plugin's code failed)."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == filename:
            line = frame.lineno
    return line


def plugin_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.py") if not p.name.startswith("_"))
