"""Load YAML config files into pydantic models, with errors that point at file:line and field."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from situationroom.errors import ConfigError, Problem

M = TypeVar("M", bound=BaseModel)

Loc = tuple[str | int, ...]


class Strict(BaseModel):
    """Base of every config file's models: an unknown key is an error (a typo must not be ignored), and a loaded
    config cannot be changed behind the file's back."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class _Positions:
    """Line numbers (1-based) of every mapping key and sequence item in a YAML document."""

    def __init__(self) -> None:
        self.lines: dict[Loc, int] = {}

    def line_of(self, loc: Sequence[str | int]) -> int | None:
        # Parts that name no key of the file (the `kind` tag pydantic puts in a discriminated union's path) are
        # stepped over, so the line is the deepest key's that the file has.
        kept: Loc = ()
        for part in loc:
            if (*kept, part) in self.lines:
                kept = (*kept, part)
        return self.lines.get(kept, None)


def _construct(node: yaml.Node, loc: Loc, pos: _Positions, loader: yaml.SafeLoader) -> Any:
    pos.lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        own = {id(k) for k, _ in node.value}
        loader.flatten_mapping(node)  # resolve `<<: *defaults` merge keys as SafeLoader would
        out: dict[Any, Any] = {}
        merged: set[Any] = set()
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool | None):
                raise ConfigError.single("a key must be a plain name", line=key_node.start_mark.line + 1,
                                         field=_dotted(loc) or None)
            if id(key_node) not in own:
                merged.add(key)
            elif key in merged:
                merged.discard(key)  # the mapping's own key overrides the merged default
            elif key in out:
                raise ConfigError.single(
                    "duplicate key", line=key_node.start_mark.line + 1, field=_dotted((*loc, key))
                )
            child = (*loc, key)
            pos.lines[child] = key_node.start_mark.line + 1
            out[key] = _construct(value_node, child, pos, loader)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            pos.lines[(*loc, i)] = item.start_mark.line + 1
            items.append(_construct(item, (*loc, i), pos, loader))
        return items
    return loader.construct_object(node, deep=True)


def _dotted(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def read_yaml(path: Path) -> tuple[Any, _Positions]:
    """Parse one YAML file; syntax errors become a ConfigError with the line."""
    pos = _Positions()
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError.single(f"not UTF-8 text: {exc}", file=path) from None
    except OSError as exc:
        raise ConfigError.single(f"cannot read: {exc.strerror}", file=path) from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, pos
        data = _construct(node, (), pos, loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError.single(f"YAML syntax: {exc.problem or exc}", file=path, line=line) from None
    except ConfigError as exc:
        for p in exc.problems:
            p.file = str(path)
        raise
    finally:
        loader.dispose()
    return data, pos


def problems_from_validation(
    exc: ValidationError, *, file: str | Path | None, pos: _Positions | None, prefix: Loc = ()
) -> list[Problem]:
    """Turn pydantic's errors into Problems with line numbers and dotted field paths."""
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        full = (*prefix, *loc)
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        has_value = err["type"] not in ("missing",)
        value = err.get("input")
        if err["type"] == "missing":
            message = "required field is missing"
        problems.append(
            Problem(
                message,
                str(file) if file else None,
                pos.line_of(full) if pos else None,
                _dotted(full) or None,
                value if has_value else None,
                has_value and not isinstance(value, dict | list),
            )
        )
    return problems


def validate(model: type[M], data: Any, *, file: str | Path | None = None,
             pos: _Positions | None = None, prefix: Loc = ()) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(problems_from_validation(exc, file=file, pos=pos, prefix=prefix)) from None


def load_model(model: type[M], path: Path) -> M:
    """Read a YAML file and validate it into ``model``; every error names file:line and field."""
    data, pos = read_yaml(path)
    if data is None:
        raise ConfigError.single("file is empty", file=path)
    return validate(model, data, file=path, pos=pos)
