"""Text messages for the wall (disaster text messages, CAP alerts): what they say, to whom, how urgent."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from situationroom.catalog import Catalog

Severity = Literal["info", "warning", "critical"]
SEVERITIES: tuple[str, ...] = ("info", "warning", "critical")
RECENT = 50
"""Messages kept for a new wall's snapshot (the ticker shows the newest)."""


@dataclass(frozen=True, slots=True)
class Message:
    """One message, published once to the update stream (docs/websocket.md, field `m`)."""

    id: str
    """Stable identity: the same message from a re-run or a second collector is published once."""
    ts: float
    """When it was issued (epoch seconds)."""
    source: str
    kind: str
    """`disaster_text` (재난문자), `cap` (a CAP alert), or another word a collector uses."""
    severity: Severity
    text_ko: str
    text_en: str
    entities: tuple[str, ...] = field(default_factory=tuple)
    """Entities (districts, the city) it concerns; empty means the whole city."""
    expires: float | None = None
    exercise: bool = False
    """An exercise (drill) message: shown with [훈련] and never taken for a real one."""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "t": round(self.ts * 1000), "source": self.source, "kind": self.kind,
                               "severity": self.severity, "entities": list(self.entities),
                               "text_ko": self.text_ko, "text_en": self.text_en}
        if self.expires is not None:
            out["expires"] = round(self.expires * 1000)
        if self.exercise:
            out["x"] = 1
        return out

    def encode(self) -> bytes:
        return orjson.dumps(self.as_dict())


def message_id(*parts: object) -> str:
    """A short stable id from what identifies a message at its source."""
    return hashlib.blake2b("\x1f".join(str(p) for p in parts).encode(), digest_size=10).hexdigest()


def check(message: Message, catalog: Catalog) -> tuple[str, str] | None:
    """Why a message cannot be published, as (field, reason), or None."""
    if message.severity not in SEVERITIES:
        return "severity", f"must be one of {', '.join(SEVERITIES)}"
    if not (message.text_ko or message.text_en):
        return "text_ko", "a message needs a text in Korean or English"
    for entity in message.entities:
        if entity not in catalog.entities:
            return "entities", f"unknown entity {entity!r}"
    return None
