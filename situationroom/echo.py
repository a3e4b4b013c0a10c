"""Values shown back to people (API answers, dead-letter entries), bounded in size and always serializable."""

from __future__ import annotations

from typing import Any

import orjson

ELLIPSIS = "…"


def cut(text: str, limit: int) -> str:
    """`text` when its UTF-8 is at most `limit` bytes, else its first `limit` bytes (whole characters) and "…".

    A lone surrogate (stdlib json lets "\\ud800" in) becomes "?": neither Redis nor orjson takes one."""
    if text.isascii():
        return text if len(text) <= limit else text[:limit] + ELLIPSIS
    raw = text.encode("utf-8", "replace")
    return raw.decode() if len(raw) <= limit else raw[:limit].decode("utf-8", "ignore") + ELLIPSIS


def size_of(text: str) -> int:
    """Length of `text` in UTF-8 bytes."""
    return len(text.encode("utf-8", "replace"))


def to_json(value: Any) -> str | None:
    """Compact JSON of `value`, or None when it cannot be written (nested too deeply, not JSON at all)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # orjson.JSONEncodeError: too deep, an integer beyond 64 bits, an unknown type
        return None


def json_text(value: Any, limit: int) -> tuple[str, int]:
    """JSON of `value` cut to `limit` bytes, and the length in bytes of the whole of it.

    A value JSON cannot hold (nested deeper than orjson writes, bytes, an integer beyond 64 bits)
    is written as its Python repr, which is cut the same way."""
    text = to_json(value)
    if text is None:
        text = _repr(value)
    return cut(text, limit), size_of(text)


def shown(value: Any, limit: int) -> tuple[Any, int | None]:
    """`value` as an answer may carry it, and the length in bytes of what was cut (None when nothing was).

    Itself when its JSON fits in `limit` bytes; else a string: the start of the string, or of its JSON
    (its repr when JSON cannot hold it), cut to `limit` bytes."""
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("utf-8", "replace")
    if isinstance(value, str):
        size = size_of(value)
        return cut(value, limit), (size if size > limit else None)
    text = to_json(value)
    if text is not None and len(text.encode()) <= limit:
        return value, None
    if text is None:
        text = _repr(value)
    size = size_of(text)
    return cut(text, limit), (size if size > limit else None)


def _repr(value: Any) -> str:
    try:
        return repr(value)
    except RecursionError:  # a list nested thousands deep recurses as deeply: name its kind instead
        return f"<{type(value).__name__} nested too deeply>"
